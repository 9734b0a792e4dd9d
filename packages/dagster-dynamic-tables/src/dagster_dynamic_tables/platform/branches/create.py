"""`dynamic-tables env create <name> --from <env> [--tenant SLUG ...]`: a branch environment made
of zero-copy clones of the source environment's databases.

1. Checks, before any statement: the names, environments.yaml, the declarations (mapped into the
   branch environment by the one mapping function, `sql.environments.in_environment`).
2. One `SHOW DATABASES`: every source database must exist (all missing ones are named at once,
   nothing is cloned); a branch database that exists already is kept when `env create` made it
   for this environment (a pull request's later pushes run create again), refused otherwise.
3. `CREATE DATABASE <branch> CLONE <source> COMMENT = '<marker>'` per database, upstream tenants
   first (cross-tenant reads are cloned before their readers); the comment is what `env drop`
   and `env list` go by (`markers`).
4. The cloned Dynamic Tables: Snowflake suspends every clone (CLONED_AUTO_SUSPENDED), keeps no
   refresh history, and keeps its definition's text, so a query naming the source environment's
   tables fully qualified (`ECOMMERCE_DEV.RAW.ORDERS`, what `in_environment` wrote for dev) still
   reads the source from inside the clone. Each tenant is planned and applied in the branch
   environment (`platform.plan`: the same comparison and DDL as `apply --environment <name>`):
   a definition that names the source is re-created with the branch's names, one that reads
   only its own database is left as cloned. Then, per `branches.cloned_dynamic_tables` in
   environments.yaml, every declared Dynamic Table is resumed (upstream first) or left
   suspended for refreshes on demand (one that re-creating left running is suspended).
   Each Dynamic Table gets one report line: what it needed and what was done.

Bounded: the connection has the tenants' login and socket timeouts; SHOW statements run under
the platform's read timeout, a CLONE under `CLONE_TIMEOUT`, the re-pointing under apply's.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from dagster_dynamic_tables.declarations.environments import Environment
from dagster_dynamic_tables.declarations.identifiers import parse_identifier
from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.errors import EnvironmentsError, PlanError
from dagster_dynamic_tables.platform.branches.markers import (
    ExistingDatabase,
    age_text,
    declared_databases,
    marker,
    protected_databases,
    read_databases,
)
from dagster_dynamic_tables.platform.branches.scope import (
    Scope,
    check_branch_name,
    check_slugs,
    load_scope,
    open_connection,
    with_upstream,
)
from dagster_dynamic_tables.platform.plan.build import Action, PlannedObject
from dagster_dynamic_tables.platform.plan.connect import Target
from dagster_dynamic_tables.platform.plan.declared import DeclaredFile, refused_objects

__all__ = ["ALTER_TIMEOUT", "CLONE_TIMEOUT", "CloneStep", "create_branch", "plan_clones"]

CLONE_TIMEOUT = 900
"""Seconds after which one CLONE statement is cancelled (a zero-copy clone copies metadata
only, but a database of many tables takes a while)."""

ALTER_TIMEOUT = 120
"""Seconds after which an ALTER DYNAMIC TABLE ... RESUME / SUSPEND (or an undoing DROP) is
cancelled."""

_NEEDED = {
    Action.RECREATE: "its definition read the source environment: re-pointed to the branch "
    "(re-created, reinitialized)",
    Action.ALTER: "a property differs in this environment: altered in place",
    Action.CREATE: "not in the source environment: created",
    Action.UNCHANGED: "its definition reads only the branch: kept as cloned",
    Action.CONFLICT: "CONFLICT: another kind of object has its name: left as it is",
}


@dataclass(frozen=True)
class CloneStep:
    """One database of the branch: cloned from `source`, or kept (made by an earlier create)."""

    source: str
    target: str
    kept: ExistingDatabase | None = None


def create_branch(
    root: Path,
    name: str,
    source_name: str,
    tenants: Sequence[str],
    environ: Mapping[str, str],
    out: TextIO,
) -> int:
    """`env create`: see the module. 0 when every declared object is in place, 1 when something
    was left pending (a conflict)."""
    check_branch_name(name, "create")
    scope = load_scope(root, name, environ)
    source = scope.environments.get(source_name)
    if source.name == name:
        raise EnvironmentsError(f"env create {name}: --from names the environment itself.")
    check_slugs(tenants, scope.files)
    files = with_upstream(scope.files, tenants)
    if refusals := refused_objects(root, files):  # apply would refuse them: so does create
        lines = "\n".join(f"  REFUSED {line}" for _slug, line in refusals)
        raise PlanError(
            f"env create {name}: declarations outside their tenant's grants; nothing was sent "
            f"to Snowflake:\n{lines}\nFix: declare the objects in the tenant's granted schemas, "
            "or ask the platform team to extend grants.yaml."
        )
    with open_connection(files, root, environ, scope.branch) as (conn, target):
        cursor = conn.cursor()
        existing = _read_databases(conn, cursor)
        steps = plan_clones(scope, source, files, existing)
        upstream = sorted({f.folder for f in files} - set(tenants)) if tenants else []
        out.write(
            f"env create {name} --from {source.name} ({target.description}): "
            f"{len(steps)} database{'s' if len(steps) != 1 else ''}"
            + (f" (with {', '.join(upstream)}: read by the tenants named)" if upstream else "")
            + "\n"
        )
        _clone(cursor, steps, name, source.name, out)
        left = _repoint_and_schedule(cursor, conn, target, files, scope.branch, out)
    return 1 if left else 0


def plan_clones(
    scope: Scope,
    source: Environment,
    files: Sequence[DeclaredFile],
    existing: Mapping[str, ExistingDatabase],
) -> list[CloneStep]:
    """The databases to clone, upstream first; refuse (nothing done) a missing source, a branch
    database made by something else, or one a listed environment uses."""
    protected = protected_databases(scope.environments, [f.as_declared for f in scope.files])
    steps: list[CloneStep] = []
    missing: list[str] = []
    for declared in declared_databases(f.as_declared for f in files):
        from_name, to_name = source.database(declared), scope.branch.database(declared)
        to_resolved = parse_identifier(to_name).resolved
        if to_resolved in protected:
            raise EnvironmentsError(
                f"env create {scope.branch.name}: its database {to_name} is one a listed "
                "environment uses: refusing to touch it. Fix: environments.yaml."
            )
        if parse_identifier(from_name).resolved not in existing:
            missing.append(from_name)
            continue
        kept = existing.get(to_resolved)
        if kept is not None:
            branch = kept.branch
            if branch is None or branch.environment != scope.branch.name:
                made = "not by env create" if branch is None else f"for {branch.environment}"
                raise PlanError(
                    f"env create {scope.branch.name}: the database {to_name} exists already, "
                    f"made {made} (comment: {kept.comment!r}). Nothing was cloned. Fix: drop or "
                    "rename it, or pick another branch environment name."
                )
        steps.append(CloneStep(from_name, to_name, kept))
    if missing:
        raise PlanError(
            f"env create {scope.branch.name} --from {source.name}: the source "
            f"database{'s' if len(missing) != 1 else ''} {', '.join(missing)} "
            f"do{'es' if len(missing) == 1 else ''} not exist. Nothing was cloned. Fix: set up "
            f"{source.name} first (`dynamic-tables --environment {source.name} apply`, or "
            f"`local start --environment {source.name}` on the stand-in)."
        )
    return steps


def _clone(
    cursor: Any, steps: Sequence[CloneStep], name: str, source_name: str, out: TextIO
) -> None:
    """The CLONE statements; when one fails, the databases this run cloned are dropped again
    (nothing half-made is left: the next create starts from what existed before)."""
    from snowflake.connector.errors import Error as SnowflakeError

    made: list[str] = []
    for step in steps:
        if step.kept is not None:
            age = age_text(step.kept.created_on)
            out.write(f"  kept     {step.target} (made by env create {age} ago)\n")
            continue
        try:
            cursor.execute(
                f"CREATE DATABASE {_sql(step.target)} CLONE {_sql(step.source)} COMMENT = %s",
                (marker(name, source_name, parse_identifier(step.source).resolved),),
                timeout=CLONE_TIMEOUT,
            )
        except SnowflakeError as e:
            for target in reversed(made):
                cursor.execute(f"DROP DATABASE IF EXISTS {_sql(target)}", timeout=ALTER_TIMEOUT)
            undone = f" (dropped again: {', '.join(made)})" if made else ""
            raise PlanError(
                f"env create {name}: cloning {step.source} to {step.target} failed: {e}. "
                f"Nothing of this run is left{undone}. Fix the cause and run env create again."
            ) from e
        made.append(step.target)
        out.write(f"  cloned   {step.source} -> {step.target}\n")


def _read_databases(conn: Any, cursor: Any) -> dict[str, ExistingDatabase]:
    from dagster_dynamic_tables.sql.settings import (
        READ_STATEMENT_TIMEOUT,
        bounded_reads,
        statement_timeout,
    )

    with bounded_reads(conn, request_seconds=READ_STATEMENT_TIMEOUT):
        return read_databases(cursor, statement_timeout())


def _sql(name: str) -> str:
    return parse_identifier(name).sql


def _repoint_and_schedule(
    cursor: Any, conn: Any, target: Target, files: Sequence[DeclaredFile], branch: Environment,
    out: TextIO,
) -> int:  # fmt: skip
    """Apply each tenant in the branch environment, then resume or suspend the cloned Dynamic
    Tables; one line per Dynamic Table. Returns how many objects were left pending."""
    from dagster_dynamic_tables.platform.plan.apply import apply_plan
    from dagster_dynamic_tables.platform.plan.connect import read_tenant

    planned: list[PlannedObject] = []
    left = 0
    for file in files:
        plan = read_tenant(cursor, file.tenant, target)
        # apply's progress lines are summed up per Dynamic Table below
        result = apply_plan(cursor, plan, yes=True, ask=lambda _q: True, out=io.StringIO())
        left += result.left
        planned += [item for item in plan.objects if isinstance(item.declaration, DynamicTable)]
    states = _scheduling_states(conn, cursor, {item.declaration.qualified_name for item in planned})
    for item in planned:
        needed = _NEEDED.get(item.action, item.action.value)
        state = states.get(item.name)
        out.write(f"  {item.name}: {needed}; {_schedule(cursor, item, state, branch)}\n")
    return left


def _scheduling_states(conn: Any, cursor: Any, names: set[Any]) -> dict[str, str]:
    """SCHEDULING_STATE of SHOW DYNAMIC TABLES, one statement per database, by qualified name."""
    from dagster_dynamic_tables.sql.settings import (
        READ_STATEMENT_TIMEOUT,
        bounded_reads,
        statement_timeout,
    )

    states: dict[str, str] = {}
    databases = sorted({name.database.sql for name in names})
    with bounded_reads(conn, request_seconds=READ_STATEMENT_TIMEOUT):
        for database in databases:
            show = f"SHOW DYNAMIC TABLES IN DATABASE {database}"
            cursor.execute(show, timeout=statement_timeout())
            columns = [str(d[0]).lower() for d in cursor.description or ()]
            for row in cursor.fetchall():
                values = dict(zip(columns, row, strict=False))
                qualified = ".".join(
                    str(values[key]) for key in ("database_name", "schema_name", "name")
                )
                states[qualified] = str(values.get("scheduling_state") or "")
    return states


def _schedule(cursor: Any, item: PlannedObject, state: str | None, branch: Environment) -> str:
    """Resume or suspend one Dynamic Table per the environment's choice; what was done."""
    name = item.declaration.qualified_name.sql
    if state is None:
        return "not found in the branch: nothing to schedule"
    suspended = state.upper() == "SUSPENDED"
    if branch.cloned_dynamic_tables == "resume":
        if not suspended:
            return "running"
        cursor.execute(f"ALTER DYNAMIC TABLE {name} RESUME", timeout=ALTER_TIMEOUT)
        return "resumed (cloned_dynamic_tables: resume)"
    if suspended:
        return (
            "left suspended (cloned_dynamic_tables: refresh_on_demand; "
            f"ALTER DYNAMIC TABLE {name} REFRESH refreshes it)"
        )
    cursor.execute(f"ALTER DYNAMIC TABLE {name} SUSPEND", timeout=ALTER_TIMEOUT)
    return "suspended (cloned_dynamic_tables: refresh_on_demand)"
