"""Benchmark of the freshness sensor on 1,000 Dynamic Tables (a script that prints figures; not
collected by pytest).

    uv run python tests/benchmarks/bench_sensor.py [--dts 1000] [--schemas 10]

Starts a local-snowflake server on a temporary directory, creates `--schemas` schemas with one
source table each and `--dts` Dynamic Tables spread over them (with plain SQL, so each creation
runs its initial refresh), then times sensor ticks on a real `DagsterInstance`:

1. cold start (every DT gets one materialization and its four check evaluations);
2. idle tick (goal: 0 events, no statement needing a warehouse);
3. after one scheduler pass that refreshes every DT, one source changed (1 schema's DTs
   INCREMENTAL, the rest NO_DATA: a NO_DATA refresh moves the data timestamp too);
4. idle tick again;
5. the periodic full read (`FULL_READ_INTERVAL` later, nothing moved).

For each: Snowflake statements sent (SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT before and after;
goal <= 2), how many of them need a warehouse (`requires_warehouse` on each text the connector
logs running: a SHOW alone needs none, a SELECT does), wall time (goal
<= 1 s), events, and the cursor Dagster stores with every tick row (goal: a few KB at 1,000 DTs).
Then the daily cost model those figures give (statements and warehouse-seconds per day).

Last, the budget of a quiet tenant (`--quiet-minutes`, default a whole day): one DT with a
1-minute target lag whose source never changes, in a database of its own; every minute the
stand-in's clock moves 61 s, its scheduler refreshes the DT (NO_DATA, the data timestamp
advances) and the sensor ticks. Printed: events the sensor wrote (materializations, check
evaluations, anything else) per day, statements and those needing a warehouse per day. A
Dynamic Table has no Dagster freshness policy (its freshness is `within_target_lag`), so keeping
a quiet table fresh costs no event: the goal is 0 events a day in a steady quiet period.

Warehouse statements, now and before (issue 20: goal <= 150 a day, 1,440 before). Now: the
sensor reads the history when SHOW's quiet form moved (`rows`, `bytes`, `created_on`: a NO_DATA
refresh moves none), a check's outcome changed, or on the full read. Before, it read whenever
SHOW's data timestamp moved: "before" replays that rule on the same SHOW answers (the
benchmark sends its own SHOW after each tick, not counted) plus the same full reads.

Then the cost of that: a data-changing refresh SHOW cannot see (same row count, same byte size:
an update to values of the same width), made right after a full read, the worst moment. Printed:
ticks with SHOW alone until the next full read records it, and the latency from its data
timestamp to the tick that recorded it (bound: `FULL_READ_INTERVAL` plus one tick).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

import dagster as dg
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.freshness.cursor import SensorCursor, history_ends
from dagster_dynamic_tables.freshness.history import build_tick_statement
from dagster_dynamic_tables.freshness.moved import shown_digest, shown_digests
from dagster_dynamic_tables.freshness.sensor import FULL_READ_INTERVAL, build_freshness_sensor
from dagster_dynamic_tables.freshness.show import build_show_statement, fetch_show
from dagster_dynamic_tables.sql.statements import Statement, requires_warehouse
from dagster_snowflake import SnowflakeResource
from local_snowflake import connect, connection_args
from local_snowflake.pytest_plugin import start_test_server, stop_test_server
from support.bench import statement_count

DATABASE = "BENCH"
_QUERY = re.compile(r"^running query \[(.*)\]$", re.DOTALL)


class SentStatements(logging.Handler):
    """The statements the Snowflake connector runs while this is entered: its own DEBUG log,
    "running query [<text>]" (the text as sent, newlines folded)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self._logger = logging.getLogger("snowflake.connector.cursor")
        self._level = self._logger.level

    def emit(self, record: logging.LogRecord) -> None:
        if found := _QUERY.match(record.getMessage()):
            self.texts.append(found[1])

    def __enter__(self) -> SentStatements:
        self._logger.addHandler(self)
        self._logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *_: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)


def build_tenant(dts: int, schemas: int) -> Tenant:
    tables = tuple(
        DynamicTable(
            name=f"dt_{i:04d}",
            table=f"{DATABASE}.S{i % schemas}.DT_{i:04d}",
            target_lag="1 minute",
            warehouse="WH",
            refresh_mode="INCREMENTAL",
            query=f"SELECT ID, AMOUNT * {i} AS V FROM {DATABASE}.S{i % schemas}.SRC",
        )
        for i in range(dts)
    )
    return Tenant("bench", dynamic_tables=tables)


