"""One tick of the freshness sensor, without I/O: from what Snowflake answered and what the
instance holds, the events to report and the next cursor (`evaluate_tick`, `run_tick`); which
schemas moved since the last tick (`shown_digests`, `moved_schemas`); and what a tick recorded, in
words (`describe_events`). The sensor (`sensor.py`) does the reading and the reporting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import dagster as dg

from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.freshness.cursor import SchemaDigests, SensorCursor, format_data_version
from dagster_dynamic_tables.freshness.show import digest, fingerprint
from dagster_dynamic_tables.freshness.window import RecordedVersions, next_starts, plan_pages
from dagster_dynamic_tables.health.rules import (
    evaluate_dynamic_table,
    to_check_evaluation,
    within_target_lag,
)
from dagster_dynamic_tables.sql.records import DynamicTableState, RefreshRecord
from dagster_dynamic_tables.sql.statements import RESULT_LIMIT, HistoryRead

AssetEvent = dg.AssetMaterialization | dg.AssetCheckEvaluation
RecordedChecks = Callable[[Sequence[dg.AssetCheckKey]], Mapping[dg.AssetCheckKey, str | None]]
"""Signatures of the latest check evaluations the instance holds (None: none, or unknown)."""


def _none_recorded(keys: Sequence[dg.AssetCheckKey]) -> Mapping[dg.AssetCheckKey, str | None]:
    return dict.fromkeys(keys)


# One tick, without I/O ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TickResult:
    events: list[AssetEvent]
    cursor: SensorCursor


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
    if record.rows_inserted is not None:
        values[md.ROWS_INSERTED] = dg.MetadataValue.int(record.rows_inserted)
    if record.rows_deleted is not None:
        values[md.ROWS_DELETED] = dg.MetadataValue.int(record.rows_deleted)
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


def _new_refreshes(records: Iterable[RefreshRecord]) -> list[RefreshRecord]:
    """Data-changing refreshes, one per data timestamp, oldest first."""
    by_timestamp: dict[datetime, RefreshRecord] = {}
    for record in records:
        moment = record.data_timestamp
        if record.changed_data and moment is not None:
            by_timestamp.setdefault(moment, record)
    return [by_timestamp[t] for t in sorted(by_timestamp)]


def _data_as_of(state: DynamicTableState | None) -> list[RefreshRecord]:
    """Cold start for a DT whose last data-changing refresh is older than the history read:
    the data it holds, as of its latest data timestamp, so it is not shown missing."""
    if state is None or state.latest_data_timestamp is None:
        return []
    return [RefreshRecord(state.qualified_name, "SUCCEEDED", state.latest_data_timestamp)]


def _by_schema(tenant: Tenant) -> dict[str, list[DynamicTable]]:
    schemas: dict[str, list[DynamicTable]] = {}
    for dt in tenant.dynamic_tables:
        schemas.setdefault(dt.qualified_name.schema_prefix, []).append(dt)
    return schemas


def shown_digests(
    tenant: Tenant, shown: Mapping[str, DynamicTableState], now: datetime
) -> dict[str, SchemaDigests]:
    """Per schema, the digests of what SHOW reports (fingerprints, lag outcomes) and of the
    declared names; `health` is left empty (it needs the second statement)."""
    digests: dict[str, SchemaDigests] = {}
    for prefix, tables in _by_schema(tenant).items():
        names = sorted(dt.qualified_name.resolved for dt in tables)
        states = {
            dt.qualified_name.resolved: shown.get(dt.qualified_name.resolved) for dt in tables
        }
        lags = {
            dt.qualified_name.resolved: _lag_signature(dt, states[dt.qualified_name.resolved], now)
            for dt in tables
        }
        digests[prefix] = SchemaDigests(
            shown=digest(f"{name}={fingerprint(states[name])}" for name in names),
            lag=digest(f"{name}={lags[name]}" for name in names),
            roster=digest(names),
        )
    return digests


def _lag_signature(dt: DynamicTable, state: DynamicTableState | None, now: datetime) -> str:
    if state is None or state.metadata_hidden:
        return "-"
    return within_target_lag(dt, state, now).signature


def moved_schemas(
    tenant: Tenant, cursor: SensorCursor, current: Mapping[str, SchemaDigests], full: bool
) -> set[str]:
    """The schemas to read this tick: every one on a full read; else those whose SHOW digests
    or declared names differ from the cursor's, and those with history pages to catch up."""
    declared = set(_by_schema(tenant))
    if full:
        return declared
    moved = {prefix for prefix, ends in cursor.pages.items() if ends and prefix in declared}
    for prefix, now_seen in current.items():
        before = cursor.digests.get(prefix)
        if before is None or (before.shown, before.lag, before.roster) != (
            now_seen.shown,
            now_seen.lag,
            now_seen.roster,
        ):
            moved.add(prefix)
    return moved


