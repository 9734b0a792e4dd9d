"""Restarting after a crash: refreshes a killed server left running are ended, as Snowflake ends
every refresh (FAILED during execution, CANCELLED before it)."""

from __future__ import annotations

import duckdb
from local_snowflake import connect
from local_snowflake.pytest_plugin import start_test_server, stop_test_server

HISTORY = (
    "SELECT STATE, STATE_CODE, STATE_MESSAGE, REFRESH_ACTION, REFRESH_TRIGGER, "
    "REFRESH_END_TIME IS NULL FROM TABLE(CRASH.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
    "RESULT_LIMIT => 100)) ORDER BY DATA_TIMESTAMP"
)


def _leave_running(data_dir, state, micros):
    """Write the row a server killed mid-refresh leaves behind (kill -9 between the EXECUTING
    insert and its update), into the stopped server's catalog file."""
    with duckdb.connect(str(data_dir / "_fs_local_snowflake.db")) as duck:
        duck.execute(
            "INSERT INTO refresh_history SELECT nextval('refresh_seq'), database_name, "
            "schema_name, name, qualified_name, ?, NULL, NULL, 'q', "
            "data_timestamp + to_microseconds(?), refresh_start_time, NULL, "
            "NULL, NULL, '{}', NULL, 'SCHEDULED', target_lag_sec, graph_history_valid_from "
            "FROM refresh_history ORDER BY seq DESC LIMIT 1",
            [state, micros],
        )


def test_restart_ends_refreshes_a_killed_server_left_running(tmp_path):
    info, process = start_test_server(tmp_path)
    try:
        with connect(info.host, info.port, database="CRASH", schema="S") as conn:
            cur = conn.cursor()
            cur.execute("CREATE TABLE src (id INT)")
            cur.execute("INSERT INTO src VALUES (1)")
            cur.execute(
                "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh "
                "AS SELECT id FROM src"
            )
    finally:
        stop_test_server(process)
    _leave_running(tmp_path, "EXECUTING", 1)
    _leave_running(tmp_path, "SCHEDULED", 2)

    info, process = start_test_server(tmp_path)
    try:
        with connect(info.host, info.port, database="CRASH", schema="S") as conn:
            cur = conn.cursor()
            cur.execute(HISTORY)
            assert cur.fetchall() == [
                ("SUCCEEDED", None, None, "REINITIALIZE", "CREATION", False),
                (
                    "FAILED",
                    "000603",
                    "SQL execution internal error: the refresh was interrupted (the "
                    "local-snowflake server stopped while it ran) and did not complete.",
                    None,
                    "SCHEDULED",
                    False,
                ),
                (
                    "CANCELLED",
                    "000604",
                    "The refresh was cancelled before it ran: the local-snowflake server stopped.",
                    None,
                    "SCHEDULED",
                    False,
                ),
            ]
            cur.execute(
                "SELECT EXECUTING_REFRESH_QUERY_ID, LAST_COMPLETED_REFRESH_STATE FROM TABLE("
                "CRASH.INFORMATION_SCHEMA.DYNAMIC_TABLES(NAME => 'CRASH.S.DT'))"
            )
            assert cur.fetchall() == [(None, "CANCELLED")]
            # the interrupted refresh may have written its data: the next one reinitializes
            # rather than report NO_DATA, so no change goes unseen
            cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(120)")
            cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()")
            assert cur.fetchone() == (
                "1 dynamic tables refreshed: CRASH.S.DT=SUCCEEDED/REINITIALIZE",
            )
            cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(120)")
            cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()")
            assert cur.fetchone() == ("1 dynamic tables refreshed: CRASH.S.DT=SUCCEEDED/NO_DATA",)
    finally:
        stop_test_server(process)
