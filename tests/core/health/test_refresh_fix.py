"""A failed refresh of a `scheduler: DISABLE` table (Dagster refreshes it) says how to fix it in
`refresh_succeeded`, in the words of the orchestrated step that failed; a table Snowflake
schedules keeps its description (Snowflake retries it on its own)."""

from datetime import UTC, datetime

import pytest
from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.health.rules import refresh_succeeded
from dagster_dynamic_tables.sql.manual_refresh import (
    CANCELLED_FIX,
    FAILED_FIX,
    REFRESH_FIXES,
    UPSTREAM_FAILED_FIX,
)
from dagster_dynamic_tables.sql.records import DynamicTableState


def _dt(scheduler: str) -> DynamicTable:
    return DynamicTable(
        name="clv",
        table="A.B.CLV",
        target_lag="1 minute",
        warehouse="WH",
        scheduler=scheduler,  # pyright: ignore[reportArgumentType] (a Literal from a parameter)
        query="select 1",
    )


def _state(state: str, code: str) -> DynamicTableState:
    return DynamicTableState(
        qualified_name="A.B.CLV",
        latest_data_timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        last_completed_refresh_state=state,
        last_completed_refresh_state_code=code,
        last_completed_refresh_state_message="boom",
    )


@pytest.mark.parametrize(
    ("state", "code", "fix"),
    [
        ("FAILED", "000904", REFRESH_FIXES["000904"]),
        ("FAILED", "100038", FAILED_FIX),
        ("UPSTREAM_FAILED", "UPSTREAM_FAILURE", UPSTREAM_FAILED_FIX),
        ("CANCELLED", "CANCELLED", CANCELLED_FIX),
    ],
    ids=["known_code", "other_code", "upstream", "cancelled"],
)
def test_a_disable_tables_failed_refresh_says_the_fix(state: str, code: str, fix: str):
    outcome = refresh_succeeded(_dt("DISABLE"), _state(state, code))
    assert not outcome.passed
    assert outcome.metadata[md.FIX] == fix
    assert outcome.description == (
        f"The last completed refresh of A.B.CLV is {state} (state code {code}): boom. Fix: {fix}."
    )


def test_a_scheduled_tables_failed_refresh_is_unchanged():
    outcome = refresh_succeeded(_dt("ENABLE"), _state("FAILED", "000904"))
    assert md.FIX not in outcome.metadata
    assert outcome.description == (
        "The last completed refresh of A.B.CLV is FAILED (state code 000904): boom"
    )