def evaluate_tick(
    tenant: Tenant,
    cursor: SensorCursor,
    refreshes: Sequence[RefreshRecord],
    states: Mapping[str, DynamicTableState],
    now: datetime,
    recorded_versions: RecordedVersions,
    floors: Mapping[str, datetime] | None = None,
    *,
    recorded_checks: RecordedChecks = _none_recorded,
    schemas: Iterable[str] | None = None,
    shown: Mapping[str, DynamicTableState] | None = None,
    current: Mapping[str, SchemaDigests] | None = None,
) -> TickResult:
    """Events and next cursor for one tick, from what Snowflake answered.

    `schemas`: the schema prefixes read this tick (default: all); `states`: their DTs' merged
    state; `shown`: what SHOW reported (default: `states`); `current`: `shown_digests` of it, when
    the caller already has them; `floors`: see `next_starts`.
    """
    by_schema = _by_schema(tenant)
    read = set(by_schema if schemas is None else schemas) & set(by_schema)
    tables = [dt for prefix in sorted(read) for dt in by_schema[prefix]]
    seen = states if shown is None else shown
    if current is None:
        current = shown_digests(tenant, seen, now)
    keys = {dt.qualified_name.resolved: dg.AssetKey(tenant.key_path(dt)) for dt in tables}

    by_name: dict[str, list[RefreshRecord]] = {}
    for record in refreshes:
        by_name.setdefault(record.qualified_name, []).append(record)
    candidates: dict[str, list[RefreshRecord]] = {}
    as_of: set[str] = set()
    for dt in tables:
        name = dt.qualified_name.resolved
        new = _new_refreshes(by_name.get(name, ()))
        before = cursor.digests.get(dt.qualified_name.schema_prefix)
        if not new and (
            before is None or before.roster != current[dt.qualified_name.schema_prefix].roster
        ):
            new = _data_as_of(states.get(name))  # perhaps a table new to the sensor
            as_of.add(name)
        if new:
            candidates[name] = new
    recorded: Mapping[dg.AssetKey, datetime | None] = (
        recorded_versions([keys[name] for name in candidates]) if candidates else {}
    )

    events: list[AssetEvent] = []
    for dt in tables:
        name = dt.qualified_name.resolved
        new = candidates.get(name, [])
        already = recorded.get(keys[name])
        if name in as_of and already is not None:
            # The instance holds its data: a later data timestamp with no data-changing refresh
            # in the history read is a NO_DATA refresh, not a materialization.
            new = []
        new = [r for r in new if already is None or (r.data_timestamp or already) > already]
        if already is None:
            new = new[-1:]  # never reported: the latest refresh only
        read_before = dt.qualified_name.schema_prefix in cursor.starts
        events.extend(
            materialization(keys[name], dt, record, schema_read_before=read_before)
            for record in new
        )

    digests = dict(cursor.digests)
    for prefix in sorted(read):
        outcomes = {
            dg.AssetCheckKey(keys[dt.qualified_name.resolved], outcome.check_name): outcome
            for dt in by_schema[prefix]
            for outcome in evaluate_dynamic_table(dt, states.get(dt.qualified_name.resolved), now)
        }
        health = digest(
            f"{key.asset_key.to_user_string()}/{key.name}={outcome.signature}"
            for key, outcome in sorted(outcomes.items(), key=lambda item: item[0].to_user_string())
        )
        before = cursor.digests.get(prefix)
        if before is None or before.health != health:
            stored = recorded_checks(list(outcomes))
            events.extend(
                to_check_evaluation(key.asset_key, outcome)
                for key, outcome in outcomes.items()
                if stored.get(key) != outcome.signature
            )
        digests[prefix] = replace(current[prefix], health=health)
        if (
            prefix in (floors or {})
            or cursor.pages.get(prefix)
            or _ahead_of_history(by_schema[prefix], cursor.starts.get(prefix), seen, refreshes)
        ):
            # Read up to a page's end only, or SHOW reports a refresh the history did not return
            # yet: what SHOW saw is still to be read, on the next tick.
            digests[prefix] = replace(digests[prefix], shown="")

    known = _latest_per_name(
        [(n, s.latest_data_timestamp) for n, s in states.items()]
        + [(n, s.latest_data_timestamp) for n, s in seen.items()]
    )
    starts = next_starts(tenant, cursor.starts, refreshes, floors, known)
    return TickResult(events, replace(cursor, starts=starts, digests=digests))


