"""A tenant's image environment, built by its Dockerfile's uv commands into a fresh directory
outside the repository's `.venv` (see `build_isolated_env` in conftest.py): it loads the tenant
as production does, holds no other tenant and no Snowflake stand-in."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.code_server import SNOWFLAKE_ENV
from support.environment import clean_env
from support.image import build_isolated_env
from support.processes import free_port, run
from support.repo import REPO_ROOT, tenant_slugs

DEV_TOOLS = ["dagster_webserver", "dagster_dg_cli", "pytest", "cookiecutter", "ruff"]
# Tenants' definitions.py finds its defs folder through `dg.load_from_defs_folder(
# path_within_project=...)`, which walks up to a pyproject.toml; a non-editable install has none.


@pytest.fixture(scope="module", params=tenant_slugs())
def isolated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """(slug, environment), built once per tenant for this module's tests."""
    slug: str = request.param
    return slug, build_isolated_env(slug, tmp_path_factory.mktemp(f"image-{slug}"))


def _python(venv: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(venv / "bin" / "python"), "-c", code], cwd, clean_env(), 120)


def test_isolated_env_validates_the_tenant(isolated: tuple[str, Path], tmp_path: Path) -> None:
    slug, venv = isolated
    env = clean_env(DAGSTER_HOME=str(tmp_path), **SNOWFLAKE_ENV)
    result = run(
        [str(venv / "bin" / "dagster"), "definitions", "validate", "-m", f"{slug}.definitions"],
        tmp_path,  # outside the repository: only the environment provides the code
        env,
        300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"Validation successful for code location {slug}" in output


def test_isolated_env_holds_no_other_tenant(isolated: tuple[str, Path], tmp_path: Path) -> None:
    slug, venv = isolated
    others = [other for other in tenant_slugs() if other != slug]
    code = (
        "import importlib.metadata as m, importlib.util as u, json, sys\n"
        f"print(json.dumps({{'others': [n for n in {others!r} if u.find_spec(n)],"
        f" 'dev': [n for n in {DEV_TOOLS!r} if u.find_spec(n)],"
        f" 'tenant': u.find_spec({slug!r}).origin,"
        " 'dists': sorted(d.metadata['Name'] for d in m.distributions()"
        " if (d.read_text('direct_url.json') or '').find('file://') >= 0)}))"
    )
    result = _python(venv, code, tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)

    assert found["others"] == []
    assert found["dev"] == []  # --no-dev: no webserver, test or template tools in the image
    assert found["tenant"].startswith(str(venv))  # installed, not the repository's sources
    core = {"dagster-dynamic-tables", "local-snowflake"}
    assert set(found["dists"]) <= core | {slug}
    assert slug in found["dists"]


def test_isolated_env_has_no_snowflake_stand_in(isolated: tuple[str, Path], tmp_path: Path) -> None:
    """The stand-in (fakesnow, DuckDB) is the core's optional extra [local], for development."""
    _slug, venv = isolated
    result = _python(
        venv,
        "import importlib.util as u; print([n for n in ('duckdb', 'fakesnow') if u.find_spec(n)])",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_isolated_env_can_run_kubernetes_runs(isolated: tuple[str, Path], tmp_path: Path) -> None:
    """Run pods use the tenant's image and load the instance's dagster.yaml: Postgres storage and
    the K8s run launcher must import there."""
    _slug, venv = isolated
    code = (
        "from dagster_k8s import K8sRunLauncher\n"
        "from dagster_postgres import PostgresRunStorage\n"
        "print(K8sRunLauncher.__name__, PostgresRunStorage.__name__)"
    )
    result = _python(venv, code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["K8sRunLauncher", "PostgresRunStorage"]


def test_isolated_env_opens_the_postgres_storage(
    isolated: tuple[str, Path], tmp_path: Path, postgres: Any
) -> None:
    """Importing is not enough (the driver is chosen when the URL is first used): open the
    storage of deploy/dagster.yaml on a real Postgres with the image's packages only."""
    _slug, venv = isolated
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    code = (
        "from dagster import DagsterInstance\n"
        "with DagsterInstance.get() as instance:\n"
        "    print(type(instance.run_storage).__name__, len(instance.get_runs()))"
    )
    env = clean_env(DAGSTER_HOME=str(tmp_path), **postgres.env())
    result = run([str(venv / "bin" / "python"), "-c", code], tmp_path, env, 120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["PostgresRunStorage", "0"]


def test_isolated_env_has_the_readiness_probe(isolated: tuple[str, Path], tmp_path: Path) -> None:
    """The Helm values' readiness probe runs `python -m dagster_dynamic_tables.readiness`."""
    _slug, venv = isolated
    port = free_port()  # nothing listens: the probe must say so and fail
    result = run(
        [str(venv / "bin" / "python"), "-m", "dagster_dynamic_tables.readiness", "-p", str(port)],
        tmp_path,
        clean_env(),
        120,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stdout.startswith(f"not ready: code server at localhost:{port} does not answer")
