"""The freshness sensor: tick logic on typed rows, then real ticks against the local stand-in
(real connector, real `DagsterInstance`), with events persisted the way the daemon does."""

import itertools
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.asset_health.asset_health import AssetHealthStatus
from dagster._core.definitions.freshness import FreshnessState
from dagster_dynamic_tables.declarations.loader import load_tenant
from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable, Tenant
from dagster_dynamic_tables.definitions.resources import build_snowflake_resource
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.definitions.tenant import build_tenant_definitions
from dagster_dynamic_tables.freshness.cursor import SchemaDigests, SensorCursor, parse_data_version
from dagster_dynamic_tables.freshness.events import describe_events
from dagster_dynamic_tables.freshness.moved import moved_schemas, shown_digests
from dagster_dynamic_tables.freshness.sensor import (
    FULL_READ_INTERVAL,
    SENSOR_NAME,
    build_freshness_sensor,
    readable_tables,
    unreadable_database,
)
from dagster_dynamic_tables.freshness.show import build_show_statement
from dagster_dynamic_tables.freshness.tick import TickResult, evaluate_tick
from dagster_dynamic_tables.freshness.window import WINDOW_OVERLAP, next_starts, plan_pages
from dagster_dynamic_tables.health.checks import build_dynamic_table_checks
from dagster_dynamic_tables.health.rules import (
    CHECK_NAMES,
    MATCHES_DECLARATION,
    REFRESH_SUCCEEDED,
    SCHEDULING_ACTIVE,
    WITHIN_TARGET_LAG,
    stored_signature,
)
from dagster_dynamic_tables.snowflake_io.faults import describe_snowflake_fault
from dagster_dynamic_tables.sql.records import DynamicTableState, RefreshRecord, SchedulingState
from dagster_dynamic_tables.sql.statements import HistoryRead, requires_warehouse
from dagster_snowflake import SnowflakeResource
from snowflake.connector import errors as sf_errors

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DT = DynamicTable(
    name="totals",
    table="ANALYTICS.S.TOTALS",
    target_lag="1 minute",
    warehouse="WH",
    refresh_mode="INCREMENTAL",
    query="SELECT 1",
)
TENANT = Tenant("shop", dynamic_tables=(DT,))
KEY = dg.AssetKey(["shop", "totals"])
NAME = "ANALYTICS.S.TOTALS"


def refresh(minutes: int, state: str = "SUCCEEDED", action: str = "INCREMENTAL") -> RefreshRecord:
    return RefreshRecord(NAME, state, T0 + timedelta(minutes=minutes), refresh_action=action)


def state(minutes: int = 0, **changes: Any) -> DynamicTableState:
    fields: dict[str, Any] = {
        "qualified_name": NAME,
        "target_lag_sec": 60,
        "target_lag_type": "USER_DEFINED",
        "scheduling_state": SchedulingState("ACTIVE"),
        "latest_data_timestamp": T0 + timedelta(minutes=minutes),
        "last_completed_refresh_state": "SUCCEEDED",
        "refresh_mode": "INCREMENTAL",
        "warehouse": "WH",
    }
    return DynamicTableState(**{**fields, **changes})


def nothing_recorded(keys):
    return dict.fromkeys(keys)


@dataclass
class Memory:
    """What a Dagster instance holds once a tick's events are stored: the latest data version
    per asset, the signature of the latest evaluation per check."""

    versions: dict[dg.AssetKey, datetime] = field(default_factory=dict)
    checks: dict[dg.AssetCheckKey, str | None] = field(default_factory=dict)

    def recorded_versions(self, keys):
        return {key: self.versions.get(key) for key in keys}

    def recorded_checks(self, keys):
        return {key: self.checks.get(key) for key in keys}

    def tick(self, cursor, refreshes, states, now, tenant=TENANT, **options) -> TickResult:
        result = evaluate_tick(
            tenant, cursor, refreshes, states, now, self.recorded_versions,
            recorded_checks=self.recorded_checks, **options,
        )  # fmt: skip
        for event in result.events:
            if isinstance(event, dg.AssetMaterialization):
                version = parse_data_version((event.tags or {})["dagster/data_version"])
                assert version is not None
                self.versions[event.asset_key] = version
            else:
                self.checks[dg.AssetCheckKey(event.asset_key, event.check_name)] = stored_signature(
                    event
                )
        return result


def materialized_versions(events) -> list[str]:
    return [
        (e.tags or {})["dagster/data_version"]
        for e in events
        if isinstance(e, dg.AssetMaterialization)
    ]


def check_names(events) -> list[str]:
    return [e.check_name for e in events if isinstance(e, dg.AssetCheckEvaluation)]


# Tick logic on typed rows -------------------------------------------------------------------


def test_cold_start_reports_the_latest_refresh_and_every_check_once():
    refreshes = [refresh(0, action="REINITIALIZE"), refresh(1), refresh(2, action="NO_DATA")]
    memory = Memory()
    result = memory.tick(SensorCursor(), refreshes, {NAME: state(2)}, T0 + timedelta(minutes=2))
    assert materialized_versions(result.events) == ["2026-11-20T10:01:00.000000+00:00"]
    assert check_names(result.events) == list(CHECK_NAMES)
    assert result.cursor.starts == {"ANALYTICS.S": T0 + timedelta(minutes=2) - WINDOW_OVERLAP}


def test_cold_start_without_a_data_change_in_history_uses_the_latest_data_timestamp():
    refreshes = [refresh(5, action="NO_DATA")]
    memory = Memory()
    result = memory.tick(SensorCursor(), refreshes, {NAME: state(5)}, T0)
    (event,) = [e for e in result.events if isinstance(e, dg.AssetMaterialization)]
    assert materialized_versions([event]) == ["2026-11-20T10:05:00.000000+00:00"]
    assert "older than Snowflake's 7-day refresh history" in (event.description or "")
    again = memory.tick(result.cursor, refreshes, {NAME: state(5)}, T0)
    assert again.events == []
    lost = memory.tick(SensorCursor(), refreshes, {NAME: state(5)}, T0)  # the instance holds it
    assert lost.events == []


def test_a_table_added_beside_others_does_not_materialize_their_no_data_refreshes():
    memory = Memory()
    first = memory.tick(SensorCursor(), [refresh(0)], {NAME: state(0)}, T0)
    assert materialized_versions(first.events) == ["2026-11-20T10:00:00.000000+00:00"]
    # TOTALS has refreshed with NO_DATA since (its data timestamp moved to 10:05) when COUNTS is
    # declared beside it: COUNTS is new, TOTALS' data has not changed.
    counts = DT.model_copy(update={"name": "counts", "table": "ANALYTICS.S.COUNTS"})
    tenant = Tenant("shop", dynamic_tables=(DT, counts))
    states = {NAME: state(5), "ANALYTICS.S.COUNTS": state(3, qualified_name="ANALYTICS.S.COUNTS")}
    later = memory.tick(first.cursor, [], states, T0 + timedelta(minutes=5), tenant=tenant)
    reported = [e for e in later.events if isinstance(e, dg.AssetMaterialization)]
    assert [(e.asset_key.path[-1], materialized_versions([e])) for e in reported] == [
        ("counts", ["2026-11-20T10:03:00.000000+00:00"])
    ]


