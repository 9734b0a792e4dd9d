"""The emulator's clock: wall time plus an offset that tests can advance (persisted).

The offset is bounded, so that no argument (NaN, infinity, 1e308, a negative number) can be
saved and then break every refresh and every later start: `advance` takes a finite number of
seconds from 0 to `MAX_ADVANCE_SECONDS`, and the clock is never more than `MAX_OFFSET_SECONDS`
ahead of wall time. An offset found out of range when the server starts (a catalog written by an
older version, or edited by hand) is reset to 0 with a warning in the log, never a crash.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

import duckdb

from local_snowflake.catalog import C
from local_snowflake.errors import sql_error

ADVANCE_FUNCTION = "SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK"
MAX_ADVANCE_SECONDS = 365 * 86400
"""The largest single advance (365 days)."""
MAX_OFFSET_SECONDS = 3650 * 86400
"""How far ahead of wall time the clock may ever be (3,650 days, about 10 years)."""

logger = logging.getLogger("local_snowflake.server")


class Clock:
    """The emulator's clock: wall time plus an offset tests can advance (persisted)."""

    def __init__(self, duck: duckdb.DuckDBPyConnection) -> None:
        self._duck = duck
        row = duck.execute(f"SELECT value FROM {C}.settings WHERE key = 'clock_offset'").fetchone()
        self.offset = 0.0
        if row is not None:
            stored = _stored_offset(row[0])
            if stored is None:
                self._save()  # the bad value is gone: the next start does not warn again
            else:
                self.offset = stored

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def advance(self, argument: str) -> datetime:
        """Move the clock forward by argument (the SQL call's text) seconds; validated before
        anything is saved."""
        try:
            seconds = float(argument)
        except ValueError:
            raise _invalid(argument, "takes a number of seconds") from None
        if not math.isfinite(seconds) or not 0 <= seconds <= MAX_ADVANCE_SECONDS:
            raise _invalid(
                argument,
                f"takes a finite number of seconds from 0 to {MAX_ADVANCE_SECONDS} (365 days)",
            )
        if self.offset + seconds > MAX_OFFSET_SECONDS:
            raise sql_error(
                f"SQL compilation error:\n{ADVANCE_FUNCTION}({argument}) would put the clock "
                f"{(self.offset + seconds) / 86400:.0f} days ahead of wall time; it may be at "
                f"most {MAX_OFFSET_SECONDS // 86400} days ({MAX_OFFSET_SECONDS} seconds) ahead. "
                "Fix: advance by less, or start over with a new data directory.",
                errno=1044,
                sqlstate="22023",
            )
        self.offset += seconds
        self._save()
        return self.now()

    def _save(self) -> None:
        self._duck.execute(
            f"INSERT OR REPLACE INTO {C}.settings VALUES ('clock_offset', ?)", [str(self.offset)]
        )


def _invalid(argument: str, rule: str) -> Exception:
    return sql_error(
        f"SQL compilation error:\n{ADVANCE_FUNCTION} {rule}, got {argument!r}",
        errno=1044,
        sqlstate="22023",
    )


def _stored_offset(value: str) -> float | None:
    """The persisted offset, or None (with a warning) when it is not a number in range."""
    try:
        offset = float(value)
    except ValueError:
        offset = math.nan
    if math.isfinite(offset) and abs(offset) <= MAX_OFFSET_SECONDS:
        return offset
    logger.warning(
        "the emulator clock offset stored in the catalog (%r seconds) is not a finite number "
        "within %s seconds of wall time: reset to 0 (the clock is wall time again; refreshes "
        "whose data timestamps are ahead of it wait until wall time passes them)",
        value,
        MAX_OFFSET_SECONDS,
    )
    return None
