"""What bounding declaration YAML costs, and how fast hostile YAML is refused.

Run: `uv run python tests/benchmarks/bench_yaml_bounds.py [--dts 1000] [--repeat 5]`

Prints the median of `--repeat` runs of:
- the bounds check (`yamlbounds.check_yaml_text`: the parser's event stream, size, depth, alias
  expansion) against the whole of `load_tenant` on a tenant of `--dts` Dynamic Tables;
- `load_tenant` refusing the 11-line alias bomb (9^9 values expanded), 1,000 and 50,000 levels of
  nesting (before the bounds: minutes and gigabytes, a RecursionError, a segfault).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

import yaml
from bench_specs import declarations  # the benchmark tenant (this script's folder)
from dagster_dynamic_tables.declarations.loader import load_tenant
from dagster_dynamic_tables.declarations.yamlbounds import check_yaml_text
from dagster_dynamic_tables.errors import DeclarationError
from support.yaml_bombs import alias_bomb


def timed(repeat: int, run: Callable[[], object]) -> float:
    times: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def refused(path: Path) -> Callable[[], object]:
    def run() -> object:
        try:
            load_tenant(path)
        except DeclarationError as e:
            return e
        raise AssertionError(f"{path} loaded")

    return run


def bomb() -> str:
    return "tenant: bomb\n" + alias_bomb()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--dts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tenant = folder / "tenant.yaml"
        tenant.write_text(yaml.safe_dump(declarations(args.dts, 200), sort_keys=False))
        text = tenant.read_text()
        files = {
            "alias bomb (11 lines)": bomb(),
            "1,000 levels of nesting": "tenant: deep\nx: " + "[" * 1000 + "]" * 1000 + "\n",
            "50,000 levels of nesting": "tenant: deep\nx: " + "[" * 50_000 + "]" * 50_000 + "\n",
        }
        size = len(text.encode()) / 1024
        print(f"tenant of {args.dts} DTs, {size:.0f} KiB (median of {args.repeat} runs)")
        check = timed(args.repeat, lambda: check_yaml_text(text, file=tenant))
        load = timed(args.repeat, lambda: load_tenant(tenant))
        print(f"  bounds check            : {check * 1000:7.1f} ms")
        print(f"  load_tenant (with it)   : {load * 1000:7.1f} ms ({check / load:.0%} of it)")
        for name, body in files.items():
            path = folder / f"{len(body)}.yaml"
            path.write_text(body)
            print(f"  refuse {name:<25}: {timed(args.repeat, refused(path)) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
