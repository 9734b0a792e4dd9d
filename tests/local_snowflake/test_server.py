"""The server process: persistence across restarts, many clients, statement counting."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from local_snowflake import connect, connection_args
from local_snowflake.pytest_plugin import free_port, stop_test_server
from support.own_server import own_server
from support.stand_in_pipeline import create_source_and_dynamic_table


def test_restart_keeps_data_definitions_and_history(tmp_path):
    with (
        own_server(tmp_path) as (info, process),
        connect(info.host, info.port, database="KEEP", schema="S") as conn,
    ):
        cur = conn.cursor()
        create_source_and_dynamic_table(cur)
        cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(3600)")
    assert process.returncode == 0
    assert (tmp_path / "KEEP.db").exists()

    # no database in the session: the databases are attached at startup
    with own_server(tmp_path) as (info, _process), connect(info.host, info.port) as conn:
        cur = conn.cursor()
        cur.execute("SELECT * FROM KEEP.S.dt")
        assert cur.fetchall() == [(1,)]
        cur.execute(
            "SELECT NAME, STATE, REFRESH_TRIGGER FROM TABLE("
            "KEEP.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY())"
        )
        assert cur.fetchall() == [("DT", "SUCCEEDED", "CREATION")]
        cur.execute("SHOW DYNAMIC TABLES IN ACCOUNT")
        assert [r[1] for r in cur.fetchall()] == ["DT"]
        # the advanced clock survived too: the DT is due at once
        cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()")
        assert "KEEP.S.DT=SUCCEEDED/NO_DATA" in str(cur.fetchall()[0][0])


CLIENT = textwrap.dedent(
    """
    import sys
    from local_snowflake import connect

    port, name = int(sys.argv[1]), sys.argv[2]
    with connect(port=port, database="SHARED", schema="S") as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE OR REPLACE TABLE {name} (i INT)")
        for i in range(25):
            cur.execute(f"INSERT INTO {name} VALUES ({i})")
            cur.execute("SELECT count(*) FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())")
            cur.fetchall()
        cur.execute(f"SELECT count(*) FROM {name}")
        print(cur.fetchone()[0])
    """
)


def test_two_client_processes_write_and_read_at_once(local_snowflake_server):
    port = str(local_snowflake_server.port)
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, port, name], stdout=subprocess.PIPE, text=True
        )
        for name in ("writer_a", "writer_b")
    ]
    outputs = [c.communicate(timeout=120)[0].strip() for c in clients]
    assert [c.returncode for c in clients] == [0, 0]
    assert outputs == ["25", "25"]


def test_statement_count_counts_what_the_server_executed(sf):
    before = sf.one("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")
    sf.cur.execute("SELECT 1")
    sf.cur.execute("SELECT 2")
    assert sf.one("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()") == before + 3


def test_run_scheduler_and_advance_clock_return_text(sf):
    assert "dynamic tables refreshed" in sf.run_scheduler()
    assert sf.one("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(0)").startswith("20")


def test_show_databases_hides_the_catalog(sf):
    names = [r[1] for r in sf.rows("SHOW DATABASES")]
    assert sf.db in names
    assert not [n for n in names if n.upper().startswith("_FS")]


def test_dagster_snowflake_resource_connects(local_snowflake_server):
    dagster_snowflake = pytest.importorskip("dagster_snowflake")
    resource = dagster_snowflake.SnowflakeResource(
        account="x",
        user="x",
        password="x",
        additional_snowflake_connection_args=connection_args(
            local_snowflake_server.host, local_snowflake_server.port
        ),
    )
    with resource.get_connection() as conn:
        cur = conn.cursor()
        cur.execute("SELECT 42")
        assert cur.fetchone() == (42,)


def test_serve_refuses_an_unusable_data_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    command = [sys.executable, "-m", "local_snowflake", "serve", "--port", str(free_port())]
    result = subprocess.run(
        [*command, "--data-dir", str(blocker / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"ERROR: cannot use {blocker / 'data'} as the data directory: Not a directory. "
        "Fix: pass --data-dir a directory this user can write.\n"
    )


def test_idle_timeout_stops_the_server(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_snowflake",
            "serve",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path),
            "--idle-timeout-minutes",
            "0.02",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.wait(timeout=30) == 0  # stopped by itself after ~1.2 s without requests
    finally:
        if process.poll() is None:
            stop_test_server(process)


def test_background_scheduler_refreshes_alongside_manual_passes(tmp_path):
    with (
        own_server(tmp_path, scheduler_interval_seconds=0.1) as (info, _process),
        connect(info.host, info.port, database="BG", schema="S") as conn,
    ):
        cur = conn.cursor()
        cur.execute(
            "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh "
            "INITIALIZE = ON_SCHEDULE AS SELECT 1 AS x"
        )
        for _ in range(20):  # manual passes while the background thread runs its own
            cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()")
            cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(30)")
        cur.execute(
            "SELECT STATE, REFRESH_TRIGGER FROM TABLE("
            "BG.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY()) ORDER BY DATA_TIMESTAMP"
        )
        history = cur.fetchall()
        # due at half the 1-minute lag: one refresh per 30 s of clock time, 20 x 30 s, and
        # no double refreshes from the two schedulers
        assert 19 <= len(history) <= 21
        assert {tuple(r) for r in history} == {("SUCCEEDED", "SCHEDULED")}


def test_stand_in_connections_do_not_probe_cloud_metadata_endpoints(local_snowflake_server):
    args = connection_args(local_snowflake_server.host, local_snowflake_server.port)
    assert args["platform_detection_timeout_seconds"] == 0.0  # the connector's off switch
    with connect(local_snowflake_server.host, local_snowflake_server.port) as conn:
        assert conn.platform_detection_timeout_seconds == 0.0