def test_a_dt_new_to_a_schema_already_read_is_not_said_to_be_older_than_the_history():
    cursor = SensorCursor(starts={"ANALYTICS.S": T0})  # another DT of the schema, read before
    result = evaluate_tick(TENANT, cursor, [], {NAME: state(-30)}, T0, nothing_recorded)
    (event,) = [e for e in result.events if isinstance(e, dg.AssetMaterialization)]
    assert materialized_versions([event]) == ["2026-11-20T09:30:00.000000+00:00"]
    assert "older than Snowflake's 7-day refresh history" not in (event.description or "")
    assert "It is new to this sensor" in (event.description or "")


def test_cold_start_of_a_dt_that_never_refreshed_reports_no_materialization():
    result = evaluate_tick(
        TENANT, SensorCursor(), [], {NAME: state(latest_data_timestamp=None)}, T0,
        nothing_recorded,
    )  # fmt: skip
    assert materialized_versions(result.events) == []


def test_new_refreshes_are_reported_in_order_and_only_once():
    memory = Memory()
    first = memory.tick(SensorCursor(), [refresh(0)], {NAME: state(0)}, T0)
    refreshes = [refresh(0), refresh(2), refresh(1), refresh(3, action="NO_DATA")]
    second = memory.tick(first.cursor, refreshes, {NAME: state(3)}, T0 + timedelta(minutes=3))
    assert materialized_versions(second.events) == [
        "2026-11-20T10:01:00.000000+00:00",
        "2026-11-20T10:02:00.000000+00:00",
    ]
    assert check_names(second.events) == []  # health unchanged
    idle = memory.tick(second.cursor, refreshes, {NAME: state(3)}, T0 + timedelta(minutes=3))
    assert idle.events == []


def test_failed_and_executing_refreshes_are_never_materializations():
    memory = Memory()
    first = memory.tick(SensorCursor(), [refresh(0)], {NAME: state(0)}, T0)
    refreshes = [refresh(1, state="FAILED"), refresh(2, state="EXECUTING")]
    failed = state(
        0,
        last_completed_refresh_state="FAILED",
        last_completed_refresh_state_code="000904",
        last_completed_refresh_state_message="invalid identifier 'AMOUNT'",
    )
    result = memory.tick(first.cursor, refreshes, {NAME: failed}, T0)
    assert materialized_versions(result.events) == []
    assert check_names(result.events) == [REFRESH_SUCCEEDED]
    # The next read starts no later than the running refresh, which completes with its timestamp.
    assert result.cursor.starts["ANALYTICS.S"] == T0 + timedelta(minutes=1) - WINDOW_OVERLAP


def test_next_read_is_held_back_to_a_refresh_still_running():
    refreshes = [refresh(1), refresh(3, state="EXECUTING")]
    result = evaluate_tick(
        TENANT, SensorCursor(), refreshes, {NAME: state(1)}, T0, nothing_recorded
    )
    assert result.cursor.starts["ANALYTICS.S"] == T0 + timedelta(minutes=1) - WINDOW_OVERLAP
    result = evaluate_tick(
        TENANT, result.cursor, [refresh(3, state="EXECUTING")], {NAME: state(1)}, T0,
        nothing_recorded,
    )  # fmt: skip
    assert result.cursor.starts["ANALYTICS.S"] == T0 + timedelta(minutes=3) - WINDOW_OVERLAP


def test_a_long_refresh_scheduled_without_a_data_timestamp_is_reported():
    # COUNTS reads TOTALS: its refresh shares TOTALS' data timestamp (10:00) but is SCHEDULED,
    # with no data timestamp yet, while TOTALS refreshes again (10:02). It completes later, at
    # 10:00, more than the overlap behind the newest data of the schema: the next read must
    # still reach back to it.
    counts = DT.model_copy(update={"name": "counts", "table": "ANALYTICS.S.COUNTS"})
    tenant = Tenant("shop", dynamic_tables=(DT, counts))
    counts_name = "ANALYTICS.S.COUNTS"
    memory = Memory()

    def read(cursor, rows):  # what Snowflake returns for DATA_TIMESTAMP_START => the start
        start = cursor.starts.get("ANALYTICS.S")
        return [
            r for r in rows
            if start is None or r.data_timestamp is None or r.data_timestamp >= start
        ]  # fmt: skip

    states = {NAME: state(2), counts_name: state(-5, qualified_name=counts_name)}
    scheduled = RefreshRecord(counts_name, "SCHEDULED", None)
    first = memory.tick(
        SensorCursor(), read(SensorCursor(), [refresh(0), refresh(2), scheduled]), states,
        T0 + timedelta(minutes=2), tenant=tenant,
    )  # fmt: skip
    # Held back to COUNTS' latest data timestamp, which its running refresh will follow.
    assert first.cursor.starts["ANALYTICS.S"] == T0 - timedelta(minutes=5) - WINDOW_OVERLAP
    done = RefreshRecord(counts_name, "SUCCEEDED", T0, refresh_action="INCREMENTAL")
    states = {**states, counts_name: state(0, qualified_name=counts_name)}
    second = memory.tick(
        first.cursor, read(first.cursor, [refresh(0), refresh(2), done]), states,
        T0 + timedelta(minutes=4), tenant=tenant,
    )  # fmt: skip
    counts_key = dg.AssetKey(["shop", "counts"])
    reported = [e for e in second.events if isinstance(e, dg.AssetMaterialization)]
    assert [(e.asset_key, materialized_versions([e])) for e in reported] == [
        (counts_key, ["2026-11-20T10:00:00.000000+00:00"])
    ]


def test_a_refresh_show_reports_before_the_history_returns_it_is_read_again():
    # SHOW already has TOTALS at 10:05; the history read (since 10:00) stops at 10:03: the
    # schema is read again on the next tick, where the 10:05 refresh is reported.
    memory = Memory()
    first = memory.tick(SensorCursor(), [refresh(0)], {NAME: state(0)}, T0)
    cursor = replace(first.cursor, starts={"ANALYTICS.S": T0})
    behind = memory.tick(cursor, [refresh(3)], {NAME: state(5)}, T0 + timedelta(minutes=5))
    digests = shown_digests(TENANT, {NAME: state(5)}, T0 + timedelta(minutes=5))
    assert moved_schemas(TENANT, behind.cursor, digests, full=False) == {"ANALYTICS.S"}
    caught_up = memory.tick(
        behind.cursor, [refresh(3), refresh(5)], {NAME: state(5)}, T0 + timedelta(minutes=5)
    )
    assert materialized_versions(caught_up.events) == ["2026-11-20T10:05:00.000000+00:00"]
    assert moved_schemas(TENANT, caught_up.cursor, digests, full=False) == set()


