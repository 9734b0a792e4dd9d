"""A manual refresh of one Dynamic Table, as Dagster makes it for a `scheduler: DISABLE` table
(issue 18, "Orchestrated Dynamic Tables"), and what it did. No Dagster here: the asset that runs
it is `definitions.orchestrated`.

Entry API: `refresh_dynamic_table(connection, dt) -> ManualRefresh`, three statements on the
caller's connection:

1. the table's recent refresh history (`build_recent_refreshes_statement`: NAME => the table,
   RESULT_LIMIT => `RECENT_REFRESHES`, newest first), so that a row already there is never taken
   for this refresh;
2. `ALTER DYNAMIC TABLE <quoted qualified name> REFRESH` (`build_refresh_statement`). Snowflake
   runs it synchronously: it returns once the refresh has ended. What it answers is read by
   `parse_refresh_answer` whatever its columns: the embedded stand-in answers one `status` row
   (`Statement executed successfully.`); a result carrying `DATA_TIMESTAMP` / `STATISTICS`
   (`numInsertedRows`, `numDeletedRows`) is read too. The docs found here do not describe the
   statement's result set, so nothing relies on it: the refresh history is the record;
3. the recent history again: the refresh is the row not seen in (1) that the statement's query id
   names (`QUERY_ID`), else the one with the data timestamp the answer gave, else the newest
   MANUAL row (`pick_refresh`). The stand-in's history QUERY_ID is the refresh's own id, not the
   ALTER's, so the last rule is the one that applies there.

A refresh that did not succeed raises `errors.ManualRefreshError` with Snowflake's state, code and
message (from the history row; for a statement refused before any refresh ran, such as an
unknown table or a missing OPERATE privilege, from the connector's error) and a fix
(`refresh_fix`). A failed refresh leaves the table with its last good data. The stand-in fails the
statement with errno 91000 and the refresh's message; Snowflake's error for a failed manual
refresh is not documented: both are read the same way, through the history row.

A refresh that succeeded but has no row in the history (the role lacks MONITOR, which the history
function needs) is returned with what the answer gave (`in_history` False) and `MONITOR_FIX`.

Deviation of the stand-in, on purpose not worked around: its manual refresh refreshes upstream
Dynamic Tables first (Snowflake's does not cascade for `scheduler: DISABLE` tables), which only
adds MANUAL rows for those tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from snowflake.connector import errors as sf_errors

from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.errors import ManualRefreshError
from dagster_dynamic_tables.sql.records import (
    SUCCEEDED,
    RefreshRecord,
    parse_refresh_record,
    parse_text,
    parse_timestamp,
)
from dagster_dynamic_tables.sql.statements import (
    HISTORY_COLUMNS,
    Binder,
    Connection,
    Statement,
    run,
)

MANUAL = "MANUAL"
UPSTREAM_FAILED = "UPSTREAM_FAILED"
RECENT_REFRESHES = 20
"""How many of the table's latest refreshes each history read returns (newest first)."""

INVALID_IDENTIFIER = "000904"
OBJECT_MISSING = "002003"

MONITOR_FIX = (
    "GRANT MONITOR ON DYNAMIC TABLE {table} TO ROLE <the run's role>: without it Snowflake "
    "hides the table's refresh history, so the materialization lacks the refresh's data "
    "timestamp, action and row counts"
)
"""Fix for a refresh that left no readable history row (`{table}` is the quoted name)."""

REFRESH_FIXES: Mapping[str, str] = {
    INVALID_IDENTIFIER: (
        "the query names a column its inputs do not have (anymore): correct the query or the "
        "input table, deploy it (`uv run dynamic-tables plan`, then `apply`) and materialize "
        "again"
    ),
    OBJECT_MISSING: (
        "an object the query reads is missing, or the role cannot read it: create it, or grant "
        "the role USAGE on its database and schema and SELECT on it, then materialize again"
    ),
}
"""Fix per Snowflake state code of a FAILED refresh."""

