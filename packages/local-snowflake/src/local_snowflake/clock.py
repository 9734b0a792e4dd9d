"""The emulator's clock: wall time plus an offset that tests can advance (persisted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from local_snowflake.catalog import C


class Clock:
    """The emulator's clock: wall time plus an offset tests can advance (persisted)."""

    def __init__(self, duck: duckdb.DuckDBPyConnection) -> None:
        self._duck = duck
        row = duck.execute(f"SELECT value FROM {C}.settings WHERE key = 'clock_offset'").fetchone()
        self.offset = float(row[0]) if row else 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> datetime:
        self.offset += seconds
        self._duck.execute(
            f"INSERT OR REPLACE INTO {C}.settings VALUES ('clock_offset', ?)", [str(self.offset)]
        )
        return self.now()
