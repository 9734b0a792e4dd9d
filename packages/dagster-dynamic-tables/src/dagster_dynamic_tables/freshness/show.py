"""`SHOW DYNAMIC TABLES IN DATABASE <db>`: the freshness sensor's first statement on every tick.

SHOW is a metadata command: Snowflake answers it from its metadata store without a warehouse, so
a tick that finds nothing new through it costs no warehouse time (an idle tick). It reports each
table's data timestamp (moved by every completed refresh, NO_DATA ones included), its `rows`
and `bytes` (left as they are by a NO_DATA refresh), scheduling state, target lag, refresh mode,
warehouse and query text: enough to tell whether anything moved since the last tick (a NO_DATA
refresh alone does not count, see `fingerprint`), to evaluate `within_target_lag`, and to find
the declared tables that exist.
What it does not report (the last refresh's state, Snowflake's lag statistics) comes from the
second statement, which needs a warehouse and runs only when something moved.

One statement, scoped to what the tenant needs: `IN DATABASE <db>` for a tenant in one database;
for a tenant in several, `IN ACCOUNT`, and per database only when that read comes back full.
`SHOW ... IN ACCOUNT` (like `DYNAMIC_TABLES()` without `NAME`) returns at most 10,000 rows for the
whole account, before any filter on the database, so in a large account declared tables could
otherwise look missing. A database with more than `SHOW_LIMIT` Dynamic Tables visible to the role
is read in pages (`LIMIT ... FROM '<last name>'`), each page a statement of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagster_dynamic_tables.declarations.lags import DOWNSTREAM, parse_target_lag
from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.sql.records import (
    DynamicTableState,
    SchedulingState,
    parse_int,
    parse_text,
    parse_timestamp,
)
from dagster_dynamic_tables.sql.statements import Connection, Statement, run

SHOW_LIMIT = 10_000
"""The most rows one SHOW returns (Snowflake's cap; `LIMIT` may not be larger)."""


def build_show_statement(database_sql: str | None, after: str | None = None) -> Statement:
    """`SHOW DYNAMIC TABLES IN DATABASE <db> LIMIT 10000 [FROM '<name>']` (metadata only), or
    `IN ACCOUNT` for `database_sql` None.

    `after`: the last name of the previous page (SHOW's `FROM` is exclusive and compares names
    as Snowflake orders them). SHOW takes no bind parameters for `FROM`: the name is written as
    a string literal with its quotes doubled."""
    scope = "ACCOUNT" if database_sql is None else f"DATABASE {database_sql}"
    text = f"SHOW DYNAMIC TABLES IN {scope} LIMIT {SHOW_LIMIT}"
    if after is not None:
        text += " FROM '" + after.replace("'", "''") + "'"
    return Statement(text)


@dataclass(frozen=True)
class ShowRead:
    """What the SHOW statements of one tick returned."""

    states: Mapping[str, DynamicTableState]
    """State of the declared DTs that exist, keyed by qualified name (resolved)."""
    statements: int
    """How many SHOW statements were sent (one per database, more for a database in pages)."""


def parse_show_row(row: Mapping[str, Any]) -> DynamicTableState:
    """A DT's state from one SHOW row (keys upper-cased): what SHOW knows, nothing more.

    `scheduling_state` is text in SHOW (`RUNNING`, `SUSPENDED`), not the OBJECT of
    DYNAMIC_TABLES(); `target_lag` is text (`1 minute`, `DOWNSTREAM`), read as seconds here.
    """
    name = ".".join(str(row[column]) for column in ("DATABASE_NAME", "SCHEMA_NAME", "NAME"))
    scheduling = parse_text(row.get("SCHEDULING_STATE"))
    lag_text = parse_text(row.get("TARGET_LAG"))
    lag_seconds: int | None = None
    lag_type: str | None = None
    if lag_text is not None:
        if lag_text.strip().upper() == DOWNSTREAM:
            lag_type = DOWNSTREAM
        else:
            try:
                lag_seconds = parse_target_lag(lag_text).seconds
                lag_type = "USER_DEFINED"
            except ValueError:  # a form we do not parse: reported as text, compared as unknown
                lag_type = None
    return DynamicTableState(
        qualified_name=name,
        target_lag_sec=lag_seconds,
        target_lag_type=lag_type,
        scheduling_state=SchedulingState(scheduling.upper()) if scheduling else None,
        latest_data_timestamp=parse_timestamp(row.get("DATA_TIMESTAMP")),
        refresh_mode=parse_text(row.get("REFRESH_MODE")),
        warehouse=parse_text(row.get("WAREHOUSE")),
        target_lag=lag_text,
        text=parse_text(row.get("TEXT")),
        created_on=parse_timestamp(row.get("CREATED_ON")),
        rows=parse_int(row.get("ROWS")),
        bytes=parse_int(row.get("BYTES")),
    )


def fetch_show(connection: Connection, dynamic_tables: Sequence[DynamicTable]) -> ShowRead:
    """SHOW for the DTs' databases (see the module docstring); states of the declared ones that
    exist."""
    wanted = {dt.qualified_name.resolved for dt in dynamic_tables}
    databases: dict[str, str] = {}
    for dt in dynamic_tables:
        databases.setdefault(dt.qualified_name.database.resolved, dt.qualified_name.database.sql)
    states: dict[str, DynamicTableState] = {}
    statements = 0
    if len(databases) > 1:
        rows = run(connection, build_show_statement(None))
        statements += 1
        if len(rows) < SHOW_LIMIT:  # the whole account fits: every database is in it
            _keep(rows, wanted, states)
            return ShowRead(states, statements)
    for database_sql in databases.values():
        after: str | None = None
        while True:
            rows = run(connection, build_show_statement(database_sql, after))
            statements += 1
            _keep(rows, wanted, states)
            if len(rows) < SHOW_LIMIT:
                break
            after = str(rows[-1]["NAME"])
    return ShowRead(states, statements)


def _keep(
    rows: Sequence[Mapping[str, Any]], wanted: set[str], states: dict[str, DynamicTableState]
) -> None:
    for row in rows:
        state = parse_show_row(row)
        if state.qualified_name in wanted:
            states.setdefault(state.qualified_name, state)


def fingerprint(state: DynamicTableState | None, *, stamped: bool = True) -> str:
    """What SHOW says about one DT, as one text: any change means it moved (a refresh completed,
    it was suspended or resumed, altered or re-created) or was created or dropped.

    `stamped=False`, the quiet form: when SHOW reports the table's `rows` and `bytes`, they
    and `created_on` stand for its content instead of the data timestamp, which every refresh
    moves, NO_DATA ones included. A NO_DATA refresh then moves nothing; a data-changing refresh
    that keeps both the row count and the byte size (an update to values of the same width)
    moves nothing either, and waits for the sensor's periodic full read (see `moved`)."""
    if state is None:
        return "missing"
    scheduling = state.scheduling_state.state if state.scheduling_state else ""
    stamp = state.latest_data_timestamp.isoformat() if state.latest_data_timestamp else ""
    if not stamped and state.rows is not None and state.bytes is not None:
        created = state.created_on.isoformat() if state.created_on else ""
        stamp = f"{state.rows}/{state.bytes}/{created}"  # never an ISO timestamp
    query = hashlib.blake2s((state.text or "").encode(), digest_size=8).hexdigest()
    return "|".join(
        (stamp, scheduling, state.target_lag or "", state.refresh_mode or "",
         state.warehouse or "", query)
    )  # fmt: skip
