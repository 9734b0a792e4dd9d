"""CI on a branch (`.ci/run`, see `dagster_dynamic_tables.platform.ci_scope`): with
`CI_UNAFFECTED_TENANTS` set (slugs, space-separated), the core's tests that are parametrized by one
of those tenants are deselected, and so is the test that validates every location of
workspace.yaml (the CI's validate step validates the affected locations instead). Unset, as in
`uv run pytest`, nothing changes.

Every test also gets the environment selection (`DYNAMIC_TABLES_ENVIRONMENT`, `..._FILE`) it
started with back when it ends (`_environment_selection_stays_in_its_test`)."""

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


_ENVIRONMENT_VARIABLES = ("DYNAMIC_TABLES_ENVIRONMENT", "DYNAMIC_TABLES_ENVIRONMENTS_FILE")
"""Set by `dynamic-tables --environment NAME` in its own process (so the code locations it loads
see the environment): a test that runs the CLI in-process must not leave them to the next."""


@pytest.fixture(autouse=True)
def _environment_selection_stays_in_its_test(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENVIRONMENT_VARIABLES:
        # Set, then removed: monkeypatch restores the variable (absent, or its value) afterwards,
        # whoever sets it during the test.
        monkeypatch.setenv(name, "placeholder")
        if name in _ORIGINAL_ENVIRONMENT:
            monkeypatch.setenv(name, _ORIGINAL_ENVIRONMENT[name])
        else:
            monkeypatch.delenv(name)


_ORIGINAL_ENVIRONMENT = {
    name: os.environ[name] for name in _ENVIRONMENT_VARIABLES if name in os.environ
}
