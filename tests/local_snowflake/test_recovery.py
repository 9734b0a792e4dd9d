"""Restarting after a crash: refreshes a killed server left running are ended, as Snowflake ends
every refresh (FAILED during execution, CANCELLED before it)."""

from __future__ import annotations

import json
import urllib.request

import duckdb
from local_snowflake import connect
from local_snowflake.process import HEALTH_PATH
from local_snowflake.pytest_plugin import start_test_server, stop_test_server
from support.own_server import own_server
from support.stand_in_pipeline import create_source_and_dynamic_table

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
    with (
        own_server(tmp_path) as (info, _process),
        connect(info.host, info.port, database="CRASH", schema="S") as conn,
    ):
        create_source_and_dynamic_table(conn.cursor())
    _leave_running(tmp_path, "EXECUTING", 1)
    _leave_running(tmp_path, "SCHEDULED", 2)
    with duckdb.connect(str(tmp_path / "CRASH.db")) as duck:  # killed between stage and drop
        duck.execute("CREATE TABLE S._fs_ls_refresh_stage AS SELECT 1 AS id")

    with (
        own_server(tmp_path) as (info, _process),
        connect(info.host, info.port, database="CRASH", schema="S") as conn,
    ):
        cur = conn.cursor()
        cur.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_fs_ls_refresh_stage'"
        )
        assert cur.fetchone() == (0,)  # the stage table it left is gone
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
        assert cur.fetchone() == ("1 dynamic tables refreshed: CRASH.S.DT=SUCCEEDED/REINITIALIZE",)
        cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(120)")
        cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()")
        assert cur.fetchone() == ("1 dynamic tables refreshed: CRASH.S.DT=SUCCEEDED/NO_DATA",)


def _refreshing(info):
    with urllib.request.urlopen(f"http://{info.host}:{info.port}{HEALTH_PATH}", timeout=10) as r:
        return json.loads(r.read())["refreshing"]


def test_kill_9_during_a_scheduled_refresh_leaves_no_refresh_running(tmp_path):
    """A real SIGKILL while the server's scheduler runs a refresh (seen through the health
    endpoint's `refreshing`), then a restart: the refresh is FAILED, nothing stays EXECUTING."""
    killed_mid_refresh = False
    for _attempt in range(5):  # bounded: a loaded machine may let a refresh slip by unseen
        info, process = start_test_server(tmp_path, scheduler_interval_seconds=0.05)
        try:
            with connect(info.host, info.port, database="KILL", schema="S") as conn:
                cur = conn.cursor()
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS big AS "
                    "SELECT seq4() AS x FROM TABLE(GENERATOR(ROWCOUNT => 6000))"
                )
                cur.execute(  # a refresh that takes a moment: 36M pairs
                    "CREATE DYNAMIC TABLE IF NOT EXISTS slow TARGET_LAG = '1 minute' "
                    "WAREHOUSE = wh AS SELECT count(*) AS n FROM big a, big b "
                    "WHERE (a.x * b.x) % 7 = 3"
                )
                cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(120)")  # now due
            for _poll in range(2000):
                if _refreshing(info) == ["KILL.S.SLOW"]:
                    process.kill()
                    killed_mid_refresh = True
                    break
        finally:
            if process.poll() is None and not killed_mid_refresh:
                stop_test_server(process)
            process.wait()
        if killed_mid_refresh:
            break
    assert killed_mid_refresh

    with (
        own_server(tmp_path) as (info, _process),  # scheduler off
        connect(info.host, info.port, database="KILL", schema="S") as conn,
    ):
        cur = conn.cursor()
        cur.execute(
            "SELECT STATE, STATE_CODE FROM TABLE(KILL.INFORMATION_SCHEMA."
            "DYNAMIC_TABLE_REFRESH_HISTORY(DATA_TIMESTAMP_START => '2000-01-01'::TIMESTAMP_LTZ,"
            " RESULT_LIMIT => 1000)) ORDER BY DATA_TIMESTAMP"
        )
        history = cur.fetchall()
        assert ("FAILED", "000603") in history
        assert not [row for row in history if row[0] in ("EXECUTING", "SCHEDULED")]
        cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(120)")
        cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()")
        assert cur.fetchone() == ("1 dynamic tables refreshed: KILL.S.SLOW=SUCCEEDED/REINITIALIZE",)
