"""The workspace as users load it: `dagster definitions validate -w workspace.yaml` and `dg` on
each tenant, run as the real commands from the repository root (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster_dynamic_tables import CHECK_NAMES
from support.repo import REPO_ROOT

BIN = Path(sys.executable).parent


def _run(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    env["DAGSTER_HOME"] = str(home)
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _tenant_dirs() -> list[Path]:
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    slugs = [entry["python_module"]["location_name"] for entry in workspace["load_from"]]
    return [REPO_ROOT / "tenants" / slug for slug in slugs]


def test_workspace_validates_every_location(tmp_path: Path) -> None:
    result = _run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        REPO_ROOT,
        tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for tenant in _tenant_dirs():
        assert f"Validation successful for code location {tenant.name}." in output
    assert "All code locations passed validation." in output


@pytest.mark.parametrize("tenant", _tenant_dirs(), ids=lambda p: p.name)
def test_tenant_component_yaml_passes_dg_check(tenant: Path, tmp_path: Path) -> None:
    result = _run([str(BIN / "dg"), "check", "yaml"], tenant, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All component YAML validated successfully." in result.stdout + result.stderr


@pytest.mark.parametrize("tenant", _tenant_dirs(), ids=lambda p: p.name)
def test_tenant_dg_list_defs_shows_virtual_tables_checks_sensors(
    tenant: Path, tmp_path: Path
) -> None:
    result = _run([str(BIN / "dg"), "list", "defs", "--json"], tenant, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = json.loads(result.stdout)
    assets = {a["asset_key"]: a for a in listed["assets"]}
    assert assets
    # Another tenant's asset named in deps (finance reads ecommerce's rollup) is listed as a
    # stub: no kinds, not executable. Everything the location defines starts with its slug.
    others = {k for k in assets if not k.startswith(f"{tenant.name}/")}
    assert all(not assets[k]["kinds"] and not assets[k]["is_executable"] for k in others), others
    dynamic_tables = {k for k, a in assets.items() if "dynamic_table" in a["kinds"]}
    assert dynamic_tables
    # Dagster refreshes a scheduler: DISABLE table (finance's monthly_revenue): executable.
    orchestrated = {k for k in dynamic_tables if assets[k]["is_executable"]}
    assert all("scheduler DISABLE" in assets[k]["description"] for k in orchestrated)
    checks = {(c["asset_key"], c["name"]) for c in listed["asset_checks"]}
    health = {(k, name) for k in dynamic_tables for name in CHECK_NAMES}
    assert health <= checks
    # The rest are the declared data tests, on the tenant's own assets.
    assert all(key.startswith(f"{tenant.name}/") for key, _name in checks - health)
    sensors = {s["name"] for s in listed["sensors"]}
    assert sensors == {"dynamic_table_freshness", "automation_condition_sensor"}
    assert [r["name"] for r in listed["resources"]] == ["snowflake"]
