"""What Snowflake refuses on a Dynamic Table that a plain DuckDB table would allow.

The emulator keeps each DT's rows in an ordinary table, so fakesnow would let a client write to
it or read it before its first refresh. Snowflake does neither: DML (INSERT, UPDATE, DELETE,
MERGE, TRUNCATE) on a DT fails, and a query on a DT that has not been initialized (created with
`INITIALIZE = ON_SCHEDULE` and not yet refreshed) returns an error. Snowflake documents both
rules but not the error texts or codes: the ones here are the emulator's (see the README).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from local_snowflake.errors import sql_error
from local_snowflake.statements import Name, table_parts

_DML = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.TruncateTable)


def check(
    expression: exp.Expr,
    database: str | None,
    schema: str | None,
    initialized: Callable[[list[str]], dict[str, bool]],
) -> None:
    """Raise Snowflake-style errors for DML on a DT and for reading an uninitialized DT.
    `initialized(names)` maps the DTs among names to whether they have been refreshed."""
    reads = isinstance(expression, exp.Query | exp.Insert) or (
        isinstance(expression, exp.Create) and isinstance(expression.expression, exp.Query)
    )
    if not reads and not isinstance(expression, _DML):
        return  # DDL, SHOW, DESCRIBE, ...: neither rule applies
    targets = _targets(expression)
    names: dict[str, bool] = {}  # qualified name -> written by the statement
    for table in expression.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function
        name = _resolve(table, database, schema)
        if name is not None:
            names[name.qualified] = names.get(name.qualified, False) or any(
                table is t for t in targets
            )
    if not names:
        return
    for qualified, is_initialized in initialized(sorted(names)).items():
        if names[qualified]:
            raise sql_error(
                "SQL compilation error:\nDML operations are not allowed on dynamic table "
                f"'{qualified}': its rows are the result of its query.",
                errno=2,
                sqlstate="0A000",
            )
        if not is_initialized:
            raise sql_error(
                f"Dynamic Table '{qualified}' is not initialized. Please run a manual refresh "
                "or wait for a scheduled refresh before querying.",
                errno=91000,
                sqlstate="22000",
            )


def _targets(expression: exp.Expr) -> list[exp.Expr]:
    if not isinstance(expression, _DML):
        return []
    if isinstance(expression, exp.TruncateTable):
        return list(expression.expressions)
    target = expression.this
    return [target.this if isinstance(target, exp.Schema) else target]


def _resolve(table: exp.Table, database: str | None, schema: str | None) -> Name | None:
    parts = table_parts(table)
    if len(parts) == 3:
        return Name(parts[0], parts[1], parts[2])
    if len(parts) == 2 and database:
        return Name(database, parts[0], parts[1])
    if len(parts) == 1 and database and schema:
        return Name(database, schema, parts[0])
    return None