def test_a_running_row_older_than_its_tables_data_holds_nothing_back():
    # Snowflake runs one refresh of a table at a time: a row still EXECUTING behind a later data
    # timestamp of the same table is left over (a crashed stand-in), not running.
    refreshes = [refresh(1, state="EXECUTING"), refresh(3)]
    result = evaluate_tick(
        TENANT, SensorCursor(), refreshes, {NAME: state(3)}, T0, nothing_recorded
    )
    assert result.cursor.starts["ANALYTICS.S"] == T0 + timedelta(minutes=3) - WINDOW_OVERLAP
    later = evaluate_tick(
        TENANT, result.cursor, [refresh(1, state="EXECUTING")], {NAME: state(3)}, T0,
        nothing_recorded,
    )  # fmt: skip
    assert later.cursor.starts["ANALYTICS.S"] == T0 + timedelta(minutes=3) - WINDOW_OVERLAP


def test_lost_cursor_reports_only_refreshes_newer_than_the_instance_holds():
    refreshes = [refresh(0), refresh(1), refresh(2)]

    def recorded(keys):
        return dict.fromkeys(keys, T0 + timedelta(minutes=1))

    result = evaluate_tick(TENANT, SensorCursor(), refreshes, {NAME: state(2)}, T0, recorded)
    assert materialized_versions(result.events) == ["2026-11-20T10:02:00.000000+00:00"]


def test_lost_cursor_catches_up_every_refresh_after_the_last_recorded_one():
    refreshes = [refresh(minute) for minute in range(5)]

    def recorded(keys):
        return dict.fromkeys(keys, T0 + timedelta(minutes=1))

    result = evaluate_tick(TENANT, SensorCursor(), refreshes, {NAME: state(4)}, T0, recorded)
    assert len(materialized_versions(result.events)) == 3


def test_health_is_reported_again_only_when_it_changes():
    now = T0 + timedelta(seconds=30)
    memory = Memory()
    first = memory.tick(SensorCursor(), [], {NAME: state(0)}, now)
    assert check_names(first.events) == list(CHECK_NAMES)
    later = memory.tick(first.cursor, [], {NAME: state(0)}, now + timedelta(seconds=20))
    assert later.events == []
    warn = memory.tick(later.cursor, [], {NAME: state(0)}, now + timedelta(seconds=70))
    assert check_names(warn.events) == [WITHIN_TARGET_LAG]
    suspended = state(0, scheduling_state=SchedulingState("SUSPENDED", "USER_SUSPENDED"))
    result = memory.tick(warn.cursor, [], {NAME: suspended}, now + timedelta(seconds=75))
    assert check_names(result.events) == [SCHEDULING_ACTIVE]
    # A lost cursor compares with what the instance holds: nothing is reported twice.
    lost = memory.tick(SensorCursor(), [], {NAME: suspended}, now + timedelta(seconds=80))
    assert lost.events == []
    # Evaluations stored before the outcome kind was kept count as changed, once.
    memory.checks = dict.fromkeys(memory.checks)
    again = memory.tick(SensorCursor(), [], {NAME: suspended}, now + timedelta(seconds=85))
    assert check_names(again.events) == list(CHECK_NAMES)


def test_a_truncated_read_is_set_aside_and_paged_oldest_first():
    start = T0 - timedelta(minutes=1)
    cursor = SensorCursor(starts={"ANALYTICS.S": start})
    newest = [refresh(i) for i in range(5, 10)]
    plan = plan_pages(
        TENANT, cursor, HistoryRead(newest, {"ANALYTICS.S": T0 + timedelta(minutes=5)}), 5
    )
    assert plan.records == []  # nothing reported out of order
    assert plan.pages == {"ANALYTICS.S": (T0 + timedelta(minutes=5),)}
    assert plan.messages == [
        "The refresh history of ANALYTICS.S since 2026-11-20T09:59:00+00:00 holds more than 5 "
        "refreshes: reading it in pages, oldest first (next page: up to "
        "2026-11-20T10:05:00+00:00). Downstream assets run once it has caught up."
    ]
    # The page up to 10:05 is too long again: a narrower one.
    paging = replace(cursor, pages=plan.pages)
    plan = plan_pages(
        TENANT, paging, HistoryRead(newest, {"ANALYTICS.S": T0 + timedelta(minutes=2)}), 5
    )
    assert plan.pages == {"ANALYTICS.S": (T0 + timedelta(minutes=5), T0 + timedelta(minutes=2))}
    # That page fits: its rows are reported, and the next read ends at 10:05.
    oldest = [refresh(i) for i in range(3)]
    plan = plan_pages(TENANT, replace(cursor, pages=plan.pages), HistoryRead(oldest, {}), 5)
    assert plan.records == oldest
    assert plan.pages == {"ANALYTICS.S": (T0 + timedelta(minutes=5),)}
    assert plan.floors == {"ANALYTICS.S": T0 + timedelta(minutes=2)}  # the next read starts there
    assert plan.messages == []
    # The last page fits too: back to reading up to now.
    plan = plan_pages(TENANT, replace(cursor, pages=plan.pages), HistoryRead(newest, {}), 5)
    assert plan.records == newest
    assert plan.pages == {}
    assert plan.floors == {"ANALYTICS.S": T0 + timedelta(minutes=5)}


def test_pages_of_a_schema_no_longer_declared_are_dropped():
    cursor = SensorCursor(starts={"GONE.S": T0}, pages={"GONE.S": (T0 + timedelta(hours=1),)})
    assert plan_pages(TENANT, cursor, HistoryRead([], {}), 5).pages == {}


def test_a_truncated_read_on_a_cold_start_is_used_as_it_is():
    newest = [refresh(i) for i in range(5, 10)]
    read = HistoryRead(newest, {"ANALYTICS.S": T0 + timedelta(minutes=5)})
    plan = plan_pages(TENANT, SensorCursor(), read, 5)
    assert (plan.records, plan.pages, plan.floors, plan.messages) == (newest, {}, {}, [])


