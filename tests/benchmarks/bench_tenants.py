"""Onboarding and many tenants: prints figures, asserts nothing.

    uv run python tests/benchmarks/bench_tenants.py [--tenants 20] [--skip-dev]

In a temporary copy of the repository (with its own environment, created first and not timed):

1. seconds from `cookiecutter --no-input` to a registered tenant (the post-gen hook's grant and
   sync, `uv lock` included; installing the tenant into the environment excluded, as `uv run`
   does that on its next start);
2. `dagster definitions validate -w workspace.yaml` with N generated tenants;
3. `dagster dev -w workspace.yaml` with N tenants: seconds until every location is loaded, and
   the resident memory of all its processes (webserver, daemon, one code server per location).
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from support.environment import clean_env, uv
from support.processes import free_port, stop
from support.repo import copy_repo

LOCATIONS_QUERY = (
    b'{"query": "{ workspaceOrError { ... on Workspace '
    b'{ locationEntries { name loadStatus } } } }"}'
)


def timed(args: list[str], cwd: Path, extra: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        args, cwd=cwd, env=clean_env(**(extra or {})), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - start


def rss_mib(root_pid: int) -> float:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def dev_figures(root: Path, count: int) -> None:
    port, home = free_port(), Path(tempfile.mkdtemp(prefix="bench_home_"))
    extra = {
        "DAGSTER_HOME": str(home),
        "LOCAL_SNOWFLAKE_PORT": str(free_port()),
        "LOCAL_SNOWFLAKE_DATA_DIR": str(home / "snowflake"),
    }
    command = [uv(), "run", "--frozen", "dagster", "dev", "-w", "workspace.yaml", "-p", str(port)]
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=root,
        env=clean_env(**extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    loaded_at, peak = None, 0.0
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and loaded_at is None:
            time.sleep(1)
            peak = max(peak, rss_mib(process.pid))
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=LOCATIONS_QUERY,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = response.read().decode()
            except OSError:
                continue
            if body.count('"LOADED"') >= count:
                loaded_at = time.perf_counter() - start
        time.sleep(15)  # let the sensors' first ticks run before the memory reading
        settled = rss_mib(process.pid)
    finally:
        stop(process, grace=60)
        shutil.rmtree(home, ignore_errors=True)
    shown = f"{loaded_at:.1f} s" if loaded_at is not None else "not within 600 s"
    print(f"dagster dev, {count} locations: all loaded after {shown}")
    print(
        f"dagster dev, {count} locations: {settled:.0f} MiB resident "
        f"(peak while loading {peak:.0f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tenants", type=int, default=20, help="tenants in the workspace")
    parser.add_argument("--skip-dev", action="store_true", help="skip the dagster dev figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_tenants_") as tmp:
        root = Path(tmp) / "repo"
        copy_repo(root)
        print(f"environment of the copy: {timed([uv(), 'sync', '--frozen', '-q'], root):.1f} s")
        python = str(root / ".venv" / "bin" / "python")
        existing = len([p for p in (root / "tenants").iterdir() if (p / "pyproject.toml").exists()])
        onboard: list[float] = []
        prefix = f"bench_{secrets.token_hex(3)}"  # no team's slug: a team may be called team00
        for index in range(max(0, args.tenants - existing)):
            cookie = [python, "-m", "cookiecutter", "templates/tenant", "--no-input"]
            onboard.append(timed([*cookie, f"tenant_slug={prefix}_{index:02d}"], root))
        if onboard:
            print(
                f"cookiecutter --no-input to a registered tenant: first {onboard[0]:.1f} s, "
                f"median {sorted(onboard)[len(onboard) // 2]:.1f} s, max {max(onboard):.1f} s "
                f"({len(onboard)} tenants)"
            )
        print(
            f"installing the {len(onboard)} new tenants: "
            f"{timed([uv(), 'sync', '--frozen', '-q'], root):.1f} s"
        )
        home = {"DAGSTER_HOME": tempfile.mkdtemp(prefix="bench_validate_")}
        validate = [python, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"]
        print(
            f"dagster definitions validate -w workspace.yaml, {args.tenants} tenants: "
            f"{timed(validate, root, home):.1f} s"
        )
        if not args.skip_dev:
            dev_figures(root, args.tenants)


if __name__ == "__main__":
    main()
