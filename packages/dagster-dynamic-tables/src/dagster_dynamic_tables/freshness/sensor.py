"""The freshness sensor: each completed Dynamic Table refresh becomes a runless materialization.

Every tick starts with `SHOW DYNAMIC TABLES IN DATABASE <db>` (see `show`), a metadata command
that needs no warehouse. When nothing moved in a schema since the last tick (the same row
counts and byte sizes, scheduling states and definitions, the same `within_target_lag` outcomes;
a NO_DATA refresh moves none of them), the tick ends there: an idle tick costs no warehouse time
(what moved: see `moved`). Otherwise one more statement (see `history`) reads the refresh
history of the schemas that moved and `DYNAMIC_TABLES()` of their databases: two statements per
tick at most for a tenant in one database. Every `FULL_READ_INTERVAL` every schema is read
whether it moved or not: SHOW does not report a failed refresh, which leaves the data timestamp
where it was (the lag check, evaluated from SHOW on every tick, reports it once the lag passes
1.5x the target; Snowflake suspends a table after 5 failures in a row, which SHOW reports), nor
a data-changing refresh that keeps a table's row count and byte size, which the full read
records.

Then, per DT of a schema read:

- each new SUCCEEDED refresh that changed data (action not NO_DATA) becomes one
  `AssetMaterialization`, in refresh order, with `dagster/data_version` = its data timestamp;
- the four health checks are evaluated (see `health.rules`) and reported as `AssetCheckEvaluation`s
  when a check's pass/fail, severity or kind differs from the latest evaluation the instance
  holds (the kind is stored as `outcome` metadata).

A tick that recorded materializations of DTs that declare data tests requests one run of exactly
those tests (`data_test_runs`: one run per tenant per tick, run key unique per tick).

An idle tick reports nothing. Dagster shows every tick that requests no run as SKIPPED; a tick
that recorded something says what in its skip reason, the text the UI's tick list shows
("Recorded 2 refreshes: shop/totals (1); shop/counts (1). ..."), and logs it (a tick that
requests the run of data tests shows as a success with its run, and logs the same words).

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

The sensor orchestrates the pipeline; each stage is a module that calls only the ones below it
(an import-linter contract): SHOW (`show`) -> what moved (`moved`) -> one history read
(`history`) -> evaluate, without I/O (`tick`, with `window`) -> events (`events`), the run of
data tests (`data_test_runs`) and the cursor (`cursor`).
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
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.freshness.columns import complete_columns, snowflake_column_reader
from dagster_dynamic_tables.freshness.cursor import (
    SchemaDigests,
    SensorCursor,
    history_ends,
    parse_data_version,
)
from dagster_dynamic_tables.freshness.data_test_runs import (
    data_test_keys,
    data_tests_run_request,
    data_tests_selection,
)
from dagster_dynamic_tables.freshness.events import IDLE_MESSAGE, describe_events
from dagster_dynamic_tables.freshness.history import TickRead, fetch_tick, merge_states
from dagster_dynamic_tables.freshness.moved import moved_schemas, shown_digests
from dagster_dynamic_tables.freshness.show import ShowRead, fetch_show
from dagster_dynamic_tables.freshness.tick import RecordedChecks, TickContext, TickScope, run_tick
from dagster_dynamic_tables.freshness.window import RecordedVersions
from dagster_dynamic_tables.health.rules import stored_signature
from dagster_dynamic_tables.snowflake_io.faults import EXPECTED_FAULTS, describe_fault
from dagster_dynamic_tables.snowflake_io.session import read_snowflake
from dagster_dynamic_tables.sql.records import DynamicTableState
from dagster_dynamic_tables.sql.statements import RESULT_LIMIT, HistoryRead

SENSOR_NAME = "dynamic_table_freshness"
FULL_READ_INTERVAL = timedelta(minutes=15)
"""How often every schema is read (history and DYNAMIC_TABLES()) whether SHOW saw it move or not:
the longest a failed refresh that moved nothing else goes unreported by `refresh_succeeded`."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
    digests: Mapping[str, SchemaDigests]
    """Per schema, what SHOW reported this tick (`shown_digests`)."""
    moved: set[str]
    tick: TickRead | None
    """The second statement's answer; None on an idle tick."""
    states: Mapping[str, DynamicTableState]
    """The merged state (`merge_states`) of the DTs of the schemas that moved."""


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
    digests = shown_digests(tenant, shown.states, now)
    moved = moved_schemas(tenant, cursor, digests, full, shown.states)
    if not moved:
        return _Reads(shown, digests, moved, None, {})
    tables = [dt for dt in readable if dt.qualified_name.schema_prefix in moved]
    if tables:
        ends = {prefix: end for prefix, end in history_ends(cursor).items() if prefix in moved}
        tick = fetch_tick(
            connection,  # pyright: ignore[reportArgumentType] -- a connector connection
            tables,
            cursor.starts,
            ends,
            tables,
            result_limit=result_limit,
        )
    else:  # only schemas of databases left out moved: their tables are reported missing
        tick = TickRead(HistoryRead([], {}), {}, frozenset())
    states: dict[str, DynamicTableState] = {}
    for dt in tenant.dynamic_tables:
        name = dt.qualified_name.resolved
        if dt.qualified_name.schema_prefix in moved:
            state = merge_states(shown.states.get(name), tick.states.get(name))
            if state is not None:
                states[name] = state
    return _Reads(shown, digests, moved, tick, states)


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
    test_keys = data_test_keys(tenant)

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
        tick = TickContext(
            tenant,
            now,
            _recorded_versions(context.instance),
            _recorded_checks(context.instance),
        )
        result, messages = run_tick(
            tick,
            cursor,
            reads.tick.history,
            reads.states,
            result_limit,
            scope=TickScope(schemas=reads.moved, shown=reads.shown.states, current=reads.digests),
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
        events, columns = complete_columns(
            context.instance,
            tenant,
            result.events,
            reads.shown.states,
            snowflake_column_reader(context.log, snowflake),
            sources_before=cursor.columns if full else None,
        )
        result = replace(
            result,
            events=events,
            cursor=replace(result.cursor, columns=columns or result.cursor.columns),
        )
        if not result.events:
            return dg.SensorResult(skip_reason=IDLE_MESSAGE, cursor=result.cursor.to_json())
        tests = data_tests_run_request(tenant, result.events, test_keys)
        tested = (tests.asset_check_keys or []) if tests is not None else []
        summary = describe_events(result.events, tests=tested)
        context.log.info(summary)
        if tests is not None:
            return dg.SensorResult(
                asset_events=result.events, cursor=result.cursor.to_json(), run_requests=[tests]
            )
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
            "materialization and reports their health checks"
            + ("; runs the data tests of the tables it recorded." if test_keys else ".")
        ),
        # The data tests it may request (one run per tick: `data_test_runs`).
        asset_selection=data_tests_selection(test_keys),
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
