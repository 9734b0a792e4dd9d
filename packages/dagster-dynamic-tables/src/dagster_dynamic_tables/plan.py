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
says so. Plan also lists the grants the tenant's role needs for the freshness sensor and the
checks (USAGE on databases, schemas and warehouses, MONITOR on its Dynamic Tables); apply does not
grant (that needs an administrator's role).

Exit status of `run_plan`: 0 when nothing is pending, 1 when apply would change something (or a
conflict needs a person), so CI can gate on it. `run_apply`: 0 when everything declared is in
place, 1 when something was left pending (a declined reinitialization, a conflict). Failures
raise `PlanError` (the CLI prints it and exits 2).

Connections follow the tenants' rules (`SNOWFLAKE_*`, overridable per tenant with `<SLUG>_`; the
local stand-in when no account is configured), with the connector directly: this module imports
neither Dagster nor dagster-snowflake.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from dagster_dynamic_tables import ddl
from dagster_dynamic_tables.declarations import SourceTable, Tenant
from dagster_dynamic_tables.errors import (
    DeclarationError,
    DynamicTablesError,
    SnowflakeSettingsError,
)
from dagster_dynamic_tables.planner import (
    PENDING,
    Action,
    Cursor,
    PlannedObject,
    TenantPlan,
    plan_tenant,
    required_grants,
)

__all__ = [
    "Action",
    "ApplyResult",
    "PlanError",
    "PlannedObject",
    "TenantPlan",
    "apply_plan",
    "confirm_on_terminal",
    "format_plan",
    "load_declared_tenants",
    "plan_tenant",
    "run_apply",
    "run_plan",
]

COMPONENT_TYPES = ("dagster_dynamic_tables.DynamicTablesComponent",)
DEFS_FILES = ("defs.yaml", "defs.yml", "component.yaml")


class PlanError(DynamicTablesError):
    """Plan or apply could not do its job (declarations, connection, a failed statement)."""


# --- printing -------------------------------------------------------------------------------

_LABELS = {
    Action.CREATE: "create",
    Action.ALTER: "alter",
    Action.RECREATE: "re-create",
    Action.UNCHANGED: "unchanged",
    Action.CONFLICT: "CONFLICT",
    Action.SOURCE_PRESENT: "source",
    Action.SOURCE_MISSING: "MISSING",
}


def _headline(item: PlannedObject) -> str:
    label = _LABELS[item.action]
    what = f"{label:<10} {item.name} ({item.kind})"
    if item.action is Action.ALTER:
        what += (
            ": reinitializes the active region"
            if item.reinitializes
            else ": in place, keeps its data"
        )
    elif item.action is Action.RECREATE:
        what += (
            ": REINITIALIZES (recomputes all its data)"
            if item.reinitializes
            else ": replaced (no data to recompute)"
        )
    elif item.action is Action.SOURCE_PRESENT:
        what += ": exists"
    elif item.action is Action.SOURCE_MISSING:
        what += ": does not exist"
    return what


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def format_plan(plan: TenantPlan, where: str) -> list[str]:
    """The plan as lines a reviewer reads: one headline per object, its changes and notes, the
    DDL apply would run, the grants, a summary."""
    lines = [
        f"tenant {plan.tenant.slug} ({where}): read {_count(plan.databases, 'database')} with "
        f"{_count(plan.statements_read, 'statement')}"
    ]
    for item in plan.objects:
        lines.append(f"  {_headline(item)}")
        lines += [f"      {change.render()}" for change in item.changes]
        lines += [f"      note: {note}" for note in item.notes]
        for statement in item.statements:
            lines += [f"      | {line}" for line in f"{statement};".splitlines()]
    created = [
        item.declaration.qualified_name for item in plan.objects if item.action is Action.CREATE
    ]
    if created:
        lines.append("  before the creates, apply makes sure their databases and schemas exist:")
        lines += [f"      | {statement};" for statement in ddl.render_namespaces(created)]
    lines += [f"  note: {note}" for note in plan.notes]
    if plan.grants:
        lines.append(
            "  grants the role needs for the sensor and checks (an administrator runs them):"
        )
        lines += [f"      {grant};" for grant in plan.grants]
    counts = dict.fromkeys(Action, 0)
    for item in plan.objects:
        counts[item.action] += 1
    summary = (
        f"  {counts[Action.CREATE]} to create, {counts[Action.ALTER]} to alter, "
        f"{counts[Action.RECREATE]} to re-create, {counts[Action.UNCHANGED]} unchanged"
    )
    if counts[Action.CONFLICT]:
        summary += f", {counts[Action.CONFLICT]} in conflict"
    if counts[Action.SOURCE_MISSING]:
        summary += f", {_count(counts[Action.SOURCE_MISSING], 'source')} missing"
    lines.append(summary)
    return lines


