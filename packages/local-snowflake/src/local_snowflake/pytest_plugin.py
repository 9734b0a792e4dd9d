"""Pytest fixtures: a real local-snowflake server process for the test session.

- `local_snowflake_server`: a `ServerInfo` for a server on a free loopback port with a temporary
  data directory; the background scheduler is off so tests drive refreshes with
  `SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()`. Stopped at the end of the session.
- `local_snowflake_connection_args`: the connector arguments for it (host, port, protocol, ...).
- `local_snowflake_connect`: a factory `connect(**kwargs)` returning connections (closed at the
  end of the test).
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import snowflake.connector

from local_snowflake.client import connect, connection_args
from local_snowflake.process import HEALTH_PATH, LOG_FILE, ServerInfo, serve_command


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_test_server(
    data_dir: Path, scheduler_interval_seconds: float = 0, extra_args: Sequence[str] = ()
) -> tuple[ServerInfo, subprocess.Popen[bytes]]:
    """Start `local-snowflake serve` as a child process and wait until it answers (extra_args
    go to `serve`, e.g. `["--session-idle-timeout-minutes", "0.05"]`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_file = data_dir / LOG_FILE
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            serve_command(
                data_dir,
                port,
                "--scheduler-interval-seconds",
                str(scheduler_interval_seconds),
                *extra_args,
            ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local-snowflake exited early; see {log_file}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=1):
                return ServerInfo("127.0.0.1", port, process.pid, data_dir, log_file), process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"local-snowflake did not answer within 60 s; see {log_file}")


def stop_test_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def local_snowflake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    info, process = start_test_server(tmp_path_factory.mktemp("local_snowflake"))
    try:
        yield info
    finally:
        stop_test_server(process)


@pytest.fixture(scope="session")
def local_snowflake_connection_args(local_snowflake_server: ServerInfo) -> dict[str, Any]:
    return connection_args(local_snowflake_server.host, local_snowflake_server.port)


@pytest.fixture
def local_snowflake_connect(
    local_snowflake_server: ServerInfo,
) -> Iterator[Callable[..., snowflake.connector.SnowflakeConnection]]:
    opened: list[snowflake.connector.SnowflakeConnection] = []

    def factory(**kwargs: Any) -> snowflake.connector.SnowflakeConnection:
        conn = connect(local_snowflake_server.host, local_snowflake_server.port, **kwargs)
        opened.append(conn)
        return conn

    yield factory
    for conn in opened:
        conn.close()
