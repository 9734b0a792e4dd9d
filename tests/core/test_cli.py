"""The `dynamic-tables` command line as a user runs it, against a private stand-in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dagster_dynamic_tables.cli import (
    EXIT_ERROR,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    EXIT_PENDING,
    EXIT_USAGE,
    main,
)
from support.processes import run_cli
from support.repo import REPO_ROOT

# `plan` after `local start` (nothing pending, an unknown tenant an error) is checked with the
# stand-in that test_standin's test of `local start`/`status`/`stop` starts: one start less.


def test_exit_statuses_are_distinct_and_documented() -> None:
    statuses = [EXIT_OK, EXIT_PENDING, EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_ERROR]
    assert statuses == [0, 1, 2, 3, 4]
    from dagster_dynamic_tables import cli

    doc = cli.__doc__ or ""
    for status in statuses:
        assert f"\n{status}  " in doc, status
    readme = (REPO_ROOT / "README.md").read_text()
    assert "exit 0: nothing pending, 1: changes pending, 4: an error" in readme


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["plan", "--no-such-option"])
    assert info.value.code == EXIT_USAGE
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_an_expected_error_exits_4_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    """Outside the repository: an error, not "changes pending" (1), and no traceback."""
    env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    result = run_cli("plan", env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == EXIT_ERROR
    assert result.stdout == ""
    assert result.stderr == (
        f"ERROR: {tmp_path.resolve()} is not inside the platform repository (no folder above it "
        "holds tenants/ and a pyproject.toml with [tool.uv.workspace]). Fix: run the command "
        "from the repository root.\n"
    )


def test_a_connector_error_exits_4_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error the connector raises past a command (Snowflake unreachable mid-command) is an
    `ERROR:` line and status 4, as the package's own errors."""
    from dagster_dynamic_tables import cli
    from snowflake.connector.errors import OperationalError

    def unreachable(args: object) -> int:
        del args
        raise OperationalError(msg="Could not connect to Snowflake backend", errno=250001)

    monkeypatch.setattr(cli, "_plan", unreachable)
    assert main(["plan"]) == EXIT_ERROR
    assert capsys.readouterr().err == ("ERROR: 250001: Could not connect to Snowflake backend\n")
