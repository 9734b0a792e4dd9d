"""DDL from declarations: the one place that writes CREATE / ALTER statements for Snowflake.

`plan` / `apply` and the stand-in's local setup both render through here, so what runs locally is
what runs in production. The layout follows Snowflake's documented syntax (docs.snowflake.com,
CREATE DYNAMIC TABLE, 2026 edition), clauses in the documented order:

    CREATE [ OR REPLACE | OR ALTER ] [ TRANSIENT ] DYNAMIC TABLE <name>
      TARGET_LAG = { '<num> <unit>' | DOWNSTREAM }
      [ SCHEDULER = DISABLE ]                      -- ENABLE is the default and is left out
      WAREHOUSE = <warehouse>
      [ INITIALIZATION_WAREHOUSE = <warehouse> ]
      REFRESH_MODE = { AUTO | FULL | INCREMENTAL | ADAPTIVE }
      INITIALIZE = { ON_CREATE | ON_SCHEDULE }
      [ CLUSTER BY ( <expr> [ , ... ] ) ]
      [ DATA_RETENTION_TIME_IN_DAYS = <integer> ]
      [ COMMENT = '<string>' ]
      [ COPY GRANTS ]                              -- with OR REPLACE only
      [ FROZEN WHERE ( <predicate> ) ]             -- formerly IMMUTABLE WHERE
    AS
    <query>

Identifiers go through `QualifiedName.sql` / `quote_identifier` (always double-quoted, exact case);
strings through `sql_string`; `cluster_by` and `frozen_where` expressions were checked when the
declarations loaded (`declarations.fields.check_sql_fragment`).

What a change to an existing Dynamic Table costs (CREATE OR ALTER DYNAMIC TABLE, Snowflake docs):
TARGET_LAG, WAREHOUSE, CLUSTER BY, DATA_RETENTION_TIME_IN_DAYS, COMMENT change in place and keep
the data, as do SCHEDULER and INITIALIZATION_WAREHOUSE (both settable with ALTER ... SET);
FROZEN WHERE keeps the frozen region and reinitializes the rest; REFRESH_MODE and the query
reinitialize (recompute all data). TRANSIENT cannot be changed on an existing table (CREATE OR
ALTER has no TRANSIENT keyword): the table is re-created (CREATE OR REPLACE ... COPY GRANTS).
INITIALIZE only matters when the table is created.

Query drift (whether the SELECT Snowflake runs is the one declared) is told in `query_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from dagster_dynamic_tables.declarations.identifiers import QualifiedName
from dagster_dynamic_tables.declarations.identifiers import quote_identifier as quote
from dagster_dynamic_tables.declarations.models import Declaration, DynamicTable, View

CreateVerb = Literal["CREATE", "CREATE OR ALTER", "CREATE OR REPLACE"]

TARGET_LAG = "TARGET_LAG"
SCHEDULER = "SCHEDULER"
WAREHOUSE = "WAREHOUSE"
INITIALIZATION_WAREHOUSE = "INITIALIZATION_WAREHOUSE"
REFRESH_MODE = "REFRESH_MODE"
INITIALIZE = "INITIALIZE"
CLUSTER_BY = "CLUSTER BY"
DATA_RETENTION_TIME_IN_DAYS = "DATA_RETENTION_TIME_IN_DAYS"
COMMENT = "COMMENT"
FROZEN_WHERE = "FROZEN WHERE"
TRANSIENT = "TRANSIENT"
QUERY = "query"

REINITIALIZING = frozenset({REFRESH_MODE, QUERY, FROZEN_WHERE})
"""Changes CREATE OR ALTER makes by reinitializing (FROZEN WHERE: the active region only). Every
other property (target lag, scheduler, warehouses, clustering, retention, comment) changes in place,
keeping the table's data."""
RECREATING = frozenset({TRANSIENT})
"""Changes only a re-creation makes (CREATE OR REPLACE ... COPY GRANTS), reinitializing."""

