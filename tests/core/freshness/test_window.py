"""The freshness sensor's read window on typed rows (no server): a history read longer than
RESULT_LIMIT is set aside and caught up in pages, oldest first; where the next read starts."""

from dataclasses import replace
from datetime import timedelta

from dagster_dynamic_tables.freshness.cursor import SensorCursor
from dagster_dynamic_tables.freshness.window import WINDOW_OVERLAP, next_starts, plan_pages
from dagster_dynamic_tables.sql.statements import HistoryRead
from support.sensor_rows import T0, TENANT, refresh


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
