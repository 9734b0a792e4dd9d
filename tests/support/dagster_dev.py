"""Run `dagster dev -w workspace.yaml` against a private stand-in, and read it through GraphQL.

Shared by the end-to-end test (tests/e2e), the end-to-end benchmark and the UI scripts (tests/ui).
Loopback only; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import local_snowflake

from support.processes import free_port, log_tail, serving, started, wait_for
from support.repo import REPO_ROOT

RUNS = """
query Runs {
  runsOrError(filter: {statuses: [SUCCESS]}) {
    ... on Runs { results { runId status creationTime assetSelection { path } } }
  }
}
"""

MATERIALIZATIONS = """
query Materializations($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset {
      assetMaterializations(limit: 20) { timestamp runId tags { key value } }
    }
  }
}
"""


LOCATIONS = """
query Locations {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message causes { message } }
          ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } } }
        }
      }
    }
  }
}
"""

CHECK_EXECUTIONS = """
query CheckExecutions($path: [String!]!, $check: String!) {
  assetCheckExecutions(assetKey: {path: $path}, checkName: $check, limit: 1) {
    status
    evaluation { severity description }
  }
}
"""

ALL_RUNS = """
query AllRuns {
  runsOrError {
    ... on Runs {
      results {
        runId status creationTime
        assetSelection { path }
        assetCheckSelection { name assetKey { path } }
      }
    }
  }
}
"""

CHECK_HISTORY = """
query CheckHistory($path: [String!]!, $check: String!, $limit: Int!) {
  assetCheckExecutions(assetKey: {path: $path}, checkName: $check, limit: $limit) {
    runId status timestamp
    evaluation {
      severity description
      targetMaterialization { storageId timestamp }
      metadataEntries {
        label
        ... on MarkdownMetadataEntry { mdStr }
        ... on IntMetadataEntry { intValue }
        ... on TextMetadataEntry { text }
      }
    }
  }
}
"""

ASSET_CHECKS = """
query AssetChecks($path: [String!]!) {
  assetNodes(assetKeys: [{path: $path}]) {
    isExecutable isMaterializable
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
}
"""

SENSOR_TICKS = """
query SensorTicks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { ticks(limit: 25) { tickId status timestamp skipReason } } }
  }
}
"""

# An instance without the first-visit community dialog (it covers pages in screenshots) and
# without telemetry.
QUIET_INSTANCE = "nux:\n  enabled: false\ntelemetry:\n  enabled: false\n"


@dataclass
class DagsterDev:
    url: str
    snowflake_port: int
    data_dir: Path
    log_file: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def connect(self) -> Any:
        return local_snowflake.connect(host="127.0.0.1", port=self.snowflake_port)

    def succeeded_runs_of(self, path: list[str]) -> list[dict[str, Any]]:
        results = self.graphql(RUNS)["runsOrError"]["results"]
        return [r for r in results if path in [k["path"] for k in r["assetSelection"] or []]]

    def materializations_of(self, path: list[str]) -> list[dict[str, Any]]:
        asset = self.graphql(MATERIALIZATIONS, {"path": path})["assetOrError"]
        return asset.get("assetMaterializations") or []

    def latest_check_execution(self, path: list[str], check: str) -> dict[str, Any] | None:
        executions = self.graphql(CHECK_EXECUTIONS, {"path": path, "check": check})
        found = executions["assetCheckExecutions"]
        return found[0] if found else None

    def runs(self) -> list[dict[str, Any]]:
        """Every run, any status: id, status, creation time, assets and checks selected."""
        return self.graphql(ALL_RUNS)["runsOrError"]["results"]

    def check_history(self, path: list[str], check: str, limit: int = 50) -> list[dict[str, Any]]:
        """The check's executions, newest first, with their evaluation's metadata."""
        variables = {"path": path, "check": check, "limit": limit}
        return self.graphql(CHECK_HISTORY, variables)["assetCheckExecutions"]

    def asset_node(self, path: list[str]) -> dict[str, Any]:
        """Whether the asset is executable and materializable, and its checks (name, blocking)."""
        (node,) = self.graphql(ASSET_CHECKS, {"path": path})["assetNodes"]
        return node

    def sensor_ticks(self, location: str, sensor: str) -> list[dict[str, Any]]:
        """The sensor's latest ticks, newest first (none while its location loads)."""
        selector = {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "sensorName": sensor,
        }
        found = self.graphql(SENSOR_TICKS, {"selector": selector})["sensorOrError"]
        return list(found["sensorState"]["ticks"]) if found["__typename"] == "Sensor" else []

    def locations(self) -> dict[str, dict[str, Any]]:
        """Each code location's entry: load status, and its error or its repositories."""
        entries = self.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
        return {entry["name"]: entry for entry in entries}

    wait_for = staticmethod(wait_for)

    def log_tail(self, lines: int = 80) -> str:
        return log_tail(self.log_file, lines)