SHOW_HISTORY_TOLERANCE = timedelta(seconds=1)
"""How far a table's history row may be from SHOW's data timestamp and still be the same refresh
(the two may not be written with the same precision)."""


def _ahead_of_history(
    tables: Sequence[DynamicTable],
    start: datetime | None,
    shown: Mapping[str, DynamicTableState],
    refreshes: Sequence[RefreshRecord],
) -> bool:
    """Whether SHOW reports, for a table of the schema, a data timestamp inside the window just
    read (since `start`) that no row of the history read reaches: Snowflake listed the refresh
    in SHOW before its history function returned it."""
    if start is None:
        return False
    newest: dict[str, datetime] = {}
    for record in refreshes:
        if record.data_timestamp is not None:
            name = record.qualified_name
            newest[name] = max(newest.get(name, record.data_timestamp), record.data_timestamp)
    for dt in tables:
        name = dt.qualified_name.resolved
        state = shown.get(name)
        moment = state.latest_data_timestamp if state else None
        if moment is None or moment < start:
            continue
        if name not in newest or newest[name] < moment - SHOW_HISTORY_TOLERANCE:
            return True
    return False


def _latest_per_name(pairs: Iterable[tuple[str, datetime | None]]) -> dict[str, datetime]:
    latest: dict[str, datetime] = {}
    for name, moment in pairs:
        if moment is not None:
            latest[name] = max(latest.get(name, moment), moment)
    return latest


def run_tick(
    tenant: Tenant,
    cursor: SensorCursor,
    read: HistoryRead,
    states: Mapping[str, DynamicTableState],
    now: datetime,
    recorded_versions: RecordedVersions,
    result_limit: int = RESULT_LIMIT,
    *,
    recorded_checks: RecordedChecks = _none_recorded,
    schemas: Iterable[str] | None = None,
    shown: Mapping[str, DynamicTableState] | None = None,
    current: Mapping[str, SchemaDigests] | None = None,
) -> tuple[TickResult, list[str]]:
    """One tick from what the statements returned: events, next cursor, warnings to log."""
    plan = plan_pages(tenant, cursor, read, result_limit, recorded_versions)
    result = evaluate_tick(
        tenant,
        replace(cursor, pages=plan.pages),
        plan.records,
        states,
        now,
        recorded_versions,
        plan.floors,
        recorded_checks=recorded_checks,
        schemas=schemas,
        shown=shown,
        current=current,
    )
    return result, plan.messages


IDLE_MESSAGE = "No new Dynamic Table refresh and no health change."
SUMMARY_ITEMS = 10
"""How many tables a tick's summary names before it says "and N more"."""


def describe_events(events: Sequence[AssetEvent]) -> str:
    """What a tick recorded, in words: refreshes per DT, then check results that changed
    (failures one by one, passes counted per table).

    `Recorded 2 refreshes: shop/totals (2). 2 health check results changed: failed: shop/totals
    within_target_lag (WARN); passed: 1 (shop/totals). No run requested: ...`
    """
    refreshes: dict[str, int] = {}
    failed: list[str] = []
    passed: dict[str, int] = {}
    for event in events:
        name = event.asset_key.to_user_string()
        if isinstance(event, dg.AssetMaterialization):
            refreshes[name] = refreshes.get(name, 0) + 1
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
    parts.append("No run requested: Dynamic Table refreshes are recorded without runs.")
    return " ".join(parts)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _listed(items: Sequence[str]) -> str:
    shown = "; ".join(items[:SUMMARY_ITEMS])
    rest = len(items) - SUMMARY_ITEMS
    return shown if rest <= 0 else f"{shown}; and {rest} more"
