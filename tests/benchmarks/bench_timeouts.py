"""Benchmark: how long a sensor tick takes against an endpoint that accepts and never answers.

Run: `uv run python tests/benchmarks/bench_timeouts.py [--connector-defaults]`

A loopback TCP server accepts every connection and never sends a byte (an account endpoint behind
a broken proxy or load balancer looks like this). The tenant's `snowflake` resource is built from
the environment as in production (`SNOWFLAKE_ACCOUNT` set, timeouts from `SNOWFLAKE_*_TIMEOUT` or
their defaults) and sent to that server instead of `<account>.snowflakecomputing.com`; then one
tick of the freshness sensor runs, then a run of the tenant's health checks. Prints the seconds
until each ended and its message.
Goal: at most 30 s with the defaults (Dagster gives a sensor tick 60 s by default).

`--connector-defaults` also runs the tick without any timeout settings (the connector's defaults:
login_timeout 120 s, 60 s per answer), as before the timeouts existed: about two minutes.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster_dynamic_tables.checks import build_dynamic_table_checks
from dagster_dynamic_tables.declarations import DynamicTable, Tenant
from dagster_dynamic_tables.resources import build_snowflake_resource
from dagster_dynamic_tables.sensor import build_freshness_sensor
from dagster_dynamic_tables.specs import build_asset_specs
from dagster_snowflake import SnowflakeResource

TENANT = Tenant(
    "shop",
    dynamic_tables=(
        DynamicTable(
            name="totals",
            table="SHOP.MART.TOTALS",
            target_lag="1 minute",
            warehouse="WH",
            query="SELECT 1 AS n",
        ),
    ),
)


@contextmanager
def silent_server() -> Iterator[int]:
    accepted: list[socket.socket] = []
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.1)

        def accept() -> None:
            while not stop.is_set():
                try:
                    accepted.append(server.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield server.getsockname()[1]
        finally:
            stop.set()
            thread.join()
            for conn in accepted:
                conn.close()


def aimed_at(resource: SnowflakeResource, port: int, *, timeouts: bool) -> SnowflakeResource:
    """The resource's account and timeouts, sent to the loopback (plain HTTP, no cloud probes)."""
    extra = dict(resource.additional_snowflake_connection_args or {}) if timeouts else {}
    return SnowflakeResource(
        account=resource.account,
        user=resource.user,
        password="not-a-secret",
        autocommit=True,
        login_timeout=resource.login_timeout if timeouts else None,
        network_timeout=resource.network_timeout if timeouts else None,
        additional_snowflake_connection_args={
            **extra,
            "host": "127.0.0.1",
            "port": port,
            "protocol": "http",
            "platform_detection_timeout_seconds": 0.0,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        },
    )


def production_resource() -> SnowflakeResource:
    """As `build_snowflake_resource` makes it with an account set; `SNOWFLAKE_*_TIMEOUT` from
    this environment apply."""
    env = {k: v for k, v in os.environ.items() if k.startswith("SNOWFLAKE_") and "TIMEOUT" in k}
    env |= {
        "SNOWFLAKE_ACCOUNT": "acme-prod",
        "SNOWFLAKE_USER": "DAGSTER",
        "SNOWFLAKE_PASSWORD": "not-a-secret",
    }
    return build_snowflake_resource(TENANT, env=env)


def tick_seconds(resource: SnowflakeResource) -> tuple[float, str]:
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"snowflake": resource})
        start = time.perf_counter()
        result = build_freshness_sensor(TENANT)(context)
        seconds = time.perf_counter() - start
    message = result.skip_message if isinstance(result, dg.SkipReason) else repr(result)
    return seconds, message or ""


def check_run_seconds(resource: SnowflakeResource) -> tuple[float, str]:
    """Run the tenant's health checks (what "Execute checks" in the UI launches)."""
    job = dg.define_asset_job("health", selection=dg.AssetSelection.all_asset_checks())
    defs = dg.Definitions(
        assets=build_asset_specs(TENANT),
        asset_checks=build_dynamic_table_checks(TENANT),
        jobs=[job],
        resources={"snowflake": resource},
    )
    with dg.DagsterInstance.ephemeral() as instance:
        start = time.perf_counter()
        result = defs.resolve_job_def("health").execute_in_process(
            instance=instance, raise_on_error=False
        )
        seconds = time.perf_counter() - start
        failures = [e for e in result.all_events if e.is_step_failure]
    message = str(failures[0].step_failure_data.error) if failures else "no failure"
    return seconds, message.splitlines()[0] if message else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--connector-defaults", action="store_true")
    args = parser.parse_args()
    resource = production_resource()
    extra = resource.additional_snowflake_connection_args or {}
    print(
        f"login_timeout={resource.login_timeout} s, socket_timeout={extra.get('socket_timeout')} "
        f"s, network_timeout={resource.network_timeout}"
    )
    runs = [("timeouts from the environment", True)]
    if args.connector_defaults:
        runs.append(("connector defaults (before)", False))
    for label, timeouts in runs:
        with silent_server() as port:
            seconds, message = tick_seconds(aimed_at(resource, port, timeouts=timeouts))
        print(f"  {label:<32} tick returned after {seconds:6.1f} s: {message[:100]}...")
        with silent_server() as port:
            seconds, message = check_run_seconds(aimed_at(resource, port, timeouts=timeouts))
        print(f"  {label:<32} check run ended after {seconds:6.1f} s: {message[:100]}...")


if __name__ == "__main__":
    main()