def create_objects(cursor: Any, tenant: Tenant, schemas: int) -> None:
    cursor.execute(f"CREATE DATABASE {DATABASE}")
    for s in range(schemas):
        cursor.execute(f"CREATE SCHEMA {DATABASE}.S{s}")
        cursor.execute(f"CREATE TABLE {DATABASE}.S{s}.SRC (ID INT, AMOUNT INT)")
        cursor.execute(f"INSERT INTO {DATABASE}.S{s}.SRC VALUES (1, 10), (2, 20)")
    for dt in tenant.dynamic_tables:
        cursor.execute(
            f"CREATE DYNAMIC TABLE {dt.table} TARGET_LAG = '1 minute' WAREHOUSE = WH "
            f"REFRESH_MODE = INCREMENTAL AS {dt.query}"
        )


class Ticker:
    def __init__(self, tenant: Tenant, resource: SnowflakeResource, counter: Any) -> None:
        # The sensor's clock follows the stand-in's (which the benchmark advances), so that an
        # idle tick is idle: with the wall clock, setup time alone would move DTs past their lag.
        self.now = datetime.now(UTC)
        self.sensor = build_freshness_sensor(tenant, clock=lambda: self.now)
        self.tenant = tenant
        self.resource = resource
        self.counter = counter
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: str | None = None

    def check_statement_kinds(self) -> None:
        """SHOW needs no warehouse; the tick's second statement does."""
        cursor = SensorCursor.from_json(self.cursor)
        dts = list(self.tenant.dynamic_tables)
        second = build_tick_statement(dts, cursor.starts, history_ends(cursor), dts)
        assert not requires_warehouse(build_show_statement(f'"{DATABASE}"'))
        assert requires_warehouse(second)

    def evaluate(self) -> tuple[Any, int]:
        """The sensor on the current cursor: (its result, statements it sent that need a
        warehouse, by `requires_warehouse` on the text the connector logged running)."""
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources={"snowflake": self.resource}
        )
        with SentStatements() as sent:
            result = self.sensor(context)
        return result, sum(requires_warehouse(Statement(text)) for text in sent.texts)

    def tick(self, label: str) -> tuple[int, int]:
        """One tick; (statements, statements needing a warehouse)."""
        self.check_statement_kinds()
        before = statement_count(self.counter)
        start = time.perf_counter()
        result, warehouse = self.evaluate()
        elapsed = time.perf_counter() - start
        statements = statement_count(self.counter) - before - 1  # minus the count statement itself
        if not isinstance(result, dg.SensorResult):
            print(f"{label:<34} skipped: {result}")
            return statements, warehouse
        events = list(result.asset_events)
        materializations = sum(isinstance(e, dg.AssetMaterialization) for e in events)
        store_start = time.perf_counter()
        for event in events:
            self.instance.report_runless_asset_event(event)
        stored = time.perf_counter() - store_start
        self.cursor = result.cursor
        print(
            f"{label:<34} statements {statements} (needing a warehouse: {warehouse})  "
            f"tick {elapsed * 1000:7.0f} ms  "
            f"events {len(events):5d} ({materializations} materializations)  "
            f"[storing them as the daemon does: {stored * 1000:.0f} ms]  "
            f"cursor {len(self.cursor or '')} bytes"
        )
        return statements, warehouse


def cost_model(idle: tuple[int, int], busy: tuple[int, int], interval: int = 60) -> None:
    """Statements and warehouse-seconds per day from the measured per-tick figures.

    Warehouse-seconds assume the monitoring warehouse suspends after Snowflake's minimum
    AUTO_SUSPEND of 60 s and is billed at least 60 s per resume: a statement every tick keeps it
    running all day; statements far apart cost about 60 s each."""
    ticks = 86_400 // interval
    full_reads = int(timedelta(days=1) / FULL_READ_INTERVAL)
    print(f"cost model, one tick every {interval} s ({ticks} ticks a day):")
    for label, busy_ticks in (
        ("quiet (no DT refreshes)", full_reads),
        ("DTs with a 1-hour target lag", full_reads + 2 * 24),
        ("DTs with a 1-minute target lag, sources quiet (NO_DATA refreshes)", full_reads),
        ("DTs with a 1-minute target lag, data changing every minute", ticks),
    ):
        idle_ticks = ticks - busy_ticks
        statements = idle_ticks * idle[0] + busy_ticks * busy[0]
        warehouse = idle_ticks * idle[1] + busy_ticks * busy[1]
        seconds = min(86_400, warehouse * 60)
        print(
            f"   {label:<68} {statements:5d} statements/day, {warehouse:4d} needing a "
            f"warehouse, about {seconds:6d} warehouse-seconds/day"
        )


QUIET_DATABASE = "BENCH_QUIET"


