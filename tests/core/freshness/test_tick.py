"""The freshness sensor's tick on typed rows (no server, no stand-in): which refreshes a tick
reports as materializations, which health changes it reports, where the next read starts, and
what its skip reason says."""

from dataclasses import replace
from datetime import timedelta

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.freshness.cursor import SensorCursor
from dagster_dynamic_tables.freshness.events import describe_events
from dagster_dynamic_tables.freshness.moved import moved_schemas, shown_digests
from dagster_dynamic_tables.freshness.tick import TickContext, evaluate_tick
from dagster_dynamic_tables.freshness.window import WINDOW_OVERLAP
from dagster_dynamic_tables.health.rules import (
    CHECK_NAMES,
    REFRESH_SUCCEEDED,
    SCHEDULING_ACTIVE,
    WITHIN_TARGET_LAG,
)
from dagster_dynamic_tables.sql.records import RefreshRecord, SchedulingState
from support.sensor_rows import (
    DT,
    KEY,
    NAME,
    T0,
    TENANT,
    Memory,
    check_names,
    materialized_versions,
    nothing_recorded,
    refresh,
    state,
)

AT_T0 = TickContext(TENANT, T0, nothing_recorded)
"""A tick at T0 whose instance holds nothing yet."""


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
    result = evaluate_tick(AT_T0, cursor, [], {NAME: state(-30)})
    (event,) = [e for e in result.events if isinstance(e, dg.AssetMaterialization)]
    assert materialized_versions([event]) == ["2026-11-20T09:30:00.000000+00:00"]
    assert "older than Snowflake's 7-day refresh history" not in (event.description or "")
    assert "It is new to this sensor" in (event.description or "")


def test_cold_start_of_a_dt_that_never_refreshed_reports_no_materialization():
    result = evaluate_tick(AT_T0, SensorCursor(), [], {NAME: state(latest_data_timestamp=None)})
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
    result = evaluate_tick(AT_T0, SensorCursor(), refreshes, {NAME: state(1)})
    assert result.cursor.starts["ANALYTICS.S"] == T0 + timedelta(minutes=1) - WINDOW_OVERLAP
    result = evaluate_tick(AT_T0, result.cursor, [refresh(3, state="EXECUTING")], {NAME: state(1)})
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
    result = evaluate_tick(AT_T0, SensorCursor(), refreshes, {NAME: state(3)})
    assert result.cursor.starts["ANALYTICS.S"] == T0 + timedelta(minutes=3) - WINDOW_OVERLAP
    later = evaluate_tick(AT_T0, result.cursor, [refresh(1, state="EXECUTING")], {NAME: state(3)})
    assert later.cursor.starts["ANALYTICS.S"] == T0 + timedelta(minutes=3) - WINDOW_OVERLAP


def test_lost_cursor_reports_only_refreshes_newer_than_the_instance_holds():
    refreshes = [refresh(0), refresh(1), refresh(2)]

    def recorded(keys):
        return dict.fromkeys(keys, T0 + timedelta(minutes=1))

    result = evaluate_tick(
        TickContext(TENANT, T0, recorded), SensorCursor(), refreshes, {NAME: state(2)}
    )
    assert materialized_versions(result.events) == ["2026-11-20T10:02:00.000000+00:00"]


def test_lost_cursor_catches_up_every_refresh_after_the_last_recorded_one():
    refreshes = [refresh(minute) for minute in range(5)]

    def recorded(keys):
        return dict.fromkeys(keys, T0 + timedelta(minutes=1))

    result = evaluate_tick(
        TickContext(TENANT, T0, recorded), SensorCursor(), refreshes, {NAME: state(4)}
    )
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
