"""The `dynamic-tables` command line as a user runs it, against a private stand-in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dagster_dynamic_tables.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_plan_after_local_start_has_nothing_pending(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    env |= {"LOCAL_SNOWFLAKE_DATA_DIR": str(tmp_path), "LOCAL_SNOWFLAKE_PORT": str(_free_port())}
    try:
        started = _cli("local", "start", env=env)
        assert started.returncode == 0, started.stdout + started.stderr
        plan = _cli("plan", "--tenant", "finance", env=env)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert any(
            line.split()[:2] == ["unchanged", "FINANCE.REPORTING.REVENUE_VS_BUDGET"]
            for line in plan.stdout.splitlines()
        ), plan.stdout
        assert plan.stdout.rstrip().splitlines()[-1].startswith("plan: no changes")
        unknown = _cli("plan", "--tenant", "nobody", env=env)
        assert unknown.returncode != 0
        assert "nobody" in unknown.stdout + unknown.stderr
    finally:
        _cli("local", "stop", env=env)
