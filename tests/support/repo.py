"""The repository this test run belongs to: its root, this environment's bin folder, the
tenants it ships, and copies of its working tree."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS_ROOT = REPO_ROOT / "tests"
"""The folder that holds `support`: a child process that imports it needs it on PYTHONPATH."""
BIN = Path(sys.executable).parent
"""The folder of this environment's executables (dagster, dagster-webserver, ...)."""

_SKIP = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".local_snowflake", "tmp*"
)


def tenant_slugs() -> list[str]:
    """The slugs of the tenants in the repository (folders of tenants/ with a pyproject.toml)."""
    return sorted(p.parent.name for p in (REPO_ROOT / "tenants").glob("*/pyproject.toml"))


def copy_repo(destination: Path) -> Path:
    """The working tree as it is (uncommitted changes included), without environments."""
    shutil.copytree(REPO_ROOT, destination, ignore=_SKIP)
    return destination
