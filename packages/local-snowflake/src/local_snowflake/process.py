"""Starting, finding and stopping the background server for a data directory.

The server records itself in `<data_dir>/server.json` (pid, host, port, log file) once it
answers, and removes the record when it stops, however it was started: by `ensure_server` in the
background or by a user running `local-snowflake serve` in a terminal. A server that answers on
the port for the same data directory is that directory's server, even without a record (it
is adopted and recorded). Starting is done under an exclusive file lock in the data directory,
so processes racing to start the server (Dagster's webserver, daemon and code servers) start
only one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from local_snowflake.errors import ServerStartError

DEFAULT_PORT = 47113
"""The stand-in's default port (override with `LOCAL_SNOWFLAKE_PORT` in the callers)."""
STATE_FILE = "server.json"
LOCK_FILE = "server.lock"
LOG_FILE = "server.log"
START_TIMEOUT_SECONDS = 60.0
HEALTH_PATH = "/local-snowflake/health"  # served by endpoints.py
_MAX_HEALTH_BYTES = 1024 * 1024  # a health answer is small; never read without bound
_MAX_LOG_BYTES = 1024 * 1024  # what a failed start wrote: read for its ERROR line

# Servers this process started. Holding the Popen objects keeps Python from warning that a
# detached child is still running when they are garbage-collected, and lets stop_server reap.
_started: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ServerInfo:
    """A running stand-in server."""

    host: str
    port: int
    pid: int
    data_dir: Path
    log_file: Path


def server_status(data_dir: Path) -> ServerInfo | None:
    """The server recorded in data_dir if it is alive and answering, else None."""
    info = _read_state(data_dir.resolve())
    if info is None or not _pid_alive(info.pid):
        return None
    health = _health(info.host, info.port)
    if health is None or health.get("pid") != info.pid:
        return None
    return info


def ensure_server(
    data_dir: Path, port: int, *, idle_timeout_minutes: float | None = 120
) -> ServerInfo:
    """Return the server for data_dir, starting it in the background if it is not running.

    Raises ServerStartError if the port is taken by something else, or if the server does not
    answer within a minute (the message names the log file).
    """
    data_dir = data_dir.resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / LOCK_FILE).touch()
    except OSError as e:
        raise ServerStartError(
            f"cannot use {data_dir} as the local-snowflake data directory: "
            f"{e.strerror or e}. Fix: point LOCAL_SNOWFLAKE_DATA_DIR (or --data-dir) at a "
            "writable directory, or unset it to use .local_snowflake/ at the repository root."
        ) from e
    with _locked(data_dir / LOCK_FILE):
        info = server_status(data_dir)
        if info is not None and info.port == port:
            return info
        if info is not None:
            raise ServerStartError(
                f"local-snowflake for {data_dir} already runs on port {info.port}, not {port}: "
                f"set LOCAL_SNOWFLAKE_PORT={info.port}, or stop it first "
                "(`dynamic-tables local stop`)."
            )
        if (adopted := _adopt_or_check_port(data_dir, port)) is not None:
            return adopted
        return _start(data_dir, port, idle_timeout_minutes)


def write_state(info: ServerInfo) -> None:
    """Record info as data_dir's server (atomically: readers never see half a file)."""
    path = info.data_dir / STATE_FILE
    temporary = path.with_name(f".{STATE_FILE}.{os.getpid()}")
    temporary.write_text(json.dumps(asdict(info), default=str))
    temporary.replace(path)


def remove_state(data_dir: Path, pid: int) -> None:
    """Remove data_dir's record if it is pid's (a stopping server never removes another's)."""
    info = _read_state(data_dir)
    if info is not None and info.pid == pid:
        (data_dir / STATE_FILE).unlink(missing_ok=True)


def _same_dir(reported: object, data_dir: Path) -> bool:
    if not isinstance(reported, str):
        return False
    try:
        return Path(reported).samefile(data_dir)
    except OSError:
        return False


def _adopt(
    data_dir: Path, port: int, health: dict[str, Any] | None | Literal["ask"] = "ask"
) -> ServerInfo | None:
    """The server answering on port if it serves data_dir (started in a terminal, or its record
    lost), now recorded; else None."""
    if health == "ask":
        health = _health("127.0.0.1", port)
    if health is None or not _same_dir(health.get("data_dir"), data_dir):
        return None
    pid = health.get("pid")
    if not isinstance(pid, int) or not _pid_alive(pid):
        return None
    info = ServerInfo("127.0.0.1", port, pid, data_dir, data_dir / LOG_FILE)
    write_state(info)
    return info


