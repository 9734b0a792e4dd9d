"""Metadata keys and tag names, in one place.

The first four keep the names of Dagster's Snowflake Dynamic Tables example, so existing tooling
and docs that read them keep working.
"""

from __future__ import annotations

# Health check names (`health.rules`); a declared data test may not take one.
REFRESH_SUCCEEDED = "refresh_succeeded"
SCHEDULING_ACTIVE = "scheduling_active"
WITHIN_TARGET_LAG = "within_target_lag"
MATCHES_DECLARATION = "matches_declaration"
CHECK_NAMES = (REFRESH_SUCCEEDED, SCHEDULING_ACTIVE, WITHIN_TARGET_LAG, MATCHES_DECLARATION)
"""Every health check name, in the order the checks are declared. A misspelled name would be
stored silently by Dagster: always use these constants."""

# Asset spec metadata.
SNOWFLAKE_TABLE = "snowflake_table"
SNOWFLAKE_OBJECT_TYPE = "snowflake_object_type"
TARGET_LAG = "target_lag"
REFRESH_MODE = "refresh_mode"
WAREHOUSE = "warehouse"
INITIALIZE = "initialize"

# Materialization metadata written by the freshness sensor for a completed refresh.
DATA_TIMESTAMP = "data_timestamp"
REFRESH_ACTION = "refresh_action"
REFRESH_TRIGGER = "refresh_trigger"
REFRESH_START_TIME = "refresh_start_time"
REFRESH_END_TIME = "refresh_end_time"
REFRESH_DURATION_SECONDS = "refresh_duration_seconds"
ROWS_INSERTED = "rows_inserted"
ROWS_DELETED = "rows_deleted"
QUERY_ID = "query_id"
# ... and from the rest of the refresh history's STATISTICS (issue 20): numbers, so that the
# asset's Plots tab draws them (Dagster plots int and float metadata of materializations).
ROWS_COPIED = "rows_copied"
PARTITIONS_ADDED = "partitions_added"
PARTITIONS_REMOVED = "partitions_removed"
QUEUED_TIME_MS = "queued_time_ms"
COMPILATION_TIME_MS = "compilation_time_ms"
EXECUTION_TIME_MS = "execution_time_ms"
# Dagster's own key for a table's columns (the asset page's Columns), and when Snowflake created
# the table they were read from (SHOW DYNAMIC TABLES `created_on`).
COLUMN_SCHEMA = "dagster/column_schema"
TABLE_CREATED_ON = "table_created_on"

# Tag Dagster reads as the data version of an asset event.
DATA_VERSION_TAG = "dagster/data_version"

# Check evaluation metadata written by the health checks.
QUALIFIED_NAME = "qualified_name"
STATE = "state"
STATE_CODE = "state_code"
STATE_MESSAGE = "state_message"
SCHEDULING_STATE = "scheduling_state"
REASON_CODE = "reason_code"
REASON_MESSAGE = "reason_message"
LATEST_DATA_TIMESTAMP = "latest_data_timestamp"
LAG_SECONDS = "lag_seconds"
TARGET_LAG_SECONDS = "target_lag_seconds"
MEAN_LAG_SECONDS = "mean_lag_seconds"
MAXIMUM_LAG_SECONDS = "maximum_lag_seconds"
TIME_WITHIN_TARGET_LAG_RATIO = "time_within_target_lag_ratio"
DIFFERENCES = "differences"
FIX = "fix"
"""What to do about a failed refresh of a `scheduler: DISABLE` table (`sql.manual_refresh`)."""
OUTCOME = "outcome"
"""The kind of a check's outcome (`ok`, `above_margin`, `suspended:USER_SUSPENDED`, ...): what the
sensor compares, with pass/fail and severity, to report a check only when it changes."""

# Check spec and result metadata of the declared data tests (`health.data_tests`).
SQL = "sql"
"""The failing-rows query of a data test (a markdown SQL block)."""
DATA_TEST_KIND = "data_test_kind"
FAILING_ROWS = "failing_rows"
SAMPLE = "sample"
"""At most 5 failing rows, as a markdown table (values cut, the whole bounded)."""
ERROR_CODE = "error_code"
ERROR_MESSAGE = "error_message"
