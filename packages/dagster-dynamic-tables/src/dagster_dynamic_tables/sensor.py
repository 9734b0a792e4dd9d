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
statements per tick (see `plan_pages`): nothing is lost and materializations stay in order;
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
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
from dagster_dynamic_tables.queries import (
    EXPECTED_FAULTS,
    RESULT_LIMIT,
    RUNNING_STATES,
    DynamicTableState,
    HistoryRead,
    RefreshRecord,
    as_utc,
    describe_fault,
    fetch_refresh_history,
    fetch_states,
    read_snowflake,
)

SENSOR_NAME = "dynamic_table_freshness"
CURSOR_VERSION = 1
WINDOW_OVERLAP = timedelta(minutes=1)
"""How far before the last data timestamp seen the next history read starts (re-read rows are
dropped by the per-DT cursor)."""
RUNNING_HOLD_LIMIT = timedelta(hours=1)
"""How far behind its schema's newest data timestamp a refresh still running may hold the next read
back. Snowflake documents no longest refresh; a refresh that completes later than this is missed
if, meanwhile, the read has moved past it (the README says so)."""

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
    except (ValueError, OverflowError):  # (year 1 in a zone east of UTC overflows in UTC)
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
    "starts": {"DB.SCHEMA": "<DATA_TIMESTAMP_START of the next history read>"},
    "pages": {"DB.SCHEMA": ["<DATA_TIMESTAMP_END of a page>", ...]}}` (`pages` only while a
    history too long for one read is being caught up).

    `t` is the data timestamp of the last refresh reported (absent before the first); `h` holds
    the 4-hex-digit signature of the last outcome reported for each check, in `CHECK_NAMES`
    order (`----` for one never reported). Compact on purpose: Dagster stores the cursor with
    every tick, and a tenant may have a thousand DTs (about 80 bytes each).
    """

    tables: Mapping[str, TableCursor] = field(default_factory=dict[str, TableCursor])
    starts: Mapping[str, datetime] = field(default_factory=dict[str, datetime])
    pages: Mapping[str, tuple[datetime, ...]] = field(
        default_factory=dict[str, tuple[datetime, ...]]
    )
    """Per schema prefix, the upper bounds (DATA_TIMESTAMP_END) of the pages of a history too long
    for one read, newest first: the next read ends at the last one."""
    unreadable: Mapping[str, int] = field(default_factory=dict[str, int])
    """Databases Snowflake refused (002003: missing, or no USAGE), with the ticks since: left out
    of the reads so that the tenant's other databases keep being reported, retried every
    `RETRY_UNREADABLE_TICKS` ticks."""

    def to_json(self) -> str:
        tables: dict[str, dict[str, Any]] = {}
        for name, table in sorted(self.tables.items()):
            entry: dict[str, Any] = {"h": _pack_health(table.health)}
            if table.data_timestamp is not None:
                entry["t"] = format_data_version(table.data_timestamp)
            tables[name] = entry
        starts = {prefix: format_data_version(start) for prefix, start in self.starts.items()}
        data: dict[str, Any] = {"v": CURSOR_VERSION, "tables": tables, "starts": starts}
        if self.unreadable:
            data["x"] = dict(sorted(self.unreadable.items()))
        if self.pages:
            data["pages"] = {
                prefix: [format_data_version(end) for end in ends]
                for prefix, ends in self.pages.items()
            }
        return json.dumps(data, separators=(",", ":"))

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
        pages: dict[str, tuple[datetime, ...]] = {}
        for prefix, value in _items(data.get("pages")):
            ends = [
                parse_data_version(end if isinstance(end, str) else None)
                for end in (cast("list[Any]", value) if isinstance(value, list) else [])
            ]
            if ends and all(end is not None for end in ends):
                pages[prefix] = tuple(cast("list[datetime]", ends))
        unreadable = {
            database: ticks
            for database, ticks in _items(data.get("x"))
            if isinstance(ticks, int) and not isinstance(ticks, bool)
        }
        return cls(tables, starts, pages, unreadable)


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
    tenant: Tenant,
    previous: Mapping[str, datetime],
    refreshes: Sequence[RefreshRecord],
    floors: Mapping[str, datetime] | None = None,
    known: Mapping[str, datetime] | None = None,
) -> dict[str, datetime]:
    """DATA_TIMESTAMP_START per schema prefix for the next read.

    The latest data timestamp seen, held back to the earliest refresh still running (it will
    complete with that data timestamp), minus `WINDOW_OVERLAP`. Only Snowflake's timestamps are
    used, never the sensor's clock. A prefix with no rows keeps its previous start. A page of
    history read completely (`floors`: its end) moves the start to at least its end: without
    that, the overlap could keep a catch-up from ever getting past a busy minute. `known`: the
    latest data timestamp known per DT (from DYNAMIC_TABLES() and the cursor); a running refresh
    older than its DT's, or more than `RUNNING_HOLD_LIMIT` behind its schema's newest, is stale
    and holds nothing back (see `_held_back`).
    """
    floors = floors or {}
    prefix_of = {
        dt.qualified_name.resolved: dt.qualified_name.schema_prefix for dt in tenant.dynamic_tables
    }
    latest: dict[str, datetime] = {}
    for record in refreshes:
        prefix = prefix_of.get(record.qualified_name)
        moment = record.data_timestamp
        if prefix is not None and moment is not None and record.state not in RUNNING_STATES:
            latest[prefix] = max(latest.get(prefix, moment), moment)
    running = _held_back(prefix_of, refreshes, known or {}, latest)
    starts = dict(previous)
    for prefix in {*latest, *running, *floors}:
        start = floors.get(prefix)
        if prefix in latest:
            seen = latest[prefix] - WINDOW_OVERLAP
            start = seen if start is None else max(start, seen)
        if prefix in running:
            held = running[prefix] - WINDOW_OVERLAP
            start = held if start is None else min(start, held)
        assert start is not None  # the prefix is in at least one of the three
        starts[prefix] = start
    return starts


def _held_back(
    prefix_of: Mapping[str, str],
    refreshes: Sequence[RefreshRecord],
    known: Mapping[str, datetime],
    latest: Mapping[str, datetime],
) -> dict[str, datetime]:
    """Per prefix, the earliest data timestamp of a refresh still running that is not stale.

    Stale: its DT has a later data timestamp (in `known`, or another row of this read), or it is
    more than `RUNNING_HOLD_LIMIT` behind the newest data timestamp of its schema.
    """
    newest_of: dict[str, datetime] = dict(known)
    newest_in: dict[str, datetime] = dict(latest)
    for record in refreshes:
        moment = record.data_timestamp
        if moment is None:
            continue
        name = record.qualified_name
        newest_of[name] = max(newest_of.get(name, moment), moment)
        prefix = prefix_of.get(name)
        if prefix is not None:
            newest_in[prefix] = max(newest_in.get(prefix, moment), moment)
    for name, moment in known.items():
        prefix = prefix_of.get(name)
        if prefix is not None:
            newest_in[prefix] = max(newest_in.get(prefix, moment), moment)
    running: dict[str, datetime] = {}
    for record in refreshes:
        prefix = prefix_of.get(record.qualified_name)
        moment = record.data_timestamp
        if prefix is None or moment is None or record.state not in RUNNING_STATES:
            continue
        if newest_of[record.qualified_name] > moment:
            continue  # a later refresh of the same table exists: this one is not running
        if newest_in[prefix] - moment > RUNNING_HOLD_LIMIT:
            continue
        running[prefix] = min(running.get(prefix, moment), moment)
    return running


@dataclass(frozen=True)
class PagePlan:
    """What one tick does with a history read, once truncated reads are accounted for."""

    records: list[RefreshRecord]
    """The rows to report from: those of complete reads only."""
    pages: Mapping[str, tuple[datetime, ...]]
    floors: Mapping[str, datetime]
    """Ends of the pages read completely this tick: the next read of the schema starts there."""
    messages: list[str]


def plan_pages(
    tenant: Tenant,
    cursor: SensorCursor,
    read: HistoryRead,
    result_limit: int = RESULT_LIMIT,
    recorded_versions: "RecordedVersions | None" = None,
) -> PagePlan:
    """Read a history too long for one statement in pages, oldest first, so that no refresh is
    lost and materializations stay in refresh order.

    Snowflake answers a read that matches more than `result_limit` rows with the most recent
    ones. When that happens to a schema read since a known start, its rows are set aside, the
    oldest data timestamp returned becomes the end of a narrower page, and the next tick reads
    that page (and so on, until a page fits). A complete page is reported and the read moves on
    to the next page, then to now. Downstream assets wait for the catch-up; the health checks do
    not. On a first start (no start yet, nothing recorded) only the latest refresh of each DT
    matters: the most recent rows are used as they are. A lost or reset cursor (no start, but
    the instance holds materializations of the schema's DTs, per `recorded_versions`) is paged
    from the start of Snowflake's 7-day history, so every refresh after the recorded ones is
    reported.
    """
    prefix_of = {
        dt.qualified_name.resolved: dt.qualified_name.schema_prefix for dt in tenant.dynamic_tables
    }
    declared = set(prefix_of.values())  # (pages of a schema no longer declared are dropped)
    pages = {p: list(ends) for p, ends in cursor.pages.items() if ends and p in declared}
    set_aside: set[str] = set()
    floors: dict[str, datetime] = {}
    messages: list[str] = []
    for prefix in sorted(declared):
        start = cursor.starts.get(prefix)
        paged = start is not None or bool(pages.get(prefix))
        if prefix in read.truncated and not paged and recorded_versions is not None:
            keys = [
                dg.AssetKey(tenant.key_path(dt))
                for dt in tenant.dynamic_tables
                if dt.qualified_name.schema_prefix == prefix
            ]
            paged = any(v is not None for v in recorded_versions(keys).values())  # lost cursor
        if prefix in read.truncated and paged:  # (on a first start, use it as it is)
            oldest = read.truncated[prefix]
            end = pages[prefix][-1] if pages.get(prefix) else None
            # A narrower page only when it is strictly narrower: when the rows at one data
            # timestamp (and refreshes still running, which Snowflake may return whatever the
            # window) fill a whole read, no page can be smaller, and the read is used as it is.
            if (
                oldest is not None
                and (start is None or oldest > start)
                and (end is None or oldest < end)
            ):
                pages.setdefault(prefix, []).append(oldest)
                set_aside.add(prefix)
                since = (
                    f"since {start.isoformat()}"
                    if start is not None
                    else "over Snowflake's 7-day retention (the sensor's cursor was lost or reset)"
                )
                messages.append(
                    f"The refresh history of {prefix} {since} holds more than "
                    f"{result_limit} refreshes: reading it in pages, oldest first (next page: up "
                    f"to {oldest.isoformat()}). Downstream assets run once it has caught up."
                )
                continue
            if end is not None and oldest is not None and oldest >= end:
                messages.append(
                    f"The refresh history of {prefix} up to {end.isoformat()} cannot be read in "
                    f"smaller pages: {result_limit} rows at that data timestamp or still running "
                    "fill a whole read. Older refreshes of that page may be missing."
                )
            elif start is not None and not pages.get(prefix):  # (else: the page is whole)
                messages.append(
                    f"The refresh history of {prefix} holds at least {result_limit} refreshes from "
                    f"{start.isoformat()} on: refreshes at that very data timestamp may be "
                    "missing. The latest refresh of each Dynamic Table is still reported."
                )
        if pages.get(prefix):
            floors[prefix] = pages[prefix].pop()  # this page is complete: next, the one after it
    records = [r for r in read.records if prefix_of.get(r.qualified_name) not in set_aside]
    kept = {prefix: tuple(ends) for prefix, ends in pages.items() if ends}
    return PagePlan(records, kept, floors, messages)


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


def history_ends(cursor: SensorCursor) -> dict[str, datetime]:
    """DATA_TIMESTAMP_END per schema prefix of the next read (the page being caught up)."""
    return {prefix: pages[-1] for prefix, pages in cursor.pages.items() if pages}


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
