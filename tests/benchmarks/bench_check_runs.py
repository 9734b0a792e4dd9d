"""Benchmark of one run that executes the health checks of every Dynamic Table of a tenant (what
the UI's "Execute all checks" launches), on the local stand-in (a script that prints figures;
not collected by pytest).

    uv run python tests/benchmarks/bench_check_runs.py [--dts 50] [--schemas 5]
        [--executors default,in_process,tenant]

Starts a local-snowflake server on a temporary directory, creates `--schemas` schemas with one
source table each and `--dts` Dynamic Tables spread over them, then launches one run of all the
checks per executor with `dg.execute_job` on a persistent temporary instance, as a run worker
does (the job is reconstructable, so the multiprocess executor can start its step processes):

- `default`: Dagster's default executor (multiprocess: one spawned process per step, at most
  `multiprocessing.cpu_count()` at a time), what a tenant ran before it had its own executor;
- `in_process`: the default executor configured `execution: {config: {in_process: {}}}`;
- `tenant`: `check_runs_in_process_executor`, the tenant's executor (`build_tenant_definitions`).

For each: Snowflake logins (connections the `snowflake` resource opened, counted in a file, as
steps run in other processes), statements the stand-in executed
(SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT before and after), check evaluations, and wall time of
the run (including the step processes' start and code loading, not the server's setup).
Run it against an older `checks.py` to measure before: `tenant` then needs the executor and is
skipped if it is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

import dagster as dg
from bench_sensor import build_tenant, create_objects  # (this script's folder)
from local_snowflake import connect, connection_args
from local_snowflake.pytest_plugin import start_test_server, stop_test_server
from support.bench import statement_count
from support.check_runs import health_checks_definitions
from support.snowflake_resources import counting_resource

ENV = "BENCH_CHECK_RUNS"
"""Prefix of the environment variables that tell the step processes what to build."""


def default_job() -> dg.JobDefinition:
    """The run's job with Dagster's default executor (each executor gets its own function:
    Dagster caches a reconstructable job by the function that builds it)."""
    return health_job(tenant_executor=False)


def tenant_job() -> dg.JobDefinition:
    """The run's job with the tenant's executor."""
    return health_job(tenant_executor=True)


def health_job(*, tenant_executor: bool) -> dg.JobDefinition:
    """The run's job, built from the environment (in this process and in every step process)."""
    warnings.simplefilter("ignore")  # preview/beta warnings of virtual assets are not the point
    env = os.environ
    tenant = build_tenant(int(env[f"{ENV}_DTS"]), int(env[f"{ENV}_SCHEMAS"]))
    resource = counting_resource(
        Path(env[f"{ENV}_LOGINS"]), connection_args("127.0.0.1", int(env[f"{ENV}_PORT"]))
    )
    executor: dg.ExecutorDefinition | None = None
    if tenant_executor:
        from dagster_dynamic_tables.health.checks import check_runs_in_process_executor

        executor = check_runs_in_process_executor
    return health_checks_definitions(tenant, resource, executor).resolve_job_def("health")


def has_tenant_executor() -> bool:
    from dagster_dynamic_tables.health import checks

    return hasattr(checks, "check_runs_in_process_executor")


def run_once(name: str, counter: Any, logins: Path, tmp: Path) -> None:
    logins.write_text("")
    run_config: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if name == "in_process":
        run_config["execution"] = {"config": {"in_process": {}}}
    before = statement_count(counter)
    home = tmp / f"instance-{name}"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        start = time.perf_counter()
        job = dg.reconstructable(tenant_job if name == "tenant" else default_job)
        result = dg.execute_job(job, instance, run_config=run_config)
        elapsed = time.perf_counter() - start
        evaluations = result.get_asset_check_evaluations()
        processes = {e.pid for e in result.all_events if e.is_step_start}
        success = result.success
    statements = statement_count(counter) - before - 1  # minus the first count statement
    lines = logins.read_text().split()
    print(
        f"{name:<11} success {success!s:<5}  logins {len(lines):4d}  statements {statements:4d}  "
        f"evaluations {len(evaluations):5d}  step processes {len(processes):4d}  "
        f"wall {elapsed:7.1f} s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dts", type=int, default=50)
    parser.add_argument("--schemas", type=int, default=5)
    parser.add_argument("--executors", default="default,in_process,tenant")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    names = [n for n in args.executors.split(",") if n != "tenant" or has_tenant_executor()]

    tenant = build_tenant(args.dts, args.schemas)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        info, process = start_test_server(tmp / "local_snowflake")
        try:
            conn = connect(info.host, info.port)
            counter = conn.cursor()
            setup = time.perf_counter()
            create_objects(counter, tenant, args.schemas)
            print(
                f"{args.dts} Dynamic Tables in {args.schemas} schemas, created in "
                f"{time.perf_counter() - setup:.1f} s; {os.cpu_count()} CPUs",
                flush=True,
            )
            logins = tmp / "logins.txt"
            os.environ.update(
                {
                    f"{ENV}_DTS": str(args.dts),
                    f"{ENV}_SCHEMAS": str(args.schemas),
                    f"{ENV}_PORT": str(info.port),
                    f"{ENV}_LOGINS": str(logins),
                }
            )
            for name in names:
                run_once(name, counter, logins, tmp)
            conn.close()
        finally:
            stop_test_server(process)


if __name__ == "__main__":
    main()
