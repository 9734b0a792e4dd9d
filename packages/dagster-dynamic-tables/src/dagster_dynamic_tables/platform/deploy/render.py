"""Deployment files for every tenant, generated: `uv run dynamic-tables deploy render`.

Each tenant ships, releases and rolls back on its own, so each gets its own image and releases:

    tenants/<slug>/Dockerfile               image of the code location (build context = repo root)
    tenants/<slug>/Dockerfile.dockerignore  BuildKit's per-Dockerfile ignore file: only what that
                                            Dockerfile copies enters the context
    tenants/<slug>/deploy/helm-values.yaml  `dagster-user-deployments` chart, one release per tenant
    tenants/<slug>/deploy/helm-values.<env>.yaml  the same release in each environment that
                                            `environments:` of deploy/settings.yaml lists
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
The files' values are built in `deploy.values`, their text in `deploy.text`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dagster_dynamic_tables.errors import DeployError
from dagster_dynamic_tables.platform.deploy.models import DeploySettings
from dagster_dynamic_tables.platform.deploy.text import (
    ENVIRONMENTS_FILE,
    RENDER_COMMAND,
    render_dockerfile,
    render_dockerignore,
    yaml_text,
)
from dagster_dynamic_tables.platform.deploy.values import (
    build_container_context,
    build_dagster_chart_values,
    build_dg_build_config,
    build_grpc_workspace,
    build_instance_config,
    build_user_deployments_values,
)
from dagster_dynamic_tables.platform.repo import discover_tenants as discover_tenant_folders
from dagster_dynamic_tables.platform.repo import slug_problem

__all__ = [
    "SETTINGS_FILE",
    "GeneratedFile",
    "check_deployments",
    "dagster_version",
    "discover_tenants",
    "generate_files",
    "load_settings",
    "render_deployments",
]

SETTINGS_FILE = Path("deploy/settings.yaml")
SHARED_CHART_VALUES = Path("deploy/helm-values.yaml")
SHARED_WORKSPACE = Path("deploy/workspace.yaml")
SHARED_INSTANCE = Path("deploy/dagster.yaml")
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
    environments = (repo_root / ENVIRONMENTS_FILE).is_file()
    for slug in slugs:
        base = Path("tenants") / slug
        files += [
            GeneratedFile(
                base / "Dockerfile",
                slug,
                render_dockerfile(slug, settings, environments=environments),
            ),
            GeneratedFile(
                base / "Dockerfile.dockerignore",
                slug,
                render_dockerignore(slug, environments=environments),
            ),
            GeneratedFile(
                base / "deploy" / "helm-values.yaml",
                slug,
                yaml_text(
                    build_user_deployments_values(slug, settings),
                    f"values of the dagster-user-deployments chart {chart_version}, release "
                    f"{slug!r}",
                ),
            ),
            *(
                GeneratedFile(
                    base / "deploy" / f"helm-values.{environment}.yaml",
                    slug,
                    yaml_text(
                        build_user_deployments_values(slug, settings, environment),
                        f"values of the dagster-user-deployments chart {chart_version}, release "
                        f"{slug!r} in environment {environment!r}",
                    ),
                )
                for environment in settings.environments
            ),
            GeneratedFile(
                base / "build.yaml",
                slug,
                yaml_text(build_dg_build_config(slug, settings), "Dagster+ build config (dg)"),
            ),
            GeneratedFile(
                base / "container_context.yaml",
                slug,
                yaml_text(
                    build_container_context(slug, settings),
                    "Dagster+ container context (dg, Kubernetes agent)",
                ),
            ),
        ]
    files += [
        GeneratedFile(
            SHARED_CHART_VALUES,
            None,
            yaml_text(
                build_dagster_chart_values(slugs, settings),
                f"values of the dagster chart {chart_version}, release 'dagster'",
            ),
        ),
        GeneratedFile(
            SHARED_WORKSPACE,
            None,
            yaml_text(
                build_grpc_workspace(slugs, settings),
                "workspace of code servers on one host (start each as in deploy/README.md)",
            ),
        ),
        GeneratedFile(
            SHARED_INSTANCE,
            None,
            yaml_text(
                build_instance_config(),
                "dagster.yaml of processes outside Kubernetes (deploy/README.md, A plain VM)",
            ),
        ),
    ]
    return files


# --- inputs -----------------------------------------------------------------------------------


def discover_tenants(repo_root: Path) -> list[str]:
    """Slugs of the tenants (`platform.repo.discover_tenants`: folders with a pyproject.toml),
    sorted."""
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
            "dagster_dynamic_tables/platform/deploy/models.py for the allowed keys."
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
