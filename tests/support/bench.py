"""What the benchmarks share: the stand-in's count of the statements it ran."""

from __future__ import annotations

from typing import Any


def statement_count(cursor: Any) -> int:
    """The statements the stand-in has run so far, this one included: the difference of two
    counts, minus 1, is what ran between them."""
    cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")
    return int(cursor.fetchone()[0])
