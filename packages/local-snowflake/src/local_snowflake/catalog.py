"""The server's own catalog: Dynamic Table definitions, state and history, in DuckDB.

The catalog is a DuckDB file of its own (`_fs_local_snowflake.db` in the data directory),
attached under a name fakesnow hides, so it survives restarts and stays out of users' way.
The metadata table functions are DuckDB table macros over these tables: a statement that calls
`TABLE(<db>.INFORMATION_SCHEMA.DYNAMIC_TABLES(...))` is rewritten to call the macro (see
`metadata.py`), and the rest of the statement runs as usual.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

CATALOG_NAME = "_fs_local_snowflake"
CATALOG_FILE = f"{CATALOG_NAME}.db"
C = f"{CATALOG_NAME}.main"

# Column names are upper case (unquoted identifiers are case-insensitive in DuckDB, so the SQL
# here can use lower case): DuckDB's DESCRIBE, which fakesnow uses for the result's column
# names, reports a passed-through column under its table's spelling, not the query's.

_TABLES_SQL = f"""
CREATE TABLE IF NOT EXISTS {C}.settings (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE TABLE IF NOT EXISTS {C}.dynamic_tables (
    DATABASE_NAME VARCHAR NOT NULL,
    SCHEMA_NAME VARCHAR NOT NULL,
    NAME VARCHAR NOT NULL,
    QUALIFIED_NAME VARCHAR NOT NULL,
    QUERY_TEXT VARCHAR NOT NULL,
    CREATE_TEXT VARCHAR NOT NULL,
    TARGET_LAG VARCHAR NOT NULL,
    TARGET_LAG_SEC BIGINT,
    WAREHOUSE VARCHAR,
    REFRESH_MODE VARCHAR NOT NULL,
    REFRESH_MODE_REASON VARCHAR,
    INITIALIZE VARCHAR NOT NULL,
    SCHEDULING_STATE VARCHAR NOT NULL,
    REASON_CODE VARCHAR,
    REASON_MESSAGE VARCHAR,
    LAST_SUSPENDED_ON TIMESTAMPTZ,
    CONSECUTIVE_FAILURES INTEGER NOT NULL,
    CREATED_ON TIMESTAMPTZ NOT NULL,
    INPUTS VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS {C}.refresh_history (
    SEQ BIGINT NOT NULL,
    DATABASE_NAME VARCHAR NOT NULL,
    SCHEMA_NAME VARCHAR NOT NULL,
    NAME VARCHAR NOT NULL,
    QUALIFIED_NAME VARCHAR NOT NULL,
    STATE VARCHAR NOT NULL,
    STATE_CODE VARCHAR,
    STATE_MESSAGE VARCHAR,
    QUERY_ID VARCHAR,
    DATA_TIMESTAMP TIMESTAMPTZ,
    REFRESH_START_TIME TIMESTAMPTZ,
    REFRESH_END_TIME TIMESTAMPTZ,
    COMPLETION_TARGET TIMESTAMPTZ,
    LAST_COMPLETED_DEPENDENCY VARCHAR,
    STATISTICS VARCHAR NOT NULL,
    REFRESH_ACTION VARCHAR,
    REFRESH_TRIGGER VARCHAR NOT NULL,
    TARGET_LAG_SEC BIGINT,
    GRAPH_HISTORY_VALID_FROM TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS {C}.graph_history (
    DATABASE_NAME VARCHAR NOT NULL,
    SCHEMA_NAME VARCHAR NOT NULL,
    NAME VARCHAR NOT NULL,
    QUALIFIED_NAME VARCHAR NOT NULL,
    INPUTS VARCHAR NOT NULL,
    TARGET_LAG_TYPE VARCHAR NOT NULL,
    TARGET_LAG_SEC BIGINT,
    QUERY_TEXT VARCHAR NOT NULL,
    VALID_FROM TIMESTAMPTZ NOT NULL,
    VALID_TO TIMESTAMPTZ,
    SCHEDULING_STATE VARCHAR NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS {C}.refresh_seq;

-- Added after the first release: a catalog made before gets the column, every DT ENABLE.
ALTER TABLE {C}.dynamic_tables ADD COLUMN IF NOT EXISTS SCHEDULER VARCHAR DEFAULT 'ENABLE';

-- SHOW DYNAMIC TABLES' rows and bytes of each DT as created (with its creation time, so a DT
-- created again starts empty), written by successful refreshes (DynamicTables.record_size). No
-- key: DuckDB's INSERT OR REPLACE on one costs about 13 ms here, a DELETE and INSERT 3 ms.
CREATE TABLE IF NOT EXISTS {C}.show_sizes (
    QUALIFIED_NAME VARCHAR NOT NULL,
    CREATED_ON TIMESTAMPTZ NOT NULL,
    ROW_COUNT BIGINT NOT NULL,
    BYTES BIGINT NOT NULL
);

-- The DTs a CREATE DATABASE ... CLONE made (clones.py), keyed by their creation time: such a DT
-- is initialized without a refresh of its own, and SHOW reports it `is_clone` until created again.
CREATE TABLE IF NOT EXISTS {C}.cloned_dynamic_tables (
    QUALIFIED_NAME VARCHAR NOT NULL, SOURCE VARCHAR NOT NULL, CREATED_ON TIMESTAMPTZ NOT NULL);
"""

_REFRESH_HISTORY_COLUMNS = (
    "NAME, SCHEMA_NAME, DATABASE_NAME, QUALIFIED_NAME, STATE, STATE_CODE, STATE_MESSAGE, "
    "QUERY_ID, DATA_TIMESTAMP, REFRESH_START_TIME, REFRESH_END_TIME, COMPLETION_TARGET, "
    "LAST_COMPLETED_DEPENDENCY, STATISTICS, REFRESH_ACTION, REFRESH_TRIGGER, TARGET_LAG_SEC, "
    "GRAPH_HISTORY_VALID_FROM"
)

# The newest refreshes (running ones first) up to the limit, returned newest first.
_REFRESH_HISTORY_MACRO = f"""
CREATE OR REPLACE MACRO {C}.dt_refresh_history(
    p_db, p_names, p_prefix, p_start, p_end, p_limit, p_error_only
) AS TABLE
SELECT {_REFRESH_HISTORY_COLUMNS} FROM (
    SELECT
        {", ".join(f"{c.lower()} AS {c}" for c in _REFRESH_HISTORY_COLUMNS.split(", "))},
        seq AS _SEQ, state IN ('EXECUTING', 'SCHEDULED') AS _RUNNING
    FROM {C}.refresh_history h
    WHERE h.database_name = p_db
      AND (p_names IS NULL OR list_contains(string_split(p_names, '|'), h.qualified_name))
      AND (p_prefix IS NULL OR starts_with(upper(h.qualified_name), upper(p_prefix)))
      AND (h.state IN ('EXECUTING', 'SCHEDULED')
           OR (h.data_timestamp >= p_start AND h.data_timestamp <= p_end))
      AND (NOT p_error_only OR h.state IN ('FAILED', 'UPSTREAM_FAILED', 'CANCELLED'))
    ORDER BY _RUNNING DESC, DATA_TIMESTAMP DESC, _SEQ DESC
    LIMIT p_limit
)
ORDER BY DATA_TIMESTAMP DESC, _SEQ DESC
"""

_DYNAMIC_TABLES_MACRO = f"""
CREATE OR REPLACE MACRO {C}.dt_dynamic_tables(p_db, p_names, p_limit, p_now, p_start) AS TABLE
WITH d AS (
    SELECT * FROM {C}.dynamic_tables
    WHERE (p_names IS NULL AND database_name = p_db)
       OR list_contains(string_split(p_names, '|'), qualified_name)
),
ok AS (
    SELECT qualified_name, data_timestamp FROM {C}.refresh_history
    WHERE state = 'SUCCEEDED' AND data_timestamp >= p_start AND data_timestamp <= p_now
      AND qualified_name IN (SELECT qualified_name FROM d)
),
seg AS (
    SELECT qualified_name, data_timestamp,
        epoch(lead(data_timestamp, 1, p_now) OVER (
            PARTITION BY qualified_name ORDER BY data_timestamp)) - epoch(data_timestamp) AS len
    FROM ok
),
m AS (
    SELECT seg.qualified_name, max(seg.data_timestamp) AS latest,
        sum(seg.len) AS total, sum(seg.len * seg.len / 2) AS integral, max(seg.len) AS max_len,
        sum(greatest(seg.len - d.target_lag_sec, 0)) AS above
    FROM seg JOIN d USING (qualified_name)
    GROUP BY seg.qualified_name
),
lc AS (
    SELECT qualified_name,
        arg_max(state, seq) AS state, arg_max(state_code, seq) AS state_code,
        arg_max(state_message, seq) AS state_message
    FROM {C}.refresh_history
    WHERE state IN ('SUCCEEDED', 'FAILED', 'UPSTREAM_FAILED', 'CANCELLED', 'SKIPPED')
      AND qualified_name IN (SELECT qualified_name FROM d)
    GROUP BY qualified_name
),
ex AS (
    SELECT qualified_name, arg_max(query_id, seq) AS query_id FROM {C}.refresh_history
    WHERE state = 'EXECUTING' GROUP BY qualified_name
)
SELECT
    d.name AS NAME, d.schema_name AS SCHEMA_NAME, d.database_name AS DATABASE_NAME,
    d.qualified_name AS QUALIFIED_NAME,
    d.target_lag_sec AS TARGET_LAG_SEC,
    CASE WHEN d.target_lag = 'DOWNSTREAM' THEN 'DOWNSTREAM' ELSE 'USER_DEFINED' END
        AS TARGET_LAG_TYPE,
    to_json({{'state': CASE WHEN d.scheduling_state = 'SUSPENDED' THEN 'SUSPENDED'
                            ELSE 'ACTIVE' END,
              'reason_code': d.reason_code, 'reason_message': d.reason_message,
              'suspended_on': strftime(timezone('UTC', d.last_suspended_on),
                                       '%Y-%m-%d %H:%M:%S.%g +0000')}})::VARCHAR
        AS SCHEDULING_STATE,
    CAST(round(m.integral / nullif(m.total, 0)) AS BIGINT) AS MEAN_LAG_SEC,
    CAST(round(m.max_len) AS BIGINT) AS MAXIMUM_LAG_SEC,
    CAST(round(m.above) AS BIGINT) AS TIME_ABOVE_TARGET_LAG_SEC,
    CAST(1 - m.above / nullif(m.total, 0) AS DOUBLE) AS TIME_WITHIN_TARGET_LAG_RATIO,
    m.latest AS LATEST_DATA_TIMESTAMP,
    lc.state AS LAST_COMPLETED_REFRESH_STATE,
    lc.state_code AS LAST_COMPLETED_REFRESH_STATE_CODE,
    lc.state_message AS LAST_COMPLETED_REFRESH_STATE_MESSAGE,
    ex.query_id AS EXECUTING_REFRESH_QUERY_ID,
    d.target_lag AS TARGET_LAG,
    d.refresh_mode AS REFRESH_MODE,
    d.refresh_mode_reason AS REFRESH_MODE_REASON,
    d.warehouse AS WAREHOUSE
FROM d
LEFT JOIN m USING (qualified_name)
LEFT JOIN lc USING (qualified_name)
LEFT JOIN ex USING (qualified_name)
ORDER BY coalesce(list_position(
    ['FAILED', 'UPSTREAM_FAILED', 'SKIPPED', 'SUCCEEDED', 'CANCELLED'], lc.state), 6),
    d.qualified_name
LIMIT p_limit
"""

_GRAPH_HISTORY_MACRO = f"""
CREATE OR REPLACE MACRO {C}.dt_graph_history(p_db, p_as_of, p_start, p_end) AS TABLE
SELECT
    name AS NAME, schema_name AS SCHEMA_NAME, database_name AS DATABASE_NAME,
    qualified_name AS QUALIFIED_NAME, inputs AS INPUTS, target_lag_type AS TARGET_LAG_TYPE,
    target_lag_sec AS TARGET_LAG_SEC, query_text AS QUERY_TEXT, valid_from AS VALID_FROM,
    valid_to AS VALID_TO, scheduling_state AS SCHEDULING_STATE
FROM {C}.graph_history
WHERE database_name = p_db
  AND CASE
    WHEN p_start IS NOT NULL THEN
        (valid_to IS NULL OR valid_to >= p_start) AND (p_end IS NULL OR valid_from <= p_end)
    WHEN p_as_of IS NOT NULL THEN
        valid_from <= p_as_of AND (valid_to IS NULL OR valid_to > p_as_of)
    ELSE valid_to IS NULL
  END
ORDER BY qualified_name, valid_from
"""

_SHOW_MACRO = f"""
CREATE OR REPLACE MACRO {C}.dt_show(p_db, p_schema, p_like) AS TABLE
WITH latest AS (
    SELECT qualified_name, max(data_timestamp) AS data_timestamp FROM {C}.refresh_history
    WHERE state = 'SUCCEEDED' GROUP BY qualified_name
)
SELECT
    d.created_on AS "created_on", d.name AS "name", d.database_name AS "database_name",
    d.schema_name AS "schema_name", '' AS "cluster_by",
    coalesce(z.row_count, 0)::BIGINT AS "rows", coalesce(z.bytes, 0)::BIGINT AS "bytes",
    'SYSADMIN' AS "owner", d.target_lag AS "target_lag",
    d.refresh_mode AS "refresh_mode", d.refresh_mode_reason AS "refresh_mode_reason",
    d.warehouse AS "warehouse", '' AS "comment", d.create_text AS "text",
    'OFF' AS "automatic_clustering",
    CASE WHEN d.scheduling_state = 'SUSPENDED' THEN 'SUSPENDED' ELSE 'RUNNING' END
        AS "scheduling_state",
    d.last_suspended_on AS "last_suspended_on",
    CASE WHEN EXISTS (SELECT 1 FROM {C}.cloned_dynamic_tables c
        WHERE c.qualified_name = d.qualified_name AND c.created_on = d.created_on)
        THEN 'true' ELSE 'false' END AS "is_clone",
    'false' AS "is_replica", 'false' AS "is_iceberg",
    latest.data_timestamp AS "data_timestamp", 'ROLE' AS "owner_role_type"
FROM {C}.dynamic_tables d LEFT JOIN latest USING (qualified_name)
LEFT JOIN {C}.show_sizes z
    ON z.qualified_name = d.qualified_name AND z.created_on = d.created_on
WHERE (p_db IS NULL OR d.database_name = p_db)
  AND (p_schema IS NULL OR d.schema_name = p_schema)
  AND (p_like IS NULL OR d.name ILIKE p_like)
ORDER BY d.database_name, d.schema_name, d.name
"""


def _quote_aliases(sql: str) -> str:
    """Quote upper-case aliases: DuckDB keeps the source column's case for `name AS NAME`."""
    return re.sub(
        r"\bAS ([A-Z][A-Z_]*)\b",
        lambda m: m[0] if m[1] in {"TABLE", "BIGINT", "DOUBLE", "VARCHAR"} else f'AS "{m[1]}"',
        sql,
    )


def create_catalog(conn: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """Attach (creating if needed) the catalog file in data_dir and (re)create its macros."""
    conn.execute(
        f"ATTACH IF NOT EXISTS ? AS {CATALOG_NAME}", [(data_dir / CATALOG_FILE).as_posix()]
    )
    for sql in (
        _TABLES_SQL,
        _REFRESH_HISTORY_MACRO,
        _DYNAMIC_TABLES_MACRO,
        _GRAPH_HISTORY_MACRO,
        _SHOW_MACRO,
    ):
        conn.execute(_quote_aliases(sql))