_ESCAPES = {"\\": "\\\\", "'": "''", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def sql_string(value: str) -> str:
    """`value` as a Snowflake string literal: `'it''s'`; backslashes and line breaks escaped
    (in Snowflake a backslash starts an escape sequence inside '...')."""
    return "'" + "".join(_ESCAPES.get(char, char) for char in value) + "'"


def _query(declaration: DynamicTable | View) -> str:
    if declaration.query is None:
        raise ValueError(
            f"{declaration.table}: no query to render (declare query or query_file, or load the "
            "declarations with loader.build_tenant so query_file is read)"
        )
    return declaration.query.strip().rstrip(";").rstrip()


def dynamic_table_properties(dt: DynamicTable, *, copy_grants: bool = False) -> list[str]:
    """The property clauses of a CREATE DYNAMIC TABLE, in the documented order."""
    lines = [f"TARGET_LAG = {dt.lag.sql}"]
    if dt.scheduler == "DISABLE":
        lines.append("SCHEDULER = DISABLE")
    lines.append(f"WAREHOUSE = {quote(dt.warehouse)}")
    if dt.initialization_warehouse is not None:
        lines.append(f"INITIALIZATION_WAREHOUSE = {quote(dt.initialization_warehouse)}")
    lines.append(f"REFRESH_MODE = {dt.refresh_mode}")
    lines.append(f"INITIALIZE = {dt.initialize}")
    if dt.cluster_by:
        lines.append(f"CLUSTER BY ({', '.join(dt.cluster_by)})")
    if dt.data_retention_time_in_days is not None:
        lines.append(f"DATA_RETENTION_TIME_IN_DAYS = {dt.data_retention_time_in_days}")
    if dt.comment is not None:
        lines.append(f"COMMENT = {sql_string(dt.comment)}")
    if copy_grants:
        lines.append("COPY GRANTS")
    if dt.frozen_where is not None:
        lines.append(f"FROZEN WHERE ({dt.frozen_where})")
    return lines


def render_dynamic_table(
    dt: DynamicTable, verb: CreateVerb = "CREATE", *, if_not_exists: bool = False
) -> str:
    """The CREATE statement of a Dynamic Table, every declared option included.

    `CREATE OR REPLACE` adds COPY GRANTS (the new table keeps the old one's grants).
    `CREATE OR ALTER` has no TRANSIENT keyword in Snowflake's syntax: rendering it for a
    transient table is refused (re-create it, or change it with `render_alter_statements`).
    """
    if verb == "CREATE OR ALTER" and dt.transient:
        raise ValueError(
            f"{dt.table}: CREATE OR ALTER cannot name a TRANSIENT dynamic table; use ALTER "
            "DYNAMIC TABLE statements or CREATE OR REPLACE TRANSIENT"
        )
    if if_not_exists and verb != "CREATE":
        raise ValueError("IF NOT EXISTS goes with a plain CREATE only")
    head = verb + (" TRANSIENT" if dt.transient else "") + " DYNAMIC TABLE"
    if if_not_exists:
        head += " IF NOT EXISTS"
    properties = dynamic_table_properties(dt, copy_grants=verb == "CREATE OR REPLACE")
    body = "\n".join(f"  {line}" for line in properties)
    return f"{head} {dt.qualified_name.sql}\n{body}\nAS\n{_query(dt)}"


def render_view(view: View, *, replace: bool = False, if_not_exists: bool = False) -> str:
    """`CREATE [OR REPLACE] VIEW ... [COPY GRANTS] AS <query>`."""
    if replace and if_not_exists:
        raise ValueError("OR REPLACE and IF NOT EXISTS cannot be combined")
    head = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW"
    if if_not_exists:
        head += " IF NOT EXISTS"
    copy = " COPY GRANTS" if replace else ""
    return f"{head} {view.qualified_name.sql}{copy}\nAS\n{_query(view)}"


def render_create(declaration: Declaration, *, if_not_exists: bool = False) -> str:
    """The CREATE statement of a Dynamic Table or a view (sources are loaded outside)."""
    if isinstance(declaration, DynamicTable):
        return render_dynamic_table(declaration, if_not_exists=if_not_exists)
    if isinstance(declaration, View):
        return render_view(declaration, if_not_exists=if_not_exists)
    raise ValueError(f"{declaration.table} is a source table: it is loaded outside, not created")


def render_alter_statements(dt: DynamicTable, changed: Sequence[str]) -> list[str]:
    """ALTER DYNAMIC TABLE statements that set the declared value of each in-place property in
    `changed` (used where CREATE OR ALTER cannot be: a transient table)."""
    name = dt.qualified_name.sql
    sets: list[str] = []
    unsets: list[str] = []
    statements: list[str] = []
    for prop in changed:
        if prop == TARGET_LAG:
            sets.append(f"TARGET_LAG = {dt.lag.sql}")
        elif prop == SCHEDULER:
            sets.append(f"SCHEDULER = {dt.scheduler}")
        elif prop == WAREHOUSE:
            sets.append(f"WAREHOUSE = {quote(dt.warehouse)}")
        elif prop == INITIALIZATION_WAREHOUSE:
            if dt.initialization_warehouse is None:
                unsets.append(INITIALIZATION_WAREHOUSE)
            else:
                sets.append(f"INITIALIZATION_WAREHOUSE = {quote(dt.initialization_warehouse)}")
        elif prop == DATA_RETENTION_TIME_IN_DAYS:
            if dt.data_retention_time_in_days is None:
                unsets.append(DATA_RETENTION_TIME_IN_DAYS)
            else:
                sets.append(f"DATA_RETENTION_TIME_IN_DAYS = {dt.data_retention_time_in_days}")
        elif prop == COMMENT:
            statements.append(
                f"ALTER DYNAMIC TABLE {name} UNSET COMMENT"
                if dt.comment is None
                else f"ALTER DYNAMIC TABLE {name} SET COMMENT = {sql_string(dt.comment)}"
            )
        elif prop == CLUSTER_BY:
            statements.append(
                f"ALTER DYNAMIC TABLE {name} CLUSTER BY ({', '.join(dt.cluster_by)})"
                if dt.cluster_by
                else f"ALTER DYNAMIC TABLE {name} DROP CLUSTERING KEY"
            )
        elif prop == FROZEN_WHERE:
            if dt.frozen_where is None:
                unsets.append(FROZEN_WHERE)
            else:
                sets.append(f"FROZEN WHERE ({dt.frozen_where})")
        else:
            raise ValueError(f"{prop} cannot be changed with ALTER DYNAMIC TABLE")
    if sets:
        statements.insert(0, f"ALTER DYNAMIC TABLE {name} SET\n  " + "\n  ".join(sets))
    if unsets:
        statements.append(f"ALTER DYNAMIC TABLE {name} UNSET " + ", ".join(unsets))
    return statements


def render_namespaces(names: Sequence[QualifiedName]) -> list[str]:
    """CREATE DATABASE / SCHEMA IF NOT EXISTS for every database and schema of `names`."""
    databases: dict[str, None] = {}
    schemas: dict[str, None] = {}
    for name in names:
        databases[f"CREATE DATABASE IF NOT EXISTS {name.database.sql}"] = None
        schemas[f"CREATE SCHEMA IF NOT EXISTS {name.database.sql}.{name.schema.sql}"] = None
    return [*databases, *schemas]
