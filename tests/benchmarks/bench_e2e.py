"""Benchmark: from a landed Dynamic Table refresh to the downstream run, under `dagster dev`
(a script that prints figures; not collected by pytest).

    uv run python tests/benchmarks/bench_e2e.py [--rounds 3]

Starts `dagster dev -w workspace.yaml` on loopback with a temporary DAGSTER_HOME and its own
stand-in (the end-to-end test's harness, `tests/support/dagster_dev.py`), waits for the cold start
(objects created, first materializations, first dashboard run), then, `--rounds` times: inserts an
order into ECOMMERCE.RAW.RAW_ORDERS (after a random pause of up to 60 s, so that rounds sample
different phases of the sensors' ticks) and follows it through

    insert -> refresh of CUSTOMER_LIFETIME_VALUE ends (Snowflake's REFRESH_END_TIME)
           -> materialization recorded by the freshness sensor (event time)
           -> run of ecommerce/executive_dashboard_report created by the automation sensor
           -> that run succeeded.

What bounds the figures: the stand-in refreshes the DT once its data is half its target lag old
(30 s, checked every 10 s); the freshness sensor polls every 60 s; the automation condition sensor
evaluates every 30 s. So "refresh end -> run requested" is at most about 90 s plus tick times.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from support.dagster_dev import run_dagster_dev

CLV = ["ecommerce", "customer_lifetime_value"]
DASHBOARD = ["ecommerce", "executive_dashboard_report"]

MATERIALIZATIONS = """
query Materializations($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset {
      assetMaterializations(limit: 50) {
        timestamp
        tags { key value }
        metadataEntries { label ... on TimestampMetadataEntry { timestamp } }
      }
    }
  }
}
"""

RUNS = """
query Runs {
  runsOrError {
    ... on Runs {
      results { runId status creationTime startTime endTime assetSelection { path } }
    }
  }
}
"""


def materializations(dev: Any) -> list[dict[str, Any]]:
    asset = dev.graphql(MATERIALIZATIONS, {"path": CLV})["assetOrError"]
    return asset.get("assetMaterializations") or []


def dashboard_runs(dev: Any) -> list[dict[str, Any]]:
    results = dev.graphql(RUNS)["runsOrError"]["results"]
    return [r for r in results if DASHBOARD in [k["path"] for k in r["assetSelection"] or []]]


def refresh_end(materialization: dict[str, Any]) -> float:
    for entry in materialization["metadataEntries"]:
        if entry["label"] == "refresh_end_time":
            return float(entry["timestamp"])
    raise SystemExit(f"materialization without refresh_end_time: {materialization}")


def one_round(dev: Any, number: int, delay: float) -> dict[str, float]:
    # A random pause first: inserting right after the previous round's run would always land at
    # the same phase of the sensors' ticks and report one point of the distribution each time.
    time.sleep(delay)
    seen_events = {m["timestamp"] for m in materializations(dev)}
    seen_runs = {r["runId"] for r in dashboard_runs(dev)}
    inserted = time.time()
    with dev.connect() as conn:
        conn.cursor().execute(
            "INSERT INTO ECOMMERCE.RAW.RAW_ORDERS VALUES "
            f"('BENCH{number}', 'C001', CURRENT_DATE(), 10.00, 'completed')"
        )

    def new_event() -> dict[str, Any] | None:
        fresh = [m for m in materializations(dev) if m["timestamp"] not in seen_events]
        return min(fresh, key=lambda m: int(m["timestamp"])) if fresh else None

    event = dev.wait_for("the CLV refresh to be recorded", new_event, 300, 0.5)
    recorded = int(event["timestamp"]) / 1000
    ended = refresh_end(event)

    def new_run() -> dict[str, Any] | None:
        fresh = [r for r in dashboard_runs(dev) if r["runId"] not in seen_runs]
        return min(fresh, key=lambda r: r["creationTime"]) if fresh else None

    run = dev.wait_for("the dashboard run to be requested", new_run, 300, 0.5)

    def finished() -> dict[str, Any] | None:
        current = next(r for r in dashboard_runs(dev) if r["runId"] == run["runId"])
        return current if current["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

    done = dev.wait_for("the dashboard run to finish", finished, 300, 0.5)
    if done["status"] != "SUCCESS":
        raise SystemExit(f"the dashboard run {run['runId']} ended {done['status']}")
    return {
        "insert -> refresh end": ended - inserted,
        "refresh end -> materialization recorded": recorded - ended,
        "materialization recorded -> run requested": run["creationTime"] - recorded,
        "refresh end -> run requested": run["creationTime"] - ended,
        "run requested -> run succeeded": float(done["endTime"]) - run["creationTime"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1, help="for the pause before each insert")
    args = parser.parse_args()
    pauses = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        with run_dagster_dev(Path(tmp)) as dev:
            serving = time.monotonic() - start
            dev.wait_for("a first CLV materialization", lambda: materializations(dev), 300, 0.5)
            first_event = time.monotonic() - start
            dev.wait_for(
                "a first dashboard run",
                lambda: [r for r in dashboard_runs(dev) if r["status"] == "SUCCESS"],
                300,
                0.5,
            )
            first_run = time.monotonic() - start
            print(
                f"cold start: dagster dev serving after {serving:.1f} s, first DT "
                f"materialization after {first_event:.1f} s, first dashboard run succeeded after "
                f"{first_run:.1f} s"
            )
            rounds = []
            for number in range(args.rounds):
                figures = one_round(dev, number, pauses.uniform(0, 60))
                rounds.append(figures)
                print(
                    f"round {number + 1}: "
                    + ", ".join(f"{label} {value:.1f} s" for label, value in figures.items())
                )
    print(f"over {len(rounds)} rounds (median):")
    for label in rounds[0]:
        values = [r[label] for r in rounds]
        print(
            f"  {label:<42} {statistics.median(values):6.1f} s "
            f"(min {min(values):.1f}, max {max(values):.1f})"
        )


if __name__ == "__main__":
    main()
