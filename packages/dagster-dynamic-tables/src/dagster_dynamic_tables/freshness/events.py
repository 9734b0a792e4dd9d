"""What the freshness sensor reports, and what a tick recorded in words: the runless
materialization of one completed refresh (`materialization`), and the summary a tick's skip
reason and log give (`describe_events`, `IDLE_MESSAGE` for a tick that recorded nothing). The
check evaluations are `health.rules.to_check_event`.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.freshness.cursor import format_data_version
from dagster_dynamic_tables.sql.records import RefreshRecord

AssetEvent = dg.AssetMaterialization | dg.AssetObservation | dg.AssetCheckEvaluation


def materialization(
    key: dg.AssetKey, dt: DynamicTable, record: RefreshRecord, *, schema_read_before: bool = False
) -> dg.AssetMaterialization:
    """The runless materialization reporting one completed refresh (`schema_read_before`: for
    the data a DT holds as of its latest data timestamp, whether the sensor was already reading
    its schema's history, so the table is new to the sensor rather than refreshed long ago)."""
    assert record.data_timestamp is not None  # changed_data guarantees it
    values: dict[str, dg.MetadataValue] = {
        md.SNOWFLAKE_TABLE: dg.MetadataValue.text(dt.qualified_name.resolved),
        md.DATA_TIMESTAMP: dg.MetadataValue.timestamp(record.data_timestamp),
    }
    if record.refresh_action:
        values[md.REFRESH_ACTION] = dg.MetadataValue.text(record.refresh_action)
    if record.refresh_trigger:
        values[md.REFRESH_TRIGGER] = dg.MetadataValue.text(record.refresh_trigger)
    if record.refresh_start_time:
        values[md.REFRESH_START_TIME] = dg.MetadataValue.timestamp(record.refresh_start_time)
    if record.refresh_end_time:
        values[md.REFRESH_END_TIME] = dg.MetadataValue.timestamp(record.refresh_end_time)
    if record.duration_seconds is not None:
        values[md.REFRESH_DURATION_SECONDS] = dg.MetadataValue.float(record.duration_seconds)
    for name, number in statistics_metadata(record).items():
        values[name] = dg.MetadataValue.int(number)
    if record.query_id:
        values[md.QUERY_ID] = dg.MetadataValue.text(record.query_id)
    name = dt.qualified_name.resolved
    if record.refresh_action:
        description = f"Snowflake refreshed {name}."
    elif schema_read_before:
        description = (
            f"{name} holds data as of this time. It is new to this sensor (declared, or created, "
            "after the sensor began reading its schema), and its last refresh that changed data "
            "came before the part of the refresh history the sensor reads now."
        )
    else:
        description = (
            f"{name} holds data as of this time; its last refresh that changed data is older "
            "than Snowflake's 7-day refresh history."
        )
    return dg.AssetMaterialization(
        asset_key=key,
        description=description,
        metadata=values,
        tags={md.DATA_VERSION_TAG: format_data_version(record.data_timestamp)},
    )


def statistics_metadata(record: RefreshRecord) -> dict[str, int]:
    """The refresh's STATISTICS as metadata: each number Snowflake reported (a key it left out,
    or one that is not a whole number, is left out too)."""
    numbers = {
        md.ROWS_INSERTED: record.rows_inserted,
        md.ROWS_DELETED: record.rows_deleted,
        md.ROWS_COPIED: record.rows_copied,
        md.PARTITIONS_ADDED: record.partitions_added,
        md.PARTITIONS_REMOVED: record.partitions_removed,
        md.QUEUED_TIME_MS: record.queued_time_ms,
        md.COMPILATION_TIME_MS: record.compilation_time_ms,
        md.EXECUTION_TIME_MS: record.execution_time_ms,
    }
    return {name: number for name, number in numbers.items() if number is not None}


IDLE_MESSAGE = "No new Dynamic Table refresh and no health change."
SUMMARY_ITEMS = 10
"""How many tables a tick's summary names before it says "and N more"."""


def describe_events(events: Sequence[AssetEvent], *, tests: Sequence[dg.AssetCheckKey] = ()) -> str:
    """What a tick recorded, in words: refreshes per DT, then check results that changed
    (failures one by one, passes counted per table), then the run of data `tests` it requested.

    `Recorded 2 refreshes: shop/totals (2). 2 health check results changed: failed: shop/totals
    within_target_lag (WARN); passed: 1 (shop/totals). No run requested: ...`
    """
    refreshes: dict[str, int] = {}
    failed: list[str] = []
    passed: dict[str, int] = {}
    observed: list[str] = []
    for event in events:
        name = event.asset_key.to_user_string()
        if isinstance(event, dg.AssetMaterialization):
            refreshes[name] = refreshes.get(name, 0) + 1
        elif isinstance(event, dg.AssetObservation):
            observed.append(name)
        elif event.passed:
            passed[name] = passed.get(name, 0) + 1
        else:
            failed.append(f"{name} {event.check_name} ({event.severity.value})")
    parts: list[str] = []
    if refreshes:
        total = sum(refreshes.values())
        items = [f"{name} ({count})" for name, count in refreshes.items()]
        parts.append(f"Recorded {_plural(total, 'refresh', 'refreshes')}: {_listed(items)}.")
    if failed or passed:
        total = len(failed) + sum(passed.values())
        outcomes: list[str] = []
        if failed:
            outcomes.append(f"failed: {_listed(failed)}")
        if passed:
            outcomes.append(f"passed: {sum(passed.values())} ({_listed(list(passed))})")
        parts.append(
            f"{_plural(total, 'health check result', 'health check results')} changed: "
            f"{'; '.join(outcomes)}."
        )
    if observed:
        parts.append(
            f"Recorded the columns of {_plural(len(observed), 'source', 'sources')}: "
            f"{_listed(observed)}."
        )
    if tests:
        tables = list(dict.fromkeys(key.asset_key.to_user_string() for key in tests))
        parts.append(
            f"Requested one run of {_plural(len(tests), 'data test', 'data tests')} of "
            f"{_listed(tables)}."
        )
    else:
        parts.append("No run requested: Dynamic Table refreshes are recorded without runs.")
    return " ".join(parts)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _listed(items: Sequence[str]) -> str:
    shown = "; ".join(items[:SUMMARY_ITEMS])
    rest = len(items) - SUMMARY_ITEMS
    return shown if rest <= 0 else f"{shown}; and {rest} more"
