"""Fixtures of the template and registration tests: copies of the repository, commands in them
(the helpers are `tests/support/`: repo, processes, environment)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.environment import clean_env
from support.processes import run
from support.repo import copy_repo


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
