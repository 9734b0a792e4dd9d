"""CI on a branch (`.ci/run`, see `dagster_dynamic_tables.platform.ci_scope`): with
`CI_UNAFFECTED_TENANTS` set (slugs, space-separated), the core's tests that are parametrized by one
of those tenants are deselected, and so is the test that validates every location of
workspace.yaml (the CI's validate step validates the affected locations instead). Unset, as in
`uv run pytest`, nothing changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

UNAFFECTED = frozenset(os.environ.pop("CI_UNAFFECTED_TENANTS", "").split())
"""Read once and taken out of the environment: the pytest runs some tests start (on a copy of
the repository, for one) must see every tenant."""

WHOLE_WORKSPACE_TESTS = ("test_workspace.py::test_workspace_validates_every_location",)
"""Tests that load every code location of workspace.yaml at once."""


def _names_tenant(value: object, slugs: frozenset[str]) -> bool:
    if isinstance(value, str):
        return value in slugs
    if isinstance(value, Path):
        return value.parent.name == "tenants" and value.name in slugs
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slugs = UNAFFECTED
    if not slugs:
        return
    kept: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params: dict[str, object] = callspec.params if callspec is not None else {}
        whole = item.nodeid.endswith(WHOLE_WORKSPACE_TESTS)
        if whole or any(_names_tenant(value, slugs) for value in params.values()):
            deselected.append(item)
        else:
            kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
