"""`local-snowflake serve`: run the server in the foreground."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from local_snowflake.process import DEFAULT_PORT


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="local-snowflake", description="Embedded Snowflake stand-in with Dynamic Tables."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server in the foreground")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--data-dir", type=Path, required=True, help="where the DuckDB files live")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    serve.add_argument(
        "--idle-timeout-minutes",
        type=float,
        default=None,
        help="stop after this many minutes without requests (default: never)",
    )
    serve.add_argument(
        "--scheduler-interval-seconds",
        type=float,
        default=10.0,
        help="how often the Dynamic Table scheduler runs; 0 disables it (manual passes only)",
    )
    serve.add_argument(
        "--session-idle-timeout-minutes",
        type=float,
        default=240.0,
        help="close a client session after this many minutes without a request (default: 240)",
    )
    args = parser.parse_args(argv)
    data_dir: Path = args.data_dir.resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        parser.exit(
            2,
            f"ERROR: cannot use {data_dir} as the data directory: {e.strerror or e}. "
            "Fix: pass --data-dir a directory this user can write.\n",
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # imported here so that `--help` stays fast and the package root stays light
    from local_snowflake.damage import EXIT_DAMAGED
    from local_snowflake.errors import DataDirDamagedError
    from local_snowflake.runner import serve as run_server

    try:
        run_server(
            data_dir=data_dir,
            port=args.port,
            host=args.host,
            idle_timeout_minutes=args.idle_timeout_minutes,
            scheduler_interval_seconds=args.scheduler_interval_seconds,
            session_idle_timeout_minutes=args.session_idle_timeout_minutes,
        )
    except DataDirDamagedError as e:
        # one line, which ensure_server repeats from the log
        parser.exit(EXIT_DAMAGED, f"ERROR: {e}\n")
