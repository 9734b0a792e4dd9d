"""Typed models of the deployment manifests `deploy render` writes, and of its settings.

Each model holds the keys the tool that reads the file documents, with the tool's own spelling
(Helm values are camelCase, Dagster+ files snake_case), and forbids any other key: a renamed key
fails here, in a test, rather than being silently ignored by Helm or `dg plus deploy`.

- `UserDeploymentsValues`: values of the `dagster-user-deployments` chart, one release per tenant.
- `DagsterChartValues`: values of the main `dagster` chart (webserver, daemon, run launcher,
  Postgres) with the user-deployments subchart disabled.
- `DgBuildConfig`, `ContainerContext`: a dg project's `build.yaml` and `container_context.yaml`
  for Dagster+ Hybrid.
- `GrpcWorkspace`: a `workspace.yaml` of `grpc_server` entries, for webservers outside Kubernetes.
- `DeploySettings`: the operator's input, `deploy/settings.yaml` (registry, Postgres, resources).

Standard library and pydantic only: repo commands import this, never the Dagster runtime.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# --- shared Kubernetes shapes ---------------------------------------------------------------


class NamedRef(_Model):
    """A reference to a Kubernetes object by name (`envSecrets: [{name: ...}]`)."""

    name: str = Field(min_length=1, description="Name of the Secret or ConfigMap.")


class Quantities(_Model):
    """CPU and memory, in Kubernetes quantity notation (`250m`, `512Mi`)."""

    cpu: str = Field(min_length=1, description="CPU quantity, e.g. 250m or 1.")
    memory: str = Field(min_length=1, description="Memory quantity, e.g. 512Mi or 1Gi.")


class Resources(_Model):
    """Requests and limits of one container."""

    requests: Quantities
    limits: Quantities


# --- dagster-user-deployments chart ---------------------------------------------------------


class Image(_Model):
    """`deployments[].image` of the user-deployments chart."""

    repository: str = Field(min_length=1, description="Image repository, without tag.")
    tag: str = Field(min_length=1, description="Image tag; set a unique one per release.")
    pullPolicy: Literal["Always", "IfNotPresent", "Never"]


class IncludeConfigInLaunchedRuns(_Model):
    """Whether run pods launched from this deployment get its env, secrets and resources."""

    enabled: bool


class UserDeployment(_Model):
    """One code server: a Kubernetes Deployment plus a Service named `name`."""

    name: str = Field(min_length=1, description="Deployment and Service name (the tenant slug).")
    image: Image
    codeServerArgs: list[str] = Field(
        description="Arguments after `dagster code-server start -h 0.0.0.0 -p <port>`."
    )
    port: int = Field(ge=1, le=65535)
    envSecrets: list[NamedRef] = Field(description="Secrets loaded as environment variables.")
    resources: Resources
    includeConfigInLaunchedRuns: IncludeConfigInLaunchedRuns


class UserDeploymentsValues(_Model):
    """Values of the `dagster-user-deployments` chart for one tenant's release."""

    deployments: list[UserDeployment] = Field(min_length=1)


# --- dagster chart ----------------------------------------------------------------------------


class WorkspaceServer(_Model):
    """One `dagsterWebserver.workspace.servers[]` entry: where a code server answers."""

    host: str = Field(min_length=1, description="Service host name (the tenant slug).")
    port: int = Field(ge=1, le=65535)
    name: str = Field(min_length=1, description="Code location name (the tenant slug).")


class WebserverWorkspace(_Model):
    enabled: bool
    servers: list[WorkspaceServer]


class DagsterWebserver(_Model):
    workspace: WebserverWorkspace


class UserDeploymentsSubchart(_Model):
    """`dagster-user-deployments` in the main chart: on, but deployed by separate releases."""

    enabled: bool
    enableSubchart: bool


class K8sRunLauncherConfig(_Model):
    envSecrets: list[NamedRef] = Field(
        description="Secrets of every run pod (a tenant's own: includeConfigInLaunchedRuns)."
    )


class RunLauncherConfig(_Model):
    k8sRunLauncher: K8sRunLauncherConfig


class RunLauncher(_Model):
    type: Literal["K8sRunLauncher"]
    config: RunLauncherConfig


