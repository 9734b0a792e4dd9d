"""Production storage, for real: a tenant's code server and the Dagster daemon with exactly the
`dagster.yaml` deploy/README.md gives (deploy/dagster.yaml: storage on Postgres, driver named in
the URL scheme) against a private PostgreSQL 15 server, plus the embedded stand-in.

From a cold start the freshness sensor creates the tenant's objects in the stand-in, records the
Dynamic Tables' creation refreshes as runless materializations, and the automation sensor runs
the downstream dashboard (a run launched by the daemon through the code server, its worker
writing to the same storage). Both are then read with SQL from Postgres itself: the
materialization in `event_logs` (run id '' = runless), the run's SUCCESS in `runs`.

Before the fix the daemon and the code server died at start with `ModuleNotFoundError: No module
named 'psycopg'` (SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg v3, not installed).
About a minute and a half on the 2-core machine; Postgres is started by the fixture (see
conftest.py), never skipped: a machine without it fails with how to install it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import local_snowflake
import psycopg2.errors
import pytest
import yaml
from support.code_server import run_code_server
from support.environment import clean_env
from support.processes import free_port, started, wait_for
from support.repo import BIN, REPO_ROOT

SLUG = "ecommerce"
DT_KEY = '["ecommerce", "customer_lifetime_value"]'
DOWNSTREAM_KEY = '["ecommerce", "executive_dashboard_report"]'

RUNLESS_MATERIALIZATIONS = """
SELECT COUNT(*) FROM event_logs
WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND run_id = '' AND asset_key = %s
"""
SUCCEEDED_RUNS_MATERIALIZING = """
SELECT runs.run_id FROM runs
WHERE runs.status = 'SUCCESS' AND EXISTS (
    SELECT 1 FROM event_logs
    WHERE event_logs.run_id = runs.run_id
      AND event_logs.dagster_event_type = 'ASSET_MATERIALIZATION'
      AND event_logs.asset_key = %s
)
"""


@pytest.fixture
def environment(tmp_path: Path, postgres: Any) -> Iterator[dict[str, str]]:
    """DAGSTER_HOME holding deploy/dagster.yaml as is, Postgres and a private stand-in."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    data_dir = tmp_path / "snowflake"
    env = clean_env(
        DAGSTER_HOME=str(home),
        PYTHONUNBUFFERED="1",
        LOCAL_SNOWFLAKE_PORT=str(free_port()),
        LOCAL_SNOWFLAKE_DATA_DIR=str(data_dir),
        **postgres.env(),
    )
    try:
        yield env
    finally:
        local_snowflake.stop_server(data_dir)


def _tail(log: Path) -> str:
    """The log's end, where a Python traceback names its exception."""
    return log.read_text(errors="replace")[-4000:]


def _workspace(path: Path, port: int) -> Path:
    server = {"host": "127.0.0.1", "port": port, "location_name": SLUG}
    path.write_text(yaml.safe_dump({"load_from": [{"grpc_server": server}]}))
    return path


def test_refresh_and_downstream_run_are_recorded_in_postgres(
    tmp_path: Path, postgres: Any, environment: dict[str, str]
) -> None:
    with run_code_server(SLUG, tmp_path, env=environment) as server:
        workspace = _workspace(tmp_path / "workspace.yaml", server.port)
        command = [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)]
        log = tmp_path / "daemon.log"
        with started(command, log, environment, tmp_path) as daemon:

            def query(sql: str, *params: object) -> list[tuple[object, ...]]:
                # A process that died (e.g. on a storage it cannot open) fails the test now.
                assert daemon.poll() is None, f"the daemon exited:\n{_tail(log)}"
                assert server.process_alive(), f"the code server exited:\n{server.log_tail()}"
                try:
                    return postgres.query(sql, *params)
                except psycopg2.errors.UndefinedTable:  # the first process creates the schema
                    return []

            try:
                wait_for(
                    "a runless materialization of the Dynamic Table in Postgres",
                    lambda: [n for (n,) in query(RUNLESS_MATERIALIZATIONS, DT_KEY) if n],
                    timeout=240,
                    every=2,
                )
                runs = wait_for(
                    "a successful downstream run in Postgres",
                    lambda: query(SUCCEEDED_RUNS_MATERIALIZING, DOWNSTREAM_KEY),
                    timeout=240,
                    every=2,
                )
            except TimeoutError:
                print(f"--- daemon log ---\n{_tail(log)}")
                print(f"--- code server log ---\n{server.log_tail()}")
                raise

    (run_id,) = {row[0] for row in runs}
    assert postgres.query("SELECT status FROM runs WHERE run_id = %s", run_id) == [("SUCCESS",)]
    assert postgres.query(RUNLESS_MATERIALIZATIONS, DT_KEY)[0][0] >= 1
