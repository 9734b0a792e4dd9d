"""The freshness sensor: each completed Dynamic Table refresh becomes a runless materialization.

Every tick starts with `SHOW DYNAMIC TABLES IN DATABASE <db>` (see `show`), a metadata command
that needs no warehouse. When nothing moved in a schema since the last tick (the same data
timestamps, scheduling states and definitions, the same `within_target_lag` outcomes), the tick
ends there: an idle tick costs no warehouse time. Otherwise one more statement (see `reads`)
reads the refresh history of the schemas that moved and `DYNAMIC_TABLES()` of their databases:
two statements per tick at most for a tenant in one database. Every `FULL_READ_INTERVAL` every
schema is read whether it moved or not: SHOW does not report a failed refresh, which leaves the
data timestamp where it was (the lag check, evaluated from SHOW on every tick, reports it once the
lag passes 1.5x the target; Snowflake suspends a table after 5 failures in a row, which SHOW
reports).

Then, per DT of a schema read:

- each new SUCCEEDED refresh that changed data (action not NO_DATA) becomes one
  `AssetMaterialization`, in refresh order, with `dagster/data_version` = its data timestamp;
- the four health checks are evaluated (see `health`) and reported as `AssetCheckEvaluation`s
  when a check's pass/fail, severity or kind differs from the latest evaluation the instance
  holds (the kind is stored as `outcome` metadata).

An idle tick reports nothing. Dagster shows every tick that requests no run as SKIPPED; a tick
that recorded something says what in its skip reason, the text the UI's tick list shows
("Recorded 2 refreshes: shop/totals (1); shop/counts (1). ..."), and logs it.

A refresh is identified by (qualified name, data timestamp); before reporting, the sensor compares
with the latest materialization the instance already holds for the DT, so a lost or reset cursor
never reports a refresh twice. The cursor keeps nothing per DT (see `cursor`): a few hundred
bytes per schema.

Cold start: a DT with no materialization in the instance gets one materialization for its latest
data-changing refresh in Snowflake's 7-day history (not one per refresh of the last week), so it
does not show as "missing" and downstream `eager()` assets run once; with no such refresh, one for
the data it holds (its latest data timestamp). If the instance already holds one (the cursor was
lost), every later refresh is reported.

A Snowflake fault the platform expects (unreachable, timeout, authentication, missing privilege,
no warehouse) ends the tick with a `SkipReason` that says what failed and how to fix it; the cursor
is kept, so the next tick that reaches Snowflake reports everything that landed meanwhile (within
Snowflake's 7-day history). Any other error is raised.

A history too long for one read (more than RESULT_LIMIT = 10,000 refreshes in one schema since
the last read, e.g. after a long outage) is read in pages, oldest first (see
`window.plan_pages`): nothing is lost and materializations stay in order; downstream assets of
that schema's DTs run once the catch-up is done.

A refresh still running (EXECUTING / SCHEDULED) holds the next read back to its data timestamp,
since it will complete with that timestamp, or, for a row that has none yet, to its table's
latest data timestamp, which its data timestamp will follow (see `window.next_starts`).
"""

# No `from __future__ import annotations`: Dagster reads the sensor function's annotations
# (context type, resource type) at definition time.
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import dagster as dg
from dagster_snowflake import SnowflakeResource
from snowflake.connector import errors as sf_errors

from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.cursor import (
    SchemaDigests,
    SensorCursor,
    format_data_version,
    history_ends,
    parse_data_version,
)
from dagster_dynamic_tables.declarations import DynamicTable, Tenant
from dagster_dynamic_tables.faults import EXPECTED_FAULTS, describe_fault
from dagster_dynamic_tables.health import (
    evaluate_dynamic_table,
    stored_signature,
    to_check_evaluation,
    within_target_lag,
)
from dagster_dynamic_tables.queries import (
    RESULT_LIMIT,
    DynamicTableState,
    HistoryRead,
    RefreshRecord,
    read_snowflake,
)
from dagster_dynamic_tables.reads import TickRead, fetch_tick, merge_states
from dagster_dynamic_tables.show import ShowRead, digest, fetch_show, fingerprint
from dagster_dynamic_tables.window import RecordedVersions, next_starts, plan_pages

SENSOR_NAME = "dynamic_table_freshness"
FULL_READ_INTERVAL = timedelta(minutes=15)
"""How often every schema is read (history and DYNAMIC_TABLES()) whether SHOW saw it move or not:
the longest a failed refresh that moved nothing else goes unreported by `refresh_succeeded`."""

