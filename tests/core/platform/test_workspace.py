"""The workspace as users load it: `dagster definitions validate -w workspace.yaml` and `dg` on
each tenant, run as the real commands from the repository root (subprocesses). The commands run
side by side (`commands`): each keeps one core busy for seconds, and the machine has two."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster_dynamic_tables import CHECK_NAMES
from support.processes import Background
from support.repo import REPO_ROOT

BIN = Path(sys.executable).parent


def _tenant_dirs() -> list[Path]:
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    slugs = [entry["python_module"]["location_name"] for entry in workspace["load_from"]]
    return [REPO_ROOT / "tenants" / slug for slug in slugs]


VALIDATE = [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"]
CHECK_YAML = [str(BIN / "dg"), "check", "yaml"]
LIST_DEFS = [str(BIN / "dg"), "list", "defs", "--json"]
COMMANDS = {
    "test_workspace_validates_every_location": VALIDATE,
    "test_tenant_component_yaml_passes_dg_check": CHECK_YAML,
    "test_tenant_dg_list_defs_shows_virtual_tables_checks_sensors": LIST_DEFS,
}
"""The command each test of this module runs: in the tenant's folder for a test parametrized by
`tenant`, else at the repository root."""
Key = tuple[str, str]


@pytest.fixture(scope="module")
def commands(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[Key, Background]]:
    """The commands of this module's selected tests, all started at its first test (each loads
    Dagster and the tenants' code on one core: about 10-25 s each, one after the other), by
    test name and tenant. Each runs as a user runs it, with a DAGSTER_HOME of its own and no
    Snowflake settings."""
    env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    started: dict[Key, Background] = {}
    for item in request.session.items:
        if not isinstance(item, pytest.Function) or item.module is not request.module:
            continue
        callspec = getattr(item, "callspec", None)
        tenant: Path | None = callspec.params.get("tenant") if callspec else None
        key = (item.originalname, tenant.name if tenant else "")
        if key not in started:
            home = tmp_path_factory.mktemp("dagster_home")
            started[key] = Background(
                COMMANDS[item.originalname],
                tenant or REPO_ROOT,
                env | {"DAGSTER_HOME": str(home)},
                tmp_path_factory.mktemp("output"),
            )
    try:
        yield started
    finally:
        for command in started.values():
            command.stop()


def _result(
    commands: dict[Key, Background], request: pytest.FixtureRequest, tenant: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """How the command of the requesting test (for `tenant`) ended."""
    node = request.node
    assert isinstance(node, pytest.Function)
    return commands[node.originalname, tenant.name if tenant else ""].result(timeout=300)


def test_workspace_validates_every_location(
    commands: dict[Key, Background], request: pytest.FixtureRequest
) -> None:
    result = _result(commands, request)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for tenant in _tenant_dirs():
        assert f"Validation successful for code location {tenant.name}." in output
    assert "All code locations passed validation." in output


@pytest.mark.parametrize("tenant", _tenant_dirs(), ids=lambda p: p.name)
def test_tenant_component_yaml_passes_dg_check(
    tenant: Path, commands: dict[Key, Background], request: pytest.FixtureRequest
) -> None:
    result = _result(commands, request, tenant)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All component YAML validated successfully." in result.stdout + result.stderr


@pytest.mark.parametrize("tenant", _tenant_dirs(), ids=lambda p: p.name)
def test_tenant_dg_list_defs_shows_virtual_tables_checks_sensors(
    tenant: Path, commands: dict[Key, Background], request: pytest.FixtureRequest
) -> None:
    result = _result(commands, request, tenant)
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
