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

# Refresh states that end a refresh, in the order DYNAMIC_TABLES() sorts them.
COMPLETED_STATE_ORDER = ("FAILED", "UPSTREAM_FAILED", "SKIPPED", "SUCCEEDED", "CANCELLED")

_TABLES_SQL = f"""
CREATE TABLE IF NOT EXISTS {C}.settings (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE TABLE IF NOT EXISTS {C}.dynamic_tables (
    database_name VARCHAR NOT NULL,
    schema_name VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    qualified_name VARCHAR NOT NULL,
    query_text VARCHAR NOT NULL,
    create_text VARCHAR NOT NULL,
    target_lag VARCHAR NOT NULL,
    target_lag_sec BIGINT,
    warehouse VARCHAR,
    refresh_mode VARCHAR NOT NULL,
    refresh_mode_reason VARCHAR,
    initialize VARCHAR NOT NULL,
    scheduling_state VARCHAR NOT NULL,
    reason_code VARCHAR,
    reason_message VARCHAR,
    last_suspended_on TIMESTAMPTZ,
    consecutive_failures INTEGER NOT NULL,
    created_on TIMESTAMPTZ NOT NULL,
    inputs VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS {C}.refresh_history (
    seq BIGINT NOT NULL,
    database_name VARCHAR NOT NULL,
    schema_name VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    qualified_name VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    state_code VARCHAR,
    state_message VARCHAR,
    query_id VARCHAR,
    data_timestamp TIMESTAMPTZ,
    refresh_start_time TIMESTAMPTZ,
    refresh_end_time TIMESTAMPTZ,
    completion_target TIMESTAMPTZ,
    last_completed_dependency VARCHAR,
    statistics VARCHAR NOT NULL,
    refresh_action VARCHAR,
    refresh_trigger VARCHAR NOT NULL,
    target_lag_sec BIGINT,
    graph_history_valid_from TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS {C}.graph_history (
    database_name VARCHAR NOT NULL,
    schema_name VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    qualified_name VARCHAR NOT NULL,
    inputs VARCHAR NOT NULL,
    target_lag_type VARCHAR NOT NULL,
    target_lag_sec BIGINT,
    query_text VARCHAR NOT NULL,
    valid_from TIMESTAMPTZ NOT NULL,
    valid_to TIMESTAMPTZ,
    scheduling_state VARCHAR NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS {C}.refresh_seq;
"""

_REFRESH_HISTORY_MACRO = f"""
CREATE OR REPLACE MACRO {C}.dt_refresh_history(
    p_db, p_names, p_prefix, p_start, p_end, p_limit, p_error_only
) AS TABLE
SELECT
    name AS NAME, schema_name AS SCHEMA_NAME, database_name AS DATABASE_NAME,
    qualified_name AS QUALIFIED_NAME, state AS STATE, state_code AS STATE_CODE,
    state_message AS STATE_MESSAGE, query_id AS QUERY_ID, data_timestamp AS DATA_TIMESTAMP,
    refresh_start_time AS REFRESH_START_TIME, refresh_end_time AS REFRESH_END_TIME,
    completion_target AS COMPLETION_TARGET,
    last_completed_dependency AS LAST_COMPLETED_DEPENDENCY, statistics AS STATISTICS,
    refresh_action AS REFRESH_ACTION, refresh_trigger AS REFRESH_TRIGGER,
    target_lag_sec AS TARGET_LAG_SEC, graph_history_valid_from AS GRAPH_HISTORY_VALID_FROM
FROM (
    SELECT * FROM {C}.refresh_history h
    WHERE h.database_name = p_db
      AND (p_names IS NULL OR list_contains(string_split(p_names, '|'), h.qualified_name))
      AND (p_prefix IS NULL OR starts_with(h.qualified_name, p_prefix))
      AND (h.state IN ('EXECUTING', 'SCHEDULED')
           OR (h.data_timestamp >= p_start AND h.data_timestamp <= p_end))
      AND (NOT p_error_only OR h.state IN ('FAILED', 'UPSTREAM_FAILED', 'CANCELLED'))
    ORDER BY h.state IN ('EXECUTING', 'SCHEDULED') DESC, h.data_timestamp DESC, h.seq DESC
    LIMIT p_limit
)
ORDER BY data_timestamp DESC, seq DESC
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
    to_json({{'STATE': CASE WHEN d.scheduling_state = 'SUSPENDED' THEN 'SUSPENDED'
                            ELSE 'ACTIVE' END,
              'REASON_CODE': d.reason_code, 'REASON_MESSAGE': d.reason_message,
              'SUSPENDED_ON': strftime(d.last_suspended_on, '%Y-%m-%dT%H:%M:%S.%gZ')}})::VARCHAR
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
        (valid_to IS NULL OR valid_to >= p_start) AND valid_from <= coalesce(p_end, p_as_of)
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
    d.schema_name AS "schema_name", '' AS "cluster_by", NULL::BIGINT AS "rows",
    NULL::BIGINT AS "bytes", 'SYSADMIN' AS "owner", d.target_lag AS "target_lag",
    d.refresh_mode AS "refresh_mode", d.refresh_mode_reason AS "refresh_mode_reason",
    d.warehouse AS "warehouse", '' AS "comment", d.create_text AS "text",
    'OFF' AS "automatic_clustering",
    CASE WHEN d.scheduling_state = 'SUSPENDED' THEN 'SUSPENDED' ELSE 'RUNNING' END
        AS "scheduling_state",
    d.last_suspended_on AS "last_suspended_on", 'false' AS "is_clone",
    'false' AS "is_replica", 'false' AS "is_iceberg",
    latest.data_timestamp AS "data_timestamp", 'ROLE' AS "owner_role_type"
FROM {C}.dynamic_tables d LEFT JOIN latest USING (qualified_name)
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
    path = (data_dir / CATALOG_FILE).as_posix().replace("'", "''")
    conn.execute(f"ATTACH IF NOT EXISTS '{path}' AS {CATALOG_NAME}")
    for sql in (
        _TABLES_SQL,
        _REFRESH_HISTORY_MACRO,
        _DYNAMIC_TABLES_MACRO,
        _GRAPH_HISTORY_MACRO,
        _SHOW_MACRO,
    ):
        conn.execute(_quote_aliases(sql))
