"""Deployment files for every tenant, generated: `uv run dynamic-tables deploy render`.

Each tenant ships, releases and rolls back on its own, so each gets its own image and releases:

    tenants/<slug>/Dockerfile               image of the code location (build context = repo root)
    tenants/<slug>/Dockerfile.dockerignore  BuildKit's per-Dockerfile ignore file: only what that
                                            Dockerfile copies enters the context
    tenants/<slug>/deploy/helm-values.yaml  `dagster-user-deployments` chart, one release per tenant
    tenants/<slug>/build.yaml               Dagster+ (dg): image registry
    tenants/<slug>/container_context.yaml   Dagster+ (dg): Snowflake secret and resources on K8s
    deploy/helm-values.yaml                 main `dagster` chart: webserver, daemon, K8s run
                                            launcher, Postgres; lists every tenant's code server
    deploy/workspace.yaml                   grpc_server entries, for a webserver outside Kubernetes
    deploy/dagster.yaml                     instance config (Postgres storage) outside Kubernetes

Inputs: the tenants (folders `tenants/<slug>/` holding a `pyproject.toml`; module
`<slug>.definitions`, location name `<slug>`), `deploy/settings.yaml` (optional; see
`DeploySettings`) and the Dagster version pinned in `uv.lock` (chart versions follow it).

`render_deployments` writes only files whose bytes differ, so a second run writes nothing;
`check_deployments` reports each missing or stale file with the fix. Standard library, pyyaml
and pydantic only: this runs in `tenants sync` / `tenants check` and must not import Dagster.
"""

from __future__ import annotations

import json
import tomllib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from dagster_dynamic_tables.errors import DeployError
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
from dagster_dynamic_tables.platform.repo import discover_tenants as discover_tenant_folders
from dagster_dynamic_tables.platform.repo import slug_problem

RENDER_COMMAND = "uv run dynamic-tables deploy render"
SETTINGS_FILE = Path("deploy/settings.yaml")
SHARED_CHART_VALUES = Path("deploy/helm-values.yaml")
SHARED_WORKSPACE = Path("deploy/workspace.yaml")
SHARED_INSTANCE = Path("deploy/dagster.yaml")
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
DAGSTER_FALLBACK_VERSION = "1.13.27"


@dataclass(frozen=True)
class GeneratedFile:
    """One generated file: its path relative to the repo root, its tenant (None: shared), text."""

    path: Path
    tenant: str | None
    text: str


def render_deployments(repo_root: Path) -> list[Path]:
    """Write every deployment file; return the paths written (missing or different before)."""
    written: list[Path] = []
    for generated in generate_files(repo_root):
        target = repo_root / generated.path
        data = generated.text.encode("utf-8")
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written


def check_deployments(repo_root: Path) -> list[str]:
    """One line per missing or stale deployment file, naming tenant, file and the fix."""
    problems: list[str] = []
    for generated in generate_files(repo_root):
        target = repo_root / generated.path
        owner = f"tenant {generated.tenant}" if generated.tenant else "shared"
        if not target.is_file():
            state = "is missing"
        elif target.read_bytes() != generated.text.encode("utf-8"):
            state = "is stale (differs from what deploy render generates)"
        else:
            continue
        problems.append(
            f"{owner}: {generated.path.as_posix()} {state}. Fix: run `{RENDER_COMMAND}`."
        )
    return problems


def generate_files(repo_root: Path) -> list[GeneratedFile]:
    """Every deployment file with the text it should have, tenants in slug order, shared last."""
    slugs = discover_tenants(repo_root)
    settings = load_settings(repo_root)
    chart_version = dagster_version(repo_root)
    files: list[GeneratedFile] = []
    for slug in slugs:
        base = Path("tenants") / slug
        files += [
            GeneratedFile(base / "Dockerfile", slug, render_dockerfile(slug, settings)),
            GeneratedFile(base / "Dockerfile.dockerignore", slug, render_dockerignore(slug)),
            GeneratedFile(
                base / "deploy" / "helm-values.yaml",
                slug,
                _yaml_text(
                    build_user_deployments_values(slug, settings),
                    f"values of the dagster-user-deployments chart {chart_version}, release "
                    f"{slug!r}",
                ),
            ),
            GeneratedFile(
                base / "build.yaml",
                slug,
                _yaml_text(build_dg_build_config(slug, settings), "Dagster+ build config (dg)"),
            ),
            GeneratedFile(
                base / "container_context.yaml",
                slug,
                _yaml_text(
                    build_container_context(slug, settings),
                    "Dagster+ container context (dg, Kubernetes agent)",
                ),
            ),
        ]
    files += [
        GeneratedFile(
            SHARED_CHART_VALUES,
            None,
            _yaml_text(
                build_dagster_chart_values(slugs, settings),
                f"values of the dagster chart {chart_version}, release 'dagster'",
            ),
        ),
        GeneratedFile(
            SHARED_WORKSPACE,
            None,
            _yaml_text(
                build_grpc_workspace(slugs, settings),
                "workspace of code servers on one host (start each as in deploy/README.md)",
            ),
        ),
        GeneratedFile(
            SHARED_INSTANCE,
            None,
            _yaml_text(
                build_instance_config(),
                "dagster.yaml of processes outside Kubernetes (deploy/README.md, A plain VM)",
            ),
        ),
    ]
    return files


# --- inputs -----------------------------------------------------------------------------------


