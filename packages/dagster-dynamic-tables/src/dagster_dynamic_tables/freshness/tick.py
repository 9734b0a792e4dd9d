"""Evaluate one tick of the freshness sensor, without I/O: from what Snowflake answered and what
the instance holds, the events to report and the next cursor (`evaluate_tick`; `run_tick` first
sets aside the history pages still to read, see `window.plan_pages`). The stages before it
(`show`, `moved`, `history`) and the reporting are the sensor's (`sensor`); the events
themselves are built in `events` and `health.rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import dagster as dg

from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.freshness.cursor import SchemaDigests, SensorCursor, digest
from dagster_dynamic_tables.freshness.events import AssetEvent, materialization
from dagster_dynamic_tables.freshness.moved import shown_digest, shown_digests, tables_by_schema
from dagster_dynamic_tables.freshness.window import RecordedVersions, next_starts, plan_pages
from dagster_dynamic_tables.health.rules import (
    REFRESH_SUCCEEDED,
    evaluate_dynamic_table,
    to_check_event,
)
from dagster_dynamic_tables.sql.records import DynamicTableState, RefreshRecord
from dagster_dynamic_tables.sql.statements import RESULT_LIMIT, HistoryRead

RecordedChecks = Callable[[Sequence[dg.AssetCheckKey]], Mapping[dg.AssetCheckKey, str | None]]
"""Signatures of the latest check evaluations the instance holds (None: none, or unknown)."""


def _none_recorded(keys: Sequence[dg.AssetCheckKey]) -> Mapping[dg.AssetCheckKey, str | None]:
    return dict.fromkeys(keys)


@dataclass(frozen=True)
class TickContext:
    """What a tick evaluates for and against, besides Snowflake's answers: the tenant, the tick's
    moment, and what the instance holds."""

    tenant: Tenant
    now: datetime
    recorded_versions: RecordedVersions
    """The data versions the instance holds (`window.RecordedVersions`)."""
    recorded_checks: RecordedChecks = _none_recorded
    """The check evaluations the instance holds (default: none)."""


@dataclass(frozen=True)
class TickScope:
    """What the stages before evaluation settled for one tick (the defaults: a tick that read
    every schema, whose SHOW states are the merged states, with no history page read)."""

    schemas: Iterable[str] | None = None
    """The schema prefixes read this tick (`moved.moved_schemas`); None: all."""
    shown: Mapping[str, DynamicTableState] | None = None
    """What SHOW reported; None: the merged states."""
    current: Mapping[str, SchemaDigests] | None = None
    """`moved.shown_digests` of `shown`, when the caller already has them."""
    floors: Mapping[str, datetime] = field(default_factory=dict[str, datetime])
    """Ends of the history pages read completely this tick (`window.plan_pages`; see
    `window.next_starts`)."""


@dataclass(frozen=True)
class TickResult:
    events: list[AssetEvent]
    cursor: SensorCursor


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


def evaluate_tick(
    context: TickContext,
    cursor: SensorCursor,
    refreshes: Sequence[RefreshRecord],
    states: Mapping[str, DynamicTableState],
    *,
    scope: TickScope = TickScope(),  # noqa: B008 -- frozen: one shared default is safe
) -> TickResult:
    """Events and next cursor for one tick, from what Snowflake answered.

    `states`: the merged state of the DTs of the schemas read (see `TickScope` for the rest).
    """
    tenant, now = context.tenant, context.now
    by_schema = tables_by_schema(tenant)
    read = set(by_schema if scope.schemas is None else scope.schemas) & set(by_schema)
    tables = [dt for prefix in sorted(read) for dt in by_schema[prefix]]
    seen = states if scope.shown is None else scope.shown
    current = shown_digests(tenant, seen, now) if scope.current is None else scope.current
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
        context.recorded_versions([keys[name] for name in candidates]) if candidates else {}
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
            stored = context.recorded_checks(list(outcomes))
            events.extend(
                to_check_event(dg.AssetCheckEvaluation, key.asset_key, outcome)
                for key, outcome in outcomes.items()
                if stored.get(key) != outcome.signature
            )
        # The quiet form of what SHOW saw for a tenant whose change signal is rows_and_bytes,
        # while every refresh_succeeded passes; else the stamped one: every refresh (NO_DATA
        # too) is read, and reports a recovery (`moved`).
        quiet = tenant.change_signal == "rows_and_bytes" and all(
            o.passed for k, o in outcomes.items() if k.name == REFRESH_SUCCEEDED
        )
        shown = (
            current[prefix].shown if quiet else shown_digest(by_schema[prefix], seen, stamped=True)
        )
        digests[prefix] = replace(current[prefix], health=health, shown=shown)
        if (
            prefix in scope.floors
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
    starts = next_starts(tenant, cursor.starts, refreshes, scope.floors, known)
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
    context: TickContext,
    cursor: SensorCursor,
    read: HistoryRead,
    states: Mapping[str, DynamicTableState],
    result_limit: int = RESULT_LIMIT,
    *,
    scope: TickScope = TickScope(),  # noqa: B008 -- frozen: one shared default is safe
) -> tuple[TickResult, list[str]]:
    """One tick from what the statements returned: events, next cursor, warnings to log
    (`scope.floors` is set here, from the pages read)."""
    plan = plan_pages(context.tenant, cursor, read, result_limit, context.recorded_versions)
    result = evaluate_tick(
        context,
        replace(cursor, pages=plan.pages),
        plan.records,
        states,
        scope=replace(scope, floors=plan.floors),
    )
    return result, plan.messages
