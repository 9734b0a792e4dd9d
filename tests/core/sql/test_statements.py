"""The sensor's two statements and the parsing of their rows into typed records."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.freshness.history import build_tick_statement, fetch_tick, merge_states
from dagster_dynamic_tables.freshness.show import (
    build_show_statement,
    fetch_show,
    fingerprint,
    parse_show_row,
)
from dagster_dynamic_tables.sql.records import (
    STATISTICS_KEYS,
    DynamicTableState,
    RefreshRecord,
    SchedulingState,
    parse_dynamic_table_state,
    parse_refresh_record,
    parse_scheduling_state,
    parse_statistics,
)
from dagster_dynamic_tables.sql.statements import (
    RESULT_LIMIT,
    Binder,
    Statement,
    build_state_statement,
    build_table_state_statement,
    format_timestamp,
    history_parts,
    requires_warehouse,
    to_history_read,
)


def dt(name: str, table: str) -> DynamicTable:
    return DynamicTable(name=name, table=table, target_lag="1 minute", warehouse="WH", query="x")


CLV = dt("clv", "ANALYTICS.ECOMMERCE.CLV")
REVENUE = dt("revenue", "ANALYTICS.ECOMMERCE.REVENUE")
OTHER = dt("other", 'OTHER_DB.S."Mixed"')


def history_statement(
    dynamic_tables: list[DynamicTable],
    starts: dict[str, datetime],
    ends: dict[str, datetime] | None = None,
    *,
    result_limit: int = RESULT_LIMIT,
) -> Statement:
    """The refresh-history reads of `dynamic_tables`, one part per schema, joined with UNION ALL."""
    binder = Binder()
    parts = history_parts(binder, dynamic_tables, starts, ends, result_limit=result_limit)
    return Statement("\nUNION ALL ".join(parts), binder.params)


def test_refresh_history_statement_batches_one_call_per_schema_prefix():
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    statement = history_statement([CLV, REVENUE, OTHER], {"ANALYTICS.ECOMMERCE": start})
    text = statement.text
    assert text.count("DYNAMIC_TABLE_REFRESH_HISTORY(") == 2
    assert text.count("UNION ALL") == 1
    assert 'TABLE("ANALYTICS".INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(' in text
    assert 'TABLE("OTHER_DB".INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(' in text
    assert "SELECT *" not in text
    assert text.count("RESULT_LIMIT =>") == 2
    assert text.count("DATA_TIMESTAMP_START =>") == 2
    # Values are bound, never pasted into the text.
    assert "ANALYTICS.ECOMMERCE'" not in text
    assert sorted(map(str, statement.params.values())) == sorted(
        [
            "ANALYTICS.ECOMMERCE",  # READ_PREFIX
            "ANALYTICS.ECOMMERCE",  # NAME_PREFIX
            "2026-11-20 10:00:00.000000+00:00",
            "YYYY-MM-DD HH24:MI:SS.FF6TZH:TZM",
            str(RESULT_LIMIT),
            "OTHER_DB.S",
            "OTHER_DB.S",
            str(RESULT_LIMIT),
        ]
    )
    # A prefix the cursor has not seen reads Snowflake's whole 7-day history.
    assert "DATEADD('day', -7, CURRENT_TIMESTAMP())" in text


def test_refresh_history_statement_renders_with_pyformat_binding():
    statement = history_statement([CLV], {})
    rendered = statement.text % {k: repr(v) for k, v in statement.params.items()}
    assert "NAME_PREFIX => 'ANALYTICS.ECOMMERCE'" in rendered
    assert "RESULT_LIMIT => 10000" in rendered


def test_state_statement_joins_show_through_the_pipe_operator():
    statement = build_state_statement([CLV, REVENUE])
    text = statement.text
    assert text.startswith('SHOW DYNAMIC TABLES IN DATABASE "ANALYTICS"\n->> SELECT ')
    assert text.count("DYNAMIC_TABLES(RESULT_LIMIT =>") == 1
    assert 'LEFT JOIN $1 s ON s."database_name" = d.DATABASE_NAME' in text
    assert 's."refresh_mode" AS REFRESH_MODE' in text
    assert 's."warehouse" AS WAREHOUSE' in text
    assert "SELECT *" not in text
    assert set(statement.params.values()) == {RESULT_LIMIT, "ANALYTICS"}


def test_state_statement_spans_databases_with_union_all():
    text = build_state_statement([CLV, OTHER]).text
    assert text.startswith("SHOW DYNAMIC TABLES IN ACCOUNT\n->> ")
    assert text.count("UNION ALL") == 1
    assert 'TABLE("OTHER_DB".INFORMATION_SCHEMA.DYNAMIC_TABLES(' in text


def test_state_statement_needs_at_least_one_dynamic_table():
    with pytest.raises(ValueError, match="no Dynamic Tables"):
        build_state_statement([])


def test_format_timestamp_converts_to_utc():
    moment = datetime(2026, 11, 20, 11, 0, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(moment) == "2026-11-20 10:00:00.000005+00:00"
    assert format_timestamp(datetime(2026, 11, 20, 10)) == "2026-11-20 10:00:00.000000+00:00"


def test_parse_refresh_record_reads_statistics_json_and_times():
    row = {
        "QUALIFIED_NAME": "ANALYTICS.ECOMMERCE.CLV",
        "STATE": "SUCCEEDED",
        "STATE_CODE": "SUCCESS",
        "STATE_MESSAGE": "",
        "QUERY_ID": "01b2",
        "DATA_TIMESTAMP": datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        "REFRESH_START_TIME": "2026-11-20T10:00:01+00:00",
        "REFRESH_END_TIME": datetime(2026, 11, 20, 10, 0, 3, tzinfo=UTC),
        "REFRESH_ACTION": "INCREMENTAL",
        "REFRESH_TRIGGER": "SCHEDULED",
        "STATISTICS": '{"numInsertedRows": 5, "numDeletedRows": "2", "numCopiedRows": 0}',
    }
    record = parse_refresh_record(row)
    assert record == RefreshRecord(
        qualified_name="ANALYTICS.ECOMMERCE.CLV",
        state="SUCCEEDED",
        data_timestamp=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        query_id="01b2",
        refresh_start_time=datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC),
        refresh_end_time=datetime(2026, 11, 20, 10, 0, 3, tzinfo=UTC),
        refresh_action="INCREMENTAL",
        refresh_trigger="SCHEDULED",
        rows_inserted=5,
        rows_deleted=2,
        rows_copied=0,
    )
    assert record.changed_data
    assert record.duration_seconds == 2.0


_FULL_STATISTICS = (
    '{"numInsertedRows": 5, "numDeletedRows": 2, "numCopiedRows": 40, "numAddedPartitions": 3, '
    '"numRemovedPartitions": 1, "queuedTimeMs": 12, "compilationTimeMs": 340, '
    '"executionTimeMs": 1250}'
)
_ALL_MISSING = dict.fromkeys(STATISTICS_KEYS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            _FULL_STATISTICS,
            {
                "numInsertedRows": 5,
                "numDeletedRows": 2,
                "numCopiedRows": 40,
                "numAddedPartitions": 3,
                "numRemovedPartitions": 1,
                "queuedTimeMs": 12,
                "compilationTimeMs": 340,
                "executionTimeMs": 1250,
            },
        ),
        # Before 2026-03 Snowflake reported no times; keys may come in another case.
        (
            '{"NUMINSERTEDROWS": 1, "numdeletedrows": 0}',
            {**_ALL_MISSING, "numInsertedRows": 1, "numDeletedRows": 0},
        ),
        (
            {"numCopiedRows": "7", "queuedTimeMs": 3.0},
            {**_ALL_MISSING, "numCopiedRows": 7, "queuedTimeMs": 3},
        ),
        (None, _ALL_MISSING),
        ("", _ALL_MISSING),
        ("null", _ALL_MISSING),
        ("not json {", _ALL_MISSING),
        ("[1, 2]", _ALL_MISSING),
        ("42", _ALL_MISSING),
        (
            '{"numInsertedRows": null, "numDeletedRows": "many", "numCopiedRows": true, '
            '"numAddedPartitions": 1.5, "numRemovedPartitions": {"n": 1}, "queuedTimeMs": [], '
            '"compilationTimeMs": "NaN", "executionTimeMs": "Infinity"}',
            _ALL_MISSING,
        ),
    ],
    ids=[
        "all",
        "older-row-other-case",
        "parsed-object-text-and-float",
        "null",
        "empty",
        "json-null",
        "not-json",
        "array",
        "number",
        "garbage-values",
    ],
)
def test_statistics_read_leniently(value, expected):
    assert parse_statistics(value) == expected
    record = parse_refresh_record(
        {"QUALIFIED_NAME": "A.B.C", "STATE": "SUCCEEDED", "STATISTICS": value}
    )
    assert (
        record.rows_inserted,
        record.rows_deleted,
        record.rows_copied,
        record.partitions_added,
        record.partitions_removed,
        record.queued_time_ms,
        record.compilation_time_ms,
        record.execution_time_ms,
    ) == tuple(expected[key] for key in STATISTICS_KEYS)


@pytest.mark.parametrize(
    ("state", "action", "changed"),
    [
        ("SUCCEEDED", "INCREMENTAL", True),
        ("SUCCEEDED", "FULL", True),
        ("SUCCEEDED", "REINITIALIZE", True),
        ("SUCCEEDED", "NO_DATA", False),
        ("EXECUTING", "INCREMENTAL", False),
        ("FAILED", "INCREMENTAL", False),
        ("UPSTREAM_FAILED", None, False),
    ],
    ids=lambda value: str(value),
)
def test_only_succeeded_refreshes_with_data_count_as_changes(state, action, changed):
    row = {
        "QUALIFIED_NAME": "A.B.C",
        "STATE": state,
        "REFRESH_ACTION": action,
        "DATA_TIMESTAMP": datetime(2026, 11, 20, tzinfo=UTC),
        "STATISTICS": None,
    }
    assert parse_refresh_record(row).changed_data is changed


def test_parse_refresh_record_reads_epoch_and_empty_values_as_missing():
    # fakesnow's server returns NULL timestamps as 1970-01-01.
    row = {
        "QUALIFIED_NAME": "A.B.C",
        "STATE": "EXECUTING",
        "DATA_TIMESTAMP": datetime(2026, 11, 20, tzinfo=UTC),
        "REFRESH_END_TIME": datetime(1970, 1, 1, tzinfo=UTC),
        "STATISTICS": "",
    }
    record = parse_refresh_record(row)
    assert record.refresh_end_time is None
    assert record.rows_inserted is None
    assert record.duration_seconds is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"STATE": "ACTIVE"}', SchedulingState("ACTIVE")),
        ('{"state": "RUNNING"}', SchedulingState("RUNNING")),
        (
            '{"STATE": "SUSPENDED", "REASON_CODE": "USER_SUSPENDED", "REASON_MESSAGE": "by me"}',
            SchedulingState("SUSPENDED", "USER_SUSPENDED", "by me"),
        ),
        ({"STATE": "SUSPENDED"}, SchedulingState("SUSPENDED")),
        (None, None),
        ("{}", None),
    ],
    ids=["active", "lower-case-running", "suspended", "dict", "null", "empty"],
)
def test_parse_scheduling_state(value, expected):
    assert parse_scheduling_state(value) == expected


def test_parse_dynamic_table_state():
    row = {
        "QUALIFIED_NAME": "ANALYTICS.ECOMMERCE.CLV",
        "TARGET_LAG_SEC": Decimal(60),
        "TARGET_LAG_TYPE": "USER_DEFINED",
        "SCHEDULING_STATE": '{"STATE": "ACTIVE"}',
        "LATEST_DATA_TIMESTAMP": datetime(2026, 11, 20, 10, tzinfo=UTC),
        "LAST_COMPLETED_REFRESH_STATE": "SUCCEEDED",
        "LAST_COMPLETED_REFRESH_STATE_CODE": "SUCCESS",
        "LAST_COMPLETED_REFRESH_STATE_MESSAGE": None,
        "MEAN_LAG_SEC": 30,
        "MAXIMUM_LAG_SEC": "61",
        "TIME_WITHIN_TARGET_LAG_RATIO": 0.5,
        "REFRESH_MODE": "INCREMENTAL",
        "WAREHOUSE": "WH",
        "TARGET_LAG": "1 minute",
    }
    state = parse_dynamic_table_state(row)
    assert state == DynamicTableState(
        qualified_name="ANALYTICS.ECOMMERCE.CLV",
        target_lag_sec=60,
        target_lag_type="USER_DEFINED",
        scheduling_state=SchedulingState("ACTIVE"),
        latest_data_timestamp=datetime(2026, 11, 20, 10, tzinfo=UTC),
        last_completed_refresh_state="SUCCEEDED",
        last_completed_refresh_state_code="SUCCESS",
        mean_lag_sec=30,
        maximum_lag_sec=61,
        time_within_target_lag_ratio=0.5,
        refresh_mode="INCREMENTAL",
        warehouse="WH",
        target_lag="1 minute",
    )
    assert not state.metadata_hidden


def test_state_without_monitor_privilege_reads_as_hidden():
    state = parse_dynamic_table_state({"QUALIFIED_NAME": "A.B.C"})
    assert state.metadata_hidden


def test_refresh_history_statement_bounds_a_page_with_data_timestamp_end():
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    end = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    statement = history_statement(
        [CLV, OTHER], {"ANALYTICS.ECOMMERCE": start}, {"ANALYTICS.ECOMMERCE": end}, result_limit=5
    )
    rendered = statement.text % {k: repr(v) for k, v in statement.params.items()}
    assert (
        "NAME_PREFIX => 'ANALYTICS.ECOMMERCE', "
        "DATA_TIMESTAMP_START => TO_TIMESTAMP_LTZ('2026-11-20 10:00:00.000000+00:00', "
        "'YYYY-MM-DD HH24:MI:SS.FF6TZH:TZM'), "
        "DATA_TIMESTAMP_END => TO_TIMESTAMP_LTZ('2026-11-20 11:00:00.000000+00:00', "
        "'YYYY-MM-DD HH24:MI:SS.FF6TZH:TZM'), "
        "RESULT_LIMIT => 5))"
    ) in rendered
    assert rendered.count("DATA_TIMESTAMP_END") == 1  # the other schema reads up to now


def test_both_statements_of_a_tick_need_a_warehouse():
    # Counted by the sensor benchmark: the cost of an idle tick (issue 11 item 1).
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert requires_warehouse(history_statement([CLV], {"ANALYTICS.ECOMMERCE": start}))
    assert requires_warehouse(build_state_statement([CLV]))
    assert not requires_warehouse(Statement('SHOW DYNAMIC TABLES IN DATABASE "ANALYTICS"'))


def test_a_read_is_truncated_by_the_rows_of_its_own_part_only():
    # NAME_PREFIX 'ANALYTICS.ECOMMERCE' also matches ANALYTICS.ECOMMERCE2: the rows of each part
    # are told apart by READ_PREFIX, not by their names.
    stamp = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    sibling = dt("sibling", "ANALYTICS.ECOMMERCE2.CLV")
    records = [
        RefreshRecord("ANALYTICS.ECOMMERCE.CLV", "SUCCEEDED", stamp, read_prefix=p)
        for p in ("ANALYTICS.ECOMMERCE", "ANALYTICS.ECOMMERCE")
    ] + [
        RefreshRecord("ANALYTICS.ECOMMERCE2.CLV", "SUCCEEDED", stamp, read_prefix=p)
        for p in ("ANALYTICS.ECOMMERCE", "ANALYTICS.ECOMMERCE2")
    ]
    read = to_history_read(records, [CLV, sibling], result_limit=3)
    assert read.truncated == {"ANALYTICS.ECOMMERCE": stamp}
    read = to_history_read(records[:2] + records[3:], [CLV, sibling], result_limit=3)
    assert read.truncated == {}


def test_history_rows_carry_the_prefix_of_the_read_that_returned_them():
    statement = history_statement([CLV], {})
    rendered = statement.text % {k: repr(v) for k, v in statement.params.items()}
    assert rendered.startswith("SELECT 'ANALYTICS.ECOMMERCE' AS READ_PREFIX, QUALIFIED_NAME, ")
    row = {"QUALIFIED_NAME": "A.B.C", "STATE": "SUCCEEDED", "READ_PREFIX": "A.B"}
    assert parse_refresh_record(row).read_prefix == "A.B"


def test_one_table_state_is_read_by_name_not_by_scanning_the_database():
    # The checks' own execution runs one op per DT: each must not list the whole database.
    statement = build_table_state_statement(OTHER)
    rendered = statement.text % {k: repr(v) for k, v in statement.params.items()}
    assert rendered.startswith(
        'SHOW DYNAMIC TABLES LIKE \'Mixed\' IN SCHEMA "OTHER_DB"."S"\n->> SELECT '
    )
    assert """DYNAMIC_TABLES(NAME => '"OTHER_DB"."S"."Mixed"', RESULT_LIMIT => 10000)""" in rendered
    assert "IN DATABASE" not in rendered
    assert "IN ACCOUNT" not in rendered


def test_timestamps_are_read_with_an_explicit_format_not_the_accounts():
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    statement = history_statement(
        [CLV], {"ANALYTICS.ECOMMERCE": start}, {"ANALYTICS.ECOMMERCE": start + timedelta(hours=1)}
    )
    rendered = statement.text % {k: repr(v) for k, v in statement.params.items()}
    assert (
        "DATA_TIMESTAMP_START => TO_TIMESTAMP_LTZ('2026-11-20 10:00:00.000000+00:00', "
        "'YYYY-MM-DD HH24:MI:SS.FF6TZH:TZM')"
    ) in rendered
    assert (
        "DATA_TIMESTAMP_END => TO_TIMESTAMP_LTZ('2026-11-20 11:00:00.000000+00:00', "
        "'YYYY-MM-DD HH24:MI:SS.FF6TZH:TZM')"
    ) in rendered


@pytest.mark.parametrize(
    ("written", "resolved"),
    [
        ('OTHER_DB.S."Mixed"', "OTHER_DB.S.Mixed"),
        ("OTHER_DB.S.Mixed", "OTHER_DB.S.Mixed"),
        ('"a.b".S."x""y"', 'a.b.S.x"y'),
        ("ANALYTICS.ECOMMERCE.CLV", "ANALYTICS.ECOMMERCE.CLV"),
    ],
    ids=["quoted", "unquoted", "dots-and-quotes", "plain"],
)
def test_qualified_names_match_with_or_without_quotes(written, resolved):
    row = {"QUALIFIED_NAME": written, "STATE": "SUCCEEDED"}
    assert parse_refresh_record(row).qualified_name == resolved
    assert parse_dynamic_table_state({"QUALIFIED_NAME": written}).qualified_name == resolved


class RowsConnection:
    """A connection whose one statement answers the given rows (keys are column names)."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows
        self.texts: list[str] = []

    def cursor(self) -> "RowsConnection":
        return self

    def execute(self, text: str, params: object = None) -> None:
        self.texts.append(text)

    @property
    def description(self) -> list[tuple[str]]:
        return [(name,) for name in self.rows[0]] if self.rows else []

    def fetchall(self) -> list[tuple[object, ...]]:
        return [tuple(row.values()) for row in self.rows]

    def close(self) -> None:
        pass


