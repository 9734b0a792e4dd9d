"""The typed values of each tenant's and the shared deployment files (`deploy.models`), built from
the tenant's slug and `deploy/settings.yaml` (`DeploySettings`): Helm values, Dagster+ build and
container context, the VM workspace and instance config. `deploy.render` writes them."""

from __future__ import annotations

import json
import zlib

from dagster_dynamic_tables.platform.deploy.models import (
    ContainerContext,
    DagsterChartValues,
    DagsterDaemon,
    DagsterWebserver,
    DeploySettings,
    DgBuildConfig,
    EnvRef,
    EnvVar,
    ExecAction,
    GrpcServer,
    GrpcServerEntry,
    GrpcWorkspace,
    Image,
    IncludeConfigInLaunchedRuns,
    InstanceConfig,
    K8sContainerConfig,
    K8sContainerContext,
    K8sPodConfig,
    K8sRunContainerContext,
    K8sRunLauncherConfig,
    NamedRef,
    PostgresDb,
    Postgresql,
    PostgresqlService,
    PostgresStorage,
    ReadinessProbe,
    RequiredTag,
    RunContainerContext,
    RunLauncher,
    RunLauncherConfig,
    Storage,
    UserDeployment,
    UserDeploymentsSubchart,
    UserDeploymentsValues,
    WebserverWorkspace,
    WorkspaceServer,
)

__all__ = [
    "CODE_SERVER_PORT",
    "ENVIRONMENT_VARIABLE",
    "POSTGRES_ENV",
    "POSTGRES_SCHEME",
    "READINESS_COMMAND",
    "RELEASE_TAG_HINT",
    "VM_PORT_BASE",
    "VM_PORT_SPAN",
    "build_container_context",
    "build_dagster_chart_values",
    "build_dg_build_config",
    "build_grpc_workspace",
    "build_instance_config",
    "build_run_container_context",
    "build_user_deployments_values",
    "code_server_args",
    "image_repository",
    "kubernetes_name",
    "snowflake_secret",
    "vm_ports",
]

CODE_SERVER_PORT = 4000
# Dagster's storage URL names its driver. dagster-postgres builds `<scheme>://...` with the scheme
# `postgresql` unless told otherwise, and SQLAlchemy picks the driver of a bare `postgresql://`
# itself: psycopg2 up to 2.0, psycopg (v3) from 2.1, which nothing installs. Naming the driver
# here, and depending on it in the `kubernetes` extra, keeps the storage working whichever
# SQLAlchemy or dagster-postgres the lock moves to.
POSTGRES_SCHEME = "postgresql+psycopg2"
# The environment variables the VM dagster.yaml reads (the chart's run pods get theirs from it).
POSTGRES_ENV = {
    "username": "DAGSTER_PG_USERNAME",
    "password": "DAGSTER_PG_PASSWORD",
    "hostname": "DAGSTER_PG_HOST",
    "port": "DAGSTER_PG_PORT",
    "db_name": "DAGSTER_PG_DB",
}
RELEASE_TAG_HINT = "set at release: --set-string deployments[0].image.tag=<tag> (deploy/README.md)"
# Ready only when the location serves its definitions (grpc-health-check passes on a load error).
READINESS_COMMAND = ["python", "-m", "dagster_dynamic_tables.readiness", "-p"]
# Code servers on one VM need a port each; a slug's port is derived from its name so that adding
# a tenant never moves another one (collisions probe upwards, in slug order).
VM_PORT_BASE = 4000
VM_PORT_SPAN = 1000


def image_repository(slug: str, settings: DeploySettings) -> str:
    return f"{settings.registry.rstrip('/')}/{slug}"


def snowflake_secret(slug: str) -> str:
    """The Kubernetes Secret holding a tenant's SNOWFLAKE_* variables."""
    return f"{slug.replace('_', '-')}-snowflake"


def kubernetes_name(slug: str) -> str:
    """Deployment and Service name: DNS-1035 labels allow '-' but not '_'."""
    return slug.replace("_", "-")


def code_server_args(slug: str) -> list[str]:
    return ["-m", f"{slug}.definitions", "--location-name", slug]


def build_run_container_context(slug: str, settings: DeploySettings) -> RunContainerContext:
    """What the K8s run launcher applies to this tenant's run pods under Helm."""
    return RunContainerContext(
        k8s=K8sRunContainerContext(
            env_secrets=[snowflake_secret(slug)],
            image_pull_policy="Always",
            run_k8s_config=K8sPodConfig(
                container_config=K8sContainerConfig(resources=settings.run_resources)
            ),
        )
    )


ENVIRONMENT_VARIABLE = "DYNAMIC_TABLES_ENVIRONMENT"
"""Selects the environment (`declarations.environments.ENVIRONMENT_VARIABLE`)."""


