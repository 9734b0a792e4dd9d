"""One tenant as a standalone deployment: `dagster code-server start` on a loopback port (one
server for the module), loaded by Dagster through a `grpc_server` workspace, as the webserver
does on Kubernetes (dagsterWebserver.workspace.servers) or on a VM (deploy/workspace.yaml)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster_dynamic_tables import AUTOMATION_SENSOR_NAME, SENSOR_NAME
from dagster_dynamic_tables.platform.deploy.models import GrpcWorkspace
from support.processes import free_port, run, serving, started, wait_for
from support.repo import BIN

ASSETS_AND_SENSORS = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on RepositoryLocation {
            repositories { assetNodes { assetKey { path } } sensors { name } }
          }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


def _workspace(path: Path, port: int) -> Path:
    server = {"host": "127.0.0.1", "port": port, "location_name": "ecommerce"}
    data = {"load_from": [{"grpc_server": server}]}
    GrpcWorkspace.model_validate(data)  # the shape deploy/workspace.yaml has
    path.write_text(yaml.safe_dump(data))
    return path


def test_code_server_passes_grpc_health_check(code_server: Any) -> None:
    result = subprocess.run(
        [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(code_server.port)],
        env=code_server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grpc_server_workspace_validates(code_server: Any, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "workspace.yaml", code_server.port)
    result = run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", str(workspace)],
        tmp_path,
        code_server.env,
        300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Validation successful for code location ecommerce." in output


def _graphql(url: str, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.load(response)
    assert not payload.get("errors"), payload["errors"]
    return payload["data"]


def test_webserver_lists_the_tenants_assets_and_sensors(code_server: Any, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "workspace.yaml", code_server.port)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1"]
    command += ["-p", str(port)]
    log = tmp_path / "webserver.log"
    with started(command, log, code_server.env, tmp_path) as process:
        try:
            wait_for("the webserver", lambda: process.poll() is None and serving(url), 120)
        except TimeoutError:
            pytest.fail(f"webserver did not serve:\n{log.read_text(errors='replace')[-3000:]}")
        data = _graphql(url, ASSETS_AND_SENSORS)["workspaceOrError"]

    (entry,) = data["locationEntries"]
    location = entry["locationOrLoadError"]
    assert entry["name"] == "ecommerce"
    assert location["__typename"] == "RepositoryLocation", location
    repositories = location["repositories"]
    assets = {"/".join(n["assetKey"]["path"]) for r in repositories for n in r["assetNodes"]}
    sensors = {s["name"] for r in repositories for s in r["sensors"]}
    assert "ecommerce/customer_lifetime_value" in assets
    assert all(key.startswith("ecommerce/") for key in assets)
    assert {SENSOR_NAME, AUTOMATION_SENSOR_NAME} <= sensors
