"""Plan one tenant: read what exists in Snowflake, compare it with the declarations, decide.

`plan_tenant` reads what exists (`snapshot.read_snapshot`: at most two statements per database)
and turns declarations and snapshot into one `PlannedObject` per declared object, upstream
first, with the DDL (from `sql.ddl`) that `plan.apply.apply_plan` runs. The rules (what changes
in place, what reinitializes) are in `sql.ddl`'s docstring; the commands and their output are in
`plan.run`.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from enum import Enum

from dagster_dynamic_tables.declarations.graph import upstream_first
from dagster_dynamic_tables.declarations.identifiers import parse_identifier, quote_identifier
from dagster_dynamic_tables.declarations.lags import parse_target_lag
from dagster_dynamic_tables.declarations.models import (
    Declaration,
    DynamicTable,
    SourceTable,
    Tenant,
    View,
)
from dagster_dynamic_tables.platform.plan.snapshot import (
    Cursor,
    ExistingDynamicTable,
    ExistingObject,
    Snapshot,
    read_snapshot,
)
from dagster_dynamic_tables.sql import ddl, query_text

__all__ = [
    "PENDING",
    "Action",
    "Change",
    "Cursor",
    "PlannedObject",
    "TenantPlan",
    "compare_dynamic_table",
    "plan_dynamic_table",
    "plan_tenant",
    "plan_view",
    "required_grants",
]

RECOMPUTING = ddl.REINITIALIZING - {ddl.FROZEN_WHERE}
"""Changes that recompute all of a Dynamic Table's data (a re-create); a changed FROZEN WHERE
reinitializes only the active region, and is an alter."""


class Action(Enum):
    CREATE = "create"
    ALTER = "alter"
    RECREATE = "re-create"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    SOURCE_PRESENT = "present"
    SOURCE_MISSING = "missing"


PENDING = frozenset({Action.CREATE, Action.ALTER, Action.RECREATE, Action.CONFLICT})


@dataclass(frozen=True)
class Change:
    """One property that differs: its name, the declared value and what Snowflake has."""

    prop: str
    declared: str
    reported: str

    def render(self) -> str:
        return f"{self.prop}: {self.reported} -> {self.declared}"


@dataclass(frozen=True)
class PlannedObject:
    """What apply does for one declared object."""

    declaration: Declaration
    action: Action
    statements: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    reinitializes: bool = False
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.declaration.qualified_name.resolved

    @property
    def kind(self) -> str:
        return self.declaration.object_type.lower()


@dataclass
class TenantPlan:
    """A tenant's plan: one entry per declared object, upstream first; the grants; the cost."""

    tenant: Tenant
    objects: list[PlannedObject] = field(default_factory=lambda: list[PlannedObject]())
    grants: list[str] = field(default_factory=lambda: list[str]())
    statements_read: int = 0
    databases: int = 0
    notes: list[str] = field(default_factory=lambda: list[str]())
    reads: list[str] = field(default_factory=lambda: list[str]())
    """Reads of the queries that deps do not name (`sql.lineage`): printed, not applied."""

    @property
    def pending(self) -> list[PlannedObject]:
        return [item for item in self.objects if item.action in PENDING]


# --- comparing ------------------------------------------------------------------------------


def _lag_seconds(text: str | None) -> int | None | str:
    """Seconds of a reported target lag, None for DOWNSTREAM, the text if unreadable."""
    if text is None:
        return "nothing"
    try:
        return parse_target_lag(text.strip().strip("'")).seconds
    except ValueError:
        return text


def _identifier(value: str | None) -> str | None:
    return None if value is None else parse_identifier(value).resolved


def _cluster_text(reported: str | None) -> str:
    """SHOW's cluster_by (`LINEAR(a, b)`) as the expression list, normalised."""
    text = (reported or "").strip()
    if text.upper().startswith("LINEAR(") and text.endswith(")"):
        text = text[len("LINEAR(") : -1]
    return query_text.normalize_sql(text)


