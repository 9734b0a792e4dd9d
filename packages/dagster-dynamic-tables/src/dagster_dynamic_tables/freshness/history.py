"""The freshness sensor's second statement, sent only when SHOW found something that moved.

One SELECT (it needs a warehouse) that unions two kinds of rows, told apart by `ROW_KIND`:

- `H`: the refresh history of the schemas that moved (`statements.history_parts`, one
  DYNAMIC_TABLE_REFRESH_HISTORY call per schema since the cursor's start);
- `S`: `DYNAMIC_TABLES()` of their databases: the last completed refresh's state and Snowflake's
  lag statistics, which SHOW does not report. The sensor joins these rows with SHOW's (refresh
  mode, warehouse, query text) in Python, where the old state statement joined them in SQL.

`DYNAMIC_TABLES()` without `NAME` returns at most 10,000 rows for the whole account, before the
filter on the database: each `S` row carries `FUNCTION_ROWS`, how many rows the function returned,
so a capped read is known. A DT that SHOW lists (it exists) and a capped `DYNAMIC_TABLES()` left
out is evaluated from SHOW alone, its refresh state unknown, and a warning says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.sql.records import (
    READ_PREFIX,
    DynamicTableState,
    RefreshRecord,
    parse_dynamic_table_state,
    parse_refresh_record,
)
from dagster_dynamic_tables.sql.statements import (
    HISTORY_COLUMNS,
    RESULT_LIMIT,
    STATE_COLUMNS,
    Binder,
    Connection,
    HistoryRead,
    Statement,
    history_parts,
    run,
    to_history_read,
)

ROW_KIND = "ROW_KIND"
FUNCTION_ROWS = "FUNCTION_ROWS"
HISTORY_ROW = "H"
STATE_ROW = "S"
_STATE_ONLY = tuple(column for column in STATE_COLUMNS if column != "QUALIFIED_NAME")
_HISTORY_ONLY = tuple(column for column in HISTORY_COLUMNS if column != "QUALIFIED_NAME")


def build_tick_statement(
    history_tables: Sequence[DynamicTable],
    starts: Mapping[str, datetime],
    ends: Mapping[str, datetime] | None,
    state_tables: Sequence[DynamicTable],
    *,
    result_limit: int = RESULT_LIMIT,
) -> Statement:
    """History of `history_tables`' schemas and DYNAMIC_TABLES() of `state_tables`' databases,
    as one statement (see the module docstring)."""
    binder = Binder()
    state_nulls = "".join(f", NULL AS {column}" for column in (*_STATE_ONLY, FUNCTION_ROWS))
    parts = history_parts(
        binder,
        history_tables,
        starts,
        ends,
        result_limit=result_limit,
        lead=f"{binder.bind(HISTORY_ROW)} AS {ROW_KIND}, ",
        trail=state_nulls,
    )
    databases: dict[str, str] = {}
    for dt in state_tables:
        databases.setdefault(dt.qualified_name.database.resolved, dt.qualified_name.database.sql)
    history_nulls = ", ".join(f"NULL AS {column}" for column in _HISTORY_ONLY)
    state_columns = ", ".join(_STATE_ONLY)
    for resolved, database in databases.items():
        parts.append(
            f"SELECT {binder.bind(STATE_ROW)} AS {ROW_KIND}, NULL AS {READ_PREFIX}, "
            f"QUALIFIED_NAME, {history_nulls}, {state_columns}, {FUNCTION_ROWS}\n"
            f"FROM (SELECT DATABASE_NAME, QUALIFIED_NAME, {state_columns}, COUNT(*) OVER () AS "
            f"{FUNCTION_ROWS} FROM TABLE({database}.INFORMATION_SCHEMA.DYNAMIC_TABLES("
            f"RESULT_LIMIT => {binder.bind(RESULT_LIMIT)})))\n"
            f"WHERE DATABASE_NAME = {binder.bind(resolved)}"
        )
    if not parts:
        raise ValueError("no Dynamic Tables: there is nothing to read")
    text = "\nUNION ALL ".join(parts) + f"\nORDER BY {ROW_KIND}, DATA_TIMESTAMP"
    return Statement(text, binder.params)


@dataclass(frozen=True)
class TickRead:
    """What the second statement returned."""

    history: HistoryRead
    states: Mapping[str, DynamicTableState]
    """DYNAMIC_TABLES() rows of the declared DTs, keyed by qualified name."""
    capped: frozenset[str]
    """Databases whose DYNAMIC_TABLES() returned its 10,000-row maximum (account-wide)."""


def fetch_tick(
    connection: Connection,
    history_tables: Sequence[DynamicTable],
    starts: Mapping[str, datetime],
    ends: Mapping[str, datetime] | None,
    state_tables: Sequence[DynamicTable],
    *,
    result_limit: int = RESULT_LIMIT,
) -> TickRead:
    statement = build_tick_statement(
        history_tables, starts, ends, state_tables, result_limit=result_limit
    )
    wanted = {dt.qualified_name.resolved for dt in state_tables}
    records: list[RefreshRecord] = []
    states: dict[str, DynamicTableState] = {}
    capped: set[str] = set()
    for row in run(connection, statement):
        if row.get(ROW_KIND) == STATE_ROW:
            state = parse_dynamic_table_state(row)
            if int(row.get(FUNCTION_ROWS) or 0) >= RESULT_LIMIT:
                capped.add(state.qualified_name.split(".")[0])
            if state.qualified_name in wanted:
                states.setdefault(state.qualified_name, state)
        else:
            records.append(parse_refresh_record(row))
    return TickRead(
        to_history_read(records, history_tables, result_limit), states, frozenset(capped)
    )


def merge_states(
    shown: DynamicTableState | None, function: DynamicTableState | None
) -> DynamicTableState | None:
    """One DT's state: DYNAMIC_TABLES()'s row with SHOW's refresh mode, warehouse, target lag
    text and query text (what the old state statement joined in SQL). SHOW alone when the
    function left the table out; the function's row alone when SHOW does not list it."""
    if shown is None or function is None:
        return function or shown
    return replace(
        function,
        refresh_mode=shown.refresh_mode,
        warehouse=shown.warehouse,
        target_lag=shown.target_lag,
        text=shown.text,
        created_on=shown.created_on,
    )
