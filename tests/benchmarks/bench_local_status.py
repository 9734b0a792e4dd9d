"""Benchmark: `dynamic-tables local status` against a bare interpreter (prints figures).

    uv run python tests/benchmarks/bench_local_status.py [--repeat 15]

Each figure is the median wall time of `--repeat` fresh processes (started directly from the
virtual environment's bin/, so `uv run`'s own start-up is not counted in either):

1. `python -c pass` (the floor);
2. `dynamic-tables local status` with no server running (record missing: no health request);
3. `dynamic-tables local status` with a stand-in running (record read, one loopback health
   request), on a free port and a temporary data directory;
4. `dynamic-tables local stop` of a stopped stand-in.

The goal (issue 15 item 5) is status <= 6x the bare interpreter. Status and stop import neither
the Snowflake connector, fakesnow, DuckDB, Dagster nor PyYAML
(tests/local_snowflake/test_light_commands.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local_snowflake import ensure_server, stop_server
from local_snowflake.pytest_plugin import free_port

BIN = Path(sys.executable).parent


def median_seconds(command: list[str], env: dict[str, str], repeat: int) -> float:
    times: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as temporary:
        data_dir, port = Path(temporary), free_port()
        env = {
            **os.environ,
            "LOCAL_SNOWFLAKE_DATA_DIR": str(data_dir),
            "LOCAL_SNOWFLAKE_PORT": str(port),
        }
        status = [str(BIN / "dynamic-tables"), "local", "status"]
        bare = median_seconds([sys.executable, "-c", "pass"], env, repeat)
        stopped = median_seconds(status, env, repeat)
        stop = median_seconds([str(BIN / "dynamic-tables"), "local", "stop"], env, repeat)
        ensure_server(data_dir, port, idle_timeout_minutes=5)
        try:
            running = median_seconds(status, env, repeat)
        finally:
            stop_server(data_dir)
    print(f"medians of {repeat} runs each")
    print(f"python -c pass:                     {bare * 1000:6.0f} ms")
    print(f"local status (not running):         {stopped * 1000:6.0f} ms  ({stopped / bare:.1f}x)")
    print(f"local status (running, health ask): {running * 1000:6.0f} ms  ({running / bare:.1f}x)")
    print(f"local stop (not running):           {stop * 1000:6.0f} ms  ({stop / bare:.1f}x)")
    print("goal: status <= 6x the bare interpreter")


if __name__ == "__main__":
    main()