def compare_dynamic_table(
    dt: DynamicTable, existing: ExistingDynamicTable, table: ExistingObject | None
) -> tuple[list[Change], list[str]]:
    """The declared properties Snowflake has otherwise, and notes (chosen refresh mode,
    properties Snowflake did not report)."""
    changes: list[Change] = []
    notes: list[str] = []
    not_reported: list[str] = []

    def differ(prop: str, declared: str, reported: str) -> None:
        changes.append(Change(prop, declared, reported))

    reported_lag = existing.get("target_lag")
    if _lag_seconds(reported_lag) != dt.lag.seconds:
        differ(ddl.TARGET_LAG, dt.lag.text, reported_lag or "nothing")
    warehouse = parse_identifier(dt.warehouse).resolved
    if (existing.get("warehouse") or "") != warehouse:
        differ(ddl.WAREHOUSE, warehouse, existing.get("warehouse") or "nothing")
    mode = (existing.get("refresh_mode") or "").upper()
    if dt.refresh_mode == "AUTO":
        notes.append(f"refresh_mode AUTO: Snowflake chose {mode or 'nothing it reports'}")
    elif mode != dt.refresh_mode:
        differ(ddl.REFRESH_MODE, dt.refresh_mode, mode or "nothing")
    optional: list[tuple[str, str, str | None, str]] = [
        ("scheduler", ddl.SCHEDULER, dt.scheduler, "ENABLE"),
        (
            "initialization_warehouse",
            ddl.INITIALIZATION_WAREHOUSE,
            _identifier(dt.initialization_warehouse),
            "",
        ),
        ("immutable_where", ddl.FROZEN_WHERE, dt.frozen_where, ""),
    ]
    for column, prop, declared, default in optional:
        if not existing.reports(column):
            if (declared or default) != default:
                not_reported.append(prop)
            continue
        reported = existing.get(column) or default
        same = (
            query_text.normalize_sql(reported) == query_text.normalize_sql(declared or default)
            if prop == ddl.FROZEN_WHERE
            else reported.upper() == (declared or default).upper()
        )
        if not same:
            differ(prop, declared or default or "nothing", reported or "nothing")
    if existing.reports("cluster_by"):
        declared_keys = ", ".join(dt.cluster_by or [])
        if _cluster_text(existing.get("cluster_by")) != query_text.normalize_sql(declared_keys):
            differ(
                ddl.CLUSTER_BY, declared_keys or "nothing", existing.get("cluster_by") or "nothing"
            )
    elif dt.cluster_by:
        not_reported.append(ddl.CLUSTER_BY)
    if existing.reports("comment"):
        reported_comment = existing.get("comment") or ""
        if reported_comment != (dt.comment or ""):
            differ(ddl.COMMENT, repr(dt.comment or ""), repr(reported_comment))
    elif dt.comment is not None:
        not_reported.append(ddl.COMMENT)
    if table is not None and table.transient is not None and table.transient != dt.transient:
        differ(ddl.TRANSIENT, str(dt.transient).lower(), str(table.transient).lower())
    if dt.data_retention_time_in_days is not None:
        days = None if table is None else table.retention_days
        if days is None:
            not_reported.append(ddl.DATA_RETENTION_TIME_IN_DAYS)
        elif days != dt.data_retention_time_in_days:
            differ(ddl.DATA_RETENTION_TIME_IN_DAYS, str(dt.data_retention_time_in_days), str(days))
    text = existing.get("text")
    query = query_text.extract_query(text) if text else None
    if query is None:
        not_reported.append("the query")
    elif dt.query is not None and not query_text.same_query(dt.query, query):
        differ(ddl.QUERY, "the declared SELECT", "another SELECT")
    if not_reported:
        notes.append(f"not compared (Snowflake did not report it): {', '.join(not_reported)}")
    return changes, notes