def test_a_lost_cursor_in_a_busy_schema_is_caught_up_in_pages_from_the_retention_start():
    # No start (cursor lost, reset or of an older format), but the instance holds a
    # materialization: every refresh after it must be reported, not only the newest rows.
    newest = [refresh(i) for i in range(5, 10)]
    read = HistoryRead(newest, {"ANALYTICS.S": T0 + timedelta(minutes=5)})

    def recorded(keys):
        return dict.fromkeys(keys, T0)

    plan = plan_pages(TENANT, SensorCursor(), read, 5, recorded)
    assert plan.records == []
    assert plan.pages == {"ANALYTICS.S": (T0 + timedelta(minutes=5),)}
    assert plan.messages == [
        "The refresh history of ANALYTICS.S over Snowflake's 7-day retention (the sensor's "
        "cursor was lost or reset) holds more than 5 refreshes: reading it in pages, oldest "
        "first (next page: up to 2026-11-20T10:05:00+00:00). Downstream assets run once it has "
        "caught up."
    ]
    oldest = [refresh(i) for i in range(1, 5)]
    plan = plan_pages(TENANT, SensorCursor(pages=plan.pages), HistoryRead(oldest, {}), 5, recorded)
    assert (plan.records, plan.pages) == (oldest, {})
    assert plan.floors == {"ANALYTICS.S": T0 + timedelta(minutes=5)}


def test_a_completed_page_moves_the_next_start_to_its_end_past_the_overlap():
    page_end = T0 + timedelta(seconds=10)
    records = [refresh(0)]
    assert next_starts(TENANT, {}, records) == {"ANALYTICS.S": T0 - WINDOW_OVERLAP}
    assert next_starts(TENANT, {}, records, {"ANALYTICS.S": page_end}) == {"ANALYTICS.S": page_end}
    running = [*records, refresh(0, state="EXECUTING")]
    assert next_starts(TENANT, {}, running, {"ANALYTICS.S": page_end}) == {
        "ANALYTICS.S": T0 - WINDOW_OVERLAP  # still held back to the running refresh
    }


def test_cursor_keeps_pages_through_json():
    cursor = SensorCursor(
        starts={"ANALYTICS.S": T0},
        pages={"ANALYTICS.S": (T0 + timedelta(hours=2), T0 + timedelta(hours=1))},
    )
    assert SensorCursor.from_json(cursor.to_json()) == cursor
    assert '"pages"' not in SensorCursor(starts={"ANALYTICS.S": T0}).to_json()


def test_cursor_round_trips_through_json():
    cursor = SensorCursor(
        starts={"ANALYTICS.S": T0 - WINDOW_OVERLAP},
        digests={"ANALYTICS.S": SchemaDigests("a1", "b2", "c3", "d4")},
        full_read_at=T0,
    )
    text = cursor.to_json()
    assert text == (
        '{"v":2,"starts":{"ANALYTICS.S":"2026-11-20T09:59:00.000000+00:00"},'
        '"d":{"ANALYTICS.S":"a1.b2.c3.d4"},"f":"2026-11-20T10:00:00.000000+00:00"}'
    )
    assert SensorCursor.from_json(text) == cursor


def test_a_version_1_cursor_reads_as_a_fresh_start():
    text = '{"v":1,"tables":{},"starts":{"ANALYTICS.S":"2026-11-20T09:59:00.000000+00:00"}}'
    assert SensorCursor.from_json(text) == SensorCursor()


@pytest.mark.parametrize("text", [None, "", "not json", "[]", '{"v": 99}'])
def test_unreadable_cursor_reads_as_a_fresh_start(text):
    assert SensorCursor.from_json(text) == SensorCursor()


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-13-01", 5]
)
def test_damaged_timestamps_in_the_cursor_read_as_unknown(stamp):
    text = json.dumps(
        {
            "v": 2,
            "starts": {"ANALYTICS.S": stamp},
            "pages": {"ANALYTICS.S": [stamp]},
            "f": stamp,
            "d": {"ANALYTICS.S": stamp},
        }
    )
    assert SensorCursor.from_json(text) == SensorCursor()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            sf_errors.OperationalError(
                msg="Could not connect to Snowflake backend after 2 attempt(s).Aborting",
                errno=250001,
            ),
            "cannot reach Snowflake at account 'acme' as user 'DAGSTER'",
        ),
        (
            sf_errors.DatabaseError(
                msg="Incorrect username or password was specified.",
                errno=390100,
                sqlstate="08004",
            ),
            "Snowflake refused the login for account 'acme' as user 'DAGSTER'",
        ),
        (
            sf_errors.ProgrammingError(
                msg="Database 'ANALYTICS' does not exist or not authorized.",
                errno=2003,
                sqlstate="02000",
            ),
            "Snowflake denied access to the Dynamic Tables' metadata",
        ),
        (
            sf_errors.ProgrammingError(msg="Statement reached its timeout", errno=630),
            "Snowflake timed out",
        ),
        (
            sf_errors.ProgrammingError(msg="No active warehouse selected", errno=606),
            "Snowflake has no running warehouse",
        ),
    ],
    ids=["unreachable", "authentication", "privilege", "timeout", "no-warehouse"],
)
def test_expected_snowflake_faults_are_described_without_secrets(error, expected):
    error.raw_msg = f"{error.raw_msg} (password hunter2secret)"
    resource = SnowflakeResource(account="acme", user="DAGSTER", password="hunter2secret")
    reason = describe_snowflake_fault(error, resource)
    assert reason is not None
    assert expected in reason
    assert "Fix: " in reason
    assert "hunter2secret" not in reason


def test_unexpected_snowflake_errors_are_not_described():
    error = sf_errors.ProgrammingError(msg="SQL compilation error: syntax error", errno=1003)
    resource = SnowflakeResource(account="acme", user="DAGSTER", password="x")
    assert describe_snowflake_fault(error, resource) is None


def test_a_database_snowflake_refuses_is_named_from_its_error():
    databases = {"ANALYTICS", "Mixed"}
    missing = sf_errors.ProgrammingError(
        msg="Database 'ANALYTICS' does not exist or not authorized.", errno=2003
    )
    assert unreadable_database(missing, databases) == "ANALYTICS"
    schema = sf_errors.ProgrammingError(
        msg="""Schema '"Mixed".S' does not exist or not authorized.""", errno=2003
    )
    assert unreadable_database(schema, databases) == "Mixed"
    other = sf_errors.ProgrammingError(msg="Database 'ELSEWHERE' does not exist", errno=2003)
    assert unreadable_database(other, databases) is None
    timeout = sf_errors.ProgrammingError(msg="Statement reached its timeout", errno=630)
    assert unreadable_database(timeout, databases) is None


