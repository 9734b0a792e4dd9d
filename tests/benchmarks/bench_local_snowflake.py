"""Benchmark of the local-snowflake server (a script that prints figures; not collected by pytest).

    uv run python tests/benchmarks/bench_local_snowflake.py [--round-trips N]

1. Plain round trip: `SELECT 1` N times on an open connection, over local-snowflake and over
   stock fakesnow's server (`fakesnow.server()`, same run); prints both and the ratio (goal <= 1.2).
2. The Dagster sensor's refresh-history statement over 1,000 DTs x 50 refreshes each (history
   rows written straight into the server's catalog before it starts); goal under 200 ms.
3. Bulk insert: `executemany` of `--bulk-rows` rows (default 100,000; qmark paramstyle, which the
   connector sends as one request of array bindings) while another client runs `SELECT 1` on an
   open connection and logs in (connect + `SELECT 1` + close) in a loop: the insert's time and the
   other client's latencies meanwhile (median, 95th percentile, max). Then the same with the
   connector's default pyformat paramstyle (`--pyformat-rows`, default 10,000), which the
   connector rewrites into one multi-row INSERT statement. `--only-bulk` runs this part alone.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

import duckdb
import fakesnow
import snowflake.connector
from local_snowflake import connect
from local_snowflake.catalog import CATALOG_FILE, C, create_catalog
from local_snowflake.pytest_plugin import start_test_server, stop_test_server
from snowflake.connector.cursor import SnowflakeCursor
from support.sensor_statements import SENSOR_DYNAMIC_TABLES_SQL, SENSOR_HISTORY_SQL

DTS = 1000
REFRESHES = 50


def fetch(cur: SnowflakeCursor, sql: str) -> list[Any]:
    cur.execute(sql)
    return cur.fetchall()


def split_timing(cur: SnowflakeCursor, sql: str, repeat: int) -> tuple[float, float]:
    """Median (execute, fetchall) times: the server's work plus transfer, then the connector
    turning the Arrow result into Python rows (TIMESTAMP_LTZ values are converted one by one)."""
    executes: list[float] = []
    fetches: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        cur.execute(sql)
        middle = time.perf_counter()
        cur.fetchall()
        executes.append(middle - start)
        fetches.append(time.perf_counter() - middle)
    return statistics.median(executes), statistics.median(fetches)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def round_trips(
    ours: snowflake.connector.SnowflakeConnection,
    stock: snowflake.connector.SnowflakeConnection,
    n: int,
) -> tuple[float, float]:
    """Median SELECT 1 round trip on each connection, alternating batches of 10 so that load
    from other processes on the machine falls on both alike."""
    cursors = [ours.cursor(), stock.cursor()]
    samples: list[list[float]] = [[], []]
    for cur in cursors:
        fetch(cur, "SELECT 1")  # warm up
    for _ in range(max(n // 10, 1)):
        for cur, times in zip(cursors, samples, strict=True):
            times += timed(lambda cur=cur: fetch(cur, "SELECT 1"), 10)
    return statistics.median(samples[0]), statistics.median(samples[1])


def seed_history(data_dir: Path, now: datetime) -> None:
    """1,000 DTs (ANALYTICS.ECOMMERCE) x 50 refreshes, one every 20 minutes up to now."""
    duck = duckdb.connect()
    create_catalog(duck, data_dir)
    duck.execute(
        f"""INSERT INTO {C}.dynamic_tables
        SELECT 'ANALYTICS', 'ECOMMERCE', 'DT_' || i, 'ANALYTICS.ECOMMERCE.DT_' || i,
            'SELECT 1 AS x', 'CREATE DYNAMIC TABLE ...', '20 minutes', 1200, 'WH',
            'INCREMENTAL', NULL, 'ON_CREATE', 'ACTIVE', NULL, NULL, NULL, 0,
            ?::TIMESTAMPTZ - INTERVAL 2 DAY, '[]', 'ENABLE'
        FROM range({DTS}) t(i)""",
        [now],
    )
    duck.execute(
        f"""INSERT INTO {C}.refresh_history
        SELECT row_number() OVER (), 'ANALYTICS', 'ECOMMERCE', 'DT_' || i,
            'ANALYTICS.ECOMMERCE.DT_' || i,
            'SUCCEEDED', NULL, NULL, uuid()::VARCHAR, ts, ts + INTERVAL 1 SECOND,
            ts + INTERVAL 3 SECOND, ts, NULL,
            '{{"numInsertedRows": 1, "numDeletedRows": 0}}',
            CASE WHEN r % 3 = 0 THEN 'NO_DATA' ELSE 'INCREMENTAL' END, 'SCHEDULED', 1200, ts
        FROM range({DTS}) a(i), range({REFRESHES}) b(r),
            LATERAL (SELECT ?::TIMESTAMPTZ - to_seconds((r * 1200 + i) :: BIGINT) AS ts)""",
        [now],
    )
    duck.close()


def _percentiles(times: list[float]) -> str:
    if not times:
        return "no sample"
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"median {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms ({len(ordered)} samples)"
    )


def bulk_insert(host: str, port: int, rows: int, paramstyle: str) -> dict[str, Any]:
    """executemany of rows into a fresh table while another client queries and logs in."""
    table = f"BULK_{paramstyle.upper()}_{rows}"
    marker = "?, ?, ?" if paramstyle == "qmark" else "%s, %s, %s"
    data = [(i, f"name {i}", i * 0.5) for i in range(rows)]
    queries: list[float] = []
    logins: list[float] = []
    done = threading.Event()

    def other_client() -> None:
        with connect(host, port) as conn:
            cur = conn.cursor()
            while not done.is_set():
                start = time.perf_counter()
                fetch(cur, "SELECT 1")
                queries.append(time.perf_counter() - start)
                start = time.perf_counter()
                with connect(host, port) as fresh:
                    fetch(fresh.cursor(), "SELECT 1")
                logins.append(time.perf_counter() - start)
                time.sleep(0.05)

    with connect(host, port, database="BULK", schema="S", paramstyle=paramstyle) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {table} (id INT, name VARCHAR, amount DOUBLE)")
        watcher = threading.Thread(target=other_client)
        watcher.start()
        time.sleep(0.5)
        start = time.perf_counter()
        cur.executemany(f"INSERT INTO {table} VALUES ({marker})", data)
        elapsed = time.perf_counter() - start
        done.set()
        watcher.join()
        inserted = cur.rowcount
        counted = fetch(cur, f"SELECT count(*) FROM {table}")[0][0]
    return {
        "elapsed": elapsed,
        "rowcount": inserted,
        "counted": counted,
        "queries": queries,
        "logins": logins,
    }


def print_bulk(rows: int, paramstyle: str, figures: dict[str, Any]) -> None:
    print(
        f"executemany of {rows:,} rows ({paramstyle}): {figures['elapsed']:.2f} s "
        f"(rowcount {figures['rowcount']}, count(*) {figures['counted']})"
    )
    print(f"  another client's SELECT 1 meanwhile: {_percentiles(figures['queries'])}")
    print(f"  another client's login + SELECT 1:   {_percentiles(figures['logins'])}")


def bulk_figures(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        info, process = start_test_server(Path(tmp))
        try:
            qmark = bulk_insert(info.host, info.port, args.bulk_rows, "qmark")
            pyformat = bulk_insert(info.host, info.port, args.pyformat_rows, "pyformat")
        finally:
            stop_test_server(process)
    print_bulk(args.bulk_rows, "qmark: one request of array bindings", qmark)
    print_bulk(args.pyformat_rows, "pyformat: one multi-row INSERT statement", pyformat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--round-trips", type=int, default=300)
    parser.add_argument("--bulk-rows", type=int, default=100_000)
    parser.add_argument("--pyformat-rows", type=int, default=10_000)
    parser.add_argument("--only-bulk", action="store_true")
    args = parser.parse_args()
    if args.only_bulk:
        bulk_figures(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        now = datetime.now(UTC)
        seed_history(data_dir, now)
        assert (data_dir / CATALOG_FILE).exists()
        info, process = start_test_server(data_dir)
        try:
            with fakesnow.server() as kwargs:
                # fakesnow.server() configures uvicorn at INFO: an access-log line per request
                # would slow the stock side and flatter the ratio. Ours logs at WARNING.
                for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "fakesnow.server"):
                    logging.getLogger(name).setLevel(logging.WARNING)
                with (
                    snowflake.connector.connect(**kwargs) as stock_conn,
                    connect(info.host, info.port) as conn,
                ):
                    ours, stock = round_trips(conn, stock_conn, args.round_trips)
            with connect(info.host, info.port, database="ANALYTICS", schema="ECOMMERCE") as conn:
                cur = conn.cursor()
                cur.execute("CREATE DATABASE IF NOT EXISTS OTHER_DB")
                start = (now - timedelta(days=1)).isoformat(sep=" ")
                sql = SENSOR_HISTORY_SQL.format(start=start)
                rows = len(fetch(cur, sql))
                history_times = timed(lambda: fetch(cur, sql), 10)
                history_split = split_timing(cur, sql, 10)
                tick = SENSOR_HISTORY_SQL.format(
                    start=(now - timedelta(minutes=3)).isoformat(sep=" ")
                )
                tick_rows = len(fetch(cur, tick))
                tick_times = timed(lambda: fetch(cur, tick), 10)
                dts = len(fetch(cur, SENSOR_DYNAMIC_TABLES_SQL))
                dt_times = timed(lambda: fetch(cur, SENSOR_DYNAMIC_TABLES_SQL), 10)
        finally:
            stop_test_server(process)

    print(f"SELECT 1 round trip, median of {args.round_trips}:")
    print(f"  local-snowflake  {ours * 1000:7.2f} ms")
    print(f"  stock fakesnow   {stock * 1000:7.2f} ms")
    print(f"  ratio            {ours / stock:7.2f}  (goal <= 1.2)")
    print(f"Sensor refresh-history statement, {DTS} DTs x {REFRESHES} refreshes ({rows} rows):")
    print(
        f"  median {statistics.median(history_times) * 1000:.0f} ms, "
        f"min {min(history_times) * 1000:.0f} ms of 10  (goal < 200 ms)"
    )
    print(
        f"  of which execute (server + transfer) {history_split[0] * 1000:.0f} ms, "
        f"fetchall (connector's conversion to Python) {history_split[1] * 1000:.0f} ms"
    )
    print(f"The same statement for a typical tick (start 3 minutes ago, {tick_rows} rows):")
    print(
        f"  median {statistics.median(tick_times) * 1000:.0f} ms, "
        f"min {min(tick_times) * 1000:.0f} ms of 10"
    )
    print(f"Sensor DYNAMIC_TABLES() statement ({dts} rows):")
    print(
        f"  median {statistics.median(dt_times) * 1000:.0f} ms, "
        f"min {min(dt_times) * 1000:.0f} ms of 10"
    )
    bulk_figures(args)


if __name__ == "__main__":
    main()
