"""Statements over Snowflake's Dynamic Table metadata, and running them.

1. Refresh history of declared Dynamic Tables: one
   `TABLE(<DB>.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(NAME_PREFIX => 'DB.SCHEMA', ...))`
   per database/schema prefix, joined with UNION ALL (`history_parts`: the sensor's second
   statement unions them with `DYNAMIC_TABLES()`, see `freshness.history`; its first is SHOW,
   see `freshness.show`).
2. Current state, as the checks' own execution reads it: `TABLE(<DB>.INFORMATION_SCHEMA.
   DYNAMIC_TABLES(...))` (lag, scheduling state, last completed refresh), with the refresh mode,
   warehouse and query text that only `SHOW DYNAMIC TABLES` reports, chained into one statement
   with Snowflake's pipe operator (`SHOW ... ->> SELECT ... LEFT JOIN $1`).

Every identifier goes through `QualifiedName.sql` / `quote_identifier`; every value goes through
`Binder`, which turns it into a connector parameter. Columns are always named (never `SELECT *`:
Snowflake keeps adding columns), every call passes `RESULT_LIMIT` (the default is 100) and the
history call passes a start time.

Typed rows are in `sql.records`; the faults reading them may raise, and what to tell the user,
in `snowflake_io.faults`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from dagster_dynamic_tables.declarations.identifiers import quote_identifier
from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.sql.records import (
    READ_PREFIX,
    RUNNING_STATES,
    DynamicTableState,
    RefreshRecord,
    as_utc,
    parse_dynamic_table_state,
)
from dagster_dynamic_tables.sql.settings import statement_timeout

T = TypeVar("T")

RESULT_LIMIT = 10_000
"""The largest RESULT_LIMIT Snowflake accepts for its Dynamic Table functions."""
HISTORY_RETENTION = timedelta(days=7)
"""How far back the Information Schema functions can see."""

HISTORY_COLUMNS = (
    "QUALIFIED_NAME",
    "STATE",
    "STATE_CODE",
    "STATE_MESSAGE",
    "QUERY_ID",
    "DATA_TIMESTAMP",
    "REFRESH_START_TIME",
    "REFRESH_END_TIME",
    "REFRESH_ACTION",
    "REFRESH_TRIGGER",
    "STATISTICS",
)
STATE_COLUMNS = (
    "QUALIFIED_NAME",
    "TARGET_LAG_SEC",
    "TARGET_LAG_TYPE",
    "SCHEDULING_STATE",
    "LATEST_DATA_TIMESTAMP",
    "LAST_COMPLETED_REFRESH_STATE",
    "LAST_COMPLETED_REFRESH_STATE_CODE",
    "LAST_COMPLETED_REFRESH_STATE_MESSAGE",
    "MEAN_LAG_SEC",
    "MAXIMUM_LAG_SEC",
    "TIME_WITHIN_TARGET_LAG_RATIO",
)
SHOW_COLUMNS = {
    "REFRESH_MODE": "refresh_mode",
    "WAREHOUSE": "warehouse",
    "TARGET_LAG": "target_lag",
    "TEXT": "text",
}
"""Columns taken from SHOW DYNAMIC TABLES (lower-case there) and the names they get."""


@dataclass(frozen=True)
class Statement:
    """SQL text with `%(name)s` placeholders and the values to bind to them."""

    text: str
    params: Mapping[str, str | int] = field(default_factory=dict[str, str | int])


class Binder:
    """Collects bound values; `bind` returns the placeholder to put in the SQL text."""

    def __init__(self) -> None:
        self.params: dict[str, str | int] = {}

    def bind(self, value: str | int | datetime) -> str:
        if isinstance(value, datetime):
            value = format_timestamp(value)
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"


TIMESTAMP_FORMAT = "YYYY-MM-DD HH24:MI:SS.FF6TZH:TZM"
"""The format `format_timestamp` writes, passed to TO_TIMESTAMP_LTZ with every timestamp: without
it, Snowflake reads the text with the account's TIMESTAMP_INPUT_FORMAT (AUTO by default, but an
account may set another)."""


def format_timestamp(value: datetime) -> str:
    """A timestamp as Snowflake's TO_TIMESTAMP_LTZ reads it: `2026-11-20 10:00:00.000000+00:00`."""
    return as_utc(value).isoformat(sep=" ", timespec="microseconds")


def _prefixes(dynamic_tables: Iterable[DynamicTable]) -> dict[str, str]:
    """Schema prefix (`DB.SCHEMA`) -> database identifier as SQL, in declaration order."""
    prefixes: dict[str, str] = {}
    for dt in dynamic_tables:
        name = dt.qualified_name
        prefixes.setdefault(name.schema_prefix, name.database.sql)
    return prefixes


