"""Where each schema's next refresh-history read starts and ends: the read window.

`next_starts` moves a schema's start to the latest data timestamp seen (minus an overlap), held
back to refreshes still running unless they are stale; `plan_pages` reads a history too long
for one statement in pages, oldest first. Pure functions of what Snowflake answered and of the
cursor: the sensor (`sensor.py`) does the I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg

from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.freshness.cursor import SensorCursor
from dagster_dynamic_tables.sql.records import RUNNING_STATES, RefreshRecord
from dagster_dynamic_tables.sql.statements import RESULT_LIMIT, HistoryRead

WINDOW_OVERLAP = timedelta(minutes=1)
"""How far before the last data timestamp seen the next history read starts (re-read rows are
dropped by the per-DT cursor)."""
RUNNING_HOLD_LIMIT = timedelta(hours=1)
"""How far behind its schema's newest data timestamp a refresh still running may hold the next read
back. Snowflake documents no longest refresh; a refresh that completes later than this is missed
if, meanwhile, the read has moved past it (the README says so)."""

RecordedVersions = Callable[[Sequence[dg.AssetKey]], Mapping[dg.AssetKey, datetime | None]]
"""Data timestamps of the latest materializations the instance holds, per asset key."""


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
        if prefix is None or record.state not in RUNNING_STATES:
            continue
        # A row without a data timestamp yet (SCHEDULED) will complete with one later than its
        # table's latest: hold back to that (a table with no data yet holds nothing back; its
        # first refresh is found through its latest data timestamp, see `tick._data_as_of`).
        moment = record.data_timestamp or known.get(record.qualified_name)
        if moment is None:
            continue
        if record.data_timestamp is not None and newest_of[record.qualified_name] > moment:
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
    recorded_versions: RecordedVersions | None = None,
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
