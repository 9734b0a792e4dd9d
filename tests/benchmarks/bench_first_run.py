"""A newcomer's first minutes: prints figures, asserts nothing.

    uv run python tests/benchmarks/bench_first_run.py [--cold-cache]

Clones the committed repository into a temporary folder and runs the README's command there,
`uv run dagster dev -w workspace.yaml`, twice: the first run creates the environment (with
`--cold-cache`, from an empty uv cache, so every package is downloaded as on a new machine), the
second starts from that environment. For each run it prints the seconds from the command to:
the UI serving, the first Dynamic Table refresh recorded (a materialization of
`ecommerce/customer_lifetime_value`) and the first dashboard run succeeded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from support.environment import clean_env, uv
from support.processes import free_port, stop
from support.repo import REPO_ROOT

QUERY = """
{
  assetOrError(assetKey: {path: ["ecommerce", "customer_lifetime_value"]}) {
    ... on Asset { assetMaterializations(limit: 1) { timestamp } }
  }
  runsOrError(filter: {statuses: [SUCCESS]}) { ... on Runs { results { runId } } }
}
"""


def graphql(url: str) -> dict[str, Any] | None:
    body = json.dumps({"query": QUERY}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.load(response)["data"])
    except (urllib.error.URLError, OSError, KeyError, ValueError):
        return None


def one_run(clone: Path, env: dict[str, str], label: str) -> None:
    port, home = free_port(), Path(tempfile.mkdtemp(prefix="first_run_home_"))
    run_env = env | {
        "DAGSTER_HOME": str(home),
        "LOCAL_SNOWFLAKE_PORT": str(free_port()),
        "LOCAL_SNOWFLAKE_DATA_DIR": str(home / "snowflake"),
    }
    command = [uv(), "run", "dagster", "dev", "-w", "workspace.yaml", "-p", str(port)]
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=clone,
        env=run_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    marks: dict[str, float] = {}
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and len(marks) < 3:
            time.sleep(1)
            data = graphql(url)
            if data is None:
                continue
            now = time.perf_counter() - start
            marks.setdefault("UI serving", now)
            asset = data.get("assetOrError") or {}
            if asset.get("assetMaterializations"):
                marks.setdefault("first refresh recorded", now)
            if (
                (data.get("runsOrError") or {}).get("results")
            ) and "first refresh recorded" in marks:
                marks.setdefault("first dashboard run succeeded", now)
    finally:
        stop(process, grace=60)
        subprocess.run(
            [uv(), "run", "dynamic-tables", "local", "stop"],
            cwd=clone,
            env=run_env,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(home, ignore_errors=True)
    shown = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in marks.items())
    print(f"{label}: {shown or 'nothing within 900 s'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--cold-cache", action="store_true", help="start from an empty uv cache")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="first_run_") as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
        env = clean_env()
        if args.cold_cache:
            env["UV_CACHE_DIR"] = str(Path(tmp) / "uv-cache")
        cache = "an empty uv cache" if args.cold_cache else "the machine's uv cache"
        one_run(clone, env, f"first run (creates the environment, {cache})")
        one_run(clone, env, "later run (environment in place)")


if __name__ == "__main__":
    main()