def test_an_unreadable_database_is_left_out_and_retried_every_ten_ticks():
    other = DynamicTable(
        name="other", table="OTHER.S.T", target_lag="1 minute", warehouse="WH", query="SELECT 1"
    )
    tables = (DT, other)
    cursor = SensorCursor(unreadable={"OTHER": 0})
    assert readable_tables(tables, cursor) == ([DT], {"OTHER"})
    assert readable_tables(tables, replace(cursor, unreadable={"OTHER": 9})) == (
        list(tables),
        set(),
    )
    # Never every database: a tenant that can read none is read (and skips) as it is.
    everything = SensorCursor(unreadable={"OTHER": 0, "ANALYTICS": 0})
    assert readable_tables(tables, everything) == (list(tables), set())
    assert SensorCursor.from_json(cursor.to_json()) == cursor


def test_sensor_is_named_and_running_by_default():
    sensor = build_freshness_sensor(TENANT)
    assert sensor.name == "dynamic_table_freshness"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 60
    assert sensor.required_resource_keys == {"snowflake"}
    assert build_freshness_sensor(TENANT, minimum_interval_seconds=5).minimum_interval_seconds == 5


def test_declared_sensor_interval_reaches_the_tenant_sensor(tmp_path):
    declarations = tmp_path / "defs.yaml"
    declarations.write_text(
        "tenant: shop\nsensor_interval_seconds: 30\ndynamic_tables:\n"
        "  - {name: clv, table: DB.S.CLV, target_lag: 1 minute, warehouse: WH, query: SELECT 1}\n"
    )
    tenant = load_tenant(declarations)
    assert tenant.sensor_interval_seconds == 30
    defs = build_tenant_definitions(tenant, env={})
    assert defs.resolve_sensor_def("dynamic_table_freshness").minimum_interval_seconds == 30


# Real ticks against the stand-in ------------------------------------------------------------

_databases = itertools.count()


@dataclass
class Harness:
    """One tenant on its own stand-in database, its sensor and a real instance."""

    database: str
    sql: Any
    tenant: Tenant
    resource: SnowflakeResource
    now: list[datetime | None] = field(default_factory=lambda: [None])
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)
    cursor: str | None = None
    result_limit: int = 10_000

    def __post_init__(self) -> None:
        defs = dg.Definitions(
            assets=build_asset_specs(self.tenant),
            asset_checks=build_dynamic_table_checks(self.tenant),
            sensors=[
                build_freshness_sensor(
                    self.tenant, clock=self.clock, result_limit=self.result_limit
                )
            ],
            resources={"snowflake": self.resource},
        )
        dg.Definitions.validate_loadable(defs)
        self.sensor = defs.resolve_sensor_def(SENSOR_NAME)

    def clock(self) -> datetime:
        return self.now[0] or datetime.now(UTC)

    def run(self, statement: str) -> list[tuple[Any, ...]]:
        self.sql.execute(statement)
        return list(self.sql.fetchall())

    def statement_count(self) -> int:
        return int(self.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")[0][0])

    def tick(self, resource: SnowflakeResource | None = None) -> Any:
        """One sensor tick, persisting its events and cursor as the daemon does."""
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"snowflake": resource or self.resource},
        )
        result = self.sensor(context)
        if isinstance(result, dg.SensorResult):
            for event in result.asset_events:
                self.instance.report_runless_asset_event(event)
            if result.cursor is not None:
                self.cursor = result.cursor
        return result

    def events(self, result: Any) -> list[Any]:
        assert isinstance(result, dg.SensorResult), result
        return list(result.asset_events)

    def versions(self, result: Any) -> list[str]:
        return materialized_versions(self.events(result))

    def checks(self, result: Any) -> dict[str, dg.AssetCheckEvaluation]:
        return {
            e.check_name: e
            for e in self.events(result)
            if isinstance(e, dg.AssetCheckEvaluation) and e.asset_key == KEY
        }

    def history(self) -> list[tuple[Any, ...]]:
        """(DATA_TIMESTAMP, STATE, REFRESH_ACTION) of TOTALS, oldest first."""
        return self.run(
            f"SELECT DATA_TIMESTAMP, STATE, REFRESH_ACTION FROM TABLE({self.database}"
            f".INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(NAME => '{self.database}.S.TOTALS'"
            ", RESULT_LIMIT => 10000)) ORDER BY DATA_TIMESTAMP"
        )

    def recorded_versions(self) -> list[str]:
        records = self.instance.fetch_materializations(KEY, limit=1000).records
        versions = [
            (r.asset_materialization.tags or {})["dagster/data_version"]
            for r in records
            if r.asset_materialization
        ]
        return sorted(versions)

    def change_source(self, amount: int) -> None:
        self.run(f"INSERT INTO {self.database}.S.ORDERS VALUES ({amount}, {amount})")

    def refresh(self) -> None:
        self.run(f"ALTER DYNAMIC TABLE {self.database}.S.TOTALS REFRESH")


