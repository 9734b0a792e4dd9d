"""What a client can reach: no file outside the data directory (for any statement and inside a
DT definition), no other session's results, and no session that lives forever."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from local_snowflake import connect
from local_snowflake.process import HEALTH_PATH
from snowflake.connector.errors import Error, ProgrammingError
from support.own_server import own_server

REFUSED = (
    "SQL compilation error:\nUnsupported feature 'reading or writing files': not supported by "
    "local-snowflake (the embedded Snowflake stand-in) (Permission Error: Cannot access file "
    '"{path}" - file system operations are disabled by configuration)'
)


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("SELECT content FROM read_text('/etc/passwd')", "/etc/passwd"),
        ("SELECT * FROM read_csv('/etc/passwd')", "/etc/passwd"),
        ("SELECT content FROM read_blob('/etc/hostname')", "/etc/hostname"),
        ("SELECT * FROM read_json('/etc/os-release')", "/etc/os-release"),
    ],
    ids=["read_text", "read_csv", "read_blob", "read_json"],
)
def test_files_outside_the_data_directory_cannot_be_read(sf, query, path):
    with pytest.raises(ProgrammingError) as raised:
        sf.cur.execute(query)
    assert (raised.value.errno, raised.value.sqlstate) == (2, "0A000")
    assert raised.value.raw_msg == REFUSED.format(path=path)


def test_a_dynamic_table_cannot_read_files(sf):
    with pytest.raises(ProgrammingError) as raised:
        sf.cur.execute(
            "CREATE DYNAMIC TABLE leak TARGET_LAG = '1 minute' WAREHOUSE = wh "
            "AS SELECT content FROM read_text('/etc/passwd')"
        )
    assert raised.value.raw_msg == REFUSED.format(path="/etc/passwd")
    assert sf.rows("SHOW DYNAMIC TABLES LIKE 'LEAK'") == []


def test_the_configuration_cannot_be_changed_back(sf):
    with pytest.raises(ProgrammingError, match="the configuration has been locked"):
        sf.cur.execute("PRAGMA enable_external_access = true")
    assert sf.one("SELECT current_setting('enable_external_access')") is False


def test_result_scan_reads_only_the_sessions_own_results(local_snowflake_connect, database):
    owner = local_snowflake_connect(database=database, schema="S").cursor()
    other = local_snowflake_connect(database=database, schema="S").cursor()
    owner.execute("SELECT 'secret' AS s")
    query_id = owner.sfqid
    scan = f"SELECT * FROM TABLE(RESULT_SCAN('{query_id}'))"
    with pytest.raises(ProgrammingError) as raised:
        other.execute(scan)
    assert (raised.value.errno, raised.value.raw_msg) == (709, f"Statement {query_id} not found")
    owner.execute(scan)
    assert owner.fetchall() == [("secret",)]


def test_results_kept_per_session_are_bounded(sf):
    sf.cur.execute("SELECT 'first'")
    first = sf.cur.sfqid
    for n in range(20):
        sf.cur.execute(f"SELECT {n}")
    with pytest.raises(ProgrammingError, match=f"Statement {first} not found"):
        sf.cur.execute(f"SELECT * FROM TABLE(RESULT_SCAN('{first}'))")


def _sessions(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=5) as response:
        return json.loads(response.read())["sessions"]


def test_idle_sessions_expire(tmp_path):
    # 0.02 minutes = 1.2 s (the default is 240 minutes)
    with own_server(tmp_path, extra_args=["--session-idle-timeout-minutes", "0.02"]) as (info, _):
        idle = [connect(info.host, info.port) for _ in range(5)]  # never closed, never used
        busy = connect(info.host, info.port)
        assert _sessions(info.port) == 6
        for _ in range(4):  # busy keeps its session by using it
            time.sleep(0.5)
            busy.cursor().execute("SELECT 1")
        late = connect(info.host, info.port)  # a login sweeps the idle sessions out
        assert _sessions(info.port) == 2
        with pytest.raises(Error, match="401 Unauthorized"):
            idle[0].cursor().execute("SELECT 1")
        busy.cursor().execute("SELECT 1")
        late.cursor().execute("SELECT 1")