class PostgresqlService(_Model):
    port: int = Field(ge=1, le=65535)


class Postgresql(_Model):
    """Dagster's run, event and schedule storage (an external database in production)."""

    enabled: bool = Field(description="False: use the external database at postgresqlHost.")
    postgresqlHost: str = Field(min_length=1)
    postgresqlUsername: str = Field(min_length=1)
    postgresqlDatabase: str = Field(min_length=1)
    service: PostgresqlService


class DagsterDaemon(_Model):
    enabled: bool


class DagsterChartValues(_Model):
    """Values of the main `dagster` chart: one release for the webserver and daemon."""

    dagsterWebserver: DagsterWebserver
    dagsterDaemon: DagsterDaemon
    # Helm's key has dashes; `alias=` would make pyright expect the dashed name in __init__.
    dagster_user_deployments: UserDeploymentsSubchart = Field(
        validation_alias="dagster-user-deployments", serialization_alias="dagster-user-deployments"
    )
    runLauncher: RunLauncher
    generatePostgresqlPasswordSecret: bool = Field(
        description="False: the operator creates the dagster-postgresql-secret Secret."
    )
    postgresql: Postgresql


# --- Dagster+ (dg) ----------------------------------------------------------------------------


class DgBuildConfig(_Model):
    """A dg project's `build.yaml`.

    No `directory`: dg then builds with the uv workspace root as context and the project's own
    `Dockerfile` (dagster_dg_cli `get_dockerfile_path` / `DgContext.build_root_path`), exactly the
    context the generated Dockerfile expects. `directory: .` would make the tenant folder the
    context, where uv.lock and the core are out of reach.
    """

    registry: str = Field(min_length=1, description="Image repository `dg plus deploy` pushes to.")


class K8sContainerConfig(_Model):
    resources: Resources


class K8sPodConfig(_Model):
    container_config: K8sContainerConfig


class K8sContainerContext(_Model):
    env_secrets: list[str] = Field(description="Secrets loaded into code server and run pods.")
    server_k8s_config: K8sPodConfig
    run_k8s_config: K8sPodConfig


class ContainerContext(_Model):
    """A dg project's `container_context.yaml` for a Kubernetes Hybrid agent."""

    k8s: K8sContainerContext


# --- workspace.yaml ---------------------------------------------------------------------------


class GrpcServer(_Model):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    location_name: str = Field(min_length=1)


class GrpcServerEntry(_Model):
    grpc_server: GrpcServer


class GrpcWorkspace(_Model):
    """A `workspace.yaml` whose code locations are running code servers."""

    load_from: list[GrpcServerEntry]


# --- the operator's settings ------------------------------------------------------------------


class DeploySettings(_Model):
    """`deploy/settings.yaml`: what differs between platforms; every field has a default."""

    registry: str = Field(
        default="registry.example.com/dynamic-tables",
        min_length=1,
        description="Registry prefix; a tenant's image is <registry>/<slug>.",
    )
    python_version: Literal["3.11", "3.12", "3.13"] = Field(
        default="3.11", description="Python of the images (within requires-python)."
    )
    postgresql_host: str = Field(
        default="dagster-postgresql.example.internal",
        min_length=1,
        description="External Postgres for Dagster's storage.",
    )
    postgresql_username: str = Field(default="dagster", min_length=1)
    postgresql_database: str = Field(default="dagster", min_length=1)
    postgresql_port: int = Field(default=5432, ge=1, le=65535)
    code_server_resources: Resources = Field(
        default=Resources(
            requests=Quantities(cpu="250m", memory="512Mi"),
            limits=Quantities(cpu="1", memory="1Gi"),
        ),
        description="Resources of each tenant's code server.",
    )
    run_resources: Resources = Field(
        default=Resources(
            requests=Quantities(cpu="250m", memory="512Mi"),
            limits=Quantities(cpu="2", memory="2Gi"),
        ),
        description="Resources of each run pod (Dagster+ container context).",
    )
    vm_host: str = Field(
        default="localhost",
        min_length=1,
        description="Host of the code servers in deploy/workspace.yaml (a plain VM).",
    )
