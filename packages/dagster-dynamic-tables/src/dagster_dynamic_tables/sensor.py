"""The freshness sensor: each completed Dynamic Table refresh becomes a runless materialization.

Every tick sends two statements, however many DTs the tenant declares (see `queries`): the
refresh history since the cursor, and the DTs' current state. Then, per DT:

- each new SUCCEEDED refresh that changed data (action not NO_DATA) becomes one
  `AssetMaterialization`, in refresh order, with `dagster/data_version` = its data timestamp;
- the four health checks are evaluated (see `health`) and reported as `AssetCheckEvaluation`s on
  the first tick and afterwards only when a check's pass/fail, severity or kind changes.

An idle tick reports nothing. A refresh is identified by (qualified name, data timestamp); before
reporting, the sensor compares with the latest materialization the instance already holds for
the DT, so a lost or reset cursor never reports a refresh twice.

Cold start: a DT the cursor has never seen, with no materialization in the instance, gets one
materialization for its latest data-changing refresh in Snowflake's 7-day history (not one per
refresh of the last week), so it does not show as "missing" and downstream `eager()` assets run
once. If the instance already holds one (the cursor was lost), every later refresh is reported.

A Snowflake fault the platform expects (unreachable, timeout, authentication, missing privilege,
no warehouse) ends the tick with a `SkipReason` that says what failed and how to fix it; the cursor
is kept, so the next tick that reaches Snowflake reports everything that landed meanwhile (within
Snowflake's 7-day history). Any other error is raised.
"""

# No `from __future__ import annotations`: Dagster reads the sensor function's annotations
# (context type, resource type) at definition time.
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import dagster as dg
from dagster_snowflake import SnowflakeResource
from snowflake.connector import errors as sf_errors

from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.declarations import DynamicTable, Tenant
from dagster_dynamic_tables.health import (
    CHECK_NAMES,
    SIGNATURE_BYTES,
    evaluate_dynamic_table,
    to_check_evaluation,
)
from dagster_dynamic_tables.local import LocalSetupError
from dagster_dynamic_tables.queries import (
    RESULT_LIMIT,
    DynamicTableState,
    RefreshRecord,
    as_utc,
    describe_snowflake_fault,
    fetch_refresh_history,
    fetch_states,
    read_snowflake,
)

SENSOR_NAME = "dynamic_table_freshness"
CURSOR_VERSION = 1
WINDOW_OVERLAP = timedelta(minutes=1)
"""How far before the last data timestamp seen the next history read starts (re-read rows are
dropped by the per-DT cursor)."""

AssetEvent = dg.AssetMaterialization | dg.AssetCheckEvaluation


def _utc_now() -> datetime:
    return datetime.now(UTC)


def format_data_version(data_timestamp: datetime) -> str:
    """The data version of a refresh: its data timestamp, ISO 8601 in UTC, microseconds."""
    return as_utc(data_timestamp).isoformat(timespec="microseconds")


