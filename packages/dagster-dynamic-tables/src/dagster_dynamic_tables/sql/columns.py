"""`SHOW COLUMNS`: the columns of tables (Dynamic Tables and sources), read without a warehouse.

`fetch_columns(connection, tables)` reads the columns of the given tables in as few statements as
cover them: per database, `SHOW COLUMNS IN TABLE <t>` for a single table, `IN SCHEMA <db>.<s>`
for several tables of one schema, `IN DATABASE <db>` for tables in several of its schemas.
SHOW returns at most `SHOW_COLUMNS_LIMIT` rows: a schema or database read that comes back
full may have left columns out, so its tables are then read one by one (`IN TABLE`).

Each row's `data_type` is JSON text (`{"type":"FIXED","precision":38,"scale":0,
"nullable":true}`), read into Snowflake's type name (`NUMBER(38,0)`); text that is not JSON is
kept as it is. `null?` says whether the column takes NULL (`true`/`false`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from dagster_dynamic_tables.declarations.identifiers import QualifiedName
from dagster_dynamic_tables.sql.records import parse_text
from dagster_dynamic_tables.sql.statements import Connection, Statement, run

SHOW_COLUMNS_LIMIT = 10_000
"""The most rows one SHOW returns."""


@dataclass(frozen=True)
class Column:
    """One column as SHOW COLUMNS reports it."""

    name: str
    type: str
    nullable: bool
    comment: str | None = None


def build_show_columns_statement(scope: str) -> Statement:
    """`SHOW COLUMNS IN <scope>` (`TABLE "DB"."S"."T"`, `SCHEMA "DB"."S"`, `DATABASE "DB"`): a
    metadata command, no warehouse."""
    return Statement(f"SHOW COLUMNS IN {scope}")


def plan_column_reads(tables: Sequence[QualifiedName]) -> list[tuple[str, list[QualifiedName]]]:
    """(scope, tables it covers) for each statement that reads `tables`' columns: the fewest
    statements, one per database (see the module docstring)."""
    by_database: dict[str, dict[str, dict[str, QualifiedName]]] = {}
    for name in tables:
        schemas = by_database.setdefault(name.database.resolved, {})
        schemas.setdefault(name.schema.resolved, {})[name.resolved] = name
    plans: list[tuple[str, list[QualifiedName]]] = []
    for schemas in by_database.values():
        names = [name for schema in schemas.values() for name in schema.values()]
        first = names[0]
        if len(schemas) > 1:
            plans.append((f"DATABASE {first.database.sql}", names))
        elif len(names) > 1:
            plans.append((f"SCHEMA {first.database.sql}.{first.schema.sql}", names))
        else:
            plans.append((f"TABLE {first.sql}", names))
    return plans


def fetch_columns(
    connection: Connection, tables: Sequence[QualifiedName]
) -> tuple[dict[str, tuple[Column, ...]], int]:
    """The columns of each of `tables` that exists (by resolved qualified name), in the table's
    order, and how many statements were sent."""
    found: dict[str, tuple[Column, ...]] = {}
    statements = 0
    for scope, names in plan_column_reads(tables):
        rows = run(connection, build_show_columns_statement(scope))
        statements += 1
        if len(rows) >= SHOW_COLUMNS_LIMIT and not scope.startswith("TABLE "):
            for name in names:  # a full read may have left columns out
                rows = run(connection, build_show_columns_statement(f"TABLE {name.sql}"))
                statements += 1
                found.update(_by_table(rows, {name.resolved}))
        else:
            found.update(_by_table(rows, {name.resolved for name in names}))
    return found, statements


def _by_table(rows: Sequence[Mapping[str, Any]], wanted: set[str]) -> dict[str, tuple[Column, ...]]:
    tables: dict[str, list[Column]] = {}
    for row in rows:
        table = ".".join(
            str(row.get(part) or "") for part in ("DATABASE_NAME", "SCHEMA_NAME", "TABLE_NAME")
        )
        if table in wanted:
            tables.setdefault(table, []).append(parse_column(row))
    return {table: tuple(columns) for table, columns in tables.items()}


def parse_column(row: Mapping[str, Any]) -> Column:
    """One SHOW COLUMNS row (keys upper-cased)."""
    data_type = row.get("DATA_TYPE")
    described = _json(data_type)
    nullable_text = (parse_text(row.get("NULL?")) or "").strip().lower()
    if nullable_text in ("true", "false", "y", "n", "yes", "no"):
        nullable = nullable_text in ("true", "y", "yes")
    else:
        nullable = described.get("nullable") is not False
    return Column(
        name=str(row.get("COLUMN_NAME") or ""),
        type=snowflake_type(described) if described else (parse_text(data_type) or ""),
        nullable=nullable,
        comment=parse_text(row.get("COMMENT")),
    )


def _json(value: object) -> dict[str, Any]:
    if not isinstance(value, str):
        return {}
    try:
        parsed: Any = json.loads(value)
    except ValueError:
        return {}
    return cast("dict[str, Any]", parsed) if isinstance(parsed, dict) else {}


def snowflake_type(described: Mapping[str, Any]) -> str:
    """Snowflake's type name from SHOW COLUMNS' `data_type` JSON (`FIXED` precision 38 scale 0:
    `NUMBER(38,0)`; `TEXT` length 16: `VARCHAR(16)`; `REAL`: `FLOAT`)."""
    kind = str(described.get("type") or "").upper()
    if kind == "FIXED":
        return f"NUMBER({described.get('precision', 38)},{described.get('scale', 0)})"
    if kind == "TEXT":
        length = described.get("length")
        return f"VARCHAR({length})" if length is not None else "VARCHAR"
    if kind == "REAL":
        return "FLOAT"
    if kind == "BINARY" and described.get("length") is not None:
        return f"BINARY({described['length']})"
    if kind.startswith(("TIMESTAMP", "TIME")) and described.get("scale") is not None:
        return f"{kind}({described['scale']})"
    return kind
