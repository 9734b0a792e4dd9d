"""A damaged data directory is refused at start, naming the file and how to recover, instead of a
server that answers while every statement fails (or serves Dynamic Tables as plain tables)."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from local_snowflake import ServerStartError, connect, ensure_server, server_status, stop_server
from local_snowflake.pytest_plugin import free_port

CATALOG = "_fs_local_snowflake.db"


def _recover(data_dir):
    return re.escape(
        ". Nothing was changed. To recover, stop what uses it and remove (or move away) the data "
        f"directory, e.g. `rm -r '{data_dir}'`, then start again: in this repository "
        "`uv run dynamic-tables local start` rebuilds every tenant's tables, seed rows and "
        "Dynamic Tables (rows added by hand since are lost); or restore the file from a backup; "
        f"see {data_dir / 'server.log'}"
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A stopped server's data directory: a database with 50,000 rows and a Dynamic Table."""
    data_dir = tmp_path_factory.mktemp("pristine")
    info = ensure_server(data_dir, free_port(), idle_timeout_minutes=5)
    with connect(info.host, info.port, database="ANALYTICS", schema="S") as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE src (a INT, b VARCHAR)")
        cur.execute("INSERT INTO src SELECT range, 'row ' || range FROM range(50000)")
        cur.execute(
            "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh "
            "AS SELECT count(*) AS n FROM src"
        )
    assert stop_server(data_dir)
    return data_dir


def _truncate(path):
    os.truncate(path, path.stat().st_size // 2)


def _scramble(path):
    data = bytearray(path.read_bytes())
    for i in range(4096, len(data), 997):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


CASES = {
    "catalog truncated": (
        lambda d: _truncate(d / CATALOG),
        lambda d: re.escape(f"{CATALOG}: table main.")
        + r"\w+ cannot be read \(IO Error: Could not read enough bytes from file "
        + re.escape(f'"{d / CATALOG}"')
        + r": .+\)",
    ),
    "catalog deleted": (
        lambda d: (d / CATALOG).unlink(),
        lambda d: re.escape(
            f"the Dynamic Table catalog {CATALOG} is missing while database files exist "
            "(ANALYTICS.db): their Dynamic Tables would be served as plain tables"
        ),
    ),
    "catalog not a database": (
        lambda d: (d / CATALOG).write_bytes(b"not duckdb" * 100),
        lambda d: re.escape(
            f'{CATALOG} cannot be opened (IO Error: The file "{d / CATALOG}" exists, but it is '
            "not a valid DuckDB database file!)"
        ),
    ),
    "database corrupt": (
        lambda d: _scramble(d / "ANALYTICS.db"),
        lambda d: re.escape("ANALYTICS.db cannot be opened (Corrupt database file: computed ")
        + r"checksum \d+ does not match stored checksum \d+ in block at location \d+\)",
    ),
    "database truncated": (
        lambda d: _truncate(d / "ANALYTICS.db"),
        lambda d: re.escape("ANALYTICS.db cannot be opened (IO Error: Could not read enough ")
        + r"bytes from file .+\)",
    ),
}


def _refused(pristine, tmp_path, case):
    """A copy of `pristine` damaged as `case` says: refused at start, in our words, and nothing
    left running; the data directory and the port it was refused on."""
    damage, what = CASES[case]
    data_dir = (tmp_path / "data").resolve()
    shutil.copytree(pristine, data_dir)
    damage(data_dir)
    port = free_port()
    with pytest.raises(ServerStartError) as raised:
        ensure_server(data_dir, port, idle_timeout_minutes=5)
    assert re.fullmatch(
        f"local-snowflake exited with code 3 while starting on port {port}: the local-snowflake "
        + re.escape(f"data directory {data_dir} is damaged: ")
        + what(data_dir)
        + _recover(data_dir),
        str(raised.value),
    ), str(raised.value)
    assert server_status(data_dir) is None
    return data_dir, port


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_data_directory_is_refused_at_start_with_how_to_recover(pristine, tmp_path, case):
    _refused(pristine, tmp_path, case)


def test_the_documented_recovery_starts_again(pristine, tmp_path):
    """Remove the data directory and start again, on the port the damaged one was refused on
    (once: the directory is gone, whatever the damage was; each start costs seconds)."""
    data_dir, port = _refused(pristine, tmp_path, "database corrupt")
    shutil.rmtree(data_dir)
    info = ensure_server(data_dir, port, idle_timeout_minutes=5)
    try:
        with connect(info.host, info.port) as conn:
            conn.cursor().execute("SELECT 1")
    finally:
        stop_server(data_dir)


def test_an_intact_data_directory_starts_with_its_rows_and_dynamic_tables(pristine, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(pristine, data_dir)
    info = ensure_server(data_dir, free_port(), idle_timeout_minutes=5)
    try:
        with connect(info.host, info.port, database="ANALYTICS", schema="S") as conn:
            cur = conn.cursor()
            cur.execute("SELECT n FROM dt")
            assert cur.fetchall() == [(50000,)]
            cur.execute("SHOW DYNAMIC TABLES")
            assert len(cur.fetchall()) == 1
    finally:
        stop_server(data_dir)