FAILED_FIX = (
    "read Snowflake's message, correct the query or its inputs, deploy it (`uv run "
    "dynamic-tables plan`, then `apply`) and materialize again; the table keeps its last good data"
)
UPSTREAM_FAILED_FIX = (
    "fix the input Dynamic Table whose refresh failed first (its own error says how), then "
    "materialize both again, upstream first"
)
CANCELLED_FIX = (
    "the refresh was cancelled (a statement timeout or a cancel): check the warehouse's load and "
    "STATEMENT_TIMEOUT_IN_SECONDS, then materialize again"
)
STATEMENT_FIX = (
    "create the table (`uv run dynamic-tables apply`, or `uv run dynamic-tables local start` on "
    "the stand-in), or grant the role OPERATE on it (GRANT OPERATE ON DYNAMIC TABLE {table} TO "
    "ROLE <the run's role>) and USAGE on its database and schema, and a warehouse it may use"
)
"""Fix for a refresh statement Snowflake refused before any refresh ran."""


@dataclass(frozen=True)
class RefreshAnswer:
    """What `ALTER DYNAMIC TABLE ... REFRESH` answered."""

    statement_query_id: str | None
    """The ALTER statement's query id (the connector's `sfqid`)."""
    status: str | None = None
    data_timestamp: datetime | None = None
    rows_inserted: int | None = None
    rows_deleted: int | None = None


@dataclass(frozen=True)
class ManualRefresh:
    """One manual refresh: its refresh-history row (`record`), with the state code and message
    of that row and what the statement answered."""

    record: RefreshRecord
    answer: RefreshAnswer
    state_code: str | None = None
    state_message: str | None = None
    in_history: bool = True
    """False when no history row was found: `record` holds what the answer gave."""

    @property
    def qualified_name(self) -> str:
        return self.record.qualified_name

    @property
    def state(self) -> str:
        return self.record.state

    @property
    def succeeded(self) -> bool:
        return self.record.state == SUCCEEDED

    @property
    def query_id(self) -> str | None:
        """The refresh's query id, as the history row (or the answer) gives it."""
        return self.record.query_id

    @property
    def changed_data(self) -> bool:
        """Succeeded and changed the table (not NO_DATA): what the sensor would record."""
        return self.record.changed_data


def build_refresh_statement(dt: DynamicTable) -> Statement:
    """`ALTER DYNAMIC TABLE "DB"."SCHEMA"."NAME" REFRESH` (every part quoted as resolved)."""
    return Statement(f"ALTER DYNAMIC TABLE {dt.qualified_name.sql} REFRESH")


def build_recent_refreshes_statement(
    dt: DynamicTable, result_limit: int = RECENT_REFRESHES
) -> Statement:
    """The table's latest `result_limit` refreshes (Snowflake returns the most recent ones),
    with the columns the sensor reads (`statements.HISTORY_COLUMNS`)."""
    binder = Binder()
    name = dt.qualified_name
    text = (
        f"SELECT {', '.join(HISTORY_COLUMNS)}\n"
        f"FROM TABLE({name.database.sql}.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
        f"NAME => {binder.bind(name.sql)}, RESULT_LIMIT => {binder.bind(result_limit)}))"
    )
    return Statement(text, binder.params)


def _statistic(statistics: object, key: str) -> int | None:
    record = parse_refresh_record(
        {"QUALIFIED_NAME": "", "STATE": "", "STATISTICS": statistics}
    )  # the sensor's lenient reading of the STATISTICS JSON
    return record.rows_inserted if key == "numInsertedRows" else record.rows_deleted


def parse_refresh_answer(
    rows: Sequence[Mapping[str, Any]], statement_query_id: str | None
) -> RefreshAnswer:
    """The statement's answer (rows keyed by upper-case column name), whatever columns it has."""
    row: Mapping[str, Any] = rows[0] if rows else {}
    statistics = row.get("STATISTICS")
    return RefreshAnswer(
        statement_query_id=statement_query_id,
        status=parse_text(row.get("STATUS")),
        data_timestamp=parse_timestamp(row.get("DATA_TIMESTAMP")),
        rows_inserted=_statistic(statistics, "numInsertedRows") if statistics else None,
        rows_deleted=_statistic(statistics, "numDeletedRows") if statistics else None,
    )


def _sort_key(record: RefreshRecord) -> tuple[float, float]:
    stamp = record.data_timestamp or record.refresh_start_time
    end = record.refresh_end_time
    return (stamp.timestamp() if stamp else 0.0, end.timestamp() if end else 0.0)


