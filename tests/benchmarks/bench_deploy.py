"""Benchmark: a tenant's image environment and its code server (a script that prints figures;
not collected by pytest).

    uv run python tests/benchmarks/bench_deploy.py [--rounds 3] [--tenant ecommerce ...]

1. Size of each tenant's isolated environment (built by its Dockerfile's uv commands, as
   `tests/support/image.py` does, outside the repository's `.venv`) against the full
   development `.venv`. Goal: under half.
2. Seconds from process start to a healthy code server (`dagster code-server start`, loopback),
   probed every 50 ms over gRPC, then checked to have loaded the location, not an error. Run from
   the isolated environment (what the image runs) and from the development environment.
3. Seconds one readiness probe takes against that healthy server, as Kubernetes runs it (a
   fresh process each time): the generated values' `python -m dagster_dynamic_tables.readiness`
   against the chart's default `dagster api grpc-health-check`. The probe's timeout is 10 s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from support.code_server import SNOWFLAKE_ENV
from support.environment import clean_env
from support.image import build_isolated_env
from support.processes import free_port, started, wait_for
from support.repo import BIN, REPO_ROOT, tenant_slugs

MB = 1024 * 1024


def tree_size(root: Path) -> tuple[int, int]:
    """(bytes of every file, bytes without __pycache__), symlinks not followed."""
    total = without_bytecode = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            size = path.stat().st_size
            total += size
            if "__pycache__" not in dirpath:
                without_bytecode += size
    return total, without_bytecode


def largest_packages(venv: Path, count: int = 6) -> list[tuple[str, int]]:
    site = next(venv.glob("lib/python*/site-packages"))
    sizes = [(p.name, tree_size(p)[0]) for p in site.iterdir() if p.is_dir()]
    return sorted(sizes, key=lambda item: -item[1])[:count]


def probe_seconds(command: list[str], env: dict[str, str]) -> float:
    """Wall time of one probe process; it must pass (the server is healthy and loaded)."""
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... failed: {result.stdout}{result.stderr}")
    return elapsed


def seconds_to_healthy(
    slug: str, dagster: Path, workdir: Path, probes: dict[str, list[float]]
) -> float:
    # The probe `dagster api grpc-health-check` makes, without a CLI start per probe.
    from dagster._grpc.client import DagsterGrpcClient

    home = workdir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = clean_env(DAGSTER_HOME=str(home), **SNOWFLAKE_ENV)
    command = [str(dagster), "code-server", "start", "-h", "127.0.0.1", "-p", str(port)]
    command += ["-m", f"{slug}.definitions", "--location-name", slug]
    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    log = workdir / f"code-server-{port}.log"
    start = time.perf_counter()
    with started(command, log, env, workdir) as process:

        def healthy() -> bool:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints every refused connection
                return process.poll() is None and client.health_check_query() == "SERVING"

        wait_for("a healthy code server", healthy, timeout=180, every=0.05)
        elapsed = time.perf_counter() - start
        loaded: Any = client.list_repositories()
        python = str(dagster.parent / "python")
        commands = {
            "readiness (generated values)": [
                python, "-m", "dagster_dynamic_tables.readiness", "-p", str(port)
            ],
            "grpc-health-check (chart default)": [
                str(dagster), "api", "grpc-health-check", "-p", str(port)
            ],
        }  # fmt: skip
        for name, probe in commands.items():
            probes.setdefault(name, []).append(probe_seconds(probe, env))
    if "SerializableErrorInfo" in loaded:
        message = str(json.loads(loaded).get("message", loaded)).strip().splitlines()[0]
        raise RuntimeError(message[:200])
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="code server starts per setup")
    parser.add_argument("--tenant", action="append", help="tenant slug (default: every tenant)")
    args = parser.parse_args()
    slugs: list[str] = args.tenant or tenant_slugs()

    dev_total, dev_code = tree_size(REPO_ROOT / ".venv")
    print(f"development .venv: {dev_total / MB:.0f} MB ({dev_code / MB:.0f} MB without bytecode)")
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        envs: dict[str, Path] = {}
        for slug in slugs:
            begun = time.perf_counter()
            venv = build_isolated_env(slug, Path(tmp) / slug)
            build_seconds = time.perf_counter() - begun
            envs[slug] = venv
            total, code = tree_size(venv)
            ratio = total / dev_total
            verdict = "under half: goal met" if ratio < 0.5 else "NOT under half: goal missed"
            print(
                f"{slug}: isolated environment {total / MB:.0f} MB ({code / MB:.0f} MB without "
                f"bytecode) = {ratio:.0%} of the development .venv, {verdict}; built by the "
                f"Dockerfile's uv commands in {build_seconds:.1f} s (warm uv cache)"
            )
            biggest = ", ".join(f"{name} {size / MB:.0f}" for name, size in largest_packages(venv))
            print(f"  largest packages (MB): {biggest}")

        for slug in slugs:
            setups = {
                "isolated env": envs[slug] / "bin" / "dagster",
                "dev .venv": BIN / "dagster",
            }
            for label, dagster in setups.items():
                times: list[float] = []
                probes: dict[str, list[float]] = {}
                try:
                    for n in range(args.rounds):
                        workdir = Path(tmp) / f"{slug}{n}"
                        times.append(seconds_to_healthy(slug, dagster, workdir, probes))
                except RuntimeError as e:
                    print(f"{slug} ({label}): code server does not load: {e}")
                    continue
                print(
                    f"{slug} ({label}): process start -> healthy code server, "
                    f"{len(times)} rounds: median {statistics.median(times):.1f} s, "
                    f"min {min(times):.1f} s, max {max(times):.1f} s"
                )
                for name, seconds in probes.items():
                    print(
                        f"  one probe, {name}: median {statistics.median(seconds):.1f} s, "
                        f"max {max(seconds):.1f} s (probe timeout 10 s)"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