# --- applying -------------------------------------------------------------------------------


@dataclass
class ApplyResult:
    applied: list[str] = field(default_factory=lambda: list[str]())
    declined: list[str] = field(default_factory=lambda: list[str]())
    conflicts: list[str] = field(default_factory=lambda: list[str]())
    blocked: list[str] = field(default_factory=lambda: list[str]())
    """Objects not applied because an upstream object of the tenant was declined or conflicts."""
    statements: int = 0

    @property
    def left(self) -> int:
        """How many objects are still pending after the run."""
        return len(self.declined) + len(self.conflicts) + len(self.blocked)


def apply_plan(
    cursor: Cursor, plan: TenantPlan, *, yes: bool, ask: Callable[[str], bool], out: TextIO
) -> ApplyResult:
    """Run the plan upstream first. Asks (`ask(question) -> bool`) before every change that
    reinitializes, unless `yes`; never drops anything. A failing statement stops the tenant with a
    `PlanError` saying what ran before it."""
    from snowflake.connector.errors import Error as SnowflakeError

    result = ApplyResult()
    namespaces_done: set[str] = set()
    held: set[str] = set()  # short names of objects left as they are, so their readers wait
    tenant = plan.tenant
    for item in plan.objects:
        declaration = item.declaration
        if item.action is Action.CONFLICT:
            result.conflicts.append(item.name)
            held.add(declaration.name)
            continue
        if item.action not in PENDING:
            continue
        waits_for = [
            key[-1]
            for key in (
                [] if isinstance(declaration, SourceTable) else tenant.dep_keys(declaration)
            )
            if key[0] == tenant.slug and key[-1] in held
        ]
        if waits_for:
            out.write(f"  skipped  {item.name} (waits for {', '.join(waits_for)})\n")
            result.blocked.append(item.name)
            held.add(declaration.name)
            continue
        if item.reinitializes and not yes:
            question = (
                f"{item.name}: {_headline(item).split(': ', 1)[-1]} "
                f"({', '.join(change.prop for change in item.changes)} changed). Run it?"
            )
            if not ask(question):
                out.write(f"  skipped  {item.name} (not confirmed)\n")
                result.declined.append(item.name)
                held.add(declaration.name)
                continue
        statements = list(item.statements)
        if item.action is Action.CREATE:
            statements = [
                s
                for s in ddl.render_namespaces([item.declaration.qualified_name])
                if s not in namespaces_done
            ] + statements
        for statement in statements:
            try:
                cursor.execute(statement)
            except SnowflakeError as e:
                done = ", ".join(result.applied) or "nothing"
                raise PlanError(
                    f"apply stopped at {item.name}: {statement.splitlines()[0]} ... failed: {e}. "
                    f"Applied before it: {done}. Fix the cause and run apply again (it starts "
                    "from what exists)."
                ) from e
            result.statements += 1
            if statement.startswith("CREATE DATABASE") or statement.startswith("CREATE SCHEMA"):
                namespaces_done.add(statement)
        out.write(f"  applied  {item.name} ({_LABELS[item.action]})\n")
        result.applied.append(item.name)
    return result


# --- tenants, connections and the two commands ----------------------------------------------