def pick_refresh(
    rows: Sequence[Mapping[str, Any]], answer: RefreshAnswer, seen: frozenset[str]
) -> ManualRefresh | None:
    """This refresh among the table's recent history rows: a MANUAL row whose query id is not in
    `seen` (the rows read before the statement), by the statement's query id, else by the
    answer's data timestamp, else the newest."""
    fresh = [
        (row, record)
        for row in rows
        if (record := parse_refresh_record(row)).refresh_trigger == MANUAL
        and (record.query_id is None or record.query_id not in seen)
    ]
    if not fresh:
        return None
    fresh.sort(key=lambda pair: _sort_key(pair[1]))
    chosen = fresh[-1]
    for pair in fresh:
        record = pair[1]
        if answer.statement_query_id and record.query_id == answer.statement_query_id:
            chosen = pair
            break
        if answer.data_timestamp is not None and record.data_timestamp == answer.data_timestamp:
            chosen = pair
    row, record = chosen
    return ManualRefresh(
        record,
        answer,
        state_code=parse_text(row.get("STATE_CODE")),
        state_message=parse_text(row.get("STATE_MESSAGE")),
    )


def refresh_fix(refresh: ManualRefresh) -> str:
    """What to do about a refresh that did not succeed (see the module docstring)."""
    if not refresh.in_history and refresh.state != SUCCEEDED:
        return STATEMENT_FIX.format(table=refresh.qualified_name)
    return failed_refresh_fix(refresh.state, refresh.state_code)


def failed_refresh_fix(state: str, state_code: str | None) -> str:
    """The fix for a manual refresh that ended in `state` with `state_code` (the same words in
    the step that failed and in the `refresh_succeeded` check of the table)."""
    if state == UPSTREAM_FAILED:
        return UPSTREAM_FAILED_FIX
    if state.startswith("CANCEL"):  # Snowflake spells both CANCELLED and CANCELED
        return CANCELLED_FIX
    return REFRESH_FIXES.get(state_code or "", FAILED_FIX)


def _without_history(
    dt: DynamicTable, answer: RefreshAnswer, error: sf_errors.ProgrammingError | None
) -> ManualRefresh:
    """The refresh as the answer (or the statement's error) tells it, with no history row."""
    record = RefreshRecord(
        qualified_name=dt.qualified_name.resolved,
        state=SUCCEEDED if error is None else "FAILED",
        data_timestamp=answer.data_timestamp,
        query_id=answer.statement_query_id,
        refresh_trigger=MANUAL,
        rows_inserted=answer.rows_inserted,
        rows_deleted=answer.rows_deleted,
    )
    if error is None:
        return ManualRefresh(record, answer, in_history=False)
    code = f"{error.errno:06d}" if error.errno else None
    return ManualRefresh(
        record, answer, state_code=code, state_message=error.raw_msg or str(error), in_history=False
    )


def refresh_dynamic_table(connection: Connection, dt: DynamicTable) -> ManualRefresh:
    """Refresh `dt` now and wait for it (see the module docstring); the refresh when it
    succeeded, `ManualRefreshError` when it did not. Other connector errors (network, login)
    propagate as they are."""
    seen = frozenset(
        record.query_id
        for record in map(
            parse_refresh_record, run(connection, build_recent_refreshes_statement(dt))
        )
        if record.query_id
    )
    cursor = connection.cursor()
    error: sf_errors.ProgrammingError | None = None
    try:
        cursor.execute(build_refresh_statement(dt).text)
        names = [str(column[0]).upper() for column in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        answer = parse_refresh_answer(rows, parse_text(getattr(cursor, "sfqid", None)))
    except sf_errors.ProgrammingError as e:
        error = e
        answer = RefreshAnswer(statement_query_id=parse_text(e.sfqid))
    finally:
        cursor.close()
    history = run(connection, build_recent_refreshes_statement(dt))
    refresh = pick_refresh(history, answer, seen) or _without_history(dt, answer, error)
    if error is not None and refresh.succeeded:
        # The statement failed, but the newest MANUAL row says SUCCEEDED: not this refresh.
        refresh = _without_history(dt, answer, error)
    if not refresh.succeeded:
        raise ManualRefreshError(refresh, refresh_fix(refresh))
    return refresh