def stop_server(data_dir: Path, timeout: float = 30.0) -> bool:
    """Stop the server recorded in data_dir (SIGTERM, then SIGKILL). False if none was running."""
    data_dir = data_dir.resolve()
    info = _read_state(data_dir)
    if info is None or not _pid_alive(info.pid):
        (data_dir / STATE_FILE).unlink(missing_ok=True)
        return False
    health = _health(info.host, info.port)
    if health is not None and health.get("pid") != info.pid:
        (data_dir / STATE_FILE).unlink(missing_ok=True)  # stale file, pid reused by another
        return False
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(info.pid):
        os.kill(info.pid, signal.SIGKILL)
    if (process := _started.pop(info.pid, None)) is not None:
        process.wait()
    remove_state(data_dir, info.pid)
    return True


def serve_command(data_dir: Path, port: int, *options: str) -> list[str]:
    """The command line of `local-snowflake serve` for data_dir and port (options follow)."""
    return [
        sys.executable,
        "-m",
        "local_snowflake",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *options,
    ]


def _start(data_dir: Path, port: int, idle_timeout_minutes: float | None) -> ServerInfo:
    log_file = data_dir / LOG_FILE
    command = serve_command(data_dir, port)
    if idle_timeout_minutes:
        command += ["--idle-timeout-minutes", str(idle_timeout_minutes)]
    with log_file.open("ab") as log:
        log_offset = log.tell()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # detached: survives the caller, not killed by its Ctrl-C
        )
    _started[process.pid] = process
    info = ServerInfo("127.0.0.1", port, process.pid, data_dir, log_file)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            # lost a race with a server started in a terminal for this data dir: use that one
            if (adopted := _adopt(data_dir, port)) is not None:
                return adopted
            raise ServerStartError(
                f"local-snowflake exited with code {process.returncode} while starting on port "
                f"{port}{_logged_error(log_file, log_offset)}; see {log_file}"
            )
        health = _health(info.host, port)
        if health is not None and health.get("pid") == process.pid:
            write_state(info)
            return info
        time.sleep(0.1)
    process.terminate()
    raise ServerStartError(
        f"local-snowflake did not answer on port {port} within {START_TIMEOUT_SECONDS:.0f} s; "
        f"see {log_file}"
    )


def _logged_error(log_file: Path, offset: int) -> str:
    """': <the ERROR line>' the server wrote to its log since offset (e.g. a damaged data
    directory), or ''."""
    try:
        with log_file.open("rb") as log:
            log.seek(offset)
            text = log.read(_MAX_LOG_BYTES).decode(errors="replace")
    except OSError:
        return ""
    errors = [line for line in text.splitlines() if line.startswith("ERROR: ")]
    return f": {errors[-1].removeprefix('ERROR: ').rstrip('.')}" if errors else ""


def _adopt_or_check_port(data_dir: Path, port: int) -> ServerInfo | None:
    """The server on port if it serves data_dir; None if the port is free; else an error."""
    health = _health("127.0.0.1", port)
    if (adopted := _adopt(data_dir, port, health)) is not None:
        return adopted
    if health is not None:
        raise ServerStartError(
            f"Port {port} is taken by a local-snowflake server for another data directory "
            f"({health.get('data_dir')}, pid {health.get('pid')}), not {data_dir}: "
            "set LOCAL_SNOWFLAKE_PORT to a free port, or stop that server."
        )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise ServerStartError(
                f"Port {port} is taken by another program: set LOCAL_SNOWFLAKE_PORT to a free port."
            )
    return None


def _health(host: str, port: int) -> dict[str, Any] | None:
    """The health endpoint's answer, or None. A plain HTTP/1.0 exchange over a socket: urllib
    (and the email parser under http.client) would add a third to `local status`'s time."""
    request = f"GET {HEALTH_PATH} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode()
    chunks: list[bytes] = []
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(request)
            size = 0
            while (chunk := sock.recv(65536)) and size < _MAX_HEALTH_BYTES:
                chunks.append(chunk)
                size += len(chunk)
    except OSError:
        return None
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")):
        return None
    try:
        body: Any = json.loads(payload)
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("service") == "local-snowflake":  # pyright: ignore[reportUnknownMemberType] -- untyped JSON
        return body  # pyright: ignore[reportUnknownVariableType] -- untyped JSON
    return None


def _read_state(data_dir: Path) -> ServerInfo | None:
    try:
        raw = json.loads((data_dir / STATE_FILE).read_text())
        return ServerInfo(
            host=str(raw["host"]),
            port=int(raw["port"]),
            pid=int(raw["pid"]),
            data_dir=Path(raw["data_dir"]),
            log_file=Path(raw["log_file"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    if (process := _started.get(pid)) is not None:
        return process.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an exited child its parent has not reaped yet (a zombie) is not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): signal 0 is all we know
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
