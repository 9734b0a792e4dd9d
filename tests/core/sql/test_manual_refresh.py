"""A manual refresh of a `scheduler: DISABLE` Dynamic Table: the statement, the answer, the
refresh-history row that tells what it did, and the error (code, message, fix) when it fails.
Against the embedded stand-in through the real connector."""

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import snowflake.connector
from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.errors import ManualRefreshError
from dagster_dynamic_tables.sql.manual_refresh import (
    REFRESH_FIXES,
    STATEMENT_FIX,
    UPSTREAM_FAILED_FIX,
    ManualRefresh,
    RefreshAnswer,
    build_recent_refreshes_statement,
    build_refresh_statement,
    parse_refresh_answer,
    pick_refresh,
    refresh_dynamic_table,
)

Connect = Callable[..., snowflake.connector.SnowflakeConnection]
_databases = itertools.count()


def dt(table: str, query: str = "SELECT 1 AS X", name: str = "t") -> DynamicTable:
    return DynamicTable(
        name=name,
        table=table,
        target_lag="1 minute",
        warehouse="WH",
        scheduler="DISABLE",
        query=query,
    )


def test_the_statement_quotes_the_qualified_name():
    statement = build_refresh_statement(dt('ANALYTICS.s."Mixed Case"'))
    assert statement.text == 'ALTER DYNAMIC TABLE "ANALYTICS"."S"."Mixed Case" REFRESH'
    assert statement.params == {}


def test_the_history_read_names_the_table_and_bounds_the_rows():
    statement = build_recent_refreshes_statement(dt('ANALYTICS.S."Mixed"'), result_limit=5)
    assert 'FROM TABLE("ANALYTICS".INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(' in (
        statement.text
    )
    assert "NAME => %(p0)s, RESULT_LIMIT => %(p1)s" in statement.text
    assert "SELECT *" not in statement.text
    assert statement.params == {"p0": '"ANALYTICS"."S"."Mixed"', "p1": 5}


STAMP = datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"STATUS": "Statement executed successfully."}],
         RefreshAnswer("q1", status="Statement executed successfully.")),
        ([{"DATA_TIMESTAMP": STAMP, "STATISTICS": '{"numInsertedRows": 3, "numDeletedRows": 1}'}],
         RefreshAnswer("q1", data_timestamp=STAMP, rows_inserted=3, rows_deleted=1)),
        ([], RefreshAnswer("q1")),
    ],
    ids=["stand_in_status", "data_timestamp_and_statistics", "no_rows"],
)  # fmt: skip
def test_the_answer_is_read_whatever_its_columns(rows: list[dict[str, Any]], expected):
    assert parse_refresh_answer(rows, "q1") == expected


def row(query_id: str, minute: int, trigger: str = "MANUAL", state: str = "SUCCEEDED"):
    return {
        "QUALIFIED_NAME": "DB.S.T",
        "STATE": state,
        "QUERY_ID": query_id,
        "DATA_TIMESTAMP": STAMP.replace(minute=minute),
        "REFRESH_ACTION": "FULL",
        "REFRESH_TRIGGER": trigger,
    }


def test_pick_takes_a_new_manual_row_by_query_id_then_data_timestamp_then_newest():
    rows = [row("old", 1), row("sched", 5, "SCHEDULED"), row("a", 3), row("b", 4)]

    def picked(answer: RefreshAnswer, seen: frozenset[str]) -> str | None:
        refresh = pick_refresh(rows, answer, seen)
        return None if refresh is None else refresh.record.query_id

    assert picked(RefreshAnswer(None), frozenset({"old"})) == "b"
    assert picked(RefreshAnswer("a"), frozenset({"old"})) == "a"
    assert picked(RefreshAnswer(None, data_timestamp=STAMP.replace(minute=3)), frozenset()) == "a"
    assert pick_refresh([row("old", 1)], RefreshAnswer(None), frozenset({"old"})) is None


class StandIn:
    """One database on the stand-in with a source table and DISABLE Dynamic Tables."""

    def __init__(self, connect: Connect) -> None:
        self.connection = connect()
        self.database = f"MANUAL_{uuid.uuid4().hex[:6].upper()}_{next(_databases)}"
        self.run(f"CREATE DATABASE {self.database}")
        self.run(f"CREATE SCHEMA {self.database}.S")
        self.run(f"CREATE TABLE {self.database}.S.ORDERS (ID INT, AMOUNT INT)")
        self.run(f"INSERT INTO {self.database}.S.ORDERS VALUES (1, 10)")

    def run(self, sql: str) -> None:
        self.connection.cursor().execute(sql)

    def create(self, name: str, query: str) -> DynamicTable:
        table = f"{self.database}.S.{name.upper()}"
        self.run(
            f"CREATE DYNAMIC TABLE {table} TARGET_LAG = '1 minute' WAREHOUSE = WH "
            f"SCHEDULER = DISABLE AS {query}"
        )
        return dt(table, query, name)


