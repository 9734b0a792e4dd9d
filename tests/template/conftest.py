"""Helpers for the template and registration tests: copies of the repository, commands in them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "templates" / "tenant"
BIN = Path(sys.executable).parent
_SKIP = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".local_snowflake", "tmp*"
)


def copy_repo(destination: Path) -> Path:
    """The working tree as it is (uncommitted changes included), without environments."""
    shutil.copytree(REPO_ROOT, destination, ignore=_SKIP)
    return destination


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this test run's virtualenv and Snowflake settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if "SNOWFLAKE" not in key and key not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.update(extra)
    return env


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed for these tests (pip install uv)")
    return found


@pytest.fixture
def sh():
    """`sh(args, cwd, env=None, timeout=300)`: run a command, capture its output."""
    return run


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the working tree in a temporary folder."""
    return copy_repo(tmp_path / "repo")


@pytest.fixture
def make_env():
    """`make_env(**extra)`: the environment without this run's virtualenv and Snowflake settings."""
    return clean_env
