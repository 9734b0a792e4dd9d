"""Onboarding and many tenants: prints figures, asserts nothing.

    uv run python tests/benchmarks/bench_tenants.py [--tenants 20] [--bare 4] [--skip-dev]

In a temporary copy of the repository (with its own environment, created first and not timed):

1. seconds from `cookiecutter --no-input` to a registered tenant (the post-gen hook's grant and
   sync, `uv lock` included; installing the tenant into the environment excluded, as `uv run`
   does that on its next start);
2. `dynamic-tables tenants check` with N tenants, one location at a time
   (`DYNAMIC_TABLES_WORKERS=1`) and as many at once as there are cores, and whether the two print
   the same;
3. validating N tenants: `dagster definitions validate -w workspace.yaml` (one code server per
   location, one after the other) and `dynamic-tables tenants validate` (Dagster's own command
   per location, in forked children, as many at once as there are cores);
4. the cost of a location, ours against a bare one that only imports dagster-snowflake: the same
   `definitions validate -w` with `--bare` of ours and as many bare locations, and, after the
   imports every location shares, each location's own load in a forked child;
5. `dagster dev -w workspace.yaml` with N tenants, and `dynamic-tables dev ecommerce` (one
   location) and `dev finance` (finance and ecommerce, its upstream): seconds until every
   location is loaded, and the resident memory of all its processes (webserver, daemon, one code
   server per location);
6. a fresh process's imports of Dagster, dagster-snowflake and ours, from source and from
   compiled bytecode (last: it compiles the copy's environment).
"""

from __future__ import annotations

import argparse
import json
import os
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
    return timed_output(args, cwd, extra)[0]


