"""The emulator clock: SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK validates its argument before anything
is saved, and a bad offset found in the catalog at start is reset with a warning, never a crash."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from local_snowflake import connect
from local_snowflake.pytest_plugin import start_test_server, stop_test_server
from snowflake.connector.errors import ProgrammingError
from support.own_server import own_server

FN = "SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK"
RANGE = "takes a finite number of seconds from 0 to 31536000 (365 days)"


@pytest.mark.parametrize(
    "argument", ["nan", "inf", "-inf", "-1e12", "1e15", "1e308", "-1", "31536001"]
)
def test_advance_clock_refuses_arguments_out_of_range_and_saves_nothing(sf, argument):
    before = sf.one(f"SELECT {FN}(0)")
    with pytest.raises(ProgrammingError) as raised:
        sf.cur.execute(f"SELECT {FN}({argument})")
    assert raised.value.errno == 1044
    assert raised.value.sqlstate == "22023"
    assert raised.value.raw_msg == f"SQL compilation error:\n{FN} {RANGE}, got '{argument}'"
    after = datetime.fromisoformat(sf.one(f"SELECT {FN}(0)"))
    assert after - datetime.fromisoformat(before) < timedelta(minutes=1)
    # refreshes still work with the clock as it was
    sf.cur.execute("CREATE TABLE src (id INT)")
    sf.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT * FROM src"
    )
    assert sf.run_scheduler(advance_seconds=61).endswith("=SUCCEEDED/NO_DATA")


def test_advance_clock_refuses_to_go_more_than_ten_years_ahead(tmp_path):
    # a server of its own: the session's server keeps its clock for the other tests
    with own_server(tmp_path) as (info, _process), connect(info.host, info.port) as conn:
        cur = conn.cursor()
        for _ in range(10):
            cur.execute(f"SELECT {FN}(31536000)")  # 3,650 days: the limit
        with pytest.raises(ProgrammingError) as raised:
            cur.execute(f"SELECT {FN}(86400)")
        assert raised.value.raw_msg == (
            f"SQL compilation error:\n{FN}(86400) would put the clock 3651 days ahead of "
            "wall time; it may be at most 3650 days (315360000 seconds) ahead. Fix: advance "
            "by less, or start over with a new data directory."
        )
        cur.execute(f"SELECT {FN}(0)")  # still at the limit, still working
    info, process = start_test_server(tmp_path)  # and it starts again
    stop_test_server(process)
    assert "clock offset" not in info.log_file.read_text()


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stopped server's data directory, its catalog written (each case writes a bad offset
    into a copy of it)."""
    data_dir = tmp_path_factory.mktemp("stopped")
    _info, process = start_test_server(data_dir)
    stop_test_server(process)
    return data_dir


# Each case starts a server (about 5 s): one non-finite, one out of range, one not a number; the
# refusal of every other value before it is saved is test_advance_clock_refuses_arguments_....
@pytest.mark.parametrize("stored", ["nan", "1e15", "not a number"])
def test_a_bad_clock_offset_in_the_catalog_is_reset_at_start_with_a_warning(
    stopped: Path, tmp_path: Path, stored: str
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(stopped, data_dir)
    with duckdb.connect(str(data_dir / "_fs_local_snowflake.db")) as duck:
        duck.execute("INSERT OR REPLACE INTO settings VALUES ('clock_offset', ?)", [stored])
    with (
        own_server(data_dir) as (info, _process),
        connect(info.host, info.port, database="CLOCK", schema="S") as conn,
    ):
        cur = conn.cursor()
        cur.execute(f"SELECT {FN}(0)")
        now = cur.fetchall()[0][0]
        assert abs(datetime.fromisoformat(now) - datetime.now(UTC)) < timedelta(minutes=1)
        cur.execute("CREATE TABLE src (id INT)")
        cur.execute(
            "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT * FROM src"
        )
        cur.execute("SELECT count(*) FROM dt")
        assert cur.fetchone() == (0,)
    log = info.log_file.read_text()
    assert (
        f"the emulator clock offset stored in the catalog ({stored!r} seconds) is not a finite "
        "number within 315360000 seconds of wall time: reset to 0 (the clock is wall time "
        "again; refreshes whose data timestamps are ahead of it wait until wall time passes "
        "them)"
    ) in log
    with duckdb.connect(str(data_dir / "_fs_local_snowflake.db")) as duck:
        assert duck.execute("SELECT value FROM settings WHERE key = 'clock_offset'").fetchall() == [
            ("0.0",)
        ]