@contextmanager
def run_dagster_dev(
    workdir: Path,
    workspace: Path | None = None,
    python_path: list[Path] | None = None,
    dagster_yaml: str | None = None,
) -> Iterator[DagsterDev]:
    """`dagster dev` from the repo root with a temporary DAGSTER_HOME and stand-in data dir.

    `workspace` replaces the repository's workspace.yaml; `python_path` is put in front of the
    Python path of every process (for a code location that is not installed); `dagster_yaml` is
    the instance's configuration (e.g. QUIET_INSTANCE)."""
    home, data_dir = workdir / "dagster_home", workdir / "snowflake"
    home.mkdir()
    if dagster_yaml is not None:
        (home / "dagster.yaml").write_text(dagster_yaml)
    port, snowflake_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    env |= {
        "DAGSTER_HOME": str(home),
        "LOCAL_SNOWFLAKE_PORT": str(snowflake_port),
        "LOCAL_SNOWFLAKE_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
    }
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join(str(path) for path in python_path)
    log_file = workdir / "dagster_dev.log"
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(workspace or "workspace.yaml")]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    dev = DagsterDev(f"http://127.0.0.1:{port}", snowflake_port, data_dir, log_file)
    try:
        with started(command, log_file, env, REPO_ROOT, grace=60) as process:

            def up() -> bool:
                return process.poll() is None and serving(dev.url)

            wait_for("dagster dev to serve", up, 120, every=1.0)
            yield dev
    finally:
        local_snowflake.stop_server(data_dir)


BROKEN_TENANT = "broken_tenant"
BROKEN_DEFS = """\
type: dagster_dynamic_tables.DynamicTablesComponent
attributes:
  tenant: broken_tenant
  dynamic_tables:
    - name: too_fresh
      table: BROKEN.ANALYTICS.TOO_FRESH
      target_lag: 10 seconds
      warehouse: WH
      query: SELECT 1 AS one
"""


def broken_tenant(workdir: Path) -> tuple[Path, Path]:
    """A code location whose declarations are invalid, and a workspace: the repository's
    locations plus that one. Returns (workspace file, folder to put on the Python path)."""
    src = workdir / "broken_src"
    package = src / BROKEN_TENANT
    (package / "defs" / "snowflake").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n"
        "defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n"
    )
    (package / "defs" / "snowflake" / "defs.yaml").write_text(BROKEN_DEFS)
    (src / "pyproject.toml").write_text(  # what load_from_defs_folder looks for, as in a tenant
        f'[project]\nname = "{BROKEN_TENANT}"\n\n[tool.dg]\ndirectory_type = "project"\n\n'
        f'[tool.dg.project]\nroot_module = "{BROKEN_TENANT}"\n'
        'registry_modules = ["dagster_dynamic_tables"]\n'
    )
    workspace = workdir / "workspace.yaml"
    text = (REPO_ROOT / "workspace.yaml").read_text()
    text += (
        f"  - python_module:\n      module_name: {BROKEN_TENANT}.definitions\n"
        f"      location_name: {BROKEN_TENANT}\n"
    )
    workspace.write_text(text)
    return workspace, src
