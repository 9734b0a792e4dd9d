"""The freshness sensor: each completed Dynamic Table refresh becomes a runless materialization.

Every tick sends two statements, however many DTs the tenant declares (see `queries`): the
refresh history since the cursor, and the DTs' current state. Then, per DT:

- each new SUCCEEDED refresh that changed data (action not NO_DATA) becomes one
  `AssetMaterialization`, in refresh order, with `dagster/data_version` = its data timestamp;
- the four health checks are evaluated (see `health`) and reported as `AssetCheckEvaluation`s on
  the first tick and afterwards only when a check's pass/fail, severity or kind changes.

An idle tick reports nothing. Dagster shows every tick that requests no run as SKIPPED; a tick
that recorded something says what in its skip reason, the text the UI's tick list shows
("Recorded 2 refreshes: shop/totals (1); shop/counts (1). ..."), and logs it.

A refresh is identified by (qualified name, data timestamp); before
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

A history too long for one read (more than RESULT_LIMIT = 10,000 refreshes in one schema since
the last read, e.g. after a long outage) is read in pages, oldest first, within the same two
statements per tick (see `window.plan_pages`): nothing is lost and materializations stay in order;
downstream assets of that schema's DTs run once the catch-up is done.

A refresh still running (EXECUTING / SCHEDULED) holds the next read back to its data timestamp,
since it will complete with that timestamp. It stops holding it back once it is stale: its DT has
a later data timestamp (Snowflake runs one refresh of a table at a time, so an older one is not
running any more, whatever its row says), or it is more than `RUNNING_HOLD_LIMIT` behind the
newest data of its schema. A row left in EXECUTING for good (a crashed stand-in) therefore never
pins the sensor, nor keeps a catch-up in pages from converging.
"""

# No `from __future__ import annotations`: Dagster reads the sensor function's annotations
# (context type, resource type) at definition time.
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import dagster as dg
from dagster_snowflake import SnowflakeResource
from snowflake.connector import errors as sf_errors

from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.cursor import (
    SensorCursor,
    TableCursor,
    format_data_version,
    history_ends,
    parse_data_version,
)
from dagster_dynamic_tables.declarations import DynamicTable, Tenant
from dagster_dynamic_tables.health import (
    evaluate_dynamic_table,
    to_check_evaluation,
)
from dagster_dynamic_tables.queries import (
    EXPECTED_FAULTS,
    RESULT_LIMIT,
    DynamicTableState,
    HistoryRead,
    RefreshRecord,
    describe_fault,
    fetch_refresh_history,
    fetch_states,
    read_snowflake,
)
from dagster_dynamic_tables.window import RecordedVersions, next_starts, plan_pages

SENSOR_NAME = "dynamic_table_freshness"

AssetEvent = dg.AssetMaterialization | dg.AssetCheckEvaluation


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
    floors: Mapping[str, datetime] | None = None,
) -> TickResult:
    """Events and next cursor for one tick, from what Snowflake answered (`floors`: see
    `next_starts`)."""
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
        read_before = dt.qualified_name.schema_prefix in cursor.starts
        events.extend(
            materialization(key, dt, record, schema_read_before=read_before) for record in new
        )

        health = dict(previous.health) if previous else {}
        for outcome in evaluate_dynamic_table(dt, states.get(name), now):
            if health.get(outcome.check_name) != outcome.signature:
                events.append(to_check_evaluation(key, outcome))
                health[outcome.check_name] = outcome.signature
        tables[name] = TableCursor(last, health)

    known = _latest_per_name(
        [(n, t.data_timestamp) for n, t in tables.items()]
        + [(n, s.latest_data_timestamp) for n, s in states.items()]
    )
    starts = next_starts(tenant, cursor.starts, refreshes, floors, known)
    return TickResult(events, SensorCursor(tables, starts, cursor.pages, cursor.unreadable))


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
) -> tuple[TickResult, list[str]]:
    """One tick from what the two statements returned: events, next cursor, warnings to log."""
    plan = plan_pages(tenant, cursor, read, result_limit, recorded_versions)
    result = evaluate_tick(
        tenant,
        replace(cursor, pages=plan.pages),
        plan.records,
        states,
        now,
        recorded_versions,
        plan.floors,
    )
    return result, plan.messages


RETRY_UNREADABLE_TICKS = 10
_UNREADABLE = re.compile(r"(?:Database|Schema) '([^']+)' does not exist or not authorized")


