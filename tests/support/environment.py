"""The environment child processes get: without this run's Snowflake, virtualenv and uv project
settings; and the uv executable, which fails saying so when uv is missing."""

from __future__ import annotations

import os
import shutil

_DROPPED = ("SNOWFLAKE", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any variable naming Snowflake (LOCAL_SNOWFLAKE_*
    included), the virtualenv, the uv project environment or PYTHONPATH; no Python downloads;
    then `extra`."""
    env = {k: v for k, v in os.environ.items() if not any(d in k for d in _DROPPED)}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env | extra


class UvMissing(RuntimeError):
    """uv is needed and was not found."""


def uv() -> str:
    """The uv executable: $UV, else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        raise UvMissing(
            "uv is needed here and was not found (neither $UV nor `uv` on PATH). "
            "Fix: install it (pip install uv) or set UV to its path."
        )
    return found