def quiet_period(cursor: Any, resource: SnowflakeResource, minutes: int) -> None:
    """Events and statements per day for one quiet 1-minute DT, then the latency of a change
    SHOW cannot see (see the module docstring)."""
    tenant = Tenant(
        "quiet",
        change_signal="rows_and_bytes",
        dynamic_tables=(
            DynamicTable(
                name="totals",
                table=f"{QUIET_DATABASE}.S.TOTALS",
                target_lag="1 minute",
                warehouse="WH",
                refresh_mode="INCREMENTAL",
                query=f"SELECT ID, SUM(AMOUNT) AS TOTAL FROM {QUIET_DATABASE}.S.SRC GROUP BY ID",
            ),
        ),
    )
    for statement in (
        f"CREATE DATABASE {QUIET_DATABASE}",
        f"CREATE SCHEMA {QUIET_DATABASE}.S",
        f"CREATE TABLE {QUIET_DATABASE}.S.SRC (ID INT, AMOUNT INT)",
        f"INSERT INTO {QUIET_DATABASE}.S.SRC VALUES (1, 10)",
        f"CREATE DYNAMIC TABLE {QUIET_DATABASE}.S.TOTALS TARGET_LAG = '1 minute' WAREHOUSE = WH "
        f"REFRESH_MODE = INCREMENTAL AS {tenant.dynamic_tables[0].query}",
    ):
        cursor.execute(statement)
    ticker = Ticker(tenant, resource, cursor)
    cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(0)")
    ticker.now = datetime.fromisoformat(str(cursor.fetchall()[0][0]))
    quiet_run(ticker, cursor, 1)  # the cold start's materialization and checks: not counted
    run = quiet_run(ticker, cursor, minutes)
    scale = 1_440 / minutes
    print(
        f"quiet 1-minute DT over {minutes} minutes of the stand-in's clock ({run.no_data} NO_DATA "
        "refreshes, one tick a minute), per day:"
    )
    for kind in ("AssetMaterialization", "AssetCheckEvaluation", "other"):
        print(f"   {kind + ' events':<34} {run.counts.get(kind, 0) * scale:7.0f}")
    print(
        f"   {'statements':<34} {run.statements * scale:7.0f} "
        f"(needing a warehouse: {run.warehouse * scale:.0f}; "
        f"{run.full_reads * scale:.0f} of them the {FULL_READ_INTERVAL.seconds // 60}-minute "
        "full reads)"
    )
    print(
        f"   {'warehouse statements before':<34} {run.before * scale:7.0f} (a read whenever "
        "SHOW's data timestamp moved, replayed on the same SHOW answers)"
    )
    missed_refresh_latency(ticker, cursor)
    ticker.instance.dispose()


@dataclass
class QuietRun:
    counts: dict[str, int] = field(default_factory=dict[str, int])
    """Events by kind."""
    statements: int = 0
    warehouse: int = 0
    """Statements needing a warehouse (all but SHOW)."""
    no_data: int = 0
    full_reads: int = 0
    before: int = 0
    """Ticks on which the rule before issue 20 would have read the history (warehouse)."""


def quiet_tick(ticker: Ticker, run: QuietRun) -> list[Any]:
    """One tick of the quiet tenant, counted into `run`; its events (stored)."""
    before = statement_count(ticker.counter)
    result, warehouse = ticker.evaluate()
    run.statements += (
        statement_count(ticker.counter) - before - 1
    )  # minus the count statement itself
    run.warehouse += warehouse
    events: list[Any] = []
    if isinstance(result, dg.SensorResult):
        events = list(result.asset_events)
        for event in events:
            kind = type(event).__name__
            kind = kind if kind in ("AssetMaterialization", "AssetCheckEvaluation") else "other"
            run.counts[kind] = run.counts.get(kind, 0) + 1
            ticker.instance.report_runless_asset_event(event)
        ticker.cursor = result.cursor or ticker.cursor
    full = SensorCursor.from_json(ticker.cursor).full_read_at == ticker.now
    run.full_reads += full
    return events


def old_rule_digests(ticker: Ticker, cursor: Any) -> tuple[str, str]:
    """(data-timestamp digest, lag digest) of what SHOW reports now: what the sensor compared
    before issue 20 (one SHOW by the benchmark, not counted)."""
    shown = fetch_show(cursor.connection, ticker.tenant.dynamic_tables).states
    tables = ticker.tenant.dynamic_tables
    (lags,) = shown_digests(ticker.tenant, shown, ticker.now).values()
    return shown_digest(tables, shown, stamped=True), lags.lag