def test_show_is_scoped_to_one_database_and_needs_no_warehouse():
    statement = build_show_statement('"ANALYTICS"')
    assert statement.text == 'SHOW DYNAMIC TABLES IN DATABASE "ANALYTICS" LIMIT 10000'
    assert not requires_warehouse(statement)
    assert build_show_statement('"A"', "IT'S").text.endswith("LIMIT 10000 FROM 'IT''S'")
    tick = build_tick_statement([CLV], {}, None, [CLV])
    assert requires_warehouse(tick)
    assert "INFORMATION_SCHEMA.DYNAMIC_TABLES(" in tick.text
    assert "DYNAMIC_TABLE_REFRESH_HISTORY(" in tick.text


def test_show_rows_read_as_states_and_fingerprints_move_with_them():
    row = {
        "NAME": "CLV", "DATABASE_NAME": "ANALYTICS", "SCHEMA_NAME": "ECOMMERCE",
        "TARGET_LAG": "1 minute", "REFRESH_MODE": "INCREMENTAL", "WAREHOUSE": "WH",
        "TEXT": "CREATE DYNAMIC TABLE ...", "SCHEDULING_STATE": "RUNNING",
        "DATA_TIMESTAMP": datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    }  # fmt: skip
    state = parse_show_row(row)
    assert (state.qualified_name, state.target_lag_sec, state.scheduling_state) == (
        "ANALYTICS.ECOMMERCE.CLV",
        60,
        SchedulingState("RUNNING"),
    )
    later = parse_show_row({**row, "DATA_TIMESTAMP": datetime(2026, 11, 20, 10, 1, tzinfo=UTC)})
    suspended = parse_show_row({**row, "SCHEDULING_STATE": "SUSPENDED"})
    prints = {fingerprint(s) for s in (state, later, suspended, None)}
    assert len(prints) == 4
    assert parse_show_row({**row, "TARGET_LAG": "DOWNSTREAM"}).target_lag_type == "DOWNSTREAM"


