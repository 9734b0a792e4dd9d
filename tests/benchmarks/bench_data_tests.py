"""Benchmark of the data tests that run after a sensor tick where every Dynamic Table refreshed
(a script that prints figures; not collected by pytest).

    uv run python tests/benchmarks/bench_data_tests.py [--dts 50] [--schemas 5] [--tests 2]

Starts a local-snowflake server on a temporary directory, creates `--schemas` schemas with one
source table each and `--dts` Dynamic Tables spread over them (`bench_sensor`'s objects), each
declaring `--tests` data tests (not_null, row_count, then unique, accepted_values, sql), on a
real `DagsterInstance`. A first tick records every table (cold start) and its run of tests is
executed once (warm-up). Then one row lands in every source, one scheduler pass refreshes every
Dynamic Table with changed data, and the sensor ticks: the figures are those of that tick and of
the run it requests, executed in process with the tenant's executor (a run of checks only runs
in the run's process), as a run worker executes it.

Printed: run requests of the tick (goal: 1) and the checks each selects (goal: every test of
every table), the run's Snowflake logins (connections the `snowflake` resource opened; goal: 1),
statements (SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT before and after; goal: one per test), check
evaluations and wall time (the tick; the run, from its start to its end in this process).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

import dagster as dg
from bench_sensor import DATABASE, build_tenant, create_objects  # (this script's folder)
from dagster_dynamic_tables.declarations.data_tests import (
    AcceptedValues,
    DataTest,
    NotNull,
    RowCountRange,
    Unique,
    name_data_tests,
)
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.freshness.sensor import SENSOR_NAME, build_freshness_sensor
from dagster_dynamic_tables.health.checks import (
    build_dynamic_table_checks,
    check_runs_in_process_executor,
)
from dagster_dynamic_tables.health.data_tests import build_data_test_checks
from dagster_dynamic_tables.sql.data_tests import PlannedDataTest
from local_snowflake import connect, connection_args
from local_snowflake.pytest_plugin import start_test_server, stop_test_server
from support.bench import statement_count
from support.snowflake_resources import counting_resource, logins


def tests_of(table: str, count: int) -> list[DataTest]:
    kinds = [
        DataTest(not_null=NotNull(column="ID")),
        DataTest(row_count=RowCountRange(min=1)),
        DataTest(unique=Unique(column="ID")),
        DataTest(accepted_values=AcceptedValues(column="ID", values=[1, 2, 3, 4, 5])),
        DataTest(sql=f"SELECT ID FROM {table} WHERE V < 0"),
    ]
    return name_data_tests(kinds[:count])


def tested_tenant(dts: int, schemas: int, count: int) -> Tenant:
    tenant = build_tenant(dts, schemas)
    tables = tuple(
        dt.model_copy(update={"data_tests": tests_of(dt.table, count)})
        for dt in tenant.dynamic_tables
    )
    return Tenant(tenant.slug, dynamic_tables=tables)


def planned_tests(tenant: Tenant) -> list[PlannedDataTest]:
    return [
        PlannedDataTest(tuple(tenant.key_path(dt)), test, dt.qualified_name)
        for dt in tenant.dynamic_tables
        for test in dt.data_tests
    ]


QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
"""The run's console log: errors only (its events are still stored)."""


class Bench:
    def __init__(self, tenant: Tenant, resource: Any, log: Path, counter: Any) -> None:
        checks = build_data_test_checks(tenant.slug, planned_tests(tenant))
        assert checks is not None
        self.defs = dg.Definitions(
            assets=build_asset_specs(tenant),
            asset_checks=[*build_dynamic_table_checks(tenant), checks],
            sensors=[build_freshness_sensor(tenant)],
            resources={"snowflake": resource},
            executor=check_runs_in_process_executor,
        )
        self.sensor = self.defs.resolve_sensor_def(SENSOR_NAME)
        self.job = self.defs.resolve_implicit_global_asset_job_def()
        self.resource = resource
        self.log = log
        self.counter = counter
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: str | None = None

    def tick(self) -> tuple[list[dg.RunRequest], float]:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"snowflake": self.resource},
            repository_def=self.defs.get_repository_def(),
        )
        start = time.perf_counter()
        data = self.sensor.evaluate_tick(context)
        elapsed = time.perf_counter() - start
        for event in data.asset_events:
            self.instance.report_runless_asset_event(event)
        self.cursor = data.cursor
        return list(data.run_requests or []), elapsed

    def execute(self, request: dg.RunRequest) -> tuple[int, int, int, bool, float]:
        """(logins, statements, evaluations, success, seconds) of the requested run."""
        subset = self.job.get_subset(
            asset_selection=set(), asset_check_selection=set(request.asset_check_keys or [])
        )
        before, logged = statement_count(self.counter), logins(self.log)
        start = time.perf_counter()
        result = subset.execute_in_process(
            instance=self.instance, raise_on_error=False, run_config=QUIET
        )
        elapsed = time.perf_counter() - start
        statements = statement_count(self.counter) - before - 1  # minus the count statement itself
        evaluations = len(result.get_asset_check_evaluations())
        return logins(self.log) - logged, statements, evaluations, result.success, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dts", type=int, default=50)
    parser.add_argument("--schemas", type=int, default=5)
    parser.add_argument("--tests", type=int, default=2, choices=range(1, 6))
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # preview/beta warnings of virtual assets are not the point

    tenant = tested_tenant(args.dts, args.schemas, args.tests)
    total = args.dts * args.tests
    with tempfile.TemporaryDirectory() as tmp:
        info, process = start_test_server(Path(tmp) / "local_snowflake")
        try:
            conn = connect(info.host, info.port)
            cursor = conn.cursor()
            create_objects(cursor, tenant, args.schemas)
            log = Path(tmp) / "logins"
            resource = counting_resource(log, connection_args(info.host, info.port))
            bench = Bench(tenant, resource, log, cursor)
            (first,), _ = bench.tick()  # cold start: every table recorded
            bench.execute(first)  # warm-up
            for s in range(args.schemas):
                cursor.execute(f"INSERT INTO {DATABASE}.S{s}.SRC VALUES (3, 30)")
            cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(61)")
            cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()")
            print(f"scheduler pass: {str(cursor.fetchall()[0][0]).split(':')[0]}")
            requests, tick_seconds = bench.tick()
            selected = sum(len(r.asset_check_keys or []) for r in requests)
            print(
                f"tick after a refresh of all {args.dts} Dynamic Tables: {tick_seconds * 1000:.0f} "
                f"ms, {len(requests)} run request(s) (goal 1) selecting {selected} of {total} "
                "data tests"
            )
            for request in requests:
                opened, statements, evaluations, success, seconds = bench.execute(request)
                print(
                    f"run of {len(request.asset_check_keys or [])} data tests: "
                    f"{'succeeded' if success else 'FAILED'}, {evaluations} evaluations, "
                    f"{opened} Snowflake login(s) (goal 1), {statements} statements (goal "
                    f"{total}: one per test), {seconds:.2f} s wall time "
                    f"({seconds / max(evaluations, 1) * 1000:.0f} ms per test)"
                )
            bench.instance.dispose()
            conn.close()
        finally:
            stop_test_server(process)


if __name__ == "__main__":
    main()
