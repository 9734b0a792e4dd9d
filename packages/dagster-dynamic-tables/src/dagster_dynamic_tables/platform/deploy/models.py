"""Typed models of the deployment manifests `deploy render` writes, and of its settings.

Each model holds the keys the tool that reads the file documents, with the tool's own spelling
(Helm values are camelCase, Dagster+ files snake_case), and forbids any other key: a renamed key
fails here, in a test, rather than being silently ignored by Helm or `dg plus deploy`.

- `UserDeploymentsValues`: values of the `dagster-user-deployments` chart, one release per tenant.
- `DagsterChartValues`: values of the main `dagster` chart (webserver, daemon, run launcher,
  Postgres) with the user-deployments subchart disabled.
- `DgBuildConfig`, `ContainerContext`: a dg project's `build.yaml` and `container_context.yaml`
  for Dagster+ Hybrid.
- `RunContainerContext`: what each code server reports under Helm, so that the K8s run launcher
  gives its run pods the tenant's secret and the run resources.
- `GrpcWorkspace`: a `workspace.yaml` of `grpc_server` entries, for webservers outside Kubernetes.
- `InstanceConfig`: the `dagster.yaml` of a webserver and daemon outside Kubernetes (Postgres).
- `DeploySettings`: the operator's input, `deploy/settings.yaml` (registry, Postgres, resources).

Standard library and pydantic only: repo commands import this, never the Dagster runtime.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


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


class RequiredTag(_Model):
    """Stands where the release tag goes until the release command sets it.

    The chart's values schema allows a string, an integer or null for `image.tag` (null or empty:
    the chart's own version, an image that does not exist), so an object here makes `helm
    install/upgrade/template` refuse the values until `--set-string
    deployments[0].image.tag=<tag>` replaces it: a release without a tag cannot be rendered.
    """

    required: str = Field(min_length=1, description="How to set the tag (shown in the file).")


class Image(_Model):
    """`deployments[].image` of the user-deployments chart."""

    repository: str = Field(min_length=1, description="Image repository, without tag.")
    tag: RequiredTag | str = Field(
        description="Image tag: set a unique one per release (a commit), never `latest`."
    )
    pullPolicy: Literal["Always", "IfNotPresent", "Never"]


class IncludeConfigInLaunchedRuns(_Model):
    """Whether the chart passes this deployment's env, secrets and resources to its run pods.

    Off in the generated values: the chart would give run pods the code server's resources, and
    it has no key for run pod resources. The code server gets the container context the renderer
    writes instead (`DAGSTER_CONTAINER_CONTEXT`, see `RunContainerContext`).
    """

    enabled: bool


class EnvVar(_Model):
    """One `env` entry of a container."""

    name: str = Field(min_length=1)
    value: str


class ExecAction(_Model):
    command: list[str] = Field(min_length=1)


class ReadinessProbe(_Model):
    """`deployments[].readinessProbe`: the chart's schema requires `enabled`; with `exec` set,
    the chart uses this probe instead of `dagster api grpc-health-check`."""

    enabled: bool
    exec_: ExecAction = Field(validation_alias="exec", serialization_alias="exec")
    periodSeconds: int = Field(ge=1)
    timeoutSeconds: int = Field(ge=1)
    successThreshold: int = Field(ge=1)
    failureThreshold: int = Field(ge=1)


class UserDeployment(_Model):
    """One code server: a Kubernetes Deployment plus a Service named `name`."""

    name: str = Field(min_length=1, description="Deployment and Service name (the tenant slug).")
    image: Image
    codeServerArgs: list[str] = Field(
        description="Arguments after `dagster code-server start -h 0.0.0.0 -p <port>`."
    )
    port: int = Field(ge=1, le=65535)
    envSecrets: list[NamedRef] = Field(description="Secrets loaded as environment variables.")
    env: list[EnvVar] = Field(description="Environment variables of the code server container.")
    resources: Resources = Field(description="Resources of the code server container.")
    includeConfigInLaunchedRuns: IncludeConfigInLaunchedRuns
    readinessProbe: ReadinessProbe


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
    postgresqlScheme: str = Field(
        min_length=1,
        description="SQLAlchemy URL scheme with the driver (dagster.yaml `postgres_db.scheme`).",
    )
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


class K8sRunContainerContext(_Model):
    env_secrets: list[str] = Field(description="Secrets loaded into the run pods.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"]
    run_k8s_config: K8sPodConfig


class RunContainerContext(_Model):
    """The container context a code server reports under Helm (`DAGSTER_CONTAINER_CONTEXT`).

    The K8s run launcher reads it from the code location when it launches a run, and merges it
    over its own `runLauncher.config.k8sRunLauncher` settings: the tenant's secret and the run
    pod resources of `deploy/settings.yaml` (dagster_k8s `K8sContainerContext.create_for_run`).
    """

    k8s: K8sRunContainerContext


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


# --- dagster.yaml (outside Kubernetes) ----------------------------------------------------------


class EnvRef(_Model):
    """A Dagster config value read from an environment variable (`{env: NAME}`)."""

    env: str = Field(min_length=1)


class PostgresDb(_Model):
    """`postgres_db` of dagster-postgres: the URL is `<scheme>://user:pw@host:port/db_name`."""

    scheme: str = Field(min_length=1)
    username: EnvRef
    password: EnvRef
    hostname: EnvRef
    port: EnvRef
    db_name: EnvRef


class PostgresStorage(_Model):
    postgres_db: PostgresDb


class Storage(_Model):
    postgres: PostgresStorage


class InstanceConfig(_Model):
    """The instance's `dagster.yaml`: run, event log and schedule storage on Postgres."""

    storage: Storage


# --- the operator's settings ------------------------------------------------------------------


EnvironmentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
"""An environment of environments.yaml (`declarations.environments`: a lowercase identifier)."""


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
        description="Resources of each run pod (Helm: the code server's container context; "
        "Dagster+: container_context.yaml).",
    )
    vm_host: str = Field(
        default="localhost",
        min_length=1,
        description="Host of the code servers in deploy/workspace.yaml (a plain VM).",
    )
    environments: list[EnvironmentName] = Field(
        default_factory=list[str],
        description="Environments of environments.yaml with Helm releases of their own: each "
        "tenant gets deploy/helm-values.<environment>.yaml, whose code server and run pods "
        "select it (DYNAMIC_TABLES_ENVIRONMENT). Not prod: the declarations as written need "
        "no selection.",
        examples=[["dev"]],
    )
