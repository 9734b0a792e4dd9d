"""Running the server process: uvicorn, the scheduler thread, the idle timeout, the record in
the data directory (`server.json`, written once the server answers, removed when it stops) and
the log file. `local-snowflake serve` calls `serve`; the request handling is in endpoints.py
and server.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn

from local_snowflake import endpoints
from local_snowflake.process import LOG_FILE, ServerInfo, remove_state, write_state
from local_snowflake.server import SESSION_IDLE_TIMEOUT_SECONDS, LocalSnowflake

logger = logging.getLogger("local_snowflake.server")


class _Uvicorn(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, which would kill the
    process before the database is checkpointed and closed: forget the signals instead.
    `on_started` runs once the server listens (it records itself in the data directory)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()  # pyright: ignore[reportPrivateUsage] -- see docstring


class _Scheduler(threading.Thread):
    def __init__(self, server: LocalSnowflake, interval: float) -> None:
        super().__init__(name="local-snowflake scheduler", daemon=True)
        self.server, self.interval, self.stopped = server, interval, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                summary = self.server.engine.run_scheduler_pass()
                if not summary.startswith("0 "):
                    logger.info("scheduler: %s", summary)
            except Exception:
                logger.exception("scheduler pass failed")


def _log_to_data_dir(data_dir: Path) -> None:
    """Log to <data_dir>/server.log as well, unless stdout already is that file (a background
    server started by ensure_server): a server started in a terminal logs to both."""
    log_file = data_dir / LOG_FILE
    try:
        out, file = os.fstat(sys.stdout.fileno()), log_file.stat()
        if (out.st_dev, out.st_ino) == (file.st_dev, file.st_ino):
            return
    except (OSError, ValueError):
        pass  # no such file yet, or no real stdout
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)


def serve(
    data_dir: Path,
    port: int,
    host: str = "127.0.0.1",
    idle_timeout_minutes: float | None = None,
    scheduler_interval_seconds: float = 10.0,
    session_idle_timeout_minutes: float = SESSION_IDLE_TIMEOUT_SECONDS / 60,
) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM (or idle timeout)."""
    _log_to_data_dir(data_dir)
    server = LocalSnowflake(data_dir, session_idle_timeout_minutes * 60)
    config = uvicorn.Config(endpoints.app(server), host=host, port=port, log_level="warning")
    info = ServerInfo(host, port, os.getpid(), data_dir, data_dir / LOG_FILE)
    web = _Uvicorn(config, on_started=lambda: write_state(info))
    scheduler = _Scheduler(server, scheduler_interval_seconds)
    if scheduler_interval_seconds > 0:
        scheduler.start()
    stop_watch = threading.Event()

    def watch_idle() -> None:
        assert idle_timeout_minutes is not None
        while not stop_watch.wait(min(5.0, idle_timeout_minutes * 30)):
            if time.monotonic() - server.last_activity > idle_timeout_minutes * 60:
                logger.warning("idle for %s minutes: stopping", idle_timeout_minutes)
                web.should_exit = True
                return

    if idle_timeout_minutes:
        threading.Thread(target=watch_idle, name="idle watch", daemon=True).start()
    logger.warning("local-snowflake serving %s on http://%s:%s", data_dir, host, port)
    try:
        web.run()
    finally:
        remove_state(data_dir, os.getpid())
        stop_watch.set()
        scheduler.stopped.set()
        if scheduler.is_alive():
            scheduler.join(timeout=30)
        server.close()
        logger.warning("local-snowflake stopped")