def confirm_on_terminal(question: str) -> bool:
    """The `ask` of an interactive `apply`: prints the question, reads y/N from the terminal.

    Without a terminal (CI) nothing can answer: the change is not confirmed (pass --yes)."""
    import sys

    if not sys.stdin.isatty():
        print(f"{question} [y/N] no terminal to answer: not confirmed (use --yes)")
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def load_declared_tenants(root: Path, slug: str | None = None) -> list[Tenant]:
    """Every tenant's declarations (defs.yaml files of the component type), or one tenant's;
    ordered so that a tenant comes after the tenants whose assets it depends on."""
    from dagster_dynamic_tables.loader import build_tenant, parse_declaration_yaml
    from dagster_dynamic_tables.repo import discover_tenants

    folders = discover_tenants(root)
    if slug is not None:
        folders = [folder for folder in folders if folder.slug == slug]
        if not folders:
            known = ", ".join(folder.slug for folder in discover_tenants(root)) or "none"
            raise PlanError(f"no tenant {slug!r} under {root / 'tenants'} (tenants: {known}).")
    tenants: list[Tenant] = []
    for folder in folders:
        defs_dir = folder.defs_dir
        if not defs_dir.is_dir():
            continue
        for path in sorted(defs_dir.rglob("*")):
            if path.name not in DEFS_FILES:
                continue
            data, lines = parse_declaration_yaml(path.read_text(encoding="utf-8"), file=path)
            if not isinstance(data, dict) or data.get("type") not in COMPONENT_TYPES:  # pyright: ignore[reportUnknownMemberType] (YAML data)
                continue
            prefix = "attributes."
            shifted = {k[len(prefix) :]: v for k, v in lines.items() if k.startswith(prefix)}
            attributes: Any = data.get("attributes")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType] (YAML data)
            tenants.append(build_tenant(attributes, file=path, base_dir=path.parent, lines=shifted))
    return _tenants_upstream_first(tenants)


def _tenants_upstream_first(tenants: list[Tenant]) -> list[Tenant]:
    by_slug = {tenant.slug: tenant for tenant in tenants}
    ordered: list[Tenant] = []
    seen: set[str] = set()

    def visit(tenant: Tenant) -> None:
        if tenant.slug in seen:
            return
        seen.add(tenant.slug)
        for declaration in tenant.all():
            if isinstance(declaration, SourceTable):
                continue
            for key in tenant.dep_keys(declaration):
                other = by_slug.get(key[0])
                if other is not None and other is not tenant:
                    visit(other)
        ordered.append(tenant)

    for tenant in tenants:
        visit(tenant)
    return ordered