@pytest.fixture
def stand_in(local_snowflake_connect: Connect) -> StandIn:
    return StandIn(local_snowflake_connect)


def test_a_refresh_that_changed_data_is_read_from_the_history(stand_in: StandIn):
    totals = stand_in.create("totals", f"SELECT ID, AMOUNT FROM {stand_in.database}.S.ORDERS")
    stand_in.run(f"INSERT INTO {stand_in.database}.S.ORDERS VALUES (2, 20), (3, 30)")

    refresh = refresh_dynamic_table(stand_in.connection, totals)

    record = refresh.record
    assert (record.qualified_name, record.state, record.refresh_trigger) == (
        f"{stand_in.database}.S.TOTALS", "SUCCEEDED", "MANUAL",
    )  # fmt: skip
    assert record.refresh_action in {"INCREMENTAL", "FULL"}
    assert (record.rows_inserted, record.rows_deleted) == (2, 0)
    assert record.data_timestamp is not None
    assert record.query_id
    assert record.duration_seconds is not None
    assert record.duration_seconds >= 0
    assert refresh.changed_data
    assert refresh.in_history
    assert refresh.answer.status == "Statement executed successfully."  # the stand-in's answer
    assert refresh.answer.statement_query_id  # the ALTER's own id (not the history row's here)

    again = refresh_dynamic_table(stand_in.connection, totals)
    assert again.record.refresh_action == "NO_DATA"
    assert not again.changed_data
    assert again.record.query_id != record.query_id
    assert again.record.data_timestamp is not None
    assert again.record.data_timestamp > record.data_timestamp


def test_a_refresh_whose_query_fails_raises_snowflakes_code_and_message_and_the_fix(
    stand_in: StandIn,
):
    totals = stand_in.create("totals", f"SELECT ID, AMOUNT FROM {stand_in.database}.S.ORDERS")
    stand_in.run(f"CREATE OR REPLACE TABLE {stand_in.database}.S.ORDERS (ID INT)")

    with pytest.raises(ManualRefreshError) as raised:
        refresh_dynamic_table(stand_in.connection, totals)

    error = raised.value
    assert isinstance(error.refresh, ManualRefresh)
    assert (error.refresh.state, error.refresh.state_code) == ("FAILED", "000904")
    assert error.refresh.in_history
    assert error.refresh.record.refresh_trigger == "MANUAL"
    assert error.fix == REFRESH_FIXES["000904"]
    assert str(error) == (
        f"The manual refresh of {stand_in.database}.S.TOTALS is FAILED (code 000904): SQL "
        "compilation error:\ninvalid identifier 'AMOUNT'. Fix: the query names a column its "
        "inputs do not have (anymore): correct the query or the input table, deploy it (`uv run "
        "dynamic-tables plan`, then `apply`) and materialize again."
    )


def test_an_upstream_failure_is_reported_as_such(stand_in: StandIn):
    db = stand_in.database
    base = stand_in.create("base", f"SELECT ID, AMOUNT FROM {db}.S.ORDERS")
    doubled = stand_in.create("doubled", f"SELECT ID, AMOUNT * 2 AS D FROM {db}.S.BASE")
    stand_in.run(f"CREATE OR REPLACE TABLE {db}.S.ORDERS (ID INT)")

    # A manual refresh does not cascade to a DISABLE table: its own refresh fails first.
    with pytest.raises(ManualRefreshError):
        refresh_dynamic_table(stand_in.connection, base)
    with pytest.raises(ManualRefreshError) as raised:
        refresh_dynamic_table(stand_in.connection, doubled)

    refresh = raised.value.refresh
    assert (refresh.qualified_name, refresh.state) == (f"{db}.S.DOUBLED", "UPSTREAM_FAILED")
    assert refresh.state_message == f"Skipped refreshing because input DT '{db}.S.BASE' failed."
    assert raised.value.fix == UPSTREAM_FAILED_FIX


def test_a_statement_refused_before_any_refresh_names_the_connectors_error(stand_in: StandIn):
    missing = dt(f"{stand_in.database}.S.MISSING")
    with pytest.raises(ManualRefreshError) as raised:
        refresh_dynamic_table(stand_in.connection, missing)

    refresh = raised.value.refresh
    assert isinstance(refresh, ManualRefresh)
    assert not refresh.in_history
    assert (refresh.state, refresh.state_code) == ("FAILED", "002003")
    assert refresh.state_message == (
        f"SQL compilation error:\nDynamic table '{stand_in.database}.S.MISSING' does not exist or "
        "not authorized."
    )
    assert raised.value.fix == STATEMENT_FIX.format(table=f"{stand_in.database}.S.MISSING")