def quiet_minute(ticker: Ticker, cursor: Any) -> str:
    """61 s later on the stand-in's clock (the sensor's follows), one scheduler pass."""
    cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(61)")
    ticker.now = datetime.fromisoformat(str(cursor.fetchall()[0][0]))
    cursor.execute(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER('{QUIET_DATABASE}')")
    return str(cursor.fetchall()[0][0])


def quiet_run(ticker: Ticker, cursor: Any, minutes: int) -> QuietRun:
    """`minutes` quiet minutes, counted (see `QuietRun`)."""
    run = QuietRun()
    seen = old_rule_digests(ticker, cursor)
    for _ in range(minutes):
        run.no_data += quiet_minute(ticker, cursor).count("NO_DATA")
        full_reads = run.full_reads
        quiet_tick(ticker, run)
        now_seen = old_rule_digests(ticker, cursor)
        run.before += now_seen != seen or run.full_reads > full_reads
        seen = now_seen
    return run


def missed_refresh_latency(ticker: Ticker, cursor: Any) -> None:
    """A change SHOW cannot see, right after a full read: ticks and latency until recorded."""
    run = QuietRun()
    while True:  # up to the next full read
        quiet_minute(ticker, cursor)
        quiet_tick(ticker, run)
        if run.full_reads:
            break
    cursor.execute(f"UPDATE {QUIET_DATABASE}.S.SRC SET AMOUNT = 19 WHERE ID = 1")  # same width
    summary = quiet_minute(ticker, cursor)
    assert "INCREMENTAL" in summary, summary
    cursor.execute(
        f"SELECT MAX(DATA_TIMESTAMP) FROM TABLE({QUIET_DATABASE}.INFORMATION_SCHEMA."
        f"DYNAMIC_TABLE_REFRESH_HISTORY(NAME => '{QUIET_DATABASE}.S.TOTALS', RESULT_LIMIT => 10))"
        " WHERE REFRESH_ACTION = 'INCREMENTAL'"
    )
    changed = datetime.fromisoformat(str(cursor.fetchall()[0][0]))
    run = QuietRun()
    ticks = 0
    while True:
        events = quiet_tick(ticker, run)
        ticks += 1
        if any(isinstance(e, dg.AssetMaterialization) for e in events):
            break
        quiet_minute(ticker, cursor)
    latency = ticker.now - changed
    print(
        "a data-changing refresh SHOW cannot see (same rows, same bytes), right after a full "
        f"read: recorded on tick {ticks} ({run.warehouse} warehouse statement), "
        f"{latency.total_seconds() / 60:.1f} minutes after its data timestamp (bound: "
        f"{FULL_READ_INTERVAL.seconds // 60} minutes + one tick)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dts", type=int, default=1000)
    parser.add_argument("--schemas", type=int, default=10)
    parser.add_argument("--quiet-minutes", type=int, default=1_440)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # preview/beta warnings of virtual assets are not the point

    tenant = build_tenant(args.dts, args.schemas)
    with tempfile.TemporaryDirectory() as tmp:
        info, process = start_test_server(Path(tmp) / "local_snowflake")
        try:
            # a scheduler pass over 1,000 DTs can outlast the default 60 s read on a loaded machine
            conn = connect(info.host, info.port, socket_timeout=900)
            cursor = conn.cursor()
            start = time.perf_counter()
            create_objects(cursor, tenant, args.schemas)
            setup = time.perf_counter() - start
            print(
                f"setup: {args.dts} Dynamic Tables in {args.schemas} schemas created with SQL "
                f"(each with its initial refresh) in {setup:.1f} s"
            )
            resource = SnowflakeResource(
                account="local",
                user="local",
                password="local",
                autocommit=True,
                additional_snowflake_connection_args=connection_args(info.host, info.port),
            )
            ticker = Ticker(tenant, resource, cursor)
            ticker.now = datetime.now(UTC)
            ticker.tick("1. cold start")
            idle = ticker.tick("2. idle")
            cursor.execute(f"INSERT INTO {DATABASE}.S0.SRC VALUES (3, 30)")
            cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(61)")
            ticker.now += timedelta(seconds=61)
            start = time.perf_counter()
            cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()")
            summary = str(cursor.fetchall()[0][0])
            print(
                f"   scheduler pass: {summary.split(':')[0]} in "
                f"{time.perf_counter() - start:.1f} s (stand-in time, not the sensor's)"
            )
            busy = ticker.tick("3. after a refresh of every DT")
            ticker.tick("4. idle")
            ticker.now += FULL_READ_INTERVAL
            ticker.tick("5. full read, nothing moved")
            cost_model(idle, busy)
            ticker.instance.dispose()
            quiet_period(cursor, resource, args.quiet_minutes)
            conn.close()
        finally:
            stop_test_server(process)


if __name__ == "__main__":
    main()
