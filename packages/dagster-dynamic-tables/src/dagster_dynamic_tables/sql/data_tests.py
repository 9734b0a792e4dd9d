"""Data tests as SQL: the failing rows of each kind, one statement per test, and its outcome.

`failing_rows_sql(planned)` is the query a user can paste into Snowflake to see what fails; it is
what the check's metadata shows. Every identifier is quoted (`QualifiedName.sql`,
`Identifier.sql`), every string value is a literal written by `ddl.sql_string`, numbers are
validated ints and floats: nothing unchecked is pasted into SQL. The failing rows, by kind:

- not_null: the tested column of each row where it IS NULL.
- unique: one row per duplicate group: the key columns and `N_ROWS` (rows with a NULL key
  column are not compared, as with a SQL UNIQUE constraint).
- accepted_values: the column of each row whose non-NULL value is NOT IN the listed values.
- relationships: the column of each row whose non-NULL value has no parent row (`field` of the
  parent table, given as a `QualifiedName`: the caller resolves the asset key `to`).
- row_count: one row (`ROW_COUNT`) when COUNT(*) is outside [min, max], else none.
- sql: the user's SELECT, as written (a trailing `;` dropped).

Only the tested columns are read for the built-in kinds: the sample never carries other columns
of the table into Dagster's metadata. A `sql` test returns what its author selects.

`build_data_test_statement(planned)` wraps the failing rows in one statement that returns the
failing count and at most `SAMPLE_ROWS` of them in one round trip:
`SELECT COUNT(*) OVER () AS "DAGSTER_FAILING_ROWS", failing.* FROM (...) AS failing LIMIT 5`
(no row back means no failing row). It binds no parameter: the connector then leaves the text as
it is (a `%` in a user's query stays a `%`).

`run_data_test(connection, planned)` runs it and returns a `DataTestOutcome`: the count, the
sample as JSON-safe dicts (each value at most `MAX_VALUE_CHARS` characters, the sample at most
`MAX_SAMPLE_BYTES` of JSON), the SQL shown, or Snowflake's error code and message when it refused
the statement (a `ProgrammingError`: 000904 invalid identifier names the column, 002003 a missing
table), never an exception for those. Other faults (network, login, timeouts of the whole read)
propagate to the caller, which reports them as `snowflake_io.faults` says.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from snowflake.connector.errors import ProgrammingError

from dagster_dynamic_tables.declarations.data_tests import (
    AcceptedValues,
    DataTest,
    Relationships,
    RowCountRange,
    Unique,
)
from dagster_dynamic_tables.declarations.identifiers import QualifiedName, parse_identifier
from dagster_dynamic_tables.sql.ddl import sql_string
from dagster_dynamic_tables.sql.statements import Connection, Statement, run

SAMPLE_ROWS = 5
"""Failing rows kept as a sample."""
MAX_VALUE_CHARS = 200
"""Characters kept of one sample value (longer ones end with '...')."""
MAX_SAMPLE_BYTES = 4096
"""Bytes of JSON the whole sample may take: rows past it are dropped."""
FAILING_ROWS_COLUMN = "DAGSTER_FAILING_ROWS"
"""The column of the statement that carries the failing count on every sample row."""
INVALID_IDENTIFIER = "000904"
"""Snowflake's code for a column (or other identifier) that does not exist."""

JsonValue = str | int | float | bool | None
_INVALID_IDENTIFIER = re.compile(r"invalid identifier '([^']*)'", re.IGNORECASE)


@dataclass(frozen=True)
class PlannedDataTest:
    """One named data test of one table, with what it needs to run.

    `asset_key` is the tested asset's key path, `table` its Snowflake table; `parent` is the table
    of a relationships test's `to` asset (None for other kinds). The test must carry its name
    (`declarations.data_tests.name_data_tests` or `data_test_problems.parse_data_tests`).
    """

    asset_key: tuple[str, ...]
    test: DataTest
    table: QualifiedName
    parent: QualifiedName | None = None
    parent_key: tuple[str, ...] | None = None
    """The asset key path of `parent`, when known: the check then depends on that asset."""

    def __post_init__(self) -> None:
        if self.test.name is None:
            raise ValueError("the data test has no name: pass the tests through name_data_tests")
        if isinstance(self.test.relationships, Relationships) and self.parent is None:
            raise ValueError(
                f"the relationships test {self.test.name!r} needs its parent table: resolve "
                f"{self.test.relationships.to!r} to a QualifiedName and pass it as parent"
            )

    @property
    def check_name(self) -> str:
        return self.test.check_name


@dataclass(frozen=True)
class DataTestOutcome:
    """What one data test found."""

    sql: str
    """The failing-rows query, as shown to the user."""
    failing_rows: int | None = None
    """Rows (duplicate groups for unique) the test found; None when Snowflake refused the SQL."""
    sample: tuple[Mapping[str, JsonValue], ...] = ()
    """At most `SAMPLE_ROWS` failing rows, JSON-safe and bounded (`MAX_SAMPLE_BYTES`)."""
    sample_truncated: bool = False
    """Whether rows or values were cut to keep the sample within its bounds."""
    error_code: str | None = None
    """Snowflake's six-digit error code when it refused the statement."""
    error_message: str | None = None
    invalid_identifier: str | None = field(default=None)
    """The name Snowflake did not know (error 000904), as it reported it."""

    @property
    def passed(self) -> bool:
        return self.error_code is None and self.failing_rows == 0


