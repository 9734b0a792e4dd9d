"""`dynamic-tables plan` / `apply`: bring Snowflake in line with the tenants' declarations.

`plan` reads what exists with a fixed number of statements per database, whatever the number of
objects (one INFORMATION_SCHEMA query over TABLES and VIEWS of the declared schemas, then
`SHOW DYNAMIC TABLES IN DATABASE` when the database exists), and prints, per declared object,
what `apply` would do and the DDL it would run:

- `create`: the object does not exist (`CREATE DYNAMIC TABLE` / `CREATE VIEW`, after
  `CREATE DATABASE / SCHEMA IF NOT EXISTS`);
- `alter`: only properties Snowflake changes in place differ (target lag, warehouse, scheduler,
  initialization warehouse, clustering, retention, comment): `CREATE OR ALTER DYNAMIC TABLE` with
  the whole declared state, which keeps the data (ALTER DYNAMIC TABLE statements for a transient
  table, which CREATE OR ALTER cannot name). A changed FROZEN WHERE is an alter that reinitializes
  the active region;
- `re-create`: the query or refresh mode changed (`CREATE OR ALTER`, reinitializes: all data is
  recomputed) or `transient` changed (`CREATE OR REPLACE ... COPY GRANTS`, reinitializes); for a
  view, a changed query (`CREATE OR REPLACE VIEW ... COPY GRANTS`, no data to recompute);
- `unchanged`.

An object of another kind in the declared object's place (a plain table where a Dynamic Table is
declared) is a `conflict`: apply never drops anything, undeclared or not. Sources are loaded
outside Dagster: plan says whether each exists; apply does not create them. `refresh_mode: AUTO`
matches whatever mode Snowflake chose (it chooses once, at creation) and the plan names it;
`initialize` only matters at creation and is not compared. A property Snowflake does not report
(a column missing from SHOW DYNAMIC TABLES, as on the local stand-in) is not compared, and the plan
says so. Plan also lists the grants the tenant's role needs for the freshness sensor, the
checks, Dagster's refreshes and the data tests (`build.required_grants`); apply does not grant
(that needs an administrator's role).

Grants are enforced here, where the SQL runs, not only by `tenants check`: before reading anything,
every declaration file in scope (found as Dagster resolves `type:`, see `platform.defs_files`) is
checked against grants.yaml, by the folder that holds it. A tenant with an object outside its
grants (or without an entry, or with a file under another tenant's slug) is refused whole: one
`REFUSED` line per object, nothing of it read or applied; the other tenants go on, and the command
ends with a `PlanError` (exit 4). The tables each query reads that its deps do not name are printed
under the tenant's plan (`UNDECLARED READ`, see `sql.lineage`); they do not change the exit status
(`tenants check` gates CI on them).

Exit status of `run_plan`: 0 when nothing is pending, 1 when apply would change something (or a
conflict needs a person), so CI can gate on it. `run_apply`: 0 when everything declared is in
place, 1 when something was left pending (a declined reinitialization, a conflict). Failures
raise `PlanError` (the CLI prints it and exits 4).

Connections follow the tenants' rules (`SNOWFLAKE_*`, overridable per tenant with `<SLUG>_`; the
local stand-in when no account is configured; see `plan.connect`), with the connector directly:
this package imports neither Dagster nor dagster-snowflake.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from dagster_dynamic_tables.errors import DeclarationError, EnvironmentsError, PlanError
from dagster_dynamic_tables.platform.plan.apply import apply_plan
from dagster_dynamic_tables.platform.plan.build import TenantPlan, required_grants
from dagster_dynamic_tables.platform.plan.connect import Target, connect_tenant, read_tenant
from dagster_dynamic_tables.platform.plan.declared import (
    DeclaredFile,
    declared_everywhere,
    load_declared_files,
    read_problems,
    refused_objects,
)
from dagster_dynamic_tables.platform.plan.show import format_plan
from dagster_dynamic_tables.sql.environments import environment_settings

__all__ = ["run_apply", "run_plan"]


@dataclass
class _Run:
    """What `_plan_all` found before planning: the refusals, and the tenants left to plan."""

    refused: list[str] = field(default_factory=lambda: list[str]())
    refused_tenants: list[str] = field(default_factory=lambda: list[str]())


def _plan_all(
    root: Path, tenant: str | None, env: Mapping[str, str], out: TextIO, run: _Run
) -> Iterator[tuple[Any, TenantPlan, Target]]:
    """Plan each tenant in scope, upstream first. A tenant with an object outside its grants is
    refused whole: its lines are written first, and nothing of it is read or applied."""
    try:
        files = load_declared_files(root, tenant, env)
    except (DeclarationError, EnvironmentsError) as e:
        raise PlanError(str(e)) from e
    if not files:
        out.write("no declared tenants found\n")
    elif files[0].environment is not None:
        out.write(f"environment: {files[0].environment.name}\n")
    refusals = refused_objects(root, files)
    refused = {slug for slug, _line in refusals}
    for _slug, line in refusals:
        out.write(f"REFUSED {line}\n")
    run.refused += [line for _slug, line in refusals]
    run.refused_tenants += sorted(refused)
    declared = declared_everywhere(root) if any(f.folder not in refused for f in files) else {}
    for file in files:
        if file.folder in refused:
            continue
        declared.update(_own_objects(file))
        settings = environment_settings(file.environment, file.tenant.slug, env)
        with connect_tenant(file.tenant, root, settings) as (conn, target):
            cursor = conn.cursor()
            plan = read_tenant(cursor, file.tenant, target)
            plan.grants = required_grants(file.tenant, target.role, target.warehouse)
            plan.reads = read_problems(root, file, declared)
            yield cursor, plan, target


def _own_objects(file: DeclaredFile) -> dict[str, str]:
    from dagster_dynamic_tables.sql.lineage import declared_objects

    return declared_objects(file.as_declared)


def _refusal_error(run: _Run, command: str) -> PlanError:
    count = len(run.refused)
    done = "read or applied" if command == "apply" else "planned"
    return PlanError(
        f"{command} refused {count} declaration{'s' if count != 1 else ''} outside their "
        f"tenant's grants (the REFUSED lines above): nothing of tenant "
        f"{', '.join(run.refused_tenants)} was {done}. "
        "Fix: declare the objects in the tenant's granted schemas, or ask the platform team to "
        "extend grants.yaml."
    )


def run_plan(
    root: Path, tenant: str | None, out: TextIO, *, env: Mapping[str, str] | None = None
) -> int:
    """`dynamic-tables plan [--tenant SLUG]`: print the plan of every tenant (or one); 0 when
    nothing is pending, 1 when apply would change something or a conflict needs a person."""
    env = os.environ if env is None else env
    pending = 0
    started = time.perf_counter()
    run = _Run()
    for _cursor, plan, target in _plan_all(root, tenant, env, out, run):
        for line in format_plan(plan, target.description):
            out.write(line + "\n")
        pending += len(plan.pending)
    elapsed = time.perf_counter() - started
    verdict = f"{pending} change{'s' if pending != 1 else ''} pending" if pending else "no changes"
    out.write(f"plan: {verdict} ({elapsed:.1f} s)\n")
    if run.refused:
        raise _refusal_error(run, "plan")
    return 1 if pending else 0


def run_apply(
    root: Path,
    tenant: str | None,
    yes: bool,
    out: TextIO,
    ask: Callable[[str], bool],
    *,
    env: Mapping[str, str] | None = None,
) -> int:
    """`dynamic-tables apply [--tenant SLUG] [--yes]`: plan, print, then run each tenant's
    changes upstream first (tenants whose assets others read first). `ask(question)` confirms a
    change that reinitializes (not called with `yes`). Afterwards each tenant is read again: 0
    when nothing is pending any more, 1 when something is (declined, in conflict, waiting for
    those, or not converged)."""
    env = os.environ if env is None else env
    left = 0
    run = _Run()
    for cursor, plan, target in _plan_all(root, tenant, env, out, run):
        for line in format_plan(plan, target.description):
            out.write(line + "\n")
        result = apply_plan(cursor, plan, yes=yes, ask=ask, out=out)
        out.write(
            f"apply {plan.tenant.slug}: {len(result.applied)} applied with {result.statements} "
            f"statements, {len(result.declined)} declined, {len(result.conflicts)} in conflict, "
            f"{len(result.blocked)} waiting for those\n"
        )
        pending = [item.name for item in read_tenant(cursor, plan.tenant, target).pending]
        left += len(pending)
        out.write(
            f"plan {plan.tenant.slug} after apply: "
            + (f"still pending: {', '.join(pending)}\n" if pending else "no changes\n")
        )
    if run.refused:
        raise _refusal_error(run, "apply")
    return 1 if left else 0
