"""`deploy render` / `check_deployments`: every manifest parses into the models of the files the
charts and Dagster+ document, rendering is byte-identical and idempotent, drift is reported with
the fix, the Dockerfile follows the uv workspace pattern and its ignore file keeps the context
to one tenant. Fast: no Dagster import, no subprocess."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from dagster_dynamic_tables.errors import DeployError
from dagster_dynamic_tables.platform.deploy.models import (
    ContainerContext,
    DagsterChartValues,
    DeploySettings,
    DgBuildConfig,
    GrpcWorkspace,
    InstanceConfig,
    RequiredTag,
    RunContainerContext,
    UserDeploymentsValues,
)
from dagster_dynamic_tables.platform.deploy.render import (
    check_deployments,
    discover_tenants,
    generate_files,
    render_deployments,
)
from dagster_dynamic_tables.platform.deploy.values import (
    CODE_SERVER_PORT,
    POSTGRES_SCHEME,
    RELEASE_TAG_HINT,
    vm_ports,
)
from pydantic import BaseModel
from support.image import build_context, builder_steps, parse_dockerignore
from support.repo import BIN, REPO_ROOT, tenant_slugs

HERE = Path(__file__).resolve().parent


FIX = "Fix: run `uv run dynamic-tables deploy render`."
PER_TENANT = [
    "Dockerfile",
    "Dockerfile.dockerignore",
    "deploy/helm-values.yaml",
    "build.yaml",
    "container_context.yaml",
]
SHARED = ["deploy/helm-values.yaml", "deploy/workspace.yaml", "deploy/dagster.yaml"]
LISTING_TENANTS = ["deploy/helm-values.yaml", "deploy/workspace.yaml"]  # change with the tenants


def _make_repo(root: Path, slugs: list[str]) -> Path:
    """A repository skeleton: root pyproject, lock, settings and one pyproject per tenant."""
    for name in ("pyproject.toml", "uv.lock", "deploy/settings.yaml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, root / name)
    for slug in slugs:
        _add_tenant(root, slug)
    return root


def _add_tenant(root: Path, slug: str) -> None:
    source = REPO_ROOT / "tenants" / "ecommerce"
    (root / "tenants" / slug / "src" / slug).mkdir(parents=True)
    text = (source / "pyproject.toml").read_text().replace("ecommerce", slug)
    (root / "tenants" / slug / "pyproject.toml").write_text(text)
    (root / "tenants" / slug / "src" / slug / "__init__.py").write_text("")


def _snapshot(root: Path) -> dict[str, bytes]:
    skip = {"pyproject.toml", "uv.lock", "settings.yaml", "__init__.py"}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip
    }


# --- render / check ---------------------------------------------------------------------------


def test_committed_deployment_files_are_current() -> None:
    assert check_deployments(REPO_ROOT) == []


def test_render_writes_every_file_then_nothing_byte_identical(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path, ["ecommerce", "growth"])

    written = render_deployments(repo)
    first = _snapshot(repo)
    again = render_deployments(repo)

    expected = [f"tenants/{slug}/{name}" for slug in ("ecommerce", "growth") for name in PER_TENANT]
    assert [p.relative_to(repo).as_posix() for p in written] == expected + SHARED
    assert again == []
    assert _snapshot(repo) == first
    assert check_deployments(repo) == []


def test_deploy_render_command_twice_is_byte_identical(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path, ["ecommerce", "growth"])
    command = [str(BIN / "dynamic-tables"), "deploy", "render"]

    def render() -> None:
        result = subprocess.run(
            command, cwd=repo, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr

    render()
    first = _snapshot(repo)
    mtimes = {p: p.stat().st_mtime_ns for p in repo.rglob("*") if p.is_file()}
    render()

    assert len(first) == 2 * len(PER_TENANT) + len(SHARED)
    assert _snapshot(repo) == first
    assert {p: p.stat().st_mtime_ns for p in repo.rglob("*") if p.is_file()} == mtimes


def test_render_rewrites_only_the_files_a_setting_changes(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path, ["ecommerce"])
    render_deployments(repo)
    settings = repo / "deploy" / "settings.yaml"
    settings.write_text(
        settings.read_text().replace("registry.example.com/dynamic-tables", "ghcr.io/acme/dt")
    )

    written = render_deployments(repo)

    assert sorted(p.relative_to(repo).as_posix() for p in written) == [
        "tenants/ecommerce/build.yaml",
        "tenants/ecommerce/deploy/helm-values.yaml",
    ]
    assert "ghcr.io/acme/dt/ecommerce" in (repo / "tenants/ecommerce/build.yaml").read_text()


def test_check_reports_a_missing_and_a_stale_file_with_the_fix(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path, ["ecommerce", "growth"])
    render_deployments(repo)
    (repo / "tenants/growth/build.yaml").unlink()
    dockerfile = repo / "tenants/ecommerce/Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("--frozen", "--locked"))
    workspace = repo / "deploy/workspace.yaml"
    workspace.write_text(workspace.read_text() + "# hand edit\n")

    assert check_deployments(repo) == [
        "tenant ecommerce: tenants/ecommerce/Dockerfile is stale (differs from what deploy "
        f"render generates). {FIX}",
        f"tenant growth: tenants/growth/build.yaml is missing. {FIX}",
        "shared: deploy/workspace.yaml is stale (differs from what deploy render generates). "
        f"{FIX}",
    ]
    render_deployments(repo)
    assert check_deployments(repo) == []


def test_check_reports_a_new_tenant_until_rendered(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path, ["ecommerce"])
    render_deployments(repo)
    _add_tenant(repo, "growth")

    problems = check_deployments(repo)

    assert problems == [
        *(f"tenant growth: tenants/growth/{name} is missing. {FIX}" for name in PER_TENANT),
        *(
            f"shared: {name} is stale (differs from what deploy render generates). {FIX}"
            for name in LISTING_TENANTS
        ),
    ]


def test_bad_settings_name_the_file_the_key_and_the_fix(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path, ["ecommerce"])
    (repo / "deploy/settings.yaml").write_text("python_version: '3.9'\nregistri: x\n")

    with pytest.raises(DeployError) as raised:
        check_deployments(repo)

    assert str(raised.value) == (
        "deploy/settings.yaml: python_version: Input should be '3.11', '3.12' or '3.13'; "
        "registri: Extra inputs are not permitted. Fix: see DeploySettings in "
        "dagster_dynamic_tables/platform/deploy/models.py for the allowed keys."
    )


def test_a_tenant_folder_that_is_not_a_slug_is_refused(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path, ["ecommerce"])
    (repo / "tenants" / "Bad-Name").mkdir()
    (repo / "tenants" / "Bad-Name" / "pyproject.toml").write_text("")

    with pytest.raises(DeployError) as raised:
        render_deployments(repo)

    assert str(raised.value).startswith(
        "tenants/Bad-Name: tenant_slug 'Bad-Name' is not a lowercase Python identifier"
    )
    assert str(raised.value).endswith("Fix: rename the folder.")


def test_vm_ports_are_distinct_and_do_not_move_when_a_tenant_is_added() -> None:
    before = vm_ports(["ecommerce", "growth"])
    after = vm_ports(["ecommerce", "growth", "finance", "aaa"])

    assert {slug: after[slug] for slug in before} == before
    assert len(set(after.values())) == len(after)
    assert all(4000 <= port < 5000 for port in after.values())


# --- the manifests, through the models --------------------------------------------------------

MODELS: dict[str, type[BaseModel]] = {
    "deploy/helm-values.yaml": UserDeploymentsValues,
    "build.yaml": DgBuildConfig,
    "container_context.yaml": ContainerContext,
}


def _parse(path: Path, model: type[BaseModel]) -> Any:
    return model.model_validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("slug", tenant_slugs())
def test_tenant_helm_values_carry_the_chart_keys(slug: str) -> None:
    values = _parse(REPO_ROOT / "tenants" / slug / "deploy/helm-values.yaml", UserDeploymentsValues)

    (deployment,) = values.deployments
    assert deployment.name == slug.replace("_", "-")
    assert deployment.image.repository.endswith(f"/{slug}")
    assert deployment.codeServerArgs == ["-m", f"{slug}.definitions", "--location-name", slug]
    assert deployment.port == CODE_SERVER_PORT
    assert [s.name for s in deployment.envSecrets] == [f"{slug.replace('_', '-')}-snowflake"]
    assert deployment.resources.requests.memory
    # Run pods get the context the code server reports, not the chart's copy of its resources.
    assert deployment.includeConfigInLaunchedRuns.enabled is False
    assert [var.name for var in deployment.env] == ["DAGSTER_CONTAINER_CONTEXT"]
    context = RunContainerContext.model_validate_json(deployment.env[0].value)
    assert context.k8s.env_secrets == [f"{slug.replace('_', '-')}-snowflake"]
    settings = DeploySettings.model_validate(
        yaml.safe_load((REPO_ROOT / "deploy/settings.yaml").read_text())
    )
    assert context.k8s.run_k8s_config.container_config.resources == settings.run_resources
    # Ready only when the location loads (grpc-health-check passes on a load error).
    assert deployment.readinessProbe.enabled is True
    assert deployment.readinessProbe.exec_.command == [
        "python", "-m", "dagster_dynamic_tables.readiness", "-p", str(CODE_SERVER_PORT)
    ]  # fmt: skip
    assert deployment.image.tag == RequiredTag(required=RELEASE_TAG_HINT)


@pytest.mark.parametrize("slug", tenant_slugs())
def test_tenant_dagster_plus_files_follow_the_dg_convention(slug: str) -> None:
    tenant = REPO_ROOT / "tenants" / slug
    build = yaml.safe_load((tenant / "build.yaml").read_text())
    context = _parse(tenant / "container_context.yaml", ContainerContext)

    # No `directory`: dg then builds from the uv workspace root with the project's Dockerfile.
    assert DgBuildConfig.model_validate(build).registry.endswith(f"/{slug}")
    assert "directory" not in build
    assert context.k8s.env_secrets == [f"{slug.replace('_', '-')}-snowflake"]
    project = _dg_project(tenant)
    assert project["root_module"] == slug
    assert project["code_location_name"] == slug


def _dg_project(tenant: Path) -> dict[str, Any]:
    return tomllib.loads((tenant / "pyproject.toml").read_text())["tool"]["dg"]["project"]


def test_main_chart_values_list_every_tenant_and_disable_the_subchart() -> None:
    values = _parse(REPO_ROOT / "deploy/helm-values.yaml", DagsterChartValues)
    raw = yaml.safe_load((REPO_ROOT / "deploy/helm-values.yaml").read_text())

    slugs = tenant_slugs()
    assert [(s.host, s.port, s.name) for s in values.dagsterWebserver.workspace.servers] == [
        (slug.replace("_", "-"), CODE_SERVER_PORT, slug) for slug in slugs
    ]
    assert values.dagsterWebserver.workspace.enabled is True
    assert raw["dagster-user-deployments"] == {"enabled": True, "enableSubchart": False}
    assert values.runLauncher.type == "K8sRunLauncher"
    assert values.postgresql.postgresqlHost
    assert values.postgresql.postgresqlScheme == POSTGRES_SCHEME == "postgresql+psycopg2"
    assert values.dagsterDaemon.enabled is True


def test_production_workspace_has_one_grpc_server_per_tenant() -> None:
    workspace = _parse(REPO_ROOT / "deploy/workspace.yaml", GrpcWorkspace)

    entries = [entry.grpc_server for entry in workspace.load_from]
    assert [e.location_name for e in entries] == tenant_slugs()
    assert len({e.port for e in entries}) == len(entries)


def test_models_reject_an_unknown_key() -> None:
    with pytest.raises(ValueError, match="codeServerArg\n  Extra inputs are not permitted"):
        UserDeploymentsValues.model_validate({"deployments": [{"name": "x", "codeServerArg": []}]})


def test_every_generated_file_parses() -> None:
    for generated in generate_files(REPO_ROOT):
        if generated.path.suffix == ".yaml":
            assert isinstance(yaml.safe_load(generated.text), dict), generated.path


# The user-deployments chart 1.13.27's values schema for `deployments[].image.tag` (its
# values.schema.json, `$defs.Image.properties.tag`): what Helm checks before rendering.
CHART_TAG_SCHEMA = {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}


@pytest.mark.parametrize("slug", tenant_slugs())
def test_a_release_without_a_tag_is_refused_by_the_chart_schema(slug: str) -> None:
    raw = yaml.safe_load((REPO_ROOT / "tenants" / slug / "deploy/helm-values.yaml").read_text())
    tag = raw["deployments"][0]["image"]["tag"]

    # As committed (no --set-string), Helm refuses the values: the placeholder is an object.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(tag, CHART_TAG_SCHEMA)
    assert tag == {
        "required": "set at release: --set-string deployments[0].image.tag=<tag> (deploy/README.md)"
    }
    # The release command's --set-string replaces it with a string, which the schema accepts.
    jsonschema.validate("3f2c1ab", CHART_TAG_SCHEMA)
    assert (
        "--set-string 'deployments[0].image.tag='" in (REPO_ROOT / "deploy/README.md").read_text()
    )
    assert "latest" not in yaml.safe_dump(raw)


def test_vm_dagster_yaml_names_the_driver_and_reads_the_connection_from_the_environment() -> None:
    text = (REPO_ROOT / "deploy/dagster.yaml").read_text()
    config = InstanceConfig.model_validate(yaml.safe_load(text))

    db = config.storage.postgres.postgres_db
    assert db.scheme == POSTGRES_SCHEME
    assert [db.username.env, db.password.env, db.hostname.env, db.port.env, db.db_name.env] == [
        "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT",
        "DAGSTER_PG_DB",
    ]  # fmt: skip


def test_deploy_readme_shows_the_vm_dagster_yaml_as_generated() -> None:
    readme = (REPO_ROOT / "deploy/README.md").read_text()
    body = "".join(
        line + "\n"
        for line in (REPO_ROOT / "deploy/dagster.yaml").read_text().splitlines()
        if not line.startswith("#")
    )

    assert f"```yaml\n{body}```" in readme


def test_kubernetes_extra_depends_on_the_driver_the_scheme_names() -> None:
    pyproject = tomllib.loads(
        (REPO_ROOT / "packages/dagster-dynamic-tables/pyproject.toml").read_text()
    )
    extra = pyproject["project"]["optional-dependencies"]["kubernetes"]

    assert POSTGRES_SCHEME.split("+")[1] == "psycopg2"
    assert [req for req in extra if req.startswith("psycopg2-binary")] == [
        "psycopg2-binary>=2.9,<3"
    ]


# --- the Dockerfile and its context -----------------------------------------------------------


@pytest.mark.parametrize("slug", tenant_slugs())
def test_dockerfile_follows_the_uv_workspace_pattern(slug: str) -> None:
    text = (REPO_ROOT / "tenants" / slug / "Dockerfile").read_text()
    steps = builder_steps(text)

    # No `# syntax=` directive: BuildKit's built-in frontend runs RUN --mount, and a directive
    # would pull a frontend image (an offline build fails).
    assert not [line for line in text.splitlines() if line.lower().startswith("# syntax")]

    env = " ".join(s.args for s in steps if s.kind == "ENV")
    assert "UV_COMPILE_BYTECODE=1" in env
    assert "UV_LINK_MODE=copy" in env
    runs = [s for s in steps if s.kind == "RUN"]
    assert [s.args for s in runs] == [
        f"uv sync --frozen --no-dev --no-install-workspace --package {slug}",
        f"uv sync --frozen --no-dev --no-editable --package {slug}",
    ]
    assert runs[0].binds == [("uv.lock", "uv.lock"), ("pyproject.toml", "pyproject.toml")]
    assert [s.args for s in steps if s.kind == "COPY"] == [
        "pyproject.toml uv.lock ./",
        "packages/ packages/",
        f"tenants/{slug}/ tenants/{slug}/",
    ]
    runtime = text.split("\nFROM ")[2]
    assert runtime.startswith("python:")
    # The platform's environments.yaml rides along, so the location can select an environment
    # (and a Dagster+ branch deployment its pr_<id>) without a repository root.
    assert [line for line in runtime.splitlines() if line.startswith("COPY")] == [
        "COPY --from=builder /app/.venv /app/.venv",
        "COPY environments.yaml /opt/dagster/environments.yaml",
    ]
    assert "ENV DYNAMIC_TABLES_ENVIRONMENTS_FILE=/opt/dagster/environments.yaml" in runtime
    assert "USER 10001:10001" in runtime
    cmd = json.loads(runtime.split("\nCMD ")[1])
    assert cmd == [
        "dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000",
        "-m", f"{slug}.definitions", "--location-name", slug,
    ]  # fmt: skip


def test_dockerignore_keeps_other_tenants_and_local_data_out(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path, ["ecommerce", "growth"])
    render_deployments(repo)
    shutil.copytree(
        REPO_ROOT / "packages" / "dagster-dynamic-tables" / "src",
        repo / "packages/dagster-dynamic-tables/src",
    )
    for junk in (
        ".local_snowflake/data.duckdb",
        ".venv/bin/python",
        ".git/HEAD",
        "tenants/ecommerce/tests/test_x.py",
        "tenants/ecommerce/src/ecommerce/__pycache__/x.cpython-311.pyc",
        "tenants/ecommerce/.env",
        "README.md",
    ):
        (repo / junk).parent.mkdir(parents=True, exist_ok=True)
        (repo / junk).write_text("x")
    ignore = (repo / "tenants/ecommerce/Dockerfile.dockerignore").read_text()

    context = build_context(repo, parse_dockerignore(ignore))

    assert "tenants/ecommerce/src/ecommerce/__init__.py" in context
    assert "tenants/ecommerce/pyproject.toml" in context
    assert (
        "packages/dagster-dynamic-tables/src/dagster_dynamic_tables/platform/deploy/render.py"
        in context
    )
    assert {"pyproject.toml", "uv.lock"} <= set(context)
    assert not [f for f in context if f.startswith(("tenants/growth", ".", "README", "deploy/"))]
    assert not [f for f in context if "/tests/" in f or "__pycache__" in f or f.endswith(".env")]
    assert not [f for f in context if f.startswith("tenants/ecommerce/Dockerfile")]


# --- hygiene ----------------------------------------------------------------------------------


DEPLOY_PACKAGE = (
    REPO_ROOT / "packages/dagster-dynamic-tables/src/dagster_dynamic_tables/platform/deploy"
)


@pytest.mark.parametrize("module", sorted(p.stem for p in DEPLOY_PACKAGE.glob("*.py")))
def test_deploy_modules_import_only_stdlib_yaml_and_pydantic(module: str) -> None:
    source = DEPLOY_PACKAGE / f"{module}.py"
    tree = ast.parse(source.read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    allowed_own = {
        "dagster_dynamic_tables.errors",
        "dagster_dynamic_tables.platform.repo",
        *(f"dagster_dynamic_tables.platform.deploy.{p.stem}" for p in DEPLOY_PACKAGE.glob("*.py")),
    }
    foreign = {
        name
        for name in imported - allowed_own
        if name.split(".")[0] not in sys.stdlib_module_names | {"yaml", "pydantic", "__future__"}
    }
    assert foreign == set()


def test_importing_deploy_loads_no_dagster() -> None:
    code = (
        "import sys, dagster_dynamic_tables.platform.deploy.render\n"
        "heavy = ('dagster', 'dagster_snowflake', 'local_snowflake')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_discover_tenants_finds_folders_with_a_pyproject(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path, ["growth", "ecommerce"])
    (repo / "tenants" / "notes").mkdir()

    assert discover_tenants(repo) == ["ecommerce", "growth"]
