"""A tenant's code server (`dagster code-server start`) on a loopback port, healthy when
yielded; its environment production-like (Snowflake settings that never connect).

Used by tests/deployments and by `tests/benchmarks/bench_deploy.py`. Loopback only; waits are
bounded; the server starts in its own session and is stopped by pid.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.environment import clean_env
from support.processes import free_port, log_tail, started, wait_for
from support.repo import BIN

# Snowflake settings for loading a tenant as production does (no stand-in); nothing connects.
SNOWFLAKE_ENV = {
    "SNOWFLAKE_ACCOUNT": "deploy-test-account",
    "SNOWFLAKE_USER": "deploy_test_user",
    "SNOWFLAKE_PASSWORD": "deploy-test-password",
}


def grpc_healthy(dagster: Path, port: int, env: dict[str, str]) -> bool:
    result = subprocess.run(
        [str(dagster), "api", "grpc-health-check", "-p", str(port)],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode == 0


@dataclass
class CodeServer:
    slug: str
    port: int
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = None

    def process_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_file, lines)


@contextmanager
def run_code_server(
    slug: str,
    workdir: Path,
    dagster: Path = BIN / "dagster",
    env: dict[str, str] | None = None,
) -> Iterator[CodeServer]:
    """`dagster code-server start` for one tenant on a loopback port, healthy when yielded.

    `env`: the server's environment (default: a fresh DAGSTER_HOME and production-like
    Snowflake settings that never connect)."""
    if env is None:
        home = workdir / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").touch()
        env = clean_env(DAGSTER_HOME=str(home), PYTHONUNBUFFERED="1", **SNOWFLAKE_ENV)
    port = free_port()
    command = [str(dagster), "code-server", "start", "-h", "127.0.0.1", "-p", str(port)]
    command += ["-m", f"{slug}.definitions", "--location-name", slug]
    server = CodeServer(slug, port, env, workdir / f"code-server-{slug}.log")
    with started(command, server.log_file, env, workdir) as process:
        server.process = process

        def healthy() -> bool:
            if process.poll() is not None:  # fail now, with the reason, not after the timeout
                raise AssertionError(f"the code server exited:\n{server.log_tail()}")
            return grpc_healthy(dagster, port, env)

        try:
            wait_for("the code server to pass grpc-health-check", healthy, timeout=180, every=1.0)
        except TimeoutError:
            print(f"--- code server log ---\n{server.log_tail()}")
            raise
        yield server
