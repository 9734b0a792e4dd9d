"""The freshness sensor's cursor: where each schema's next refresh-history read starts (and
ends, while a long history is read in pages), and short digests of what the sensor last saw
and reported per schema.

Stored by Dagster with every tick row (kept for days), so it holds nothing per Dynamic Table:
a few hundred bytes per schema, whatever the number of tables (`bench_sensor.py` prints its size
at 1,000 DTs). What the sensor reported per DT is what the instance already holds: the latest
materialization's data version, the latest check evaluations (see `tick`).

A cursor that cannot be read (not JSON, another version, a damaged timestamp) reads as a fresh
start: the sensor then compares with what the instance holds, so nothing is reported twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from dagster_dynamic_tables.sql.records import as_utc

CURSOR_VERSION = 2
"""Version 1 held a data timestamp and check signatures per DT (about 83 KB at 1,000 DTs)."""
DIGEST_BYTES = 6


def digest(parts: Iterable[str]) -> str:
    """A short stable digest (12 hex digits) of some text parts, for the cursor."""
    hasher = hashlib.blake2s(digest_size=DIGEST_BYTES)
    for part in parts:
        hasher.update(part.encode())
        hasher.update(b"\x00")
    return hasher.hexdigest()


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


@dataclass(frozen=True)
class SchemaDigests:
    """Digests (`digest`) of what the sensor saw and reported for one schema's declared DTs.

    A digest that differs from this tick's tells the sensor the schema moved; none is ever
    compared with anything but a digest made the same way."""

    shown: str = ""
    """What SHOW reported for the schema's DTs (`show.fingerprint` of each) when last read."""
    lag: str = ""
    """The `within_target_lag` outcomes SHOW's data timestamps gave at the last tick."""
    health: str = ""
    """Every check outcome last reported for the schema's DTs."""
    roster: str = ""
    """The schema's declared DT names when last read (a new name is a table new to the sensor)."""

    def pack(self) -> str:
        return ".".join((self.shown, self.lag, self.health, self.roster))

    @classmethod
    def unpack(cls, text: object) -> SchemaDigests | None:
        if not isinstance(text, str) or text.count(".") != 3:
            return None
        shown, lag, health, roster = text.split(".")
        return cls(shown, lag, health, roster)


@dataclass(frozen=True)
class SensorCursor:
    """The sensor's cursor, stored as JSON:

    `{"v": 2, "starts": {"DB.SCHEMA": "<DATA_TIMESTAMP_START of the next history read>"},
    "d": {"DB.SCHEMA": "<shown>.<lag>.<health>.<roster>"}, "f": "<last full read>",
    "pages": {"DB.SCHEMA": ["<DATA_TIMESTAMP_END of a page>", ...]}, "x": {"DB": <ticks>},
    "c": "<digest>"}` (`pages` only while a history too long for one read is being caught up, `x`
    only while a database is unreadable, `c` once the sources' columns were read).
    """

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
    digests: Mapping[str, SchemaDigests] = field(default_factory=dict[str, SchemaDigests])
    full_read_at: datetime | None = None
    """When the sensor last read every schema whether or not SHOW saw it move (SHOW does not
    report a failed refresh: see `sensor.FULL_READ_INTERVAL`)."""
    columns: str = ""
    """A digest of the sources' columns at the last full read (`freshness.columns`); "" for
    none yet (a cursor written before issue 20 has none: the sources are then compared with the
    instance's observations, so nothing is reported twice)."""

    def to_json(self) -> str:
        starts = {prefix: format_data_version(start) for prefix, start in self.starts.items()}
        data: dict[str, Any] = {"v": CURSOR_VERSION, "starts": starts}
        if self.digests:
            data["d"] = {prefix: d.pack() for prefix, d in sorted(self.digests.items())}
        if self.full_read_at is not None:
            data["f"] = format_data_version(self.full_read_at)
        if self.unreadable:
            data["x"] = dict(sorted(self.unreadable.items()))
        if self.columns:
            data["c"] = self.columns
        if self.pages:
            data["pages"] = {
                prefix: [format_data_version(end) for end in ends]
                for prefix, ends in self.pages.items()
            }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> SensorCursor:
        """Parse a stored cursor; an empty, foreign or damaged one reads as a fresh start."""
        if not text:
            return cls()
        try:
            data = dict(_items(json.loads(text)))
        except ValueError:
            return cls()
        if data.get("v") != CURSOR_VERSION:
            return cls()
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
        digests = {
            prefix: unpacked
            for prefix, value in _items(data.get("d"))
            if (unpacked := SchemaDigests.unpack(value)) is not None
        }
        full = data.get("f")
        full_read_at = parse_data_version(full if isinstance(full, str) else None)
        columns = data.get("c")
        return cls(
            starts,
            pages,
            unreadable,
            digests,
            full_read_at,
            columns if isinstance(columns, str) else "",
        )


def _items(value: object) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        return []
    return [(str(k), v) for k, v in cast("dict[object, Any]", value).items()]


def history_ends(cursor: SensorCursor) -> dict[str, datetime]:
    """DATA_TIMESTAMP_END per schema prefix of the next read (the page being caught up)."""
    return {prefix: pages[-1] for prefix, pages in cursor.pages.items() if pages}
