"""Benchmark of `dynamic-tables env create` (and `env drop`) for 2 tenants x 3 databases on the
local stand-in (a script that prints figures; not collected by pytest).

    uv run python tests/benchmarks/bench_env_create.py [--rows 1000] [--runs 3]

Starts a local-snowflake server on a temporary directory and writes a repository of two tenants,
alpha and beta, each declaring objects in three databases of its own (per database: a source
table RAW.SRC of `--rows` rows and two Dynamic Tables, MART.TOTALS over the source and
MART.DOUBLED over TOTALS, both by fully qualified names; beta's first database also reads
alpha's TOTALS). dev is made as `local start --environment dev` makes it. Then, `--runs` times:
`env create pr_7 --from dev` (6 clones, 12 Dynamic Tables re-pointed and resumed) and
`env drop pr_7`, each timed (wall clock, in process) and its statements counted by the server
(SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT before and after).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

import yaml
from dagster_dynamic_tables.declarations.environments import load_environments
from dagster_dynamic_tables.platform.branches.create import create_branch
from dagster_dynamic_tables.platform.branches.drop import drop_branch
from dagster_dynamic_tables.platform.plan.declared import load_declared_files
from dagster_dynamic_tables.standin import create_local_objects
from local_snowflake import connect
from local_snowflake.pytest_plugin import start_test_server, stop_test_server
from support.bench import statement_count

REPO_ROOT = Path(__file__).resolve().parents[2]
TENANTS = {"alpha": ["A1", "A2", "A3"], "beta": ["B1", "B2", "B3"]}


def tenant_attributes(slug: str, databases: list[str]) -> dict[str, Any]:
    sources: list[dict[str, Any]] = []
    dynamic_tables: list[dict[str, Any]] = []
    for db in databases:
        name = db.lower()
        sources.append({"name": f"{name}_src", "table": f"{db}.RAW.SRC"})
        upstream = f"{db}.RAW.SRC"
        deps = [f"{name}_src"]
        if slug == "beta" and db == databases[0]:
            deps.append("alpha/a1_totals")
            upstream = f"(SELECT id, amount FROM {db}.RAW.SRC UNION ALL SELECT 0, total FROM A1.MART.TOTALS)"  # noqa: E501
        dynamic_tables += [
            {
                "name": f"{name}_totals",
                "table": f"{db}.MART.TOTALS",
                "target_lag": "1 minute",
                "warehouse": "WH",
                "refresh_mode": "FULL",
                "deps": deps,
                "query": f"select sum(amount) as total from {upstream} as s",
            },
            {
                "name": f"{name}_doubled",
                "table": f"{db}.MART.DOUBLED",
                "target_lag": "DOWNSTREAM",
                "warehouse": "WH",
                "refresh_mode": "FULL",
                "deps": [f"{name}_totals"],
                "query": f"select total * 2 as doubled from {db}.MART.TOTALS",
            },
        ]
    return {"tenant": slug, "sources": sources, "dynamic_tables": dynamic_tables}


def write_repo(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "workspace.yaml").write_text("load_from: []\n")
    shutil.copy(REPO_ROOT / "environments.yaml", root / "environments.yaml")
    grants = {  # plan/apply (and so env create) refuse objects outside a tenant's grants
        "platform_owner": "@bench",
        "tenants": {
            slug: {"owner": f"@bench/{slug}", "schemas": [f"{db}.*" for db in databases]}
            for slug, databases in TENANTS.items()
        },
    }
    (root / "grants.yaml").write_text(yaml.safe_dump(grants, sort_keys=False))
    for slug, databases in TENANTS.items():
        folder = root / "tenants" / slug
        defs = folder / "src" / slug / "defs" / "snowflake"
        defs.mkdir(parents=True)
        (folder / "pyproject.toml").write_text(f"[project]\nname = '{slug}'\n")
        document = {
            "type": "dagster_dynamic_tables.DynamicTablesComponent",
            "attributes": tenant_attributes(slug, databases),
        }
        (defs / "defs.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def make_dev(conn: Any, root: Path, rows: int) -> None:
    """dev's sources (filled) and Dynamic Tables, as `local start --environment dev` makes them."""
    cursor = conn.cursor()
    for databases in TENANTS.values():
        for db in databases:
            dev = f"{db}_DEV"
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {dev}")
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {dev}.RAW")
            cursor.execute(f"CREATE TABLE {dev}.RAW.SRC (id INT, amount INT)")
            cursor.execute(f"INSERT INTO {dev}.RAW.SRC SELECT range, range % 97 FROM range({rows})")
    environment = load_environments(root / "environments.yaml").get("dev")
    for file in load_declared_files(root, None, {"DYNAMIC_TABLES_ENVIRONMENT": "dev"}):
        create_local_objects(conn, file.tenant, environment=environment)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000, help="rows per source table")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"env create / env drop: 2 tenants x 3 databases, {args.rows} rows per source, "
        f"12 Dynamic Tables; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root, data = Path(tmp) / "repo", Path(tmp) / "data"
        write_repo(root)
        info, process = start_test_server(data)
        env = {"LOCAL_SNOWFLAKE_PORT": str(info.port), "LOCAL_SNOWFLAKE_DATA_DIR": str(data)}
        try:
            with connect(info.host, info.port) as conn:
                make_dev(conn, root, args.rows)
                cursor = conn.cursor()
                for run in range(1, args.runs + 1):
                    for label, command in (
                        ("env create pr_7 --from dev", lambda out: create_branch(
                            root, "pr_7", "dev", [], env, out)),
                        ("env drop pr_7", lambda out: drop_branch(root, "pr_7", env, out)),
                    ):  # fmt: skip
                        out = io.StringIO()
                        before = statement_count(cursor)
                        started = time.perf_counter()
                        status = command(out)
                        seconds = time.perf_counter() - started
                        statements = statement_count(cursor) - before - 1
                        print(
                            f"run {run}  {label:<28} exit {status}  {statements:>3} statements  "
                            f"{seconds:6.2f} s"
                        )
                        if run == 1:
                            print("    " + out.getvalue().rstrip().replace("\n", "\n    "))
        finally:
            stop_test_server(process)


if __name__ == "__main__":
    main()