def failing_rows_sql(planned: PlannedDataTest) -> str:
    """The query returning the test's failing rows (see the module docstring)."""
    test = planned.test
    table = planned.table.sql
    kind = test.kind
    columns = [column.sql for column in test.columns]
    if kind == "not_null":
        return f"SELECT {columns[0]} FROM {table} WHERE {columns[0]} IS NULL"
    if isinstance(test.unique, Unique):
        keys = ", ".join(columns)
        present = " AND ".join(f"{column} IS NOT NULL" for column in columns)
        return (
            f'SELECT {keys}, COUNT(*) AS "N_ROWS" FROM {table} WHERE {present} '
            f"GROUP BY {keys} HAVING COUNT(*) > 1"
        )
    if isinstance(test.accepted_values, AcceptedValues):
        values = ", ".join(sql_literal(value) for value in test.accepted_values.values)
        return (
            f"SELECT {columns[0]} FROM {table} "
            f"WHERE {columns[0]} IS NOT NULL AND {columns[0]} NOT IN ({values})"
        )
    if isinstance(test.relationships, Relationships) and planned.parent is not None:
        parent_field = parse_identifier(test.relationships.field).sql
        return (
            f"SELECT child.{columns[0]} FROM {table} AS child WHERE child.{columns[0]} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {planned.parent.sql} AS parent "
            f"WHERE parent.{parent_field} = child.{columns[0]})"
        )
    if isinstance(test.row_count, RowCountRange):
        return _row_count_sql(test.row_count, table)
    if test.sql is not None:
        return test.sql.strip().rstrip(";").rstrip()
    raise ValueError(f"no SQL for the data test {test.check_name!r} of kind {kind}")


def _row_count_sql(bounds: RowCountRange, table: str) -> str:
    outside = [
        f'"ROW_COUNT" < {bounds.min}' if bounds.min is not None else "",
        f'"ROW_COUNT" > {bounds.max}' if bounds.max is not None else "",
    ]
    condition = " OR ".join(part for part in outside if part)
    counted = f'SELECT COUNT(*) AS "ROW_COUNT" FROM {table}'
    return f'SELECT "ROW_COUNT" FROM ({counted}) WHERE {condition}'


def sql_literal(value: str | int | float | bool) -> str:
    """An accepted value as a SQL literal: strings through `sql_string`, numbers as written."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no SQL literal")
        return repr(value)
    return sql_string(value)


def build_data_test_statement(
    planned: PlannedDataTest, *, sample_rows: int = SAMPLE_ROWS
) -> Statement:
    """One statement returning the failing count (on every row) and at most `sample_rows` rows."""
    return Statement(
        f'SELECT COUNT(*) OVER () AS "{FAILING_ROWS_COLUMN}", failing.*\n'
        f"FROM (\n{failing_rows_sql(planned)}\n) AS failing\nLIMIT {int(sample_rows)}"
    )


def run_data_test(connection: Connection, planned: PlannedDataTest) -> DataTestOutcome:
    """Run one test on an open connection; Snowflake refusing its SQL is an outcome, not an
    exception."""
    shown = failing_rows_sql(planned)
    try:
        rows = run(connection, build_data_test_statement(planned))
    except ProgrammingError as error:
        return refused_outcome(shown, error)
    return parse_data_test_rows(shown, rows)


def refused_outcome(sql: str, error: ProgrammingError) -> DataTestOutcome:
    """The outcome of a statement Snowflake refused: its code, message and unknown name."""
    code = f"{error.errno:06d}" if error.errno > 0 else None
    message = str(error.msg or error)
    match = _INVALID_IDENTIFIER.search(message)
    return DataTestOutcome(
        sql=sql,
        error_code=code or "unknown",
        error_message=message,
        invalid_identifier=match.group(1).strip('"') if match else None,
    )


def parse_data_test_rows(sql: str, rows: Sequence[Mapping[str, Any]]) -> DataTestOutcome:
    """The outcome from the rows of `build_data_test_statement`."""
    if not rows:
        return DataTestOutcome(sql=sql, failing_rows=0)
    failing = int(rows[0][FAILING_ROWS_COLUMN])
    sample: list[dict[str, JsonValue]] = []
    truncated = False
    size = 2  # the brackets of the JSON list
    for row in rows:
        shown: dict[str, JsonValue] = {}
        for key, value in row.items():
            if key == FAILING_ROWS_COLUMN:
                continue
            safe, cut = json_safe(value)
            shown[_cut(str(key))[0]] = safe
            truncated = truncated or cut
        size += len(json.dumps(shown, ensure_ascii=False).encode()) + 2
        if size > MAX_SAMPLE_BYTES:
            truncated = True
            break
        sample.append(shown)
    return DataTestOutcome(
        sql=sql, failing_rows=failing, sample=tuple(sample), sample_truncated=truncated
    )


def json_safe(value: object) -> tuple[JsonValue, bool]:
    """A value as JSON can hold it (and whether it was cut to `MAX_VALUE_CHARS`)."""
    if value is None or isinstance(value, bool | int):
        return value, False
    if isinstance(value, float):
        return (value, False) if math.isfinite(value) else (str(value), False)
    if isinstance(value, Decimal):
        return (int(value), False) if value == value.to_integral_value() else _cut(str(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat(), False
    if isinstance(value, bytes | bytearray):
        return _cut(base64.b64encode(bytes(value)).decode())
    return _cut(str(value))


def _cut(text: str) -> tuple[str, bool]:
    if len(text) <= MAX_VALUE_CHARS:
        return text, False
    return text[: MAX_VALUE_CHARS - 3] + "...", True