def plan_dynamic_table(
    dt: DynamicTable, snapshot: Snapshot, where: str | None = None
) -> PlannedObject:
    name = dt.qualified_name.resolved
    existing = snapshot.dynamic_tables.get(name)
    table = snapshot.objects.get(name)
    if existing is None:
        if table is not None:
            return PlannedObject(
                dt,
                Action.CONFLICT,
                notes=(
                    f"a {table.kind} of that name exists and is not a dynamic table: apply does "
                    "not drop it; drop or rename it, or declare another name",
                ),
            )
        return PlannedObject(dt, Action.CREATE, (ddl.render_dynamic_table(dt),))
    changes, notes = compare_dynamic_table(dt, existing, table)
    props = {change.prop for change in changes}
    if any(change.prop == ddl.QUERY for change in changes) and where:
        notes.append(f"the SELECT running in Snowflake differs from {where}")
    if not changes:
        return PlannedObject(dt, Action.UNCHANGED, notes=tuple(notes))
    found = tuple(changes)
    if props & ddl.RECREATING or (dt.transient and props & RECOMPUTING):
        # TRANSIENT cannot change in place, and CREATE OR ALTER cannot name a transient table
        statement = ddl.render_dynamic_table(dt, "CREATE OR REPLACE")
        return PlannedObject(dt, Action.RECREATE, (statement,), found, True, tuple(notes))
    if props & RECOMPUTING:
        statement = ddl.render_dynamic_table(dt, "CREATE OR ALTER")
        return PlannedObject(dt, Action.RECREATE, (statement,), found, True, tuple(notes))
    reinitializes = ddl.FROZEN_WHERE in props
    if reinitializes:
        notes.append("FROZEN WHERE changed: Snowflake reinitializes the active (not frozen) region")
    statements = (
        tuple(ddl.render_alter_statements(dt, sorted(props)))
        if dt.transient
        else (ddl.render_dynamic_table(dt, "CREATE OR ALTER"),)
    )
    return PlannedObject(dt, Action.ALTER, statements, found, reinitializes, tuple(notes))


def plan_view(view: View, snapshot: Snapshot, *, compare_queries: bool) -> PlannedObject:
    name = view.qualified_name.resolved
    existing = snapshot.objects.get(name)
    if name in snapshot.dynamic_tables or (existing is not None and existing.kind != "VIEW"):
        return PlannedObject(
            view,
            Action.CONFLICT,
            notes=(
                "a table of that name exists and is not a view: apply does not drop it; drop or "
                "rename it, or declare another name",
            ),
        )
    if existing is None:
        return PlannedObject(view, Action.CREATE, (ddl.render_view(view),))
    if not compare_queries or existing.definition is None:
        return PlannedObject(view, Action.UNCHANGED, notes=("the view's query is not compared",))
    query = query_text.extract_query(existing.definition)
    if query is not None and view.query is not None and query_text.same_query(view.query, query):
        return PlannedObject(view, Action.UNCHANGED)
    change = Change(ddl.QUERY, "the declared SELECT", "another SELECT")
    statement = ddl.render_view(view, replace=True)
    return PlannedObject(
        view, Action.RECREATE, (statement,), (change,), False, ("a view holds no data",)
    )


def _where(tenant: Tenant, declaration: DynamicTable | View) -> str | None:
    if declaration.query_file is not None:
        base = tenant.base_dir
        return str(base / declaration.query_file) if base is not None else declaration.query_file
    if tenant.base_dir is not None:
        return f"the query in {tenant.base_dir}"
    return None


STAND_IN_PLACEHOLDERS = frozenset({"comment", "cluster_by"})
"""SHOW DYNAMIC TABLES columns the local stand-in fills with '' whatever the table has (it
accepts COMMENT and CLUSTER BY without keeping them): not compared there."""