def parse_data_version(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


# Cursor -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableCursor:
    """What the sensor has reported for one DT."""

    data_timestamp: datetime | None = None
    """Data timestamp of the last refresh reported as a materialization."""
    health: Mapping[str, str] = field(default_factory=dict[str, str])
    """Check name -> signature of the last outcome reported."""


@dataclass(frozen=True)
class SensorCursor:
    """The sensor's cursor, stored as JSON:

    `{"v": 1, "tables": {"DB.SCHEMA.NAME": {"t": "<data timestamp>", "h": "<signatures>"}},
    "starts": {"DB.SCHEMA": "<DATA_TIMESTAMP_START of the next history read>"}}`

    `t` is the data timestamp of the last refresh reported (absent before the first); `h` holds
    the 4-hex-digit signature of the last outcome reported for each check, in `CHECK_NAMES`
    order (`----` for one never reported). Compact on purpose: Dagster stores the cursor with
    every tick, and a tenant may have a thousand DTs (about 80 bytes each).
    """

    tables: Mapping[str, TableCursor] = field(default_factory=dict[str, TableCursor])
    starts: Mapping[str, datetime] = field(default_factory=dict[str, datetime])

    def to_json(self) -> str:
        tables: dict[str, dict[str, Any]] = {}
        for name, table in sorted(self.tables.items()):
            entry: dict[str, Any] = {"h": _pack_health(table.health)}
            if table.data_timestamp is not None:
                entry["t"] = format_data_version(table.data_timestamp)
            tables[name] = entry
        starts = {prefix: format_data_version(start) for prefix, start in self.starts.items()}
        return json.dumps(
            {"v": CURSOR_VERSION, "tables": tables, "starts": starts}, separators=(",", ":")
        )

    @classmethod
    def from_json(cls, text: str | None) -> "SensorCursor":
        """Parse a stored cursor; an empty, foreign or damaged one reads as a fresh start."""
        if not text:
            return cls()
        try:
            data = dict(_items(json.loads(text)))
        except ValueError:
            return cls()
        if data.get("v") != CURSOR_VERSION:
            return cls()
        tables: dict[str, TableCursor] = {}
        for name, value in _items(data.get("tables")):
            entry = dict(_items(value))
            packed = entry.get("h")
            health = _unpack_health(packed if isinstance(packed, str) else "")
            stamp = entry.get("t")
            tables[name] = TableCursor(
                parse_data_version(stamp if isinstance(stamp, str) else None), health
            )
        starts: dict[str, datetime] = {}
        for prefix, value in _items(data.get("starts")):
            start = parse_data_version(value if isinstance(value, str) else None)
            if start is not None:
                starts[prefix] = start
        return cls(tables, starts)


_NO_SIGNATURE = "-" * 2 * SIGNATURE_BYTES


def _pack_health(health: Mapping[str, str]) -> str:
    return "".join(health.get(check, _NO_SIGNATURE) for check in CHECK_NAMES)


def _unpack_health(packed: str) -> dict[str, str]:
    width = len(_NO_SIGNATURE)
    if len(packed) != width * len(CHECK_NAMES):
        return {}
    chunks = (packed[i * width : (i + 1) * width] for i in range(len(CHECK_NAMES)))
    return {
        check: chunk
        for check, chunk in zip(CHECK_NAMES, chunks, strict=True)
        if chunk != _NO_SIGNATURE
    }


def _items(value: object) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        return []
    return [(str(k), v) for k, v in cast("dict[object, Any]", value).items()]


# One tick, without I/O ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TickResult:
    events: list[AssetEvent]
    cursor: SensorCursor


def next_starts(
    tenant: Tenant, previous: Mapping[str, datetime], refreshes: Sequence[RefreshRecord]
) -> dict[str, datetime]:
    """DATA_TIMESTAMP_START per schema prefix for the next read.

    The latest data timestamp seen, held back to the earliest refresh still running (it will
    complete with that data timestamp), minus `WINDOW_OVERLAP`. Only Snowflake's timestamps are
    used, never the sensor's clock. A prefix with no rows keeps its previous start.
    """
    prefix_of = {
        dt.qualified_name.resolved: dt.qualified_name.schema_prefix for dt in tenant.dynamic_tables
    }
    latest: dict[str, datetime] = {}
    running: dict[str, datetime] = {}
    for record in refreshes:
        prefix = prefix_of.get(record.qualified_name)
        moment = record.data_timestamp
        if prefix is None or moment is None:
            continue
        if record.state in ("EXECUTING", "SCHEDULED"):
            running[prefix] = min(running.get(prefix, moment), moment)
        else:
            latest[prefix] = max(latest.get(prefix, moment), moment)
    starts = dict(previous)
    for prefix in {*latest, *running}:
        candidates = [t for t in (latest.get(prefix), running.get(prefix)) if t is not None]
        starts[prefix] = min(candidates) - WINDOW_OVERLAP
    return starts


def truncation_warnings(
    tenant: Tenant, starts: Mapping[str, datetime], refreshes: Sequence[RefreshRecord]
) -> list[str]:
    """One warning per schema whose history read came back with RESULT_LIMIT rows, since the
    cursor's start: Snowflake then returns the most recent refreshes and drops the oldest, so
    refreshes between the start and the oldest row returned may be missing (the latest refresh
    of each DT is not). Not on a cold start, which reports only the latest refresh anyway."""
    warnings: list[str] = []
    for prefix in sorted({dt.qualified_name.schema_prefix for dt in tenant.dynamic_tables}):
        start = starts.get(prefix)
        if start is None:
            continue
        rows = [r for r in refreshes if r.qualified_name.startswith(prefix)]
        if len(rows) < RESULT_LIMIT:
            continue
        oldest = min((r.data_timestamp for r in rows if r.data_timestamp), default=None)
        span = f" between {start.isoformat()} and {oldest.isoformat()}" if oldest else ""
        warnings.append(
            f"The refresh history of {prefix} returned Snowflake's maximum of {RESULT_LIMIT} rows: "
            f"refreshes{span} may be missing, and are not reported as materializations (the "
            "latest refresh of each Dynamic Table is). Fix: run the sensor more often "
            "(sensor_interval_seconds in the declarations), or split the schema's Dynamic Tables "
            "over more schemas."
        )
    return warnings


def materialization(
    key: dg.AssetKey, dt: DynamicTable, record: RefreshRecord
) -> dg.AssetMaterialization:
    """The runless materialization reporting one completed refresh."""
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
    description = (
        f"Snowflake refreshed {dt.qualified_name.resolved}."
        if record.refresh_action
        else f"{dt.qualified_name.resolved} holds data as of this time; its last refresh that "
        "changed data is older than Snowflake's 7-day refresh history."
    )
    return dg.AssetMaterialization(
        asset_key=key,
        description=description,
        metadata=values,
        tags={md.DATA_VERSION_TAG: format_data_version(record.data_timestamp)},
    )


RecordedVersions = Callable[[Sequence[dg.AssetKey]], Mapping[dg.AssetKey, datetime | None]]
"""Data timestamps of the latest materializations the instance holds, per asset key."""


def _new_refreshes(records: Iterable[RefreshRecord], after: datetime | None) -> list[RefreshRecord]:
    """Data-changing refreshes newer than `after`, one per data timestamp, oldest first."""
    by_timestamp: dict[datetime, RefreshRecord] = {}
    for record in records:
        moment = record.data_timestamp
        if record.changed_data and moment is not None and (after is None or moment > after):
            by_timestamp.setdefault(moment, record)
    return [by_timestamp[t] for t in sorted(by_timestamp)]


def _data_as_of(state: DynamicTableState | None) -> list[RefreshRecord]:
    """Cold start for a DT whose last data-changing refresh is older than the 7-day history:
    the data it holds, as of DYNAMIC_TABLES().LATEST_DATA_TIMESTAMP, so it is not shown missing."""
    if state is None or state.latest_data_timestamp is None:
        return []
    return [RefreshRecord(state.qualified_name, "SUCCEEDED", state.latest_data_timestamp)]


def evaluate_tick(
    tenant: Tenant,
    cursor: SensorCursor,
    refreshes: Sequence[RefreshRecord],
    states: Mapping[str, DynamicTableState],
    now: datetime,
    recorded_versions: RecordedVersions,
) -> TickResult:
    """Events and next cursor for one tick, from what Snowflake answered."""
    by_name: dict[str, list[RefreshRecord]] = {}
    for record in refreshes:
        by_name.setdefault(record.qualified_name, []).append(record)

    candidates: dict[str, list[RefreshRecord]] = {}
    for dt in tenant.dynamic_tables:
        name = dt.qualified_name.resolved
        previous = cursor.tables.get(name)
        new = _new_refreshes(by_name.get(name, ()), previous.data_timestamp if previous else None)
        if not new and previous is None:
            new = _data_as_of(states.get(name))
        if new:
            candidates[name] = new
    keys = {
        dt.qualified_name.resolved: dg.AssetKey(tenant.key_path(dt)) for dt in tenant.dynamic_tables
    }
    recorded: Mapping[dg.AssetKey, datetime | None] = (
        recorded_versions([keys[name] for name in candidates]) if candidates else {}
    )

    events: list[AssetEvent] = []
    tables: dict[str, TableCursor] = dict(cursor.tables)
    for dt in tenant.dynamic_tables:
        name = dt.qualified_name.resolved
        key = keys[name]
        previous = cursor.tables.get(name)
        last = previous.data_timestamp if previous else None
        new = candidates.get(name, [])
        if new:
            already = recorded.get(key)
            new = [r for r in new if already is None or (r.data_timestamp or already) > already]
            if previous is None and already is None:
                new = new[-1:]  # cold start: the latest refresh only
            last = max(
                t for t in (last, already, *(r.data_timestamp for r in new)) if t is not None
            )
        events.extend(materialization(key, dt, record) for record in new)

        health = dict(previous.health) if previous else {}
        for outcome in evaluate_dynamic_table(dt, states.get(name), now):
            if health.get(outcome.check_name) != outcome.signature:
                events.append(to_check_evaluation(key, outcome))
                health[outcome.check_name] = outcome.signature
        tables[name] = TableCursor(last, health)

    starts = next_starts(tenant, cursor.starts, refreshes)
    return TickResult(events, SensorCursor(tables, starts))


# The sensor -------------------------------------------------------------------------------------


def _recorded_versions(instance: dg.DagsterInstance) -> RecordedVersions:
    def lookup(keys: Sequence[dg.AssetKey]) -> Mapping[dg.AssetKey, datetime | None]:
        entries = instance.get_latest_materialization_events(keys)
        versions: dict[dg.AssetKey, datetime | None] = {}
        for key in keys:
            entry = entries.get(key)
            event = entry.asset_materialization if entry else None
            tags = (event.tags or {}) if event else {}
            versions[key] = parse_data_version(tags.get(md.DATA_VERSION_TAG))
        return versions

    return lookup


def build_freshness_sensor(
    tenant: Tenant,
    *,
    minimum_interval_seconds: int | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> dg.SensorDefinition:
    """The `dynamic_table_freshness` sensor (default RUNNING) watching every DT of the tenant.

    It ticks every `minimum_interval_seconds`, by default the tenant's `sensor_interval_seconds`
    (60 unless declared). Needs the `snowflake` resource (dagster-snowflake's
    `SnowflakeResource`; give it `autocommit=True`, or `get_connection()` adds a COMMIT statement
    to every tick). `clock` is the time lag checks measure against (injectable for tests).
    """
    dynamic_tables = list(tenant.dynamic_tables)

    @dg.sensor(  # pyright: ignore[reportUnknownMemberType] -- dagster's signature has an unparameterised PathLike
        name=SENSOR_NAME,
        minimum_interval_seconds=minimum_interval_seconds or tenant.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Records each completed refresh of {tenant.slug}'s Snowflake Dynamic Tables as a "
            "materialization and reports their health checks."
        ),
    )
    def dynamic_table_freshness(
        context: dg.SensorEvaluationContext, snowflake: SnowflakeResource
    ) -> dg.SensorResult | dg.SkipReason:
        if not dynamic_tables:
            return dg.SkipReason(f"Tenant {tenant.slug!r} declares no Dynamic Table.")
        cursor = SensorCursor.from_json(context.cursor)
        try:
            refreshes, states = read_snowflake(
                snowflake,
                lambda connection: (
                    fetch_refresh_history(connection, dynamic_tables, cursor.starts),
                    fetch_states(connection, dynamic_tables),
                ),
            )
        except (sf_errors.Error, LocalSetupError) as error:
            fault = (
                str(error)
                if isinstance(error, LocalSetupError)
                else describe_snowflake_fault(error, snowflake)
            )
            if fault is None:
                raise
            reason = (
                f"{fault} The cursor is kept: refreshes that land meanwhile are reported once "
                "Snowflake answers."
            )
            context.log.warning(reason)
            return dg.SkipReason(reason)
        for warning in truncation_warnings(tenant, cursor.starts, refreshes):
            context.log.warning(warning)
        result = evaluate_tick(
            tenant, cursor, refreshes, states, clock(), _recorded_versions(context.instance)
        )
        if not result.events:
            return dg.SensorResult(
                skip_reason="No new Dynamic Table refresh and no health change.",
                cursor=result.cursor.to_json(),
            )
        return dg.SensorResult(asset_events=result.events, cursor=result.cursor.to_json())

    return dynamic_table_freshness