def unreadable_database(error: Exception, databases: Iterable[str]) -> str | None:
    """The tenant's database a Snowflake error 002003 names (missing, or no USAGE), if any."""
    if not isinstance(error, sf_errors.ProgrammingError) or error.errno != 2003:
        return None
    found = _UNREADABLE.search(error.raw_msg or str(error))
    if found is None:
        return None
    named = found.group(1).split(".")[0].strip('"')
    return next((db for db in databases if db.upper() == named.upper()), None)


def readable_tables(
    dynamic_tables: Sequence[DynamicTable], cursor: SensorCursor
) -> tuple[list[DynamicTable], set[str]]:
    """The DTs to read this tick, and the databases left out (unreadable, not due for a retry).
    Never all of them: a tenant whose every database is unreadable is read (and skips) as is."""
    left_out = {
        database
        for database, ticks in cursor.unreadable.items()
        if (ticks + 1) % RETRY_UNREADABLE_TICKS
    }
    readable = [dt for dt in dynamic_tables if dt.qualified_name.database.resolved not in left_out]
    return (readable, left_out) if readable else (list(dynamic_tables), set())


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
    result_limit: int = RESULT_LIMIT,
) -> dg.SensorDefinition:
    """The `dynamic_table_freshness` sensor (default RUNNING) watching every DT of the tenant.

    It ticks every `minimum_interval_seconds`, by default the tenant's `sensor_interval_seconds`
    (60 unless declared). Needs the `snowflake` resource (dagster-snowflake's
    `SnowflakeResource`; give it `autocommit=True`, or `get_connection()` adds a COMMIT statement
    to every tick). `clock` is the time lag checks measure against, `result_limit` the
    RESULT_LIMIT of the history read (Snowflake's maximum; smaller only in tests).
    """
    dynamic_tables = list(tenant.dynamic_tables)

    @dg.sensor(  # pyright: ignore[reportUnknownMemberType] -- dagster's signature has an unparameterised PathLike
        name=SENSOR_NAME,
        minimum_interval_seconds=tenant.sensor_interval_seconds
        if minimum_interval_seconds is None
        else minimum_interval_seconds,
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
        ends = history_ends(cursor)
        readable, left_out = readable_tables(dynamic_tables, cursor)
        for database in sorted(left_out):
            context.log.warning(
                f"Database {database} is not read: Snowflake refused it (002003: it does not "
                "exist, or the role lacks USAGE on it) "
                f"{cursor.unreadable[database] + 1} ticks ago; its Dynamic Tables' checks fail "
                f"until it is readable (retried every {RETRY_UNREADABLE_TICKS} ticks)."
            )
        try:
            read, states = read_snowflake(
                snowflake,
                lambda connection: (
                    fetch_refresh_history(
                        connection, readable, cursor.starts, ends, result_limit=result_limit
                    ),
                    fetch_states(connection, readable),
                ),
            )
        except EXPECTED_FAULTS as error:
            fault = describe_fault(error, snowflake)
            if fault is None:
                raise
            reason = (
                f"{fault} The cursor is kept: refreshes that land meanwhile are reported once "
                "Snowflake answers."
            )
            databases = {dt.qualified_name.database.resolved for dt in readable}
            database = unreadable_database(error, databases)
            if database is not None and len(databases) > 1:
                reason = (
                    f"{fault} Database {database} is left out of the next reads (retried every "
                    f"{RETRY_UNREADABLE_TICKS} ticks), so the tenant's other databases keep "
                    "being reported."
                )
                context.log.warning(reason)
                unreadable = {**cursor.unreadable, database: 0}
                kept = replace(cursor, unreadable=unreadable)
                return dg.SensorResult(skip_reason=reason, cursor=kept.to_json())
            context.log.warning(reason)
            return dg.SkipReason(reason)
        cursor = replace(
            cursor,
            unreadable={db: cursor.unreadable[db] + 1 for db in left_out},
        )
        result, messages = run_tick(
            tenant,
            cursor,
            read,
            states,
            clock(),
            _recorded_versions(context.instance),
            result_limit,
        )
        for message in messages:
            context.log.warning(message)
        if not result.events:
            return dg.SensorResult(skip_reason=IDLE_MESSAGE, cursor=result.cursor.to_json())
        summary = describe_events(result.events)
        context.log.info(summary)
        # Dagster shows a tick without run requests as SKIPPED, "Sensor function returned an
        # empty result", even when it recorded events: the skip reason is the one text the tick
        # list shows, so it says what this tick recorded.
        return dg.SensorResult(
            asset_events=result.events, cursor=result.cursor.to_json(), skip_reason=summary
        )

    return dynamic_table_freshness
