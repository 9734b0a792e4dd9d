"""Target lags: `'1 minute'`, `'90 seconds'`, `'2 hours'`, `'1 day'` or `DOWNSTREAM`."""

from __future__ import annotations

import re
from dataclasses import dataclass

MINIMUM_TARGET_LAG_SECONDS = 60
DOWNSTREAM = "DOWNSTREAM"

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_LAG = re.compile(r"\s*(\d{1,9})\s+(second|minute|hour|day)s?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class TargetLag:
    """A parsed target lag. `seconds` is None for DOWNSTREAM."""

    text: str
    seconds: int | None

    @property
    def is_downstream(self) -> bool:
        return self.seconds is None

    @property
    def sql(self) -> str:
        """The TARGET_LAG clause value: `'1 minute'` (quoted) or `DOWNSTREAM`."""
        return DOWNSTREAM if self.seconds is None else f"'{self.text}'"


def parse_target_lag(text: str) -> TargetLag:
    """Parse and normalise a target lag; raise ValueError saying what is allowed."""
    if text.strip().upper() == DOWNSTREAM:
        return TargetLag(DOWNSTREAM, None)
    match = _LAG.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a target lag: write '<number> <unit>' with unit seconds, minutes, "
            "hours or days (e.g. '1 minute', '2 hours'), or DOWNSTREAM"
        )
    count, unit = int(match.group(1)), match.group(2).lower()
    seconds = count * _UNIT_SECONDS[unit]
    if seconds < MINIMUM_TARGET_LAG_SECONDS:
        raise ValueError(
            f"{text!r} is {seconds} seconds, under Snowflake's minimum target lag of "
            f"{MINIMUM_TARGET_LAG_SECONDS} seconds: use '1 minute' or more"
        )
    return TargetLag(f"{count} {unit}{'s' if count != 1 else ''}", seconds)
