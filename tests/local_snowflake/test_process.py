"""ensure_server / server_status / stop_server: the background server for a data directory."""

from __future__ import annotations

import socket

import pytest
from local_snowflake import (
    ServerStartError,
    connect,
    ensure_server,
    server_status,
    stop_server,
)
from local_snowflake.pytest_plugin import free_port, start_test_server
from support.own_server import own_server


def test_ensure_server_is_idempotent_and_stop_server_stops_it(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()
    assert server_status(data_dir) is None
    first = ensure_server(data_dir, port, idle_timeout_minutes=5)
    try:
        again = ensure_server(data_dir, port)
        assert again == first
        assert again.pid == first.pid
        assert server_status(data_dir) == first
        assert first.log_file == data_dir.resolve() / "server.log"
        with connect(first.host, first.port) as conn:
            cur = conn.cursor()
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        with pytest.raises(ServerStartError, match=f"already runs on port {port}"):
            ensure_server(data_dir, free_port())
    finally:
        assert stop_server(data_dir) is True
    assert server_status(data_dir) is None
    assert stop_server(data_dir) is False


def test_ensure_server_refuses_a_port_taken_by_something_else(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(
            ServerStartError,
            match=f"Port {port} is taken by another program: set LOCAL_SNOWFLAKE_PORT",
        ):
            ensure_server(tmp_path, port)


def test_ensure_server_refuses_a_port_held_by_another_data_dir(tmp_path, local_snowflake_server):
    with pytest.raises(ServerStartError, match="for another data directory"):
        ensure_server(tmp_path, local_snowflake_server.port)


def test_ensure_server_refuses_an_unusable_data_dir_and_starts_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ServerStartError) as excinfo:
        ensure_server(blocker / "data", free_port())
    assert str(excinfo.value) == (
        f"cannot use {blocker / 'data'} as the local-snowflake data directory: Not a directory. "
        "Fix: point LOCAL_SNOWFLAKE_DATA_DIR (or --data-dir) at a writable directory, or unset it "
        "to use .local_snowflake/ at the repository root."
    )
    assert blocker.read_text() == ""


def test_a_server_started_in_a_terminal_is_the_data_dirs_server(tmp_path):
    """`local-snowflake serve` in the foreground: ensure_server and server_status find it."""
    data_dir = tmp_path / "data"
    info, process = start_test_server(data_dir)  # `python -m local_snowflake serve ...`
    try:
        status = server_status(data_dir)
        assert status is not None
        assert (status.port, status.pid) == (info.port, process.pid)
        assert ensure_server(data_dir, info.port) == status  # not "taken by another data dir"
        assert ensure_server(tmp_path / "." / "data", info.port).pid == process.pid
    finally:
        assert stop_server(data_dir) is True
    assert process.wait(timeout=30) == 0
    assert not (data_dir / "server.json").exists()
    assert server_status(data_dir) is None


def test_ensure_server_adopts_a_running_server_for_its_data_dir_without_a_record(tmp_path):
    with own_server(tmp_path) as (info, process):
        (tmp_path / "server.json").unlink()  # e.g. a server of an older version, or deleted
        assert server_status(tmp_path) is None
        adopted = ensure_server(tmp_path, info.port)
        assert (adopted.port, adopted.pid) == (info.port, process.pid)
        assert server_status(tmp_path) == adopted