AssetEvent = dg.AssetMaterialization | dg.AssetCheckEvaluation
RecordedChecks = Callable[[Sequence[dg.AssetCheckKey]], Mapping[dg.AssetCheckKey, str | None]]
"""Signatures of the latest check evaluations the instance holds (None: none, or unknown)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
) -> TickResult:
    """Events and next cursor for one tick, from what Snowflake answered.

    `schemas`: the schema prefixes read this tick (default: all); `states`: their DTs' merged
    state; `shown`: what SHOW reported (default: `states`), for the cursor's digests; `floors`:
    see `next_starts`.
    """
    by_schema = _by_schema(tenant)
    read = set(by_schema if schemas is None else schemas) & set(by_schema)
    tables = [dt for prefix in sorted(read) for dt in by_schema[prefix]]
    current = shown_digests(tenant, states if shown is None else shown, now)
    keys = {dt.qualified_name.resolved: dg.AssetKey(tenant.key_path(dt)) for dt in tables}

    by_name: dict[str, list[RefreshRecord]] = {}
    for record in refreshes:
        by_name.setdefault(record.qualified_name, []).append(record)
    candidates: dict[str, list[RefreshRecord]] = {}
    for dt in tables:
        name = dt.qualified_name.resolved
        new = _new_refreshes(by_name.get(name, ()))
        before = cursor.digests.get(dt.qualified_name.schema_prefix)
        if not new and (
            before is None or before.roster != current[dt.qualified_name.schema_prefix].roster
        ):
            new = _data_as_of(states.get(name))  # a table new to the sensor
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
        if prefix in (floors or {}) or cursor.pages.get(prefix):
            # Read up to a page's end only: what SHOW saw after it is still to be read.
            digests[prefix] = replace(digests[prefix], shown="")

    known = _latest_per_name(
        [(n, s.latest_data_timestamp) for n, s in states.items()]
        + [(n, s.latest_data_timestamp) for n, s in (shown or {}).items()]
    )
    starts = next_starts(tenant, cursor.starts, refreshes, floors, known)
    return TickResult(events, replace(cursor, starts=starts, digests=digests))


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


def _recorded_checks(instance: dg.DagsterInstance) -> RecordedChecks:
    def lookup(keys: Sequence[dg.AssetCheckKey]) -> Mapping[dg.AssetCheckKey, str | None]:
        records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
        signatures: dict[dg.AssetCheckKey, str | None] = dict.fromkeys(keys)
        for key, record in records.items():
            entry = record.event
            data = (
                entry.dagster_event.event_specific_data if entry and entry.dagster_event else None
            )
            if isinstance(data, dg.AssetCheckEvaluation):
                signatures[key] = stored_signature(data)
        return signatures

    return lookup


@dataclass(frozen=True)
class _Reads:
    shown: ShowRead
    moved: set[str]
    tick: TickRead | None


def _read(
    connection: object,
    tenant: Tenant,
    readable: Sequence[DynamicTable],
    cursor: SensorCursor,
    now: datetime,
    full: bool,
    result_limit: int,
) -> _Reads:
    """SHOW; then, if a schema moved, its history and DYNAMIC_TABLES() (one statement)."""
    shown = fetch_show(connection, readable)  # pyright: ignore[reportArgumentType] -- a connector connection
    moved = moved_schemas(tenant, cursor, shown_digests(tenant, shown.states, now), full)
    tables = [dt for dt in readable if dt.qualified_name.schema_prefix in moved]
    if not tables:
        return _Reads(shown, moved, None)
    ends = {prefix: end for prefix, end in history_ends(cursor).items() if prefix in moved}
    tick = fetch_tick(
        connection,  # pyright: ignore[reportArgumentType] -- a connector connection
        tables,
        cursor.starts,
        ends,
        tables,
        result_limit=result_limit,
    )
    return _Reads(shown, moved, tick)


def build_freshness_sensor(
    tenant: Tenant,
    *,
    minimum_interval_seconds: int | None = None,
    clock: Callable[[], datetime] = _utc_now,
    result_limit: int = RESULT_LIMIT,
    resource_key: Literal["snowflake", "snowflake_monitoring"] = "snowflake",
    full_read_interval: timedelta = FULL_READ_INTERVAL,
) -> dg.SensorDefinition:
    """The `dynamic_table_freshness` sensor (default RUNNING) watching every DT of the tenant.

    It ticks every `minimum_interval_seconds`, by default the tenant's `sensor_interval_seconds`
    (60 unless declared). Needs the resource `resource_key` (dagster-snowflake's
    `SnowflakeResource`; give it `autocommit=True`, or `get_connection()` adds a COMMIT statement
    to every tick): `snowflake`, or `snowflake_monitoring` when the tenant names a monitoring
    warehouse (see `resources`). `clock` is the time lag checks measure against,
    `result_limit` the RESULT_LIMIT of the history read (Snowflake's maximum; smaller only in
    tests), `full_read_interval` how often every schema is read (`FULL_READ_INTERVAL`).
    """
    dynamic_tables = list(tenant.dynamic_tables)

    def evaluate(
        context: dg.SensorEvaluationContext, snowflake: SnowflakeResource
    ) -> dg.SensorResult | dg.SkipReason:
        if not dynamic_tables:
            return dg.SkipReason(f"Tenant {tenant.slug!r} declares no Dynamic Table.")
        cursor = SensorCursor.from_json(context.cursor)
        readable, left_out = readable_tables(dynamic_tables, cursor)
        for database in sorted(left_out):
            context.log.warning(
                f"Database {database} is not read: Snowflake refused it (002003: it does not "
                "exist, or the role lacks USAGE on it) "
                f"{cursor.unreadable[database] + 1} ticks ago; its Dynamic Tables' checks fail "
                f"until it is readable (retried every {RETRY_UNREADABLE_TICKS} ticks)."
            )
        now = clock()
        full = cursor.full_read_at is None or now - cursor.full_read_at >= full_read_interval
        try:
            reads = read_snowflake(
                snowflake,
                lambda connection: _read(
                    connection, tenant, readable, cursor, now, full, result_limit
                ),
            )
        except EXPECTED_FAULTS as error:
            return _skip_for_fault(context, error, snowflake, readable, cursor)
        cursor = replace(
            cursor,
            unreadable={db: cursor.unreadable[db] + 1 for db in left_out},
            full_read_at=now if full else cursor.full_read_at,
        )
        if reads.tick is None:
            return dg.SensorResult(skip_reason=IDLE_MESSAGE, cursor=cursor.to_json())
        states = {
            name: state
            for dt in dynamic_tables
            if dt.qualified_name.schema_prefix in reads.moved
            and (
                state := merge_states(
                    reads.shown.states.get(name := dt.qualified_name.resolved),
                    reads.tick.states.get(name),
                )
            )
            is not None
        }
        result, messages = run_tick(
            tenant,
            cursor,
            reads.tick.history,
            states,
            now,
            _recorded_versions(context.instance),
            result_limit,
            recorded_checks=_recorded_checks(context.instance),
            schemas=reads.moved,
            shown=reads.shown.states,
        )
        for database in sorted(reads.tick.capped):
            messages.append(
                f"DYNAMIC_TABLES() returned its maximum of 10,000 rows for the whole account "
                f"while reading {database}: Dynamic Tables it left out are checked from SHOW "
                "alone (their last refresh state unknown). Fix: use a role that sees fewer "
                "Dynamic Tables across the account."
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

    # Dagster hands a sensor its resources by parameter name (on the daemon's path, only
    # there): one signature per resource key.
    if resource_key == "snowflake":

        def on_snowflake(
            context: dg.SensorEvaluationContext, snowflake: SnowflakeResource
        ) -> dg.SensorResult | dg.SkipReason:
            return evaluate(context, snowflake)

        function = on_snowflake
    else:

        def on_monitoring(
            context: dg.SensorEvaluationContext, snowflake_monitoring: SnowflakeResource
        ) -> dg.SensorResult | dg.SkipReason:
            return evaluate(context, snowflake_monitoring)

        function = on_monitoring

    return dg.sensor(  # pyright: ignore[reportUnknownMemberType] -- dagster's signature has an unparameterised PathLike
        name=SENSOR_NAME,
        minimum_interval_seconds=tenant.sensor_interval_seconds
        if minimum_interval_seconds is None
        else minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Records each completed refresh of {tenant.slug}'s Snowflake Dynamic Tables as a "
            "materialization and reports their health checks."
        ),
    )(function)


def _skip_for_fault(
    context: dg.SensorEvaluationContext,
    error: Exception,
    snowflake: SnowflakeResource,
    readable: Sequence[DynamicTable],
    cursor: SensorCursor,
) -> dg.SensorResult | dg.SkipReason:
    """The tick's answer to a Snowflake fault the platform expects (see the module docstring)."""
    fault = describe_fault(error, snowflake)  # pyright: ignore[reportArgumentType] -- EXPECTED_FAULTS
    if fault is None:
        raise error
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
        kept = replace(cursor, unreadable={**cursor.unreadable, database: 0})
        return dg.SensorResult(skip_reason=reason, cursor=kept.to_json())
    context.log.warning(reason)
    return dg.SkipReason(reason)