def test_dynamic_tables_capped_account_wide_is_known_and_show_fills_in():
    # DYNAMIC_TABLES() without NAME returns at most 10,000 rows for the whole account, before
    # the filter on the database: a capped read is known from FUNCTION_ROWS, and a table it left
    # out but SHOW lists is evaluated from SHOW's state, not as missing.
    state_row = {
        "ROW_KIND": "S", "QUALIFIED_NAME": "ANALYTICS.ECOMMERCE.CLV",
        "LAST_COMPLETED_REFRESH_STATE": "SUCCEEDED", "FUNCTION_ROWS": RESULT_LIMIT,
    }  # fmt: skip
    read = fetch_tick(RowsConnection([state_row]), [CLV, REVENUE], {}, None, [CLV, REVENUE])
    assert read.capped == frozenset({"ANALYTICS"})
    assert set(read.states) == {"ANALYTICS.ECOMMERCE.CLV"}
    shown = DynamicTableState("ANALYTICS.ECOMMERCE.REVENUE", refresh_mode="FULL", warehouse="WH")
    assert merge_states(shown, read.states.get(shown.qualified_name)) == shown
    merged = merge_states(
        DynamicTableState("ANALYTICS.ECOMMERCE.CLV", refresh_mode="FULL", warehouse="WH"),
        read.states["ANALYTICS.ECOMMERCE.CLV"],
    )
    assert merged is not None
    assert (merged.last_completed_refresh_state, merged.refresh_mode) == ("SUCCEEDED", "FULL")
    uncapped = fetch_tick(
        RowsConnection([{**state_row, "FUNCTION_ROWS": 3}]), [CLV], {}, None, [CLV]
    )
    assert uncapped.capped == frozenset()


