"""Benchmark of the environment mapping (a script that prints figures; not collected by pytest).

    uv run python tests/benchmarks/bench_environments.py [--dts 1000] [--runs 5]

What selecting an environment adds to a code location's load: reading and checking
environments.yaml (`load_environments`), and `in_environment` on a tenant of `--dts` Dynamic
Tables (each query reading two fully qualified tables, with a data test) and as many sources,
mapped into `dev` (a suffix). Prints the median wall and CPU time of `--runs` runs of each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from dagster_dynamic_tables.declarations.environments import load_environments
from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.sql.environments import in_environment
from support.repo import REPO_ROOT


def tenant(count: int) -> Tenant:
    sources = [{"name": f"raw_{i}", "table": f"SHOP.RAW.RAW_{i}"} for i in range(count)]
    tables = [
        {
            "name": f"dt_{i}",
            "table": f"SHOP.ANALYTICS.DT_{i}",
            "target_lag": "1 hour",
            "warehouse": "WH",
            "deps": [f"raw_{i}", f"raw_{(i + 1) % count}"],
            "query": (
                f"select a.id, sum(b.amount) as total from SHOP.RAW.RAW_{i} a "
                f"join SHOP.RAW.RAW_{(i + 1) % count} b on a.id = b.id "
                "where a.status = 'completed' group by a.id"
            ),
            "data_tests": [{"sql": f"select * from SHOP.ANALYTICS.DT_{i} where total < 0"}],
        }
        for i in range(count)
    ]
    attributes = {"tenant": "shop", "sources": sources, "dynamic_tables": tables}
    return build_tenant(attributes, file=None, base_dir=None)


def timed(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    """Median wall time and median CPU time of the process (the machine may be shared: CPU time
    is what the work itself costs)."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--dts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    path = REPO_ROOT / "environments.yaml"
    dev = load_environments(path).get("dev")
    shop = tenant(args.dts)
    wall, cpu = timed(args.runs, lambda: load_environments(path))
    print(
        f"load_environments({path.name}): median {wall * 1000:.2f} ms wall, {cpu * 1000:.2f} ms CPU"
    )
    wall, cpu = timed(args.runs, lambda: in_environment(shop, dev))
    objects = len(shop.sources) + len(shop.dynamic_tables)
    print(
        f"in_environment, {objects} objects ({args.dts} Dynamic Tables with 2 references and a "
        f"data test each) into dev: median {wall * 1000:.1f} ms wall, {cpu * 1000:.1f} ms CPU"
    )


if __name__ == "__main__":
    main()
