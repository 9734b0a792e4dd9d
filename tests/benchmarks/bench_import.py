"""Benchmark: what importing the core and a tenant's code location costs, and where the time goes.

Run: `uv run python tests/benchmarks/bench_import.py [--module ecommerce.definitions] [--repeat 3]`

Each figure is the median of `--repeat` fresh interpreters (wall time of `python -c "import X"`,
interpreter start included, and Python's own `-X importtime` for the breakdown).

1. Wall time of: the interpreter alone; `dagster_dynamic_tables.standin` (what the `dynamic-tables
   local status|stop` commands need from the core), with and without `local_snowflake`;
   `dagster_dynamic_tables` (the package root: its names load on first use); `dagster`;
   `dagster_snowflake`; and the tenant's code location (`ecommerce.definitions`), with no Snowflake
   account configured (the stand-in resource; nothing is started at import).
2. `-X importtime` of the code location: self time summed per top-level package, so "ours" (the
   core and the tenant, including building the definitions, which runs in their module bodies) and
   "upstream" (Dagster, dagster-snowflake with Snowpark and snowflake.core, the connector,
   pydantic, ...) are apart.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict

OURS = ("dagster_dynamic_tables", "local_snowflake")
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}


def wall_seconds(code: str, repeat: int) -> float:
    times: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=_env(), check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_profile(module: str, ours: tuple[str, ...]) -> dict[str, float]:
    """Self time (s) per top-level package while importing `module`, from `-X importtime`
    (per module for `ours`)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    per_package: dict[str, float] = defaultdict(float)
    for line in result.stderr.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        self_us, name = int(match.group(1)), match.group(4)
        parts = name.split(".")
        if parts[0] in ours:
            key = name
        elif parts[0] == "snowflake":  # a namespace: Snowpark, snowflake.core, the connector
            key = ".".join(parts[:2])
        else:
            key = parts[0]
        per_package[key] += self_us / 1e6
    return per_package


def group(package: str, tenant: str) -> str:
    if package.split(".")[0] in (*OURS, tenant):
        return "ours"
    if package.startswith("snowflake."):
        return package
    if package.startswith("dagster"):
        return package
    return "other upstream"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--module", default="ecommerce.definitions")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    module: str = args.module
    tenant = module.split(".")[0]
    repeat: int = args.repeat

    print(f"wall time, median of {repeat} fresh interpreters:")
    for label, code in (
        ("python -c pass", "pass"),
        ("dagster_dynamic_tables.standin", "import dagster_dynamic_tables.standin"),
        (
            "dagster_dynamic_tables.standin + local_snowflake",
            "import dagster_dynamic_tables.standin, local_snowflake",
        ),
        ("dagster_dynamic_tables (root)", "import dagster_dynamic_tables"),
        ("dagster", "import dagster"),
        ("dagster_snowflake", "import dagster_snowflake"),
        (module, f"import {module}"),
    ):
        print(f"  {label:<50} {wall_seconds(code, repeat):6.2f} s")

    profiles = [import_profile(module, (*OURS, tenant)) for _ in range(repeat)]
    packages = sorted({name for profile in profiles for name in profile})
    median = {name: statistics.median(p.get(name, 0.0) for p in profiles) for name in packages}
    total = sum(median.values())
    groups: dict[str, float] = defaultdict(float)
    for name, seconds in median.items():
        groups[group(name, tenant)] += seconds
    print(f"\n-X importtime of {module}: {total:.2f} s of imports (self times, median)")
    for name, seconds in sorted(groups.items(), key=lambda item: -item[1]):
        print(f"  {name:<50} {seconds:6.2f} s  {100 * seconds / total:5.1f} %")
    print("\n  largest upstream packages:")
    upstream = [(n, s) for n, s in median.items() if group(n, tenant) != "ours"]
    for name, seconds in sorted(upstream, key=lambda item: -item[1])[:8]:
        print(f"    {name:<48} {seconds:6.2f} s")
    print("\n  ours, per module:")
    ours = [(n, s) for n, s in median.items() if group(n, tenant) == "ours"]
    for name, seconds in sorted(ours, key=lambda item: -item[1]):
        print(f"    {name:<48} {seconds:6.3f} s")


if __name__ == "__main__":
    main()
