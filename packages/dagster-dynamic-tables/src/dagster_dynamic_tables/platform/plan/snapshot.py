"""What exists in a tenant's declared schemas: `read_snapshot` reads every declared schema with
at most two statements per database (one INFORMATION_SCHEMA query over TABLES and VIEWS, then
SHOW DYNAMIC TABLES IN DATABASE when the database exists), whatever the number of objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from dagster_dynamic_tables.declarations.models import Declaration

if TYPE_CHECKING:
    from snowflake.connector.cursor import SnowflakeCursor

MISSING_OBJECT_ERRNOS = frozenset({2003, 2043})
"""Snowflake's 'does not exist or not authorized' errors: the database is not there (yet)."""


Cursor: TypeAlias = "SnowflakeCursor"
"""The connector's cursor: Snowflake's, or the local stand-in's (the same connector)."""


@dataclass(frozen=True)
class ExistingObject:
    """A table or view INFORMATION_SCHEMA lists in a declared schema."""

    kind: str  # TABLE or VIEW
    transient: bool | None = None
    retention_days: int | None = None
    definition: str | None = None


@dataclass(frozen=True)
class ExistingDynamicTable:
    """One row of SHOW DYNAMIC TABLES, by column name (None: not reported)."""

    columns: Mapping[str, Any]

    def get(self, column: str) -> str | None:
        value = self.columns.get(column)
        return None if value is None else str(value)

    def reports(self, column: str) -> bool:
        return column in self.columns


@dataclass
class Snapshot:
    """What exists in the declared schemas, keyed by resolved qualified name."""

    objects: dict[str, ExistingObject] = field(default_factory=lambda: dict[str, ExistingObject]())
    dynamic_tables: dict[str, ExistingDynamicTable] = field(
        default_factory=lambda: dict[str, ExistingDynamicTable]()
    )
    statements: int = 0
    databases: int = 0


def _rows(cursor: Cursor) -> list[dict[str, Any]]:
    names = [str(column[0]).lower() for column in cursor.description or ()]
    return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]


def _errno(error: Exception) -> int | None:
    errno = getattr(error, "errno", None)
    return errno if isinstance(errno, int) else None


def read_snapshot(
    cursor: Cursor,
    declarations: Sequence[Declaration],
    *,
    ignore_columns: frozenset[str] = frozenset(),
) -> Snapshot:
    """Read every declared schema's tables, views and Dynamic Tables: at most two statements
    per database. SHOW DYNAMIC TABLES columns in `ignore_columns` count as not reported."""
    from snowflake.connector.errors import ProgrammingError

    schemas: dict[str, tuple[str, set[str]]] = {}
    for declaration in declarations:
        name = declaration.qualified_name
        entry = schemas.setdefault(name.database.resolved, (name.database.sql, set()))
        entry[1].add(name.schema.resolved)
    snapshot = Snapshot(databases=len(schemas))
    for database, (database_sql, schema_names) in sorted(schemas.items()):
        ordered = sorted(schema_names)
        marks = ", ".join(["%s"] * len(ordered))
        snapshot.statements += 1
        try:
            cursor.execute(
                "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, IS_TRANSIENT, RETENTION_TIME, "
                f"NULL AS DEFINITION FROM {database_sql}.INFORMATION_SCHEMA.TABLES "
                f"WHERE TABLE_SCHEMA IN ({marks}) UNION ALL "
                "SELECT TABLE_SCHEMA, TABLE_NAME, 'VIEW', 'NO', NULL, VIEW_DEFINITION "
                f"FROM {database_sql}.INFORMATION_SCHEMA.VIEWS WHERE TABLE_SCHEMA IN ({marks})",
                [*ordered, *ordered],
            )
        except ProgrammingError as e:
            if _errno(e) in MISSING_OBJECT_ERRNOS:
                continue  # no such database (or no access): everything in it is to be created
            raise
        for row in _rows(cursor):
            qualified = f"{database}.{row['table_schema']}.{row['table_name']}"
            is_view = str(row["table_type"]).upper() == "VIEW"
            if is_view and qualified in snapshot.objects and row["definition"] is None:
                continue  # Snowflake lists views in TABLES too; keep the row with the definition
            retention = row["retention_time"]
            snapshot.objects[qualified] = ExistingObject(
                kind="VIEW" if is_view else "TABLE",
                transient=None
                if row["is_transient"] is None
                else str(row["is_transient"]).upper() == "YES",
                retention_days=None if retention is None else int(retention),
                definition=None if row["definition"] is None else str(row["definition"]),
            )
        snapshot.statements += 1
        cursor.execute(f"SHOW DYNAMIC TABLES IN DATABASE {database_sql}")
        for row in _rows(cursor):
            qualified = f"{row['database_name']}.{row['schema_name']}.{row['name']}"
            reported = {key: value for key, value in row.items() if key not in ignore_columns}
            snapshot.dynamic_tables[qualified] = ExistingDynamicTable(reported)
    return snapshot
