"""Benchmark of `plan` over 1,000 declared Dynamic Tables in 10 schemas (a script that prints
figures; not collected by pytest).

    uv run python tests/benchmarks/bench_plan.py [--dts 1000] [--schemas 10]

Starts a local-snowflake server on a temporary directory with one source table per schema, then
times `plan_tenant` three times, counting the statements the server executed
(SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT before and after):

1. empty account (the database does not exist: every DT is a create);
2. after `apply` (every DT exists and matches: all unchanged);
3. with every DT's target lag changed (every DT an in-place alter).

Goals (issue 10): statements do not grow with the number of DTs; under 5 s each.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.platform.plan.apply import apply_plan
from dagster_dynamic_tables.platform.plan.build import TenantPlan, plan_tenant
from local_snowflake import connect
from local_snowflake.pytest_plugin import start_test_server, stop_test_server
from support.bench import statement_count

DATABASE = "BENCH_PLAN"


def attributes(dts: int, schemas: int, lag: str) -> dict[str, Any]:
    return {
        "tenant": "bench",
        "sources": [{"name": f"src_{s}", "table": f"{DATABASE}.S{s}.SRC"} for s in range(schemas)],
        "dynamic_tables": [
            {
                "name": f"dt_{i:04d}",
                "table": f"{DATABASE}.S{i % schemas}.DT_{i:04d}",
                "target_lag": lag,
                "warehouse": "WH",
                "refresh_mode": "INCREMENTAL",
                "initialize": "ON_SCHEDULE",  # no initial refresh: the benchmark is about plan
                "deps": [f"src_{i % schemas}"],
                "query": f"select id, amount * {i} as v from {DATABASE}.S{i % schemas}.SRC",
            }
            for i in range(dts)
        ],
    }


def timed_plan(cursor: Any, lag: str, dts: int, schemas: int) -> tuple[TenantPlan, int, float]:
    tenant = build_tenant(attributes(dts, schemas, lag), file=None, base_dir=None)
    before = statement_count(cursor)
    started = time.perf_counter()
    plan = plan_tenant(cursor, tenant, stand_in=True)
    seconds = time.perf_counter() - started
    statements = statement_count(cursor) - before - 1
    return plan, statements, seconds


def report(label: str, plan: TenantPlan, statements: int, seconds: float) -> None:
    actions: dict[str, int] = {}
    for item in plan.objects:
        actions[item.action.value] = actions.get(item.action.value, 0) + 1
    print(f"{label:<28} {statements:>3} statements  {seconds:6.2f} s  {actions}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dts", type=int, default=1000)
    parser.add_argument("--schemas", type=int, default=10)
    args = parser.parse_args()
    dts, schemas = int(args.dts), int(args.schemas)
    with tempfile.TemporaryDirectory() as data_dir:
        info, process = start_test_server(Path(data_dir))
        try:
            with connect(info.host, info.port) as conn:
                cursor = conn.cursor()
                print(f"plan over {dts} Dynamic Tables in {schemas} schemas (local stand-in)")
                plan, statements, seconds = timed_plan(cursor, "1 minute", dts, schemas)
                report("1. empty account", plan, statements, seconds)
                cursor.execute(f"CREATE DATABASE {DATABASE}")
                for s in range(schemas):
                    cursor.execute(f"CREATE SCHEMA {DATABASE}.S{s}")
                    cursor.execute(f"CREATE TABLE {DATABASE}.S{s}.SRC (id INT, amount INT)")
                started = time.perf_counter()
                result = apply_plan(
                    cursor, plan, yes=True, ask=lambda _question: True, out=io.StringIO()
                )
                print(
                    f"   apply: {result.statements} statements in "
                    f"{time.perf_counter() - started:.1f} s"
                )
                plan, statements, seconds = timed_plan(cursor, "1 minute", dts, schemas)
                report("2. after apply", plan, statements, seconds)
                plan, statements, seconds = timed_plan(cursor, "5 minutes", dts, schemas)
                report("3. every target lag changed", plan, statements, seconds)
        finally:
            stop_test_server(process)


if __name__ == "__main__":
    main()