def version(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@pytest.fixture
def resource(local_snowflake_connection_args) -> SnowflakeResource:
    return SnowflakeResource(
        account="local",
        user="local",
        password="local",
        autocommit=True,  # else get_connection() sends a COMMIT after the tick's two statements
        additional_snowflake_connection_args=local_snowflake_connection_args,
    )


@pytest.fixture
def harness(local_snowflake_connect, resource) -> Iterator[Harness]:
    database = f"SENSOR_{next(_databases)}"
    sql = local_snowflake_connect().cursor()
    try:
        sql.execute("SHOW DYNAMIC TABLES IN ACCOUNT ->> SELECT COUNT(*) FROM $1")
    except sf_errors.ProgrammingError as error:
        # Real Snowflake answers this (the pipe operator); the sensor's state statement needs it.
        pytest.xfail(f"the local stand-in does not support SHOW ... ->> SELECT ... $1: {error}")
    for statement in (
        f"CREATE DATABASE {database}",
        f"CREATE SCHEMA {database}.S",
        f"CREATE TABLE {database}.S.ORDERS (ID INT, AMOUNT INT)",
        f"INSERT INTO {database}.S.ORDERS VALUES (1, 10), (2, 20)",
        f"CREATE DYNAMIC TABLE {database}.S.TOTALS TARGET_LAG = '1 minute' WAREHOUSE = WH "
        f"REFRESH_MODE = INCREMENTAL AS SELECT ID, SUM(AMOUNT) AS TOTAL FROM {database}.S.ORDERS "
        "GROUP BY ID",
    ):
        sql.execute(statement)
    tenant = Tenant(
        "shop",
        sources=(SourceTable(name="orders", table=f"{database}.S.ORDERS"),),
        dynamic_tables=(
            DynamicTable(
                name="totals",
                table=f"{database}.S.TOTALS",
                target_lag="1 minute",
                warehouse="WH",
                refresh_mode="INCREMENTAL",
                query=f"SELECT ID, SUM(AMOUNT) AS TOTAL FROM {database}.S.ORDERS GROUP BY ID",
                deps=["orders"],
            ),
        ),
    )
    harness = Harness(database, sql, tenant, resource)
    yield harness
    harness.instance.dispose()  # removes its temporary directory


def test_a_tick_that_recorded_events_says_what_in_its_skip_reason():
    other = dg.AssetKey(["shop", "counts"])
    events = [
        dg.AssetMaterialization(KEY),
        dg.AssetMaterialization(KEY),
        dg.AssetMaterialization(other),
        dg.AssetCheckEvaluation(asset_key=KEY, check_name=REFRESH_SUCCEEDED, passed=True),
        dg.AssetCheckEvaluation(
            asset_key=KEY,
            check_name=WITHIN_TARGET_LAG,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
        ),
    ]
    assert describe_events(events) == (
        "Recorded 3 refreshes: shop/totals (2); shop/counts (1). 2 health check results "
        "changed: failed: shop/totals within_target_lag (WARN); passed: 1 (shop/totals). No run "
        "requested: Dynamic Table refreshes are recorded without runs."
    )
    many = [dg.AssetMaterialization(dg.AssetKey(["shop", f"t{i}"])) for i in range(12)]
    assert describe_events(many).startswith("Recorded 12 refreshes: shop/t0 (1); ")
    assert "; shop/t9 (1); and 2 more." in describe_events(many)


def test_refresh_becomes_one_materialization_then_nothing(harness):
    cold = harness.tick()
    (created,) = harness.history()
    assert harness.versions(cold) == [version(created[0])]
    assert set(harness.checks(cold)) == set(CHECK_NAMES)
    assert all(e.passed for e in harness.checks(cold).values())

    harness.change_source(3)
    harness.refresh()
    result = harness.tick()
    latest = harness.history()[-1]
    assert latest[1:] == ("SUCCEEDED", "INCREMENTAL")
    (materialization,) = harness.events(result)
    assert result.skip_reason is not None
    assert result.skip_reason.skip_message == (
        "Recorded 1 refresh: shop/totals (1). No run requested: Dynamic Table refreshes are "
        "recorded without runs."
    )
    assert (materialization.tags or {})["dagster/data_version"] == version(latest[0])
    assert materialization.metadata["refresh_action"].value == "INCREMENTAL"
    assert materialization.metadata["rows_inserted"].value == 1
    assert set(materialization.metadata) >= {
        "data_timestamp",
        "refresh_trigger",
        "refresh_start_time",
        "refresh_end_time",
        "refresh_duration_seconds",
        "rows_deleted",
        "query_id",
    }

    idle = harness.tick()
    assert isinstance(idle, dg.SensorResult)
    assert idle.asset_events == []
    assert idle.skip_reason is not None
    assert idle.skip_reason.skip_message == "No new Dynamic Table refresh and no health change."
    assert harness.recorded_versions() == sorted(version(row[0]) for row in harness.history())


def test_no_data_refresh_is_not_a_materialization(harness):
    harness.tick()
    harness.refresh()  # nothing changed upstream
    assert harness.history()[-1][1:] == ("SUCCEEDED", "NO_DATA")
    assert harness.tick().asset_events == []


def test_two_refreshes_between_ticks_are_two_materializations_in_order(harness):
    harness.tick()
    harness.change_source(3)
    harness.refresh()
    harness.change_source(4)
    harness.refresh()
    result = harness.tick()
    expected = [version(row[0]) for row in harness.history()[-2:]]
    assert harness.versions(result) == expected
    assert expected[0] < expected[1]


def test_failed_refresh_fails_refresh_succeeded_without_materialization(harness):
    harness.tick()
    harness.run(f"ALTER TABLE {harness.database}.S.ORDERS DROP COLUMN AMOUNT")
    harness.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(61)")
    harness.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()")
    assert harness.history()[-1][1] == "FAILED"
    # SHOW does not report a failed refresh (the data timestamp stays): the next tick is idle
    # and costs no warehouse; the failure is reported by the next full read.
    idle = harness.tick()
    assert isinstance(idle, dg.SensorResult)
    assert list(idle.asset_events) == []
    harness.now[0] = datetime.now(UTC) + FULL_READ_INTERVAL
    result = harness.tick()
    assert harness.versions(result) == []
    failed = harness.checks(result)[REFRESH_SUCCEEDED]
    assert not failed.passed
    assert "is FAILED (state code " in (failed.description or "")


def test_suspension_fails_scheduling_active(harness):
    harness.tick()
    harness.run(f"ALTER DYNAMIC TABLE {harness.database}.S.TOTALS SUSPEND")
    result = harness.tick()
    assert list(harness.checks(result)) == [SCHEDULING_ACTIVE]
    assert not harness.checks(result)[SCHEDULING_ACTIVE].passed
    assert "is SUSPENDED (USER_SUSPENDED)" in (
        harness.checks(result)[SCHEDULING_ACTIVE].description or ""
    )


def test_lag_over_target_warns_then_errors(harness):
    (created,) = harness.history()
    harness.now[0] = created[0] + timedelta(seconds=30)
    assert harness.checks(harness.tick())[WITHIN_TARGET_LAG].passed
    harness.now[0] = created[0] + timedelta(seconds=75)
    assert harness.tick().asset_events == []  # between 1x and 1.5x: no swing, no event
    harness.now[0] = created[0] + timedelta(seconds=100)
    warn = harness.checks(harness.tick())[WITHIN_TARGET_LAG]
    assert (warn.passed, warn.severity) == (False, dg.AssetCheckSeverity.WARN)
    harness.now[0] = created[0] + timedelta(seconds=110)
    assert harness.tick().asset_events == []  # same situation: nothing new to report
    harness.now[0] = created[0] + timedelta(seconds=150)
    error = harness.checks(harness.tick())[WITHIN_TARGET_LAG]
    assert (error.passed, error.severity) == (False, dg.AssetCheckSeverity.ERROR)


def test_declaration_drift_fails_matches_declaration(harness):
    harness.tick()
    harness.run(f"ALTER DYNAMIC TABLE {harness.database}.S.TOTALS SET TARGET_LAG = '5 minutes'")
    drift = harness.checks(harness.tick())[MATCHES_DECLARATION]
    assert not drift.passed
    assert "target_lag: declared '1 minute' (60 s), Snowflake has 300 s" in (
        drift.description or ""
    )


def test_missing_dynamic_table_fails_every_check_saying_so(harness):
    harness.run(f"DROP DYNAMIC TABLE {harness.database}.S.TOTALS")
    checks = harness.checks(harness.tick())
    assert set(checks) == set(CHECK_NAMES)
    for evaluation in checks.values():
        assert not evaluation.passed
        assert "does not exist in Snowflake" in (evaluation.description or "")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_snowflake_down_skips_then_catches_up_without_loss_or_duplicates(
    harness, local_snowflake_connection_args
):
    harness.tick()
    down = SnowflakeResource(
        account="local",
        user="local",
        password="hunter2secret",
        autocommit=True,
        additional_snowflake_connection_args={
            **local_snowflake_connection_args,
            "port": closed_port(),
            "login_timeout": 3,
        },
    )
    cursor_before = harness.cursor
    harness.change_source(3)
    harness.refresh()
    skipped = harness.tick(down)
    assert isinstance(skipped, dg.SkipReason)
    assert "cannot reach Snowflake at account 'local'" in (skipped.skip_message or "")
    assert "OperationalError 250001" in (skipped.skip_message or "")
    assert "hunter2secret" not in (skipped.skip_message or "")
    assert harness.cursor == cursor_before

    harness.change_source(4)
    harness.refresh()
    caught_up = harness.tick()
    assert harness.versions(caught_up) == [version(row[0]) for row in harness.history()[-2:]]
    assert harness.tick().asset_events == []
    assert harness.recorded_versions() == sorted(version(row[0]) for row in harness.history())


def test_stand_in_that_cannot_start_skips_saying_why(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = {"LOCAL_SNOWFLAKE_DATA_DIR": str(blocker / "data"), "LOCAL_SNOWFLAKE_PORT": "1"}
    resource = build_snowflake_resource(TENANT, env=env)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"snowflake": resource})
        skipped = build_freshness_sensor(TENANT)(context)
    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message == (
        "The local Snowflake stand-in for tenant 'shop' did not start: cannot use "
        f"{blocker / 'data'} as the local-snowflake data directory: Not a directory. Fix: point "
        "LOCAL_SNOWFLAKE_DATA_DIR (or --data-dir) at a writable directory, or unset it to use "
        ".local_snowflake/ at the repository root. The cursor is kept: refreshes that land "
        "meanwhile are reported once Snowflake answers."
    )


