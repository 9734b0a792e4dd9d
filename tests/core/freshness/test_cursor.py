"""The freshness sensor's cursor (no server): its JSON round trip, and what it reads as a fresh
start (older versions, damage)."""

import json
from datetime import timedelta

import pytest
from dagster_dynamic_tables.freshness.cursor import SchemaDigests, SensorCursor
from dagster_dynamic_tables.freshness.window import WINDOW_OVERLAP
from support.sensor_rows import T0


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


def test_the_sources_columns_digest_round_trips_and_older_cursors_have_none():
    cursor = SensorCursor(starts={"ANALYTICS.S": T0}, columns="0123456789ab")
    assert '"c":"0123456789ab"' in cursor.to_json()
    assert SensorCursor.from_json(cursor.to_json()) == cursor
    # A cursor written before the column schemas (issue 20) keeps everything else.
    before = '{"v":2,"starts":{"ANALYTICS.S":"2026-11-20T10:00:00.000000+00:00"}}'
    assert SensorCursor.from_json(before) == SensorCursor(starts={"ANALYTICS.S": T0})
    damaged = '{"v":2,"starts":{},"c":5}'
    assert SensorCursor.from_json(damaged) == SensorCursor()
