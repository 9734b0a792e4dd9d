"""What the generated Helm values make a real code server do (no cluster: the processes the
chart starts, with the environment and probe command the values give them).

- Readiness: the probe in `tenants/<slug>/deploy/helm-values.yaml` fails while the location
  failed to load (where the chart's default, `dagster api grpc-health-check`, passes) and passes
  once it serves its definitions.
- Run pod resources: the code server reports the container context the values set, and the K8s
  run launcher's own merge (`K8sContainerContext.create_for_run`) gives run pods the run resources
  of `deploy/settings.yaml`, not the code server's limits.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster_dynamic_tables.platform.deploy.models import UserDeploymentsValues
from dagster_dynamic_tables.platform.deploy.render import load_settings
from support.code_server import SNOWFLAKE_ENV, run_code_server
from support.environment import clean_env
from support.processes import free_port, wait_for
from support.repo import BIN, REPO_ROOT

SLUG = "ecommerce"
NO_USER = (
    "not ready: code location failed to load: dagster_dynamic_tables.errors."
    "SnowflakeSettingsError: SNOWFLAKE_ACCOUNT is set, so tenant 'ecommerce' connects to "
    "Snowflake, but no user is configured. Fix: set ECOMMERCE_SNOWFLAKE_USER or SNOWFLAKE_USER."
)


def _deployment() -> Any:
    path = REPO_ROOT / "tenants" / SLUG / "deploy" / "helm-values.yaml"
    values = UserDeploymentsValues.model_validate(yaml.safe_load(path.read_text()))
    (deployment,) = values.deployments
    return deployment


def _probe(port: int, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The values' readiness command, with the chart's port swapped for the test's."""
    command = list(_deployment().readinessProbe.exec_.command)
    assert command[-2:] == ["-p", "4000"]
    command[0] = str(BIN / "python")  # the image's PATH puts its venv's python first
    return subprocess.run(
        [*command[:-1], str(port)], env=env, capture_output=True, text=True, timeout=60
    )


def _health_check(port: int, env: dict[str, str]) -> int:
    command = [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)]
    return subprocess.run(command, env=env, capture_output=True, timeout=60).returncode


@pytest.fixture(scope="module")
def helm_code_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A code server with the environment the generated values give it on Kubernetes."""
    workdir = tmp_path_factory.mktemp("helm-code-server")
    home = workdir / "dagster_home"
    home.mkdir()
    env = clean_env(DAGSTER_HOME=str(home), PYTHONUNBUFFERED="1", **SNOWFLAKE_ENV)
    env |= {var.name: var.value for var in _deployment().env}
    with run_code_server(SLUG, workdir, env=env) as server:
        yield server


def test_readiness_probe_fails_while_the_location_failed_to_load(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = clean_env(
        DAGSTER_HOME=str(home), PYTHONUNBUFFERED="1", SNOWFLAKE_ACCOUNT="deploy-test-account"
    )  # an account and no user: the location fails with SnowflakeSettingsError

    with run_code_server(SLUG, tmp_path, env=env) as server:

        def load_error() -> subprocess.CompletedProcess[str] | None:
            probed = _probe(server.port, env)
            return probed if probed.stdout.startswith("not ready: code location") else None

        result = wait_for("the location's load error", load_error, timeout=120)
        chart_default = _health_check(server.port, env)

    assert (result.returncode, result.stdout.strip()) == (1, NO_USER)
    assert chart_default == 0  # why the chart's default probe is not used


def test_readiness_probe_passes_when_the_location_serves(helm_code_server: Any) -> None:
    result = _probe(helm_code_server.port, helm_code_server.env)

    assert (result.returncode, result.stdout.strip()) == (
        0,
        f"ready: code server at localhost:{helm_code_server.port} serves its definitions",
    )


def test_readiness_probe_fails_without_a_server() -> None:
    port = free_port()

    result = _probe(port, clean_env())

    assert result.returncode == 1
    assert result.stdout.startswith(f"not ready: code server at localhost:{port} does not answer")


def test_run_pods_get_the_run_resources_not_the_code_servers(helm_code_server: Any) -> None:
    from dagster import DagsterInstance
    from dagster._core.origin import JobPythonOrigin
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster_k8s.container_context import K8sContainerContext

    settings = load_settings(REPO_ROOT)
    origin = GrpcServerCodeLocationOrigin(
        host="127.0.0.1", port=helm_code_server.port, location_name=SLUG
    )
    with DagsterInstance.ephemeral() as instance, origin.create_location(instance) as location:
        (repository,) = location.get_repositories()
        repository_origin = location.get_repository_python_origin(repository)
    # What the run launcher gets for a run of this location (job name irrelevant to the context).
    run = DagsterRun(
        job_name="__ASSET_JOB", job_code_origin=JobPythonOrigin("__ASSET_JOB", repository_origin)
    )

    context = K8sContainerContext.create_for_run(run, run_launcher=None, include_run_tags=True)

    resources = settings.run_resources.model_dump()
    assert context.run_k8s_config.container_config["resources"] == resources
    assert resources != settings.code_server_resources.model_dump()
    container = context.run_k8s_config.container_config
    assert container["env_from"] == [{"secret_ref": {"name": f"{SLUG}-snowflake"}}]
    assert container["image_pull_policy"] == "Always"
