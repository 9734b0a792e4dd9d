"""The freshness sensor's cursor: what it has reported per Dynamic Table, and where each
schema's next refresh-history read starts (and ends, while a long history is read in pages).

Stored by Dagster with every tick row, so kept compact (about 80 bytes per DT: see the README).
A cursor that cannot be read (not JSON, another version, a damaged timestamp) reads as a fresh
start: the sensor then compares with the materializations the instance holds, so nothing is
reported twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from dagster_dynamic_tables.health import CHECK_NAMES, SIGNATURE_BYTES
from dagster_dynamic_tables.queries import as_utc

CURSOR_VERSION = 1


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


def history_ends(cursor: SensorCursor) -> dict[str, datetime]:
    """DATA_TIMESTAMP_END per schema prefix of the next read (the page being caught up)."""
    return {prefix: pages[-1] for prefix, pages in cursor.pages.items() if pages}
