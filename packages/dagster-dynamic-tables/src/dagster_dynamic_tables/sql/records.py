"""The rows of Snowflake's Dynamic Table metadata as typed records: a refresh (one row of
DYNAMIC_TABLE_REFRESH_HISTORY), a table's state (DYNAMIC_TABLES(), joined with SHOW DYNAMIC
TABLES), and the lenient parsing of their columns (a value Snowflake leaves empty, or a form it
has changed over time, reads as missing rather than failing a tick)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from dagster_dynamic_tables.declarations.identifiers import parse_qualified_name

SUCCEEDED = "SUCCEEDED"
NO_DATA = "NO_DATA"
FAILED_STATES = frozenset({"FAILED", "UPSTREAM_FAILED", "CANCELLED", "CANCELED"})
SUSPENDED = "SUSPENDED"
RUNNING_STATES = frozenset({"EXECUTING", "SCHEDULED"})
DOWNSTREAM = "DOWNSTREAM"
READ_PREFIX = "READ_PREFIX"
"""A column the history statement adds to each row: the schema prefix of the part that read it,
so that a part's rows are counted against RESULT_LIMIT exactly (NAME_PREFIX 'DB.S' also matches
a sibling schema DB.S2, and Snowflake matches it without regard to case)."""


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive value is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class RefreshRecord:
    """One row of DYNAMIC_TABLE_REFRESH_HISTORY."""

    qualified_name: str
    state: str
    data_timestamp: datetime | None
    query_id: str | None = None
    refresh_start_time: datetime | None = None
    refresh_end_time: datetime | None = None
    refresh_action: str | None = None
    refresh_trigger: str | None = None
    rows_inserted: int | None = None
    rows_deleted: int | None = None
    read_prefix: str | None = None
    """The schema prefix of the history read that returned the row (`READ_PREFIX`)."""
    rows_copied: int | None = None
    """STATISTICS.numCopiedRows: unchanged rows rewritten with the partitions that changed."""
    partitions_added: int | None = None
    partitions_removed: int | None = None
    queued_time_ms: int | None = None
    """STATISTICS.queuedTimeMs (reported since 2026-03, like the two below)."""
    compilation_time_ms: int | None = None
    execution_time_ms: int | None = None

    @property
    def changed_data(self) -> bool:
        """A completed refresh that changed the table: the signal that the DT was updated."""
        return (
            self.state == SUCCEEDED
            and self.refresh_action != NO_DATA
            and self.data_timestamp is not None
        )

    @property
    def duration_seconds(self) -> float | None:
        if self.refresh_start_time is None or self.refresh_end_time is None:
            return None
        return (self.refresh_end_time - self.refresh_start_time).total_seconds()


@dataclass(frozen=True)
class SchedulingState:
    """DYNAMIC_TABLES().SCHEDULING_STATE: `{"STATE": ..., "REASON_CODE": ..., ...}`."""

    state: str
    reason_code: str | None = None
    reason_message: str | None = None

    @property
    def suspended(self) -> bool:
        # Snowflake has reported both RUNNING and ACTIVE for a scheduled table.
        return self.state == SUSPENDED


@dataclass(frozen=True)
class DynamicTableState:
    """One row of DYNAMIC_TABLES() joined with SHOW DYNAMIC TABLES."""

    qualified_name: str
    target_lag_sec: int | None = None
    target_lag_type: str | None = None
    scheduling_state: SchedulingState | None = None
    latest_data_timestamp: datetime | None = None
    last_completed_refresh_state: str | None = None
    last_completed_refresh_state_code: str | None = None
    last_completed_refresh_state_message: str | None = None
    mean_lag_sec: int | None = None
    maximum_lag_sec: int | None = None
    time_within_target_lag_ratio: float | None = None
    refresh_mode: str | None = None
    warehouse: str | None = None
    target_lag: str | None = None
    text: str | None = None
    """SHOW DYNAMIC TABLES `text`: the CREATE statement whose query Snowflake runs."""
    created_on: datetime | None = None
    """SHOW DYNAMIC TABLES `created_on`: moves when the table is created again (CREATE OR
    REPLACE), which may change its columns."""
    rows: int | None = None
    """SHOW DYNAMIC TABLES `rows`: the table's row count (unchanged by a NO_DATA refresh)."""
    bytes: int | None = None
    """SHOW DYNAMIC TABLES `bytes`: bytes a scan of the whole table reads (unchanged by a NO_DATA
    refresh)."""

    @property
    def metadata_hidden(self) -> bool:
        """Without MONITOR on the table Snowflake fills only the name columns."""
        return self.target_lag_type is None and self.scheduling_state is None


# Row parsing ------------------------------------------------------------------------------------


def parse_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text or None


def parse_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    try:
        if isinstance(value, int | float | Decimal):
            return int(value)
        return int(Decimal(str(value)))
    except (ArithmeticError, ValueError):  # text, NaN, infinity
        return None