def build_user_deployments_values(
    slug: str, settings: DeploySettings, environment: str | None = None
) -> UserDeploymentsValues:
    """The tenant's release; in `environment` (None: the declarations as written), its code
    server and its run pods (through their container context) select that environment."""
    # includeConfigInLaunchedRuns would hand run pods the code server's resources (the chart has
    # no key for run resources): the code server reports this context itself instead.
    context = build_run_container_context(slug, settings).model_dump(mode="json")
    selection: list[EnvVar] = []
    if environment is not None:
        context["k8s"]["env_vars"] = [f"{ENVIRONMENT_VARIABLE}={environment}"]
        selection = [EnvVar(name=ENVIRONMENT_VARIABLE, value=environment)]
    return UserDeploymentsValues(
        deployments=[
            UserDeployment(
                name=kubernetes_name(slug),
                image=Image(
                    repository=image_repository(slug, settings),
                    tag=RequiredTag(required=RELEASE_TAG_HINT),
                    pullPolicy="Always",
                ),
                codeServerArgs=code_server_args(slug),
                port=CODE_SERVER_PORT,
                envSecrets=[NamedRef(name=snowflake_secret(slug))],
                env=[
                    EnvVar(
                        name="DAGSTER_CONTAINER_CONTEXT",
                        value=json.dumps(context, separators=(",", ":")),
                    ),
                    *selection,
                ],
                resources=settings.code_server_resources,
                includeConfigInLaunchedRuns=IncludeConfigInLaunchedRuns(enabled=False),
                readinessProbe=ReadinessProbe(
                    enabled=True,
                    exec_=ExecAction(command=[*READINESS_COMMAND, str(CODE_SERVER_PORT)]),
                    periodSeconds=20,
                    timeoutSeconds=10,
                    successThreshold=1,
                    failureThreshold=3,
                ),
            )
        ]
    )


def build_dagster_chart_values(slugs: list[str], settings: DeploySettings) -> DagsterChartValues:
    servers = [
        WorkspaceServer(host=kubernetes_name(slug), port=CODE_SERVER_PORT, name=slug)
        for slug in slugs
    ]
    return DagsterChartValues(
        dagsterWebserver=DagsterWebserver(
            workspace=WebserverWorkspace(enabled=True, servers=servers)
        ),
        dagsterDaemon=DagsterDaemon(enabled=True),
        dagster_user_deployments=UserDeploymentsSubchart(enabled=True, enableSubchart=False),
        runLauncher=RunLauncher(
            type="K8sRunLauncher",
            config=RunLauncherConfig(k8sRunLauncher=K8sRunLauncherConfig(envSecrets=[])),
        ),
        generatePostgresqlPasswordSecret=False,
        postgresql=Postgresql(
            enabled=False,
            postgresqlHost=settings.postgresql_host,
            postgresqlUsername=settings.postgresql_username,
            postgresqlDatabase=settings.postgresql_database,
            postgresqlScheme=POSTGRES_SCHEME,
            service=PostgresqlService(port=settings.postgresql_port),
        ),
    )


def build_instance_config() -> InstanceConfig:
    """dagster.yaml for processes outside Kubernetes; connection details from the environment."""
    return InstanceConfig(
        storage=Storage(
            postgres=PostgresStorage(
                postgres_db=PostgresDb(
                    scheme=POSTGRES_SCHEME,
                    **{field: EnvRef(env=name) for field, name in POSTGRES_ENV.items()},
                )
            )
        )
    )


def build_dg_build_config(slug: str, settings: DeploySettings) -> DgBuildConfig:
    return DgBuildConfig(registry=image_repository(slug, settings))


def build_container_context(slug: str, settings: DeploySettings) -> ContainerContext:
    return ContainerContext(
        k8s=K8sContainerContext(
            env_secrets=[snowflake_secret(slug)],
            server_k8s_config=K8sPodConfig(
                container_config=K8sContainerConfig(resources=settings.code_server_resources)
            ),
            run_k8s_config=K8sPodConfig(
                container_config=K8sContainerConfig(resources=settings.run_resources)
            ),
        )
    )


def vm_ports(slugs: list[str]) -> dict[str, int]:
    """A stable port per tenant for code servers sharing one host."""
    ports: dict[str, int] = {}
    taken: set[int] = set()
    for slug in sorted(slugs):
        offset = zlib.crc32(slug.encode("utf-8")) % VM_PORT_SPAN
        while VM_PORT_BASE + offset in taken:
            offset = (offset + 1) % VM_PORT_SPAN
        ports[slug] = VM_PORT_BASE + offset
        taken.add(ports[slug])
    return ports


def build_grpc_workspace(slugs: list[str], settings: DeploySettings) -> GrpcWorkspace:
    ports = vm_ports(slugs)
    return GrpcWorkspace(
        load_from=[
            GrpcServerEntry(
                grpc_server=GrpcServer(host=settings.vm_host, port=ports[slug], location_name=slug)
            )
            for slug in slugs
        ]
    )