def history_parts(
    binder: Binder,
    dynamic_tables: Sequence[DynamicTable],
    starts: Mapping[str, datetime],
    ends: Mapping[str, datetime] | None = None,
    *,
    result_limit: int = RESULT_LIMIT,
    lead: str = "",
    trail: str = "",
) -> list[str]:
    """One SELECT per schema prefix over DYNAMIC_TABLE_REFRESH_HISTORY, since `starts[prefix]`.

    `starts` maps each schema prefix to the earliest data timestamp to read; a prefix without an
    entry reads Snowflake's whole retention (7 days). `ends` bounds a prefix's read (a page of a
    history too long for one read); without an entry it runs to now. `lead` and `trail` are
    columns written before and after the history columns (to union it with other rows)."""
    columns = ", ".join(HISTORY_COLUMNS)
    parts: list[str] = []
    for prefix, database in _prefixes(dynamic_tables).items():
        start = starts.get(prefix)
        start_sql = (
            f"TO_TIMESTAMP_LTZ({binder.bind(start)}, {binder.bind(TIMESTAMP_FORMAT)})"
            if start is not None
            else f"DATEADD('day', -{HISTORY_RETENTION.days}, CURRENT_TIMESTAMP())"
        )
        end = (ends or {}).get(prefix)
        end_sql = (
            f", DATA_TIMESTAMP_END => TO_TIMESTAMP_LTZ({binder.bind(end)}, "
            f"{binder.bind(TIMESTAMP_FORMAT)})"
            if end
            else ""
        )
        parts.append(
            f"SELECT {lead}{binder.bind(prefix)} AS {READ_PREFIX}, {columns}{trail}\n"
            f"FROM TABLE({database}.INFORMATION_SCHEMA."
            f"DYNAMIC_TABLE_REFRESH_HISTORY(NAME_PREFIX => {binder.bind(prefix)}, "
            f"DATA_TIMESTAMP_START => {start_sql}{end_sql}, "
            f"RESULT_LIMIT => {binder.bind(result_limit)}))"
        )
    return parts


def _show_column(name: str) -> str:
    """SHOW's output columns are lower-case: they must be double-quoted."""
    return quote_identifier('"' + name + '"')


def _state_select(database: str, arguments: str) -> str:
    """The SELECT of `database`'s DYNAMIC_TABLES(<arguments>) with the columns of the SHOW piped
    into it (`$1`) joined in."""
    columns = ", ".join(f"d.{column}" for column in STATE_COLUMNS)
    show = ", ".join(f"s.{_show_column(src)} AS {alias}" for alias, src in SHOW_COLUMNS.items())
    join = " AND ".join(
        f"s.{_show_column(src)} = d.{src.upper()}"
        for src in ("database_name", "schema_name", "name")
    )
    return (
        f"SELECT {columns}, {show}\nFROM TABLE({database}.INFORMATION_SCHEMA.DYNAMIC_TABLES("
        f"{arguments})) d\nLEFT JOIN $1 s ON {join}"
    )


def build_state_statement(dynamic_tables: Sequence[DynamicTable]) -> Statement:
    """Current state of every Dynamic Table in the DTs' databases, with SHOW's refresh mode and
    warehouse joined in (one statement through the pipe operator)."""
    binder = Binder()
    databases: dict[str, str] = {}
    for dt in dynamic_tables:
        name = dt.qualified_name
        databases.setdefault(name.database.resolved, name.database.sql)
    if not databases:
        raise ValueError("no Dynamic Tables: there is no state to read")
    scope = f"IN DATABASE {next(iter(databases.values()))}" if len(databases) == 1 else "IN ACCOUNT"
    parts = [
        _state_select(database, f"RESULT_LIMIT => {binder.bind(RESULT_LIMIT)}")
        + f"\nWHERE d.DATABASE_NAME = {binder.bind(resolved)}"
        for resolved, database in databases.items()
    ]
    text = f"SHOW DYNAMIC TABLES {scope}\n->> " + "\nUNION ALL ".join(parts)
    return Statement(text, binder.params)


_METADATA_COMMANDS = ("SHOW ", "DESCRIBE ", "DESC ")


def requires_warehouse(statement: Statement) -> bool:
    """Whether Snowflake runs the statement on a warehouse: every SELECT does, including one over
    Information Schema table functions and one a SHOW is piped into (`SHOW ... ->> SELECT`);
    only a metadata command on its own (SHOW, DESCRIBE) runs without one."""
    text = statement.text.lstrip().upper()
    return not text.startswith(_METADATA_COMMANDS) or "->>" in text


