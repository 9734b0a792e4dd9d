"""A local-snowflake server of a test's own (its own data directory and port), for tests that
restart, kill or configure one; the session's server (the package's pytest plugin) serves the
others. Stopped by pid on leaving, however the block ends."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from local_snowflake.process import ServerInfo
from local_snowflake.pytest_plugin import start_test_server, stop_test_server


@contextmanager
def own_server(
    data_dir: Path, scheduler_interval_seconds: float = 0, extra_args: Sequence[str] = ()
) -> Iterator[tuple[ServerInfo, subprocess.Popen[bytes]]]:
    """`start_test_server` (answering when yielded), then `stop_test_server` when the block
    ends: the process's return code is readable after it."""
    info, process = start_test_server(data_dir, scheduler_interval_seconds, extra_args)
    try:
        yield info, process
    finally:
        stop_test_server(process)
