"""Snowflake's rules as the emulator applies them: AUTO refresh mode resolution, failure codes."""

from __future__ import annotations

import re
from collections.abc import Callable

import snowflake.connector.errors
from fakesnow.dialect import parse_one
from sqlglot import exp

SUSPEND_AFTER_FAILURES = 5
REFRESH_AHEAD_FRACTION = 0.5
"""A DT is due once its data is this fraction of its target lag old: Snowflake schedules refreshes
early enough to keep the actual lag under the target ("slightly earlier"; its exact heuristics
are not documented). Half the lag keeps a 1-minute DT under its target with the default
10-second scheduler interval."""
UPSTREAM_FAILED_MESSAGE = "Skipped refreshing because input DT '{}' failed."
"""Snowflake's docs say the message names the failed upstream table; its exact text is not
documented."""
SUSPENDED_REASON_CODE = "SUSPENDED_DUE_TO_ERRORS"
INTERRUPTED_CODE = "000603"
INTERRUPTED_MESSAGE = (
    "SQL execution internal error: the refresh was interrupted (the local-snowflake server "
    "stopped while it ran) and did not complete."
)
"""A refresh still EXECUTING when the server starts was interrupted (kill -9, power loss).
Snowflake documents FAILED as "refresh failed during execution" and CANCELLED as "cancelled
before execution", so an interrupted refresh ends FAILED with Snowflake's internal-error code;
one that never started (SCHEDULED) ends CANCELLED."""
CANCELLED_CODE = "000604"
CANCELLED_MESSAGE = "The refresh was cancelled before it ran: the local-snowflake server stopped."


def failure_code_and_message(e: snowflake.connector.errors.Error) -> tuple[str, str]:
    """Snowflake's code and message for a failed refresh query, where we know them (a column
    that no longer exists is Snowflake's 000904 'invalid identifier'); else fakesnow's."""
    message = e.raw_msg or ""
    column = re.search(r'Referenced column "([^"]+)" not found', message)
    qualified = re.search(r'Table "([^"]+)" does not have a column named "([^"]+)"', message)
    if column:
        return "000904", f"SQL compilation error:\ninvalid identifier '{column[1].upper()}'"
    if qualified:  # Snowflake names the column as written: 'O.AMOUNT'
        identifier = f"{qualified[1]}.{qualified[2]}".upper()
        return "000904", f"SQL compilation error:\ninvalid identifier '{identifier}'"
    if table := re.search(r'Table with name "?([^" ]+)"? does not exist', message):
        return "002003", (
            f"SQL compilation error:\nObject '{table[1].upper()}' does not exist or not authorized."
        )
    return f"{e.errno:06d}", message


def _non_deterministic(expression: exp.Expr) -> bool:
    return any(
        isinstance(e, exp.CurrentTimestamp | exp.Rand | exp.CurrentDate) for e in expression.walk()
    )


def incremental_blocker(query: str) -> str | None:
    """What keeps query from an incremental refresh, as far as the emulator knows: Snowflake
    documents non-deterministic functions (CURRENT_TIMESTAMP, RANDOM, ...) as unsupported in
    incremental refresh. (Window functions and the other constructs AUTO resolves to FULL here
    are supported by Snowflake in many forms, so an explicit INCREMENTAL is accepted for them.)"""
    return "non-deterministic functions" if _non_deterministic(parse_one(query)) else None


def resolve_refresh_mode(declared: str, query: str) -> tuple[str, str | None]:
    """AUTO resolves to INCREMENTAL unless the query uses a construct Snowflake cannot
    refresh incrementally in our simple model (window functions, LIMIT, non-deterministic
    functions, set operators other than UNION ALL); then FULL, with the reason."""
    if declared != "AUTO":
        return declared, None
    expression = parse_one(query)
    checks: list[tuple[str, Callable[[], bool]]] = [
        ("window functions", lambda: expression.find(exp.Window) is not None),
        ("LIMIT", lambda: expression.find(exp.Limit) is not None),
        ("non-deterministic functions", lambda: _non_deterministic(expression)),
        (
            "set operators other than UNION ALL",
            lambda: any(
                isinstance(e, exp.Intersect | exp.Except)
                or (isinstance(e, exp.Union) and e.args.get("distinct"))
                for e in expression.walk()
            ),
        ),
    ]
    for what, check in checks:
        if check():
            return "FULL", f"The query uses {what}, which this stand-in refreshes in FULL mode."
    return "INCREMENTAL", None
