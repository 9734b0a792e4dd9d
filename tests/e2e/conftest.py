"""Fixtures of the end-to-end test: `dagster dev` with every tenant of the repository, plus one
whose declarations are invalid (the harness is `tests/support/dagster_dev.py`) and one private
tenant of orchestrated (`scheduler: DISABLE`) Dynamic Tables (`tests/support/e2e_tenants.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.dagster_dev import DagsterDev, broken_tenant, run_dagster_dev
from support.e2e_tenants import orchestrated_tenant


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[DagsterDev]:
    """Every tenant of the repository, one whose declarations are invalid, and the private
    tenant of orchestrated tables."""
    workspace, src = broken_tenant(tmp_path)
    orchestrated_tenant(src, workspace)
    with run_dagster_dev(tmp_path, workspace, [src]) as dev:
        try:
            yield dev
        except BaseException:
            print(f"--- dagster dev log (last lines) ---\n{dev.log_tail()}")
            raise