def build_table_state_statement(dt: DynamicTable) -> Statement:
    """The state of one Dynamic Table, as `build_state_statement` reads it for all: SHOW narrowed
    to the table's schema and name (`LIKE ... IN SCHEMA`), `DYNAMIC_TABLES(NAME => ...)`. What the
    checks' own execution (one op per DT, from the UI) reads: not the whole database each."""
    binder = Binder()
    name = dt.qualified_name
    # NAME takes the name as SQL text: quoted, so that a mixed-case name keeps its case.
    # (LIKE's `_` and `%` are wildcards: a name with them may match a few more tables, which the
    # join on the exact name drops.)
    show = (
        f"SHOW DYNAMIC TABLES LIKE {binder.bind(name.name.resolved)} IN SCHEMA {name.database.sql}."
        f"{name.schema.sql}"
    )
    arguments = f"NAME => {binder.bind(name.sql)}, RESULT_LIMIT => {binder.bind(RESULT_LIMIT)}"
    text = f"{show}\n->> {_state_select(name.database.sql, arguments)}"
    return Statement(text, binder.params)


# Running the statements -------------------------------------------------------------------------


class Cursor(Protocol):
    """The part of a DB-API cursor (snowflake.connector's) these queries use."""

    @property
    def description(self) -> Sequence[Sequence[Any]] | None: ...

    def fetchall(self) -> Sequence[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection these queries use."""

    def cursor(self) -> Any: ...


def run(connection: Connection, statement: Statement) -> list[dict[str, Any]]:
    """Execute one statement; rows as dicts keyed by upper-case column name. Inside a platform
    read (`read_snowflake`) the statement is cancelled after the read's statement timeout."""
    cursor = connection.cursor()
    timeout = statement_timeout()  # the read's (`settings.bounded_reads`), if any
    try:
        if timeout is None:
            cursor.execute(statement.text, dict(statement.params))
        else:
            cursor.execute(statement.text, dict(statement.params), timeout=timeout)
        names = [str(column[0]).upper() for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        cursor.close()


@dataclass(frozen=True)
class HistoryRead:
    """What one refresh-history statement returned."""

    records: list[RefreshRecord]
    """Rows of the declared DTs, oldest data timestamp first."""
    truncated: Mapping[str, datetime | None]
    """Schema prefixes whose read returned `result_limit` rows (Snowflake then keeps the most
    recent refreshes and drops older ones), with the oldest data timestamp returned."""


def to_history_read(
    records: Sequence[RefreshRecord], dynamic_tables: Sequence[DynamicTable], result_limit: int
) -> HistoryRead:
    """The rows of the declared DTs, and which schema reads hit `result_limit`."""
    wanted = {dt.qualified_name.resolved for dt in dynamic_tables}
    truncated: dict[str, datetime | None] = {}
    for prefix in _prefixes(dynamic_tables):
        # Each part's rows, by the READ_PREFIX it tags them with: a NAME_PREFIX read also
        # returns a sibling schema's tables (`S2` for `S`), which count against its limit.
        rows = [
            r
            for r in records
            if r.read_prefix == prefix
            or (r.read_prefix is None and r.qualified_name.upper().startswith(prefix.upper()))
        ]
        if len(rows) >= result_limit:
            # Running refreshes come back whatever the window: the page edge is the oldest
            # completed one.
            stamps = [
                r.data_timestamp
                for r in rows
                if r.data_timestamp is not None and r.state not in RUNNING_STATES
            ]
            truncated[prefix] = min(stamps, default=None)
    return HistoryRead([r for r in records if r.qualified_name in wanted], truncated)


def fetch_states(
    connection: Connection, dynamic_tables: Sequence[DynamicTable]
) -> dict[str, DynamicTableState]:
    """State of the declared DTs that Snowflake knows, keyed by qualified name (one DT: read by
    name, see `build_table_state_statement`)."""
    wanted = {dt.qualified_name.resolved for dt in dynamic_tables}
    states: dict[str, DynamicTableState] = {}
    statement = (
        build_table_state_statement(dynamic_tables[0])
        if len(dynamic_tables) == 1
        else build_state_statement(dynamic_tables)
    )
    for row in run(connection, statement):
        state = parse_dynamic_table_state(row)
        if state.qualified_name in wanted:
            # DYNAMIC_TABLES() may answer for the whole account: keep the first row per table.
            states.setdefault(state.qualified_name, state)
    return states