def plan_tenant(
    cursor: Cursor, tenant: Tenant, *, role: str | None = None, stand_in: bool = False
) -> TenantPlan:
    """Read what exists (at most two statements per database) and plan every declared object.

    `stand_in`: the connection is the local stand-in, which keeps neither a view's SQL as written
    nor a Dynamic Table's comment and clustering key: those are not compared."""
    declarations = list(tenant.all())
    snapshot = read_snapshot(
        cursor, declarations, ignore_columns=STAND_IN_PLACEHOLDERS if stand_in else frozenset()
    )
    compare_view_queries = not stand_in
    plan = TenantPlan(tenant, statements_read=snapshot.statements, databases=snapshot.databases)
    for declaration in upstream_first(tenant):
        if isinstance(declaration, SourceTable):
            present = declaration.qualified_name.resolved in snapshot.objects
            plan.objects.append(
                PlannedObject(
                    declaration,
                    Action.SOURCE_PRESENT if present else Action.SOURCE_MISSING,
                    notes=()
                    if present
                    else ("loaded outside Dagster: apply does not create sources",),
                )
            )
        elif isinstance(declaration, DynamicTable):
            plan.objects.append(
                plan_dynamic_table(declaration, snapshot, _where(tenant, declaration))
            )
        else:
            plan.objects.append(
                plan_view(declaration, snapshot, compare_queries=compare_view_queries)
            )
    if stand_in and tenant.views:
        plan.notes.append(
            "views: the local stand-in does not keep a view's SQL as written, so view queries "
            "are not compared there"
        )
    plan.grants = required_grants(tenant, role)
    return plan


def required_grants(tenant: Tenant, role: str | None, warehouse: str | None = None) -> list[str]:
    """What the tenant's role needs for the freshness sensor, the checks and Dagster's refreshes:
    USAGE on the databases, schemas and warehouses, MONITOR on each Dynamic Table (without it
    Snowflake hides the refresh metadata), OPERATE on each `scheduler: DISABLE` table (Dagster runs
    its `ALTER DYNAMIC TABLE ... REFRESH`) and SELECT on each table with data tests (they read it).
    A role that owns an object has these already; a `relationships` or `sql` test reading another
    table needs SELECT on it too, which is not listed."""
    try:
        grantee = quote_identifier(role) if role else "<tenant role>"
    except ValueError:
        grantee = "<tenant role>"
    databases: dict[str, None] = {}
    schemas: dict[str, None] = {}
    warehouses: dict[str, None] = {}
    if warehouse:
        with suppress(ValueError):  # an invalid name is not ours to grant on
            warehouses[quote_identifier(warehouse)] = None
    for declaration in tenant.all():
        name = declaration.qualified_name
        databases[name.database.sql] = None
        schemas[f"{name.database.sql}.{name.schema.sql}"] = None
    for dt in tenant.dynamic_tables:
        warehouses[quote_identifier(dt.warehouse)] = None
    grants = [f"GRANT USAGE ON DATABASE {db} TO ROLE {grantee}" for db in databases]
    grants += [f"GRANT USAGE ON SCHEMA {schema} TO ROLE {grantee}" for schema in schemas]
    grants += [f"GRANT USAGE ON WAREHOUSE {wh} TO ROLE {grantee}" for wh in warehouses]
    grants += [
        f"GRANT MONITOR ON DYNAMIC TABLE {dt.qualified_name.sql} TO ROLE {grantee}"
        for dt in tenant.dynamic_tables
    ]
    grants += [
        f"GRANT OPERATE ON DYNAMIC TABLE {dt.qualified_name.sql} TO ROLE {grantee}"
        for dt in tenant.dynamic_tables
        if dt.scheduler == "DISABLE"
    ]
    grants += [
        f"GRANT SELECT ON TABLE {source.qualified_name.sql} TO ROLE {grantee}"
        for source in tenant.sources
        if source.data_tests
    ]
    grants += [
        f"GRANT SELECT ON DYNAMIC TABLE {dt.qualified_name.sql} TO ROLE {grantee}"
        for dt in tenant.dynamic_tables
        if dt.data_tests
    ]
    return grants
