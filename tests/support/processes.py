"""Processes of the tests: free loopback ports, bounded waits, processes started in their own
session (stopped by pid, their group first asked, then killed), commands run with their output
captured, or started now and read later (`Background`). Loopback only; every wait is bounded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from support.environment import clean_env
from support.repo import REPO_ROOT

T = TypeVar("T")


def free_port() -> int:
    """A loopback TCP port nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.5) -> T:
    """`probe()` every `every` seconds until it returns something true; that value. Raises
    TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def serving(url: str) -> bool:
    """Whether the Dagster webserver at `url` answers (its /server_info)."""
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def log_tail(log_file: Path, lines: int) -> str:
    """The last `lines` lines of a process's log ("" while there is none)."""
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def stop(process: subprocess.Popen[bytes], grace: float = 30) -> None:
    """Stop a process started in its own session: SIGTERM to its group, SIGKILL after `grace`
    seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def started(
    command: list[str], log_file: Path, env: dict[str, str], cwd: Path, grace: float = 30
) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session, logging to `log_file`; stopped (by pid) on exit."""
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        stop(process, grace)


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end, its output captured as text (`env`: default `clean_env()`)."""
    return subprocess.run(
        args,
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_cli(
    *args: str, env: dict[str, str], cwd: Path = REPO_ROOT, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The platform CLI (`python -m dagster_dynamic_tables.cli <args>`) of this environment, run to
    its end in `cwd` with its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "dagster_dynamic_tables.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Background:
    """A command started now and read later (`result`), so that a test module can run its slow
    commands side by side: one such command keeps one core busy, and this machine has two.
    Its output goes to files in `log_dir`, not pipes (a command that prints a lot never blocks
    on a full pipe); `stop` kills it if it still runs."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.args = args
        self._out, self._err = log_dir / "stdout.txt", log_dir / "stderr.txt"
        with self._out.open("wb") as out, self._err.open("wb") as err:
            self._process = subprocess.Popen(
                args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )

    def result(self, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The command's end, as `run` returns it; `subprocess.TimeoutExpired` after `timeout`
        seconds (from this call) if it still runs."""
        returncode = self._process.wait(timeout=timeout)
        return subprocess.CompletedProcess(
            self.args,
            returncode,
            self._out.read_text(errors="replace"),
            self._err.read_text(errors="replace"),
        )

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
