"""Benchmark: a 1,000-DT, 200-source tenant through the component vs the same specs by hand.

Run: `uv run python tests/benchmarks/bench_specs.py [--dts 1000] [--sources 200] [--repeat 5]`

Path A (what a code location does): write the declarations as a `defs.yaml` in a tmp dg project,
`dg.load_from_defs_folder` (YAML -> models -> specs, plus the tenant's sensor, checks and
resource) and `defs.resolve_asset_graph()`.
Path B (the floor): the same keys, deps, metadata and kinds as plain `dg.AssetSpec`s written by
hand, in `dg.Definitions`, and `resolve_asset_graph()`.

Goals: A under 2 s, A / B at most 1.3. The parts show where the time goes.

Why the checks are one `@multi_asset_check` per DT: a YAML component's definitions go through
`Definitions.with_definition_metadata_update`, which turns each check definition into a plain
`AssetsDefinition`; resolving the asset graph then rebuilds an `AssetChecksDefinition` per check
key over all the specs of its definition (`RepositoryData.get_asset_checks_defs_by_key`). With one
definition for the whole tenant that is quadratic in the number of DTs (about a minute for 1,000
DTs here); with one per DT it is linear.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster_dynamic_tables.declarations.loader import load_tenant
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.definitions.tenant import build_tenant_definitions
from dagster_shared.yaml_utils import parse_yamls_with_source_position

LAGS = ["1 minute", "5 minutes", "1 hour", "2 hours", "DOWNSTREAM"]
MODULE = "bench_tenant"


def declarations(dts: int, sources: int) -> dict[str, Any]:
    """Sources, and DTs that read one source and up to two earlier DTs (seeded, reproducible)."""
    rng = random.Random(7)
    items: list[dict[str, Any]] = []
    for i in range(dts):
        deps = [f"src_{rng.randrange(sources)}"]
        deps += sorted({f"dt_{rng.randrange(i)}" for _ in range(rng.randint(0, 2))} if i else [])
        items.append(
            {
                "name": f"dt_{i}",
                "table": f"BENCH.ANALYTICS.DT_{i}",
                "description": f"Dynamic table number {i}.",
                "target_lag": LAGS[i % len(LAGS)],
                "refresh_mode": "INCREMENTAL" if i % 2 else "AUTO",
                "warehouse": "TRANSFORMING",
                "owners": ["team:bench"],
                "deps": deps,
                "query": f"select * from BENCH.RAW.SRC_{i % sources}",
            }
        )
    return {
        "tenant": "bench",
        "sources": [
            {"name": f"src_{i}", "table": f"BENCH.RAW.SRC_{i}", "owners": ["team:bench"]}
            for i in range(sources)
        ],
        "dynamic_tables": items,
    }


def write_project(root: Path, attributes: dict[str, Any]) -> Path:
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{MODULE}"\nversion = "0.1.0"\n\n[tool.dg]\n'
        f'directory_type = "project"\n\n[tool.dg.project]\nroot_module = "{MODULE}"\n'
    )
    folder = root / "src" / MODULE / "defs" / "snowflake"
    folder.mkdir(parents=True)
    (root / "src" / MODULE / "__init__.py").write_text("")
    (root / "src" / MODULE / "defs" / "__init__.py").write_text("")
    document = {"type": "dagster_dynamic_tables.DynamicTablesComponent", "attributes": attributes}
    (folder / "defs.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    sys.path.insert(0, str(root / "src"))
    return folder / "defs.yaml"


def by_hand(attributes: dict[str, Any]) -> list[dg.AssetSpec]:
    """The same specs as the component's, written directly with `dg.AssetSpec` (no validation,
    no YAML, lags looked up in a table): `main` checks they are equal."""
    lag_seconds = {"1 minute": 60, "5 minutes": 300, "1 hour": 3600, "2 hours": 7200}
    specs = [
        dg.AssetSpec(
            ["bench", s["name"]],
            description=f"Snowflake table {s['table']}, loaded outside Dagster.",
            metadata={
                "snowflake_table": s["table"],
                "snowflake_object_type": "TABLE",
                "dagster/table_name": s["table"],
            },
            owners=s["owners"],
            group_name="sources",
            kinds={"snowflake"},
        )
        for s in attributes["sources"]
    ]
    consumers: dict[str, list[str]] = {}
    for dt in attributes["dynamic_tables"]:
        for dep in dt["deps"]:
            consumers.setdefault(dep, []).append(dt["name"])
    lags = {dt["name"]: dt["target_lag"] for dt in attributes["dynamic_tables"]}

    def effective(name: str) -> int | None:
        if lags[name] != "DOWNSTREAM":
            return lag_seconds[lags[name]]
        found = [effective(c) for c in consumers.get(name, [])]
        return min((lag for lag in found if lag is not None), default=None)

    for dt in attributes["dynamic_tables"]:
        lag, seconds = dt["target_lag"], effective(dt["name"])
        specs.append(
            dg.AssetSpec(
                ["bench", dt["name"]],
                deps=[["bench", dep] for dep in dt["deps"]],
                description=f"{dt['description']}\n\nSnowflake Dynamic Table {dt['table']} "
                f"(target lag: {lag}, refresh mode: {dt['refresh_mode']}), refreshed by "
                "Snowflake, never run by Dagster.",
                metadata={
                    "snowflake_table": dt["table"],
                    "snowflake_object_type": "DYNAMIC TABLE",
                    "dagster/table_name": dt["table"],
                    "target_lag": lag,
                    "refresh_mode": dt["refresh_mode"],
                    "warehouse": dt["warehouse"],
                    "initialize": "ON_CREATE",
                },
                owners=dt["owners"],
                group_name="dynamic_tables",
                kinds={"snowflake", "dynamic_table"},
                is_virtual=True,
                freshness_policy=None
                if seconds is None
                else dg.FreshnessPolicy.time_window(
                    fail_window=timedelta(seconds=4 * seconds + 300),
                    warn_window=timedelta(seconds=2 * seconds + 300),
                ),
            )
        )
    return specs


def timed(repeat: int, run: Callable[[], object]) -> list[float]:
    """Wall-clock seconds of `repeat` runs."""
    times: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def median(times: list[float]) -> float:
    return statistics.median(times)


def fig(times: list[float]) -> str:
    return f"median {median(times):.3f} s (min {min(times):.3f} s, {len(times)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description="Component vs hand-written specs")
    parser.add_argument("--dts", type=int, default=1000)
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--graph-repeat",
        type=int,
        default=1,
        help="runs of the component's full asset graph (slow with many DTs, see the docstring)",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # preview/beta warnings, once per spec, are not the point

    attributes = declarations(args.dts, args.sources)
    with tempfile.TemporaryDirectory() as tmp:
        defs_yaml = write_project(Path(tmp), attributes)
        plain = Path(tmp) / "declarations.yaml"
        plain.write_text(yaml.safe_dump(attributes, sort_keys=False))

        def component() -> dg.Definitions:
            return dg.load_from_defs_folder(path_within_project=defs_yaml.parent)

        def hand() -> object:
            return dg.Definitions(assets=by_hand(attributes)).resolve_asset_graph()

        def our_specs() -> object:
            specs = build_asset_specs(load_tenant(plain))
            return dg.Definitions(assets=specs).resolve_asset_graph()

        _ = (component(), hand(), our_specs())  # warm up: imports, caches
        if by_hand(attributes) != build_asset_specs(load_tenant(plain)):
            raise SystemExit("the hand-written specs differ from the component's")
        b = timed(args.repeat, hand)
        c = timed(args.repeat, our_specs)
        tenant = load_tenant(plain)
        tenant_t = timed(args.repeat, lambda: load_tenant(plain))
        specs_t = timed(args.repeat, lambda: build_asset_specs(tenant))
        specs_graph_t = timed(
            args.repeat,
            lambda: dg.Definitions(assets=build_asset_specs(tenant)).resolve_asset_graph(),
        )
        defs_t = timed(args.repeat, lambda: build_tenant_definitions(tenant))
        defs_graph_t = timed(
            args.repeat, lambda: build_tenant_definitions(tenant).resolve_asset_graph()
        )
        text = defs_yaml.read_text()
        dagster_yaml_t = timed(
            args.repeat, lambda: parse_yamls_with_source_position(text, str(defs_yaml))
        )
        load_t = timed(args.repeat, component)
        graph_t = timed(args.graph_repeat, lambda: component().resolve_asset_graph())

    print(f"bench_specs: {args.dts} DTs + {args.sources} sources")
    print(f"  B  hand-written AssetSpecs -> asset graph          : {fig(b)}")
    print(f"  C  YAML file -> our specs -> asset graph           : {fig(c)}")
    print(f"     ratio C/B = {median(c) / median(b):.2f} (goal <= 1.3)")
    print(f"  S  loaded Tenant -> our specs -> asset graph       : {fig(specs_graph_t)}")
    print(f"     ratio S/B = {median(specs_graph_t) / median(b):.2f} (same specs, no YAML)")
    print(f"  A1 component: load_from_defs_folder (Definitions)  : {fig(load_t)}")
    print(f"  A  component -> Definitions -> asset graph         : {fig(graph_t)}")
    print(
        f"     ratio A/B = {median(graph_t) / median(b):.2f}, A under 2 s: "
        f"{'yes' if median(graph_t) < 2 else 'NO'}"
    )
    print("  parts (medians):")
    print(f"    Dagster parsing defs.yaml (source positions)  : {median(dagster_yaml_t):.3f} s")
    print(f"    load_tenant (YAML + validation)               : {median(tenant_t):.3f} s")
    print(f"    build_asset_specs                             : {median(specs_t):.3f} s")
    print(f"    build_tenant_definitions (+ sensor, checks)   : {median(defs_t):.3f} s")
    print(f"    ... + resolve_asset_graph                     : {median(defs_graph_t):.3f} s")


if __name__ == "__main__":
    main()