def test_history_longer_than_one_read_is_caught_up_in_pages_in_order(harness):
    # Snowflake's limit is 10,000: the same logic, with fewer refreshes (same instance).
    harness = replace(harness, result_limit=3)
    harness.tick()  # cold start: the creation refresh
    for amount in range(3, 10):  # 7 refreshes that change data, 61 s apart
        harness.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(61)")
        harness.change_source(amount)
        harness.refresh()
    expected = [version(row[0]) for row in harness.history()]
    reported: list[str] = []
    pages_seen = 0
    for _ in range(12):
        before = harness.statement_count()
        reported += harness.versions(harness.tick())
        assert harness.statement_count() - before - 1 <= 2  # (minus the count statement)
        pages = json.loads(harness.cursor or "{}").get("pages")
        pages_seen += pages is not None
        if pages is None and len(reported) == 7:
            break
    assert pages_seen >= 2  # the history was read in pages
    assert reported == expected[1:]  # every refresh, oldest first, none twice
    assert harness.recorded_versions() == expected
    assert harness.tick().asset_events == []


def test_the_daemons_way_of_evaluating_a_tick_reaches_the_resource(harness):
    # The daemon calls evaluate_tick, which passes resources on the context only (a direct call
    # passes them as keyword arguments too): both must work.
    context = dg.build_sensor_context(
        instance=harness.instance, resources={"snowflake": harness.resource}
    )
    data = harness.sensor.evaluate_tick(context)
    assert data.cursor is not None
    assert len(data.asset_events) > 0


def test_an_idle_tick_sends_one_metadata_statement_and_no_warehouse_statement(harness):
    harness.tick()  # the first tick reads everything
    before = harness.statement_count()
    idle = harness.tick()
    assert harness.statement_count() - before - 1 == 1  # SHOW only (minus the count statement)
    assert not requires_warehouse(build_show_statement('"X"'))
    assert isinstance(idle, dg.SensorResult)
    assert list(idle.asset_events) == []
    harness.change_source(5)
    harness.refresh()
    before = harness.statement_count()
    busy = harness.tick()
    assert harness.statement_count() - before - 1 == 2  # SHOW, then history and state
    assert len(harness.versions(busy)) == 1


def test_wiped_cursor_never_duplicates(harness):
    harness.tick()
    harness.change_source(3)
    harness.refresh()
    harness.tick()
    harness.cursor = None
    again = harness.tick()
    assert harness.versions(again) == []
    harness.change_source(4)
    harness.refresh()
    harness.cursor = None
    after_loss = harness.tick()
    assert harness.versions(after_loss) == [version(harness.history()[-1][0])]
    assert harness.recorded_versions() == sorted(version(row[0]) for row in harness.history())


def test_at_most_two_statements_per_tick(harness):
    for _ in range(2):
        before = harness.statement_count()
        harness.tick()
        after = harness.statement_count()
        assert after - before - 1 <= 2  # minus the count statement itself


def test_a_database_left_out_does_not_stop_the_others(harness):
    # Snowflake refused OTHER_DB on an earlier tick (002003): this tick reads the harness's
    # database only, reports its refresh, and fails OTHER_DB's table's checks.
    other = DynamicTable(
        name="other", table="OTHER_DB.S.T", target_lag="1 minute", warehouse="WH", query="SELECT 1"
    )
    tenant = replace(harness.tenant, dynamic_tables=(*harness.tenant.dynamic_tables, other))
    two = replace(harness, tenant=tenant)
    two.cursor = SensorCursor(unreadable={"OTHER_DB": 0}).to_json()
    result = two.tick()
    (created,) = two.history()
    assert two.versions(result) == [version(created[0])]
    other_checks = [
        e
        for e in two.events(result)
        if isinstance(e, dg.AssetCheckEvaluation) and e.asset_key.path[-1] == "other"
    ]
    assert len(other_checks) == 4
    assert not any(e.passed for e in other_checks)
    assert json.loads(two.cursor or "{}")["x"] == {"OTHER_DB": 1}


def test_a_table_of_a_database_left_out_is_reported_missing_even_when_nothing_else_moved(harness):
    harness.tick()  # the harness's own schema is read and recorded
    other = DynamicTable(
        name="other", table="OTHER_DB.S.T", target_lag="1 minute", warehouse="WH", query="SELECT 1"
    )
    tenant = replace(harness.tenant, dynamic_tables=(*harness.tenant.dynamic_tables, other))
    two = replace(harness, tenant=tenant)
    cursor = SensorCursor.from_json(harness.cursor)
    two.cursor = replace(cursor, unreadable={"OTHER_DB": 0}).to_json()
    before = two.statement_count()
    result = two.tick()
    assert two.statement_count() - before - 1 == 1  # SHOW of the readable database only
    other_checks = [e for e in two.events(result) if e.asset_key.path[-1] == "other"]
    assert sorted(e.check_name for e in other_checks) == sorted(CHECK_NAMES)
    assert not any(e.passed for e in other_checks)