def discover_tenants(repo_root: Path) -> list[str]:
    """Slugs of the tenants (`repo.discover_tenants`: folders with a pyproject.toml), sorted."""
    if not (repo_root / "tenants").is_dir():
        raise DeployError(f"{repo_root} has no tenants/ folder. Fix: run from the repository root.")
    slugs = [tenant.slug for tenant in discover_tenant_folders(repo_root)]
    for slug in slugs:
        problem = slug_problem(slug)
        if problem:
            # The slug names a module, a Kubernetes deployment and a code location: no guessing.
            raise DeployError(f"tenants/{slug}: {problem}. Fix: rename the folder.")
    return slugs


def load_settings(repo_root: Path) -> DeploySettings:
    """`deploy/settings.yaml` when present, else the defaults."""
    path = repo_root / SETTINGS_FILE
    if not path.is_file():
        return DeploySettings()
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise DeployError(f"{SETTINGS_FILE} is not valid YAML: {e}") from e
    try:
        return DeploySettings.model_validate(data or {})
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in e.errors()
        )
        raise DeployError(
            f"{SETTINGS_FILE}: {problems}. Fix: see DeploySettings in "
            "dagster_dynamic_tables/deploy_models.py for the allowed keys."
        ) from e


def dagster_version(repo_root: Path) -> str:
    """The Dagster version pinned in `uv.lock`: the Helm charts are versioned with Dagster."""
    lock = repo_root / "uv.lock"
    if not lock.is_file():
        return DAGSTER_FALLBACK_VERSION
    try:
        data: dict[str, Any] = tomllib.loads(lock.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise DeployError(f"uv.lock is not valid TOML: {e}. Fix: run `uv lock`.") from e
    for package in data.get("package", []):
        if package.get("name") == "dagster":
            return str(package.get("version", DAGSTER_FALLBACK_VERSION))
    return DAGSTER_FALLBACK_VERSION


# --- models -----------------------------------------------------------------------------------


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


def build_user_deployments_values(slug: str, settings: DeploySettings) -> UserDeploymentsValues:
    # includeConfigInLaunchedRuns would hand run pods the code server's resources (the chart has
    # no key for run resources): the code server reports this context itself instead.
    context = build_run_container_context(slug, settings).model_dump(mode="json")
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
                    )
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


# --- text -------------------------------------------------------------------------------------


def _header(what: str) -> str:
    return (
        f"# {what[0].upper()}{what[1:]}.\n"
        f"# Generated by `{RENDER_COMMAND}`; do not edit: change deploy/settings.yaml\n"
        "# (or the renderer) and re-render. `uv run dynamic-tables tenants check` reports drift.\n"
    )


def _yaml_text(model: BaseModel, what: str) -> str:
    data: Mapping[str, Any] = model.model_dump(mode="json", by_alias=True)
    body = yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False, width=100)
    return _header(what) + body


def render_dockerfile(slug: str, settings: DeploySettings) -> str:
    """The tenant's image, in the multi-stage pattern uv and Dagster document for a workspace."""
    python = settings.python_version
    start = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(CODE_SERVER_PORT)]
    cmd = ", ".join(f'"{arg}"' for arg in [*start, *code_server_args(slug)])
    return f"""\
{_header(f"image of the {slug!r} code location")}#
# Build from the repository root (the uv workspace); tenants/{slug}/Dockerfile.dockerignore
# keeps every other tenant and local data out of the context:
#   docker build -f tenants/{slug}/Dockerfile -t <registry>/{slug}:<tag> .
# `RUN --mount` and the per-Dockerfile ignore file need BuildKit (Docker's default builder since
# 23.0), which handles both with its built-in Dockerfile frontend: no `# syntax=` line, which
# would make every build pull a frontend image first (and an offline build fail).

FROM ghcr.io/astral-sh/uv:python{python}-bookworm-slim AS builder
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=0
WORKDIR /app

# Third-party dependencies of this tenant only, straight from the lock: this layer is rebuilt
# when uv.lock changes, not when the platform's or the tenant's code does.
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --frozen --no-dev --no-install-workspace --package {slug}

# The workspace members: the core library and this tenant (no other tenant is in the context).
# Non-editable, so the runtime stage needs nothing but .venv.
COPY pyproject.toml uv.lock ./
COPY packages/ packages/
COPY tenants/{slug}/ tenants/{slug}/
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv sync --frozen --no-dev --no-editable --package {slug}

# Runtime: the same Python, the environment and nothing else; no uv, no sources, not root.
FROM python:{python}-slim-bookworm
RUN groupadd --system --gid 10001 dagster \\
 && useradd --system --uid 10001 --gid dagster --create-home --home-dir /opt/dagster dagster \\
 && mkdir -p /opt/dagster/dagster_home && chown dagster:dagster /opt/dagster/dagster_home
COPY --from=builder /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" DAGSTER_HOME=/opt/dagster/dagster_home PYTHONUNBUFFERED=1
WORKDIR /opt/dagster
USER 10001:10001
EXPOSE {CODE_SERVER_PORT}
CMD [{cmd}]
"""


def render_dockerignore(slug: str) -> str:
    """BuildKit reads `<Dockerfile>.dockerignore` instead of the context root's `.dockerignore`."""
    return f"""\
{_header(f"build context of tenants/{slug}/Dockerfile")}#
# BuildKit uses this file, named after the Dockerfile, in place of a .dockerignore at the root
# of the context (the repository root). Everything is out except what the Dockerfile copies.
*
!pyproject.toml
!uv.lock
!packages/
!tenants/{slug}/
**/.venv
**/__pycache__
**/*.py[cod]
**/.pytest_cache
**/.ruff_cache
**/.local_snowflake
**/.dagster_home
**/.env
**/tests
tenants/{slug}/Dockerfile*
tenants/{slug}/deploy
"""