class ScriptedConnection(RowsConnection):
    """Answers each statement with the next list of rows."""

    def __init__(self, answers: list[list[dict[str, object]]]) -> None:
        super().__init__([])
        self.answers = answers

    def execute(self, text: str, params: object = None) -> None:
        super().execute(text, params)
        self.rows = self.answers[len(self.texts) - 1]


def show_row(database: str, schema: str, name: str) -> dict[str, object]:
    return {
        "NAME": name,
        "DATABASE_NAME": database,
        "SCHEMA_NAME": schema,
        "TARGET_LAG": "1 minute",
    }


def test_show_for_several_databases_is_one_account_read_unless_the_account_fills_it():
    # A tenant in two databases: one SHOW IN ACCOUNT (at most 10,000 rows account-wide); when it
    # comes back full, other tables may have crowded declared ones out: one SHOW per database.
    tables = [CLV, OTHER]
    few = ScriptedConnection(
        [[show_row("ANALYTICS", "ECOMMERCE", "CLV"), show_row("OTHER_DB", "S", "Mixed")]]
    )
    read = fetch_show(few, tables)
    assert few.texts == ["SHOW DYNAMIC TABLES IN ACCOUNT LIMIT 10000"]
    assert set(read.states) == {"ANALYTICS.ECOMMERCE.CLV", "OTHER_DB.S.Mixed"}
    crowded = [show_row("BIG", "S", f"T{i}") for i in range(RESULT_LIMIT)]
    full = ScriptedConnection(
        [crowded, [show_row("ANALYTICS", "ECOMMERCE", "CLV")], [show_row("OTHER_DB", "S", "Mixed")]]
    )
    read = fetch_show(full, tables)
    assert full.texts == [
        "SHOW DYNAMIC TABLES IN ACCOUNT LIMIT 10000",
        'SHOW DYNAMIC TABLES IN DATABASE "ANALYTICS" LIMIT 10000',
        'SHOW DYNAMIC TABLES IN DATABASE "OTHER_DB" LIMIT 10000',
    ]
    assert (read.statements, set(read.states)) == (
        3,
        {"ANALYTICS.ECOMMERCE.CLV", "OTHER_DB.S.Mixed"},
    )
    single = ScriptedConnection([[show_row("ANALYTICS", "ECOMMERCE", "CLV")]])
    fetch_show(single, [CLV])
    assert single.texts == ['SHOW DYNAMIC TABLES IN DATABASE "ANALYTICS" LIMIT 10000']


def test_a_database_with_more_tables_than_one_show_returns_is_read_in_pages():
    page = [show_row("ANALYTICS", "ECOMMERCE", f"T{i:05d}") for i in range(RESULT_LIMIT)]
    rest = [show_row("ANALYTICS", "ECOMMERCE", "CLV")]
    paged = ScriptedConnection([page, rest])
    read = fetch_show(paged, [CLV])
    assert paged.texts == [
        'SHOW DYNAMIC TABLES IN DATABASE "ANALYTICS" LIMIT 10000',
        """SHOW DYNAMIC TABLES IN DATABASE "ANALYTICS" LIMIT 10000 FROM 'T09999'""",
    ]
    assert (read.statements, set(read.states)) == (2, {"ANALYTICS.ECOMMERCE.CLV"})