def _float(value: object) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def parse_timestamp(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = as_utc(value)
    else:
        moment = as_utc(datetime.fromisoformat(str(value)))
    # fakesnow's server returns a NULL timestamp as the epoch: no Dynamic Table refresh happened
    # in 1970, so the epoch is read as "no value".
    return None if moment.timestamp() == 0 else moment


def _json_object(value: object) -> dict[str, Any]:
    """A VARIANT/OBJECT column: JSON text from the connector (or an already parsed dict); a
    value that is not a JSON object reads as empty."""
    if value is None or value == "":
        return {}
    try:
        parsed: Any = json.loads(value if isinstance(value, str) else json.dumps(value))
    except (ValueError, TypeError):  # not JSON (TypeError: not serializable)
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {str(k): v for k, v in cast("dict[object, Any]", parsed).items()}


def _key(mapping: Mapping[str, Any], name: str) -> Any:
    """Case-insensitive key lookup: Snowflake documents STATE, its output has shown `state`."""
    for key, value in mapping.items():
        if key.lower() == name.lower():
            return value
    return None


def resolved_name(value: object) -> str:
    """QUALIFIED_NAME as the declarations resolve it (`DB.S.Mixed`), whether Snowflake writes a
    quoted part with its quotes (`DB.S."Mixed"`) or without; a name it cannot parse is kept."""
    text = str(value)
    if '"' not in text:
        return text
    try:
        return parse_qualified_name(text).resolved
    except ValueError:
        return text


def _count(value: object) -> int | None:
    """One STATISTICS number: a whole number (as JSON number or numeric text); anything else
    (null, true, a fraction, NaN, text, an object) reads as missing."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str | float | Decimal) else None
    except ArithmeticError:  # decimal.InvalidOperation: not a number
        return None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


STATISTICS_KEYS = (
    "numInsertedRows",
    "numDeletedRows",
    "numCopiedRows",
    "numAddedPartitions",
    "numRemovedPartitions",
    "queuedTimeMs",
    "compilationTimeMs",
    "executionTimeMs",
)
"""The refresh history's STATISTICS keys the sensor reads (Snowflake's spelling). The last three
are reported since 2026-03: an older row, or any key Snowflake leaves out, reads as None."""


def parse_statistics(value: object) -> dict[str, int | None]:
    """Each of `STATISTICS_KEYS` from a STATISTICS value, leniently: not JSON, not an object, or a
    key missing or not a whole number reads as None (never fails a tick)."""
    statistics = _json_object(value)
    return {key: _count(_key(statistics, key)) for key in STATISTICS_KEYS}


def parse_refresh_record(row: Mapping[str, Any]) -> RefreshRecord:
    """Typed record from one refresh history row (keys are upper-case column names)."""
    statistics = parse_statistics(row.get("STATISTICS"))
    return RefreshRecord(
        qualified_name=resolved_name(row["QUALIFIED_NAME"]),
        state=str(row["STATE"]).upper(),
        data_timestamp=parse_timestamp(row.get("DATA_TIMESTAMP")),
        query_id=parse_text(row.get("QUERY_ID")),
        refresh_start_time=parse_timestamp(row.get("REFRESH_START_TIME")),
        refresh_end_time=parse_timestamp(row.get("REFRESH_END_TIME")),
        refresh_action=parse_text(row.get("REFRESH_ACTION")),
        refresh_trigger=parse_text(row.get("REFRESH_TRIGGER")),
        read_prefix=parse_text(row.get(READ_PREFIX)),
        rows_inserted=statistics["numInsertedRows"],
        rows_deleted=statistics["numDeletedRows"],
        rows_copied=statistics["numCopiedRows"],
        partitions_added=statistics["numAddedPartitions"],
        partitions_removed=statistics["numRemovedPartitions"],
        queued_time_ms=statistics["queuedTimeMs"],
        compilation_time_ms=statistics["compilationTimeMs"],
        execution_time_ms=statistics["executionTimeMs"],
    )


def parse_scheduling_state(value: object) -> SchedulingState | None:
    data = _json_object(value)
    state = parse_text(_key(data, "STATE"))
    if state is None:
        return None
    return SchedulingState(
        state=state.upper(),
        reason_code=parse_text(_key(data, "REASON_CODE")),
        reason_message=parse_text(_key(data, "REASON_MESSAGE")),
    )


def parse_dynamic_table_state(row: Mapping[str, Any]) -> DynamicTableState:
    """Typed state from one row of the state statement (keys are upper-case column names)."""
    return DynamicTableState(
        qualified_name=resolved_name(row["QUALIFIED_NAME"]),
        target_lag_sec=parse_int(row.get("TARGET_LAG_SEC")),
        target_lag_type=parse_text(row.get("TARGET_LAG_TYPE")),
        scheduling_state=parse_scheduling_state(row.get("SCHEDULING_STATE")),
        latest_data_timestamp=parse_timestamp(row.get("LATEST_DATA_TIMESTAMP")),
        last_completed_refresh_state=parse_text(row.get("LAST_COMPLETED_REFRESH_STATE")),
        last_completed_refresh_state_code=parse_text(row.get("LAST_COMPLETED_REFRESH_STATE_CODE")),
        last_completed_refresh_state_message=parse_text(
            row.get("LAST_COMPLETED_REFRESH_STATE_MESSAGE")
        ),
        mean_lag_sec=parse_int(row.get("MEAN_LAG_SEC")),
        maximum_lag_sec=parse_int(row.get("MAXIMUM_LAG_SEC")),
        time_within_target_lag_ratio=_float(row.get("TIME_WITHIN_TARGET_LAG_RATIO")),
        refresh_mode=parse_text(row.get("REFRESH_MODE")),
        warehouse=parse_text(row.get("WAREHOUSE")),
        target_lag=parse_text(row.get("TARGET_LAG")),
        text=parse_text(row.get("TEXT")),
    )
