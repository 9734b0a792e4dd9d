"""Benchmark: how long a sensor tick, a run of the health checks and plan's read take against
account endpoints that misbehave, with the default timeout settings.

Run: `uv run python tests/benchmarks/bench_timeouts.py [--kinds silent,dropping,...]`

The endpoints are the loopback fakes of `tests/support/fake_endpoints.py` (nothing leaves the
machine):
- `silent`: accepts every connection and never sends a byte (a broken proxy or load balancer);
- `dropping`: answers the login as Snowflake does, then closes the connection and refuses new
  ones (the case a tick never returned from: more than 590 s);
- `refusing`: a closed port;
- `stalling`: answers the login, then accepts connections and never answers.
The tenant's `snowflake` resource is built from the environment as in production
(`SNOWFLAKE_ACCOUNT` set; `SNOWFLAKE_*_TIMEOUT` from this environment, else the defaults) and sent
to the fake instead of `<account>.snowflakecomputing.com`; `plan` connects with the same settings.
Prints the seconds until each ended and the start of its message.
Goal: a tick at most 45 s (Dagster gives a sensor tick 60 s by default).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from dagster_dynamic_tables.definitions.resources import build_snowflake_resource
from dagster_dynamic_tables.errors import PlanError
from dagster_dynamic_tables.platform.plan.connect import connect_tenant, read_tenant
from support.fake_endpoints import KINDS, LOOPBACK, TENANT, aimed_at, check_run, endpoint, tick


def production_env() -> dict[str, str]:
    """An account configured as in production; `SNOWFLAKE_*_TIMEOUT` from this environment."""
    env = {k: v for k, v in os.environ.items() if k.startswith("SNOWFLAKE_") and "TIMEOUT" in k}
    return env | {
        "SNOWFLAKE_ACCOUNT": "acme-prod",
        "SNOWFLAKE_USER": "DAGSTER",
        "SNOWFLAKE_PASSWORD": "hunter2secret",
    }


def plan_read(env: dict[str, str], port: int) -> str:
    """What `plan` does for one tenant: connect, then read what exists."""
    with tempfile.TemporaryDirectory() as root:
        try:
            with connect_tenant(
                TENANT, Path(root), env, connection_args={**LOOPBACK, "port": port}
            ) as (conn, target):
                read_tenant(conn.cursor(), TENANT, target)
        except PlanError as e:
            return str(e)
    return "no error"


def timed(label: str, kind: str, run: Callable[[int], str]) -> None:
    with endpoint(kind) as served:
        start = time.perf_counter()
        message = run(served.port)
        seconds = time.perf_counter() - start  # not the wait for leftover threads at the end
    print(f"  {kind:<9} {label:<10} ended after {seconds:5.1f} s: {message[:150]}...", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()
    # the connector's cancel timer reports its failed abort request as a thread exception
    warnings.simplefilter("ignore")
    env = production_env()
    resource = build_snowflake_resource(TENANT, env=env)
    extra = resource.additional_snowflake_connection_args or {}
    print(
        f"login_timeout={resource.login_timeout} s, socket_timeout={extra.get('socket_timeout')} "
        f"s, network_timeout={resource.network_timeout} (the platform's reads: at most 15 s, "
        "whole read 40 s)"
    )
    for kind in args.kinds.split(","):
        timed("tick", kind, lambda port: tick(aimed_at(resource, port)))
        timed("check run", kind, lambda port: check_run(aimed_at(resource, port)))
        timed("plan", kind, lambda port: plan_read(env, port))


if __name__ == "__main__":
    main()