def _setting(slug: str, name: str, env: Mapping[str, str]) -> str | None:
    """`<SLUG>_SNOWFLAKE_<NAME>`, else `SNOWFLAKE_<NAME>` (the rule of resources.find_setting,
    which imports Dagster)."""
    for variable in (f"{slug.upper()}_SNOWFLAKE_{name}", f"SNOWFLAKE_{name}"):
        value = env.get(variable, "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True)
class Target:
    """Where a tenant's plan runs: a description for the output, its role, whether views'
    queries can be compared there."""

    description: str
    role: str | None
    warehouse: str | None
    local: bool


@contextmanager
def connect_tenant(
    tenant: Tenant, root: Path, env: Mapping[str, str]
) -> Iterator[tuple[Any, Target]]:
    """A connector connection for the tenant: Snowflake when an account is configured, else the
    local stand-in (started if needed; the tenant's objects are not created: that is apply's)."""
    slug = tenant.slug
    account = _setting(slug, "ACCOUNT", env)
    if account is None:
        from dagster_dynamic_tables.local import (
            NO_PLATFORM_DETECTION,
            local_stand_in_location,
            require_stand_in,
        )

        require_stand_in(slug)
        import local_snowflake

        data_dir, port = local_stand_in_location(env, root)
        info = local_snowflake.ensure_server(data_dir, port)
        conn = local_snowflake.connect(host=info.host, port=info.port, **NO_PLATFORM_DETECTION)
        target = Target(f"local stand-in {info.host}:{info.port}", None, None, True)
    else:
        import snowflake.connector

        user = _setting(slug, "USER", env)
        password = _setting(slug, "PASSWORD", env)
        key_path = _setting(slug, "PRIVATE_KEY_PATH", env)
        prefix = f"{slug.upper()}_SNOWFLAKE"
        if user is None or (password is None and key_path is None):
            raise SnowflakeSettingsError(
                f"A Snowflake account is configured for tenant {slug!r}, but no user or no "
                f"credentials. Fix: set {prefix}_USER or SNOWFLAKE_USER, and {prefix}_PASSWORD "
                f"or SNOWFLAKE_PASSWORD (or {prefix}_PRIVATE_KEY_PATH or "
                "SNOWFLAKE_PRIVATE_KEY_PATH)."
            )
        args: dict[str, Any] = {"account": account, "user": user, "autocommit": True}
        if key_path is not None:
            args["private_key_file"] = key_path
            key_password = _setting(slug, "PRIVATE_KEY_PASSWORD", env)
            if key_password is not None:
                args["private_key_file_pwd"] = key_password
        else:
            args["password"] = password
        role = _setting(slug, "ROLE", env)
        warehouse = _setting(slug, "WAREHOUSE", env)
        for key, value in (("role", role), ("warehouse", warehouse)):
            if value is not None:
                args[key] = value
        args["login_timeout"] = int(_setting(slug, "LOGIN_TIMEOUT", env) or 10)
        try:
            conn = snowflake.connector.SnowflakeConnection(**args)
        except snowflake.connector.errors.Error as e:
            # the connector's messages name the account and user, never the secret
            raise PlanError(f"cannot connect to Snowflake for tenant {slug!r}: {e}") from e
        target = Target(f"Snowflake account {account}", role, warehouse, False)
    try:
        yield conn, target
    finally:
        conn.close()


def _plan_all(
    root: Path, tenant: str | None, env: Mapping[str, str], out: TextIO
) -> Iterator[tuple[Any, TenantPlan, Target]]:
    try:
        tenants = load_declared_tenants(root, tenant)
    except DeclarationError as e:
        raise PlanError(str(e)) from e
    if not tenants:
        out.write("no declared tenants found\n")
    for declared in tenants:
        with connect_tenant(declared, root, env) as (conn, target):
            cursor = conn.cursor()
            plan = _read(cursor, declared, target)
            plan.grants = required_grants(declared, target.role, target.warehouse)
            yield cursor, plan, target


def _read(cursor: Any, tenant: Tenant, target: Target) -> TenantPlan:
    from snowflake.connector.errors import Error as SnowflakeError

    try:
        return plan_tenant(cursor, tenant, role=target.role, stand_in=target.local)
    except SnowflakeError as e:
        prefix = f"{tenant.slug.upper()}_SNOWFLAKE"
        raise PlanError(
            f"cannot read what exists for tenant {tenant.slug!r} ({target.description}): {e}. "
            "Fix: the role needs USAGE on the declared databases and schemas, and reading "
            f"INFORMATION_SCHEMA needs a warehouse ({prefix}_WAREHOUSE or SNOWFLAKE_WAREHOUSE)."
        ) from e


def run_plan(
    root: Path, tenant: str | None, out: TextIO, *, env: Mapping[str, str] | None = None
) -> int:
    """`dynamic-tables plan [--tenant SLUG]`: print the plan of every tenant (or one); 0 when
    nothing is pending, 1 when apply would change something or a conflict needs a person."""
    env = os.environ if env is None else env
    pending = 0
    started = time.perf_counter()
    for _cursor, plan, target in _plan_all(root, tenant, env, out):
        for line in format_plan(plan, target.description):
            out.write(line + "\n")
        pending += len(plan.pending)
    elapsed = time.perf_counter() - started
    verdict = f"{pending} change{'s' if pending != 1 else ''} pending" if pending else "no changes"
    out.write(f"plan: {verdict} ({elapsed:.1f} s)\n")
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
    for cursor, plan, target in _plan_all(root, tenant, env, out):
        for line in format_plan(plan, target.description):
            out.write(line + "\n")
        result = apply_plan(cursor, plan, yes=yes, ask=ask, out=out)
        out.write(
            f"apply {plan.tenant.slug}: {len(result.applied)} applied with {result.statements} "
            f"statements, {len(result.declined)} declined, {len(result.conflicts)} in conflict, "
            f"{len(result.blocked)} waiting for those\n"
        )
        pending = [item.name for item in _read(cursor, plan.tenant, target).pending]
        left += len(pending)
        out.write(
            f"plan {plan.tenant.slug} after apply: "
            + (f"still pending: {', '.join(pending)}\n" if pending else "no changes\n")
        )
    return 1 if left else 0
