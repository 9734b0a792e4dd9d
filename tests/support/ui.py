"""The shared frame of the UI check scripts (tests/ui/): `--attach` to a running `dagster dev`, or
start one with the quiet instance; print each problem and exit 0 (none) or 1."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support import dagster_dev as e2e


def add_attach_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--attach",
        nargs=3,
        metavar=("URL", "SNOWFLAKE_PORT", "DATA_DIR"),
        help="use this running dagster dev and its private stand-in",
    )


def run_attachable(
    attach: list[str] | None, prefix: str, check: Callable[[Any, Path], list[str]]
) -> int:
    """Run `check(dev, work)` on the attached `dagster dev`, or on one started for it; report."""
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as work:
        if attach:
            url, port, data_dir = attach
            dev = e2e.DagsterDev(url, int(port), Path(data_dir), Path(work) / "no.log")
            problems = check(dev, Path(work))
        else:
            with e2e.run_dagster_dev(Path(work), dagster_yaml=e2e.QUIET_INSTANCE) as dev:
                problems = check(dev, Path(work))
    for problem in problems:
        print(f"NOT OK: {problem}")
    print("OK" if not problems else f"NOT OK: {len(problems)} problem(s)")
    return 0 if not problems else 1