@pytest.mark.parametrize("per_schema", [1, 300])
def test_the_cursor_does_not_grow_with_the_number_of_tables(per_schema):
    tables = tuple(
        DT.model_copy(update={"name": f"t{s}_{i}", "table": f"ANALYTICS.S{s}.T{i}"})
        for s in range(3)
        for i in range(per_schema)
    )
    tenant = Tenant("shop", dynamic_tables=tables)
    states = {
        dt.qualified_name.resolved: state(0, qualified_name=dt.qualified_name.resolved)
        for dt in tables
    }
    refreshes = [
        RefreshRecord(dt.qualified_name.resolved, "SUCCEEDED", T0, refresh_action="INCREMENTAL")
        for dt in tables
    ]
    result = Memory().tick(SensorCursor(), refreshes, states, T0, tenant=tenant)
    text = result.cursor.to_json()
    # Per schema: its start and four digests, whatever the number of tables (3 x 300 here).
    assert len(text) == 381


# What Dagster itself shows over a quiet period --------------------------------------------------

_CODE_LOCATION = """
import dagster as dg
from dagster_dynamic_tables.health.checks import build_dynamic_table_checks
from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable, Tenant
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_snowflake import SnowflakeResource

tenant = Tenant(
    "shop",
    sources=(SourceTable(name="orders", table="{database}.S.ORDERS"),),
    dynamic_tables=(
        DynamicTable(
            name="totals",
            table="{database}.S.TOTALS",
            target_lag="1 minute",
            warehouse="WH",
            refresh_mode="INCREMENTAL",
            query="SELECT ID, SUM(AMOUNT) AS TOTAL FROM {database}.S.ORDERS GROUP BY ID",
            deps=["orders"],
        ),
    ),
)
defs = dg.Definitions(
    assets=build_asset_specs(tenant),
    asset_checks=build_dynamic_table_checks(tenant),
    resources={{"snowflake": SnowflakeResource(account="local", user="local", password="local")}},
)
"""


@dataclass
class DagsterView:
    """What Dagster makes of the harness's DT, with its own code on a real in-process code
    location holding the harness's definitions: the freshness daemon's iteration (the state the
    asset page shows as "Freshness policy: ..."), then the asset health the webserver computes
    (freshness, checks, materialization, and the overall status Dagster derives from them)."""

    harness: Harness
    code: Any

    def health_at(self, moment: datetime) -> dict[str, Any]:
        import asyncio

        from dagster._core.definitions.asset_health.asset_check_health import (
            get_asset_check_status_and_metadata,
        )
        from dagster._core.definitions.asset_health.asset_freshness_health import (
            get_freshness_status_and_metadata,
        )
        from dagster._core.definitions.asset_health.asset_health import (
            overall_status_from_component_statuses,
        )
        from dagster._core.definitions.asset_health.asset_materialization_health import (
            get_materialization_status_and_metadata,
        )
        from dagster._core.test_utils import freeze_time
        from dagster._daemon.freshness import FreshnessDaemon

        async def statuses(context: Any) -> dict[str, Any]:
            freshness, _ = await get_freshness_status_and_metadata(context, KEY)
            checks, _ = await get_asset_check_status_and_metadata(context, KEY)
            materialization, _ = await get_materialization_status_and_metadata(context, KEY)
            return {
                "freshness": freshness,
                "checks": checks,
                "overall": overall_status_from_component_statuses(
                    checks, materialization, freshness
                ),
            }

        with freeze_time(moment):
            list(FreshnessDaemon().run_iteration(self.code))  # the daemon's own iteration
            records = self.harness.instance.get_freshness_state_records([KEY])
            found = asyncio.run(statuses(self.code.create_request_context()))
        found["state"] = records[KEY].freshness_state if KEY in records else None
        return found


@pytest.fixture
def dagster_view(harness, tmp_path) -> Iterator[DagsterView]:
    import sys

    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    path = tmp_path / "shop_location.py"
    path.write_text(_CODE_LOCATION.format(database=harness.database))
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable, python_file=str(path), attribute="defs"
        ),
        location_name="shop",
    )
    target = InProcessWorkspaceLoadTarget(origin)
    ephemeral = harness.instance
    # The workspace hands the instance to code servers: it needs one on disk, not ephemeral.
    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        create_test_daemon_workspace_context(target, instance) as code,
    ):
        harness.instance = instance
        yield DagsterView(harness, code)
    harness.instance = ephemeral


def test_a_quiet_table_within_its_lag_is_healthy_and_unhealthy_once_refreshes_stop(
    harness, dagster_view
):
    def advance(seconds: int) -> datetime:
        (moment,) = harness.run(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK({seconds})")[0]
        return datetime.fromisoformat(moment)

    started = datetime.now(UTC)
    (stand_in_start,) = harness.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(0)")[0]
    harness.tick()  # cold start: the creation refresh is recorded
    assert len(harness.recorded_versions()) == 1

    # Ten minutes without a data change: Snowflake refreshes every minute (NO_DATA), which
    # keeps the table within its 1-minute lag. Before, Dagster's freshness policy failed after
    # 9 minutes without a materialization.
    for _ in range(10):
        harness.now[0] = advance(61)
        harness.run(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER('{harness.database}')")
        assert harness.history()[-1][1:] == ("SUCCEEDED", "NO_DATA")
        harness.tick()
    assert len(harness.recorded_versions()) == 1  # NO_DATA refreshes are no materializations
    elapsed = harness.now[0] - datetime.fromisoformat(stand_in_start)
    quiet = dagster_view.health_at(started + elapsed)
    assert quiet["state"] != FreshnessState.FAIL  # it was FAIL: the daemon's own evaluation
    # No Dagster freshness policy: the within_target_lag check is the table's freshness.
    assert quiet["freshness"] == AssetHealthStatus.NOT_APPLICABLE
    assert quiet["overall"] == AssetHealthStatus.HEALTHY
    assert quiet["checks"] == AssetHealthStatus.HEALTHY

    # Refreshes stop: the data timestamp stays while time passes, past twice the target lag.
    harness.now[0] = advance(150)
    lag = harness.checks(harness.tick())[WITHIN_TARGET_LAG]
    assert (lag.passed, lag.severity) == (False, dg.AssetCheckSeverity.ERROR)
    elapsed = harness.now[0] - datetime.fromisoformat(stand_in_start)
    stopped = dagster_view.health_at(started + elapsed)
    assert stopped["checks"] == AssetHealthStatus.DEGRADED
    assert stopped["overall"] == AssetHealthStatus.DEGRADED