def timed_output(
    args: list[str], cwd: Path, extra: dict[str, str] | None = None
) -> tuple[float, str]:
    """Seconds the command took, and its standard output (exits the benchmark if it fails)."""
    start = time.perf_counter()
    result = subprocess.run(
        args, cwd=cwd, env=clean_env(**(extra or {})), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - start, result.stdout


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


def dev_figures(root: Path, command: list[str], count: int, label: str) -> None:
    """`command` (a `dagster dev` serving `count` locations, given `-p PORT` at the end): seconds
    until all are loaded, resident memory once the first ticks ran."""
    port, home = free_port(), Path(tempfile.mkdtemp(prefix="bench_home_"))
    extra = {
        "DAGSTER_HOME": str(home),
        "LOCAL_SNOWFLAKE_PORT": str(free_port()),
        "LOCAL_SNOWFLAKE_DATA_DIR": str(home / "snowflake"),
    }
    start = time.perf_counter()
    process = subprocess.Popen(
        [*command, "-p", str(port)],
        cwd=root,
        env=clean_env(**extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    loaded_at, peak, served = None, 0.0, 0
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
            served = body.count('"name"')
            if body.count('"LOADED"') >= count:
                loaded_at = time.perf_counter() - start
        time.sleep(15)  # let the sensors' first ticks run before the memory reading
        settled = rss_mib(process.pid)
    finally:
        stop(process, grace=60)
        # The stand-in the locations started runs on its own (detached): stop it too.
        stand_in = [sys.executable, "-m", "dagster_dynamic_tables.cli", "local", "stop"]
        subprocess.run(stand_in, cwd=root, env=clean_env(**extra), capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
    shown = f"{loaded_at:.1f} s" if loaded_at is not None else "not within 600 s"
    print(f"{label}, {served} locations: all loaded after {shown}")
    memory = f"{settled:.0f} MiB resident (peak while loading {peak:.0f} MiB)"
    print(f"{label}, {served} locations: {memory}")


BARE_LOCATION = """\
import dagster as dg
import dagster_snowflake  # noqa: F401  # what a location of ours imports besides Dagster

defs = dg.Definitions()
"""

PER_LOCATION = """\
import importlib, importlib.util, json, sys, time
from dagster_dynamic_tables.platform.parallel import run_forked
from dagster_dynamic_tables.platform.tenant_views import LOCATION_PRELOAD

def load(target):
    start = time.perf_counter()
    if target.endswith(".py"):
        spec = importlib.util.spec_from_file_location("bare_location", target)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    module.defs.resolve_all_asset_specs()
    return time.perf_counter() - start

start = time.perf_counter()
for name in LOCATION_PRELOAD:
    importlib.import_module(name)
shared = time.perf_counter() - start
ours, bare = json.loads(sys.argv[1]), json.loads(sys.argv[2])
times = {
    kind: [o.value for o in run_forked(targets, load, workers=1)]
    for kind, targets in (("ours", ours), ("bare", bare))
}
print(json.dumps({"shared": shared, **times}))
"""


def write_bare_locations(root: Path, count: int) -> list[Path]:
    folder = root / ".bench_bare"
    folder.mkdir(exist_ok=True)
    paths = [folder / f"bare_{index:02d}.py" for index in range(count)]
    for path in paths:
        path.write_text(BARE_LOCATION)
    return paths


def workspace_file(root: Path, name: str, entries: list[str]) -> str:
    (root / name).write_text("load_from:\n" + "".join(entries))
    return name


def check_figures(root: Path, python: str, count: int) -> None:
    check = [python, "-m", "dagster_dynamic_tables.cli", "tenants", "check"]
    serial, serial_out = timed_output(check, root, {"DYNAMIC_TABLES_WORKERS": "1"})
    parallel, parallel_out = timed_output(check, root)
    cores = len(os.sched_getaffinity(0))
    print(
        f"tenants check, {count} tenants: {serial:.1f} s one location at a time, "
        f"{parallel:.1f} s with {cores} at once (same output: "
        f"{'yes' if serial_out == parallel_out else 'NO'})"
    )


def validate_figures(root: Path, python: str, count: int) -> None:
    home = {"DAGSTER_HOME": tempfile.mkdtemp(prefix="bench_validate_")}
    validate = [python, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"]
    dagster = timed(validate, root, home)
    home = {"DAGSTER_HOME": tempfile.mkdtemp(prefix="bench_validate_")}
    ours = timed([python, "-m", "dagster_dynamic_tables.cli", "tenants", "validate"], root, home)
    print(
        f"validating {count} tenants: dagster definitions validate -w workspace.yaml "
        f"{dagster:.1f} s ({dagster / count:.1f} s a location), dynamic-tables tenants validate "
        f"{ours:.1f} s"
    )


def location_cost_figures(root: Path, python: str, count: int) -> None:
    slugs = sorted(p.name for p in (root / "tenants").iterdir() if (p / "pyproject.toml").exists())
    bare = write_bare_locations(root, len(slugs))
    ours_entries = [
        f"  - python_module:\n      module_name: {slug}.definitions\n      location_name: {slug}\n"
        for slug in slugs[:count]
    ]
    bare_entries = [
        f"  - python_file:\n      relative_path: {path.relative_to(root)}\n"
        f"      location_name: {path.stem}\n"
        for path in bare[:count]
    ]
    for label, entries in (("ours", ours_entries), ("bare", bare_entries)):
        name = workspace_file(root, f".bench_{label}.yaml", entries)
        home = {"DAGSTER_HOME": tempfile.mkdtemp(prefix="bench_validate_")}
        seconds = timed(
            [python, "-m", "dagster", "definitions", "validate", "-w", name], root, home
        )
        print(
            f"dagster definitions validate, {count} locations {label}: {seconds:.1f} s "
            f"({seconds / count:.1f} s a location)"
        )
    targets = [
        json.dumps([f"{slug}.definitions" for slug in slugs]),
        json.dumps(list(map(str, bare))),
    ]
    _seconds, output = timed_output([python, "-c", PER_LOCATION, *targets], root)
    figures = json.loads(output.strip().splitlines()[-1])
    shared = figures["shared"]
    print(f"imports every location shares (Dagster, dagster-snowflake, ours): {shared:.1f} s")
    for label in ("ours", "bare"):
        times = sorted(figures[label])
        print(
            f"after them, a location's own load in a forked child, {label} ({len(times)}): median "
            f"{times[len(times) // 2] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
        )


def bytecode_figures(root: Path, python: str) -> None:
    """A fresh process's imports from source (as every process here when PYTHONDONTWRITEBYTECODE
    is set, as in .ci/run) and from bytecode `uv sync --compile-bytecode` wrote."""
    code = "import dagster_snowflake, dagster_dynamic_tables.definitions.tenant"
    empty = tempfile.mkdtemp(prefix="bench_pycache_")  # no bytecode there: compiled from source
    source = timed([python, "-c", code], root, {"PYTHONPYCACHEPREFIX": empty})
    compiling = timed([uv(), "sync", "--frozen", "-q", "--compile-bytecode"], root)
    compiled = timed([python, "-c", code], root)
    print(
        f"a fresh process importing Dagster, dagster-snowflake and ours: {source:.1f} s from "
        f"source, {compiled:.1f} s from bytecode (`uv sync --compile-bytecode`: {compiling:.1f} s "
        "once)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tenants", type=int, default=20, help="tenants in the workspace")
    parser.add_argument("--bare", type=int, default=4, help="locations in the side-by-side")
    parser.add_argument("--skip-dev", action="store_true", help="skip the dagster dev figures")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("PYTHONDONTWRITEBYTECODE is set: every process compiles what it imports (as in CI)")
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
        check_figures(root, python, args.tenants)
        validate_figures(root, python, args.tenants)
        location_cost_figures(root, python, args.bare)
        if not args.skip_dev:
            dagster = [python, "-m", "dagster", "dev"]
            dev_figures(root, [*dagster, "-w", "workspace.yaml"], args.tenants, "dagster dev")
            tool = [python, "-m", "dagster_dynamic_tables.cli", "dev"]
            dev_figures(root, [*tool, "ecommerce", "--"], 1, "dynamic-tables dev ecommerce")
            dev_figures(root, [*tool, "finance", "--"], 2, "dynamic-tables dev finance")
        bytecode_figures(root, python)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
