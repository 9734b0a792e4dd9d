"""`dynamic-tables local status|stop` need only the server's record and a loopback health request:
they must not import the Snowflake connector (1.3 s here), fakesnow, DuckDB, Dagster or PyYAML.
(Figures: tests/benchmarks/bench_local_status.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from local_snowflake import ensure_server, server_status, stop_server
from local_snowflake.pytest_plugin import free_port

HEAVY = ["dagster", "duckdb", "fakesnow", "snowflake.connector", "yaml"]

_PROBE = """
import json, sys
from dagster_dynamic_tables.cli import main
status = main(sys.argv[2:])
loaded = list(sys.modules)
heavy = [h for h in json.loads(sys.argv[1]) if any(m == h or m.startswith(h + ".") for m in loaded)]
print(json.dumps({"status": status, "heavy": heavy}))
"""


def _run(command: str, data_dir: Path, port: int) -> tuple[int, list[str], str]:
    env = {
        **os.environ,
        "LOCAL_SNOWFLAKE_DATA_DIR": str(data_dir),
        "LOCAL_SNOWFLAKE_PORT": str(port),
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(HEAVY), "local", command],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    *printed, last = done.stdout.strip().splitlines()
    result = json.loads(last)
    return result["status"], result["heavy"], "\n".join(printed)


@pytest.mark.parametrize("command", ["status", "stop"])
def test_status_and_stop_of_a_stopped_stand_in_import_nothing_heavy(tmp_path, command):
    status, heavy, printed = _run(command, tmp_path, free_port())
    assert heavy == []
    assert "not running" in printed
    assert status == (3 if command == "status" else 0)


def test_status_and_stop_of_a_running_stand_in_import_nothing_heavy(tmp_path):
    port = free_port()
    info = ensure_server(tmp_path, port, idle_timeout_minutes=5)
    try:
        status, heavy, printed = _run("status", tmp_path, port)
        assert (status, heavy) == (0, [])
        assert printed == (
            f"local Snowflake stand-in: running on 127.0.0.1:{port} (pid {info.pid}), "
            f"data in {tmp_path.resolve()}"
        )
        status, heavy, printed = _run("stop", tmp_path, port)
        assert (status, heavy, printed) == (0, [], "local Snowflake stand-in: stopped")
    finally:
        if server_status(tmp_path) is not None:
            stop_server(tmp_path)
    assert server_status(tmp_path) is None
