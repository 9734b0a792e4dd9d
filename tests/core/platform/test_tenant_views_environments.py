"""`tenants check` in an environment: the locations load in it (their `snowflake_table` metadata
holds the environment's names) and are read back as the declared names grants.yaml speaks of; a
name the environment cannot map is a finding of its tenant. Each test loads a location in a
forked child as `tenants check` does (Dagster imported first: about 10 s here)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from dagster_dynamic_tables.platform.repo import discover_tenants
from dagster_dynamic_tables.platform.tenant_views import load_tenant_views
from support.repo import REPO_ROOT


def test_locations_loaded_in_dev_are_checked_under_their_declared_names(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("DYNAMIC_TABLES_ENVIRONMENT", "dev")
    ecommerce = [folder for folder in discover_tenants(REPO_ROOT) if folder.slug == "ecommerce"]
    findings: list[str] = []
    (view,) = load_tenant_views(REPO_ROOT, ecommerce, findings, workers=1)
    assert findings == []
    assert view.loaded
    assert view.declared_names["ECOMMERCE_DEV.ANALYTICS.CUSTOMER_LIFETIME_VALUE"] == (
        "ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE"
    )
    assert sorted(view.located) == [
        "ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE",
        "ECOMMERCE.ANALYTICS.DAILY_REVENUE_ROLLUP",
        "ECOMMERCE.RAW.RAW_CUSTOMERS",
        "ECOMMERCE.RAW.RAW_ORDERS",
    ]


def test_a_name_the_environment_cannot_map_is_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    environments = tmp_path / "environments.yaml"
    environments.write_text("environments:\n  qa:\n    databases: {FINANCE: FIN_QA}\n")
    shutil.copy(REPO_ROOT / "workspace.yaml", tmp_path / "workspace.yaml")
    monkeypatch.setenv("DYNAMIC_TABLES_ENVIRONMENTS_FILE", str(environments))
    monkeypatch.setenv("DYNAMIC_TABLES_ENVIRONMENT", "qa")
    # The location must be loaded afresh in qa, as `tenants check` (a new process) loads it: an
    # earlier test of this session may have imported it as declared.
    for name in [m for m in sys.modules if m == "ecommerce" or m.startswith("ecommerce.")]:
        monkeypatch.delitem(sys.modules, name)
    ecommerce = [folder for folder in discover_tenants(REPO_ROOT) if folder.slug == "ecommerce"]
    findings: list[str] = []
    load_tenant_views(REPO_ROOT, ecommerce, findings, workers=1)
    defs_yaml = REPO_ROOT / "tenants/ecommerce/src/ecommerce/defs/snowflake/defs.yaml"
    assert findings[0].startswith(
        f"tenant 'ecommerce': 7 names in {defs_yaml} cannot be mapped into environment 'qa':\n"
        "  - sources[0].table: ECOMMERCE.RAW.RAW_ORDERS: environment 'qa' "
        f"({environments}) does not map the database ECOMMERCE: its databases: lists FINANCE "
        "and it has no suffix. Fix: add ECOMMERCE to environments.qa.databases, or give the "
        "environment a suffix."
    )
    # and the location itself refuses to load in it, saying why
    assert findings[1].startswith(
        "tenant 'ecommerce': code location ecommerce.definitions does not load: 7 names in "
        f"{defs_yaml} cannot be mapped into environment 'qa':. Fix: run `uv run dagster "
        "definitions validate -m ecommerce.definitions`"
    )
