"""Benchmark: login + `SELECT 1` to the stand-in, with and without the connector's cloud probes.

Run: `uv run python tests/benchmarks/bench_connect.py [--logins 20]`

On every login the connector looks for a cloud: requests to AWS, Azure and GCP metadata endpoints
(169.254.169.254, metadata.google.internal) in six threads, each bounded by 0.19 s, the login
waiting for all of them. `stand_in_connection_args` turns that off
(`platform_detection_timeout_seconds=0`). No request leaves the machine here: each login runs in a
child process whose audit hook refuses every lookup of and connection to a non-loopback address,

- at once ("refused"): the probes fail immediately, as on a machine where those addresses are
  rejected; the cheapest case for the probes;
- after 0.19 s ("silent"): as where they are dropped without an answer (a cloud VM's firewall, a
  laptop off-line), the connector's own HTTP timeout for the probes.

Prints the median and the maximum of `--logins` logins for each of: connector defaults with
probes refused, connector defaults with probes silent, and the stand-in's arguments (no probes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from local_snowflake.pytest_plugin import start_test_server, stop_test_server

TESTS = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import json, statistics, sys, time

    from support.loopback_only import refuse_non_loopback

    port, how, delay, logins = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    probes = refuse_non_loopback(delay)

    import snowflake.connector
    from dagster_dynamic_tables.standin import stand_in_connection_args

    if how == "stand-in":
        args = stand_in_connection_args(port)
    else:  # the connector's defaults: only what it takes to reach the stand-in
        args = {"host": "127.0.0.1", "port": port, "protocol": "http",
                "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False}}
    times = []
    for _ in range(logins):
        start = time.perf_counter()
        conn = snowflake.connector.connect(account="local", user="local", password="local", **args)
        conn.cursor().execute("SELECT 1").fetchall()
        conn.close()
        times.append(time.perf_counter() - start)
    print(json.dumps({"median": statistics.median(times), "max": max(times),
                      "probes_per_login": len(probes) / logins}))
    """
)


def measure(port: int, how: str, delay: float, logins: int) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(port), how, str(delay), str(logins)],
        env={**os.environ, "PYTHONPATH": str(TESTS)},  # `import support`
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--logins", type=int, default=20)
    args = parser.parse_args()
    logins: int = args.logins
    with tempfile.TemporaryDirectory() as tmp:
        info, process = start_test_server(Path(tmp))
        try:
            print(f"{logins} logins + SELECT 1 each, to the stand-in on port {info.port}:")
            for label, how, delay in (
                ("connector defaults, probes refused at once", "defaults", 0.0),
                ("connector defaults, probes silent (0.19 s)", "defaults", 0.19),
                ("stand_in_connection_args (no probes)", "stand-in", 0.0),
            ):
                figures = measure(info.port, how, delay, logins)
                print(
                    f"  {label:<45} median {1000 * figures['median']:6.0f} ms, "
                    f"max {1000 * figures['max']:6.0f} ms, "
                    f"{figures['probes_per_login']:.0f} probe requests per login"
                )
        finally:
            stop_test_server(process)


if __name__ == "__main__":
    main()
