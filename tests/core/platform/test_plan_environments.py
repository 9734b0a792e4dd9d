"""`plan` / `apply` in an environment, on a copy of the repository against the session's stand-in:
the DDL names the environment's objects only, grants are checked on the declared names, apply
then plan converge; a hostile environments.yaml is refused before any statement; `--environment`
and `DYNAMIC_TABLES_ENVIRONMENT` select the same."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from dagster_dynamic_tables.cli import EXIT_ERROR, EXIT_PENDING, main
from dagster_dynamic_tables.declarations.environments import load_environments
from dagster_dynamic_tables.errors import PlanError
from dagster_dynamic_tables.platform.plan.run import run_apply, run_plan
from dagster_dynamic_tables.sql.environments import rewrite_sql
from local_snowflake import ServerInfo
from support.repo import REPO_ROOT

_SKIP = ("__pycache__", ".venv", "tests", "deploy", "Dockerfile*", "*.egg-info")
SEED = "tenants/{slug}/src/{slug}/defs/snowflake/local/seed.sql"


def repo_copy(tmp_path: Path, environments: str) -> Path:
    """The repository's tenants, grants.yaml, pyproject.toml and workspace.yaml, with its own
    environments.yaml (a suffix of its own: the session's stand-in is shared)."""
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "tenants", root / "tenants", ignore=shutil.ignore_patterns(*_SKIP))
    for name in ("grants.yaml", "pyproject.toml", "workspace.yaml"):
        shutil.copy(REPO_ROOT / name, root / name)
    (root / "environments.yaml").write_text(environments, encoding="utf-8")
    return root


def stand_in(server: ServerInfo, **more: str) -> dict[str, str]:
    return {
        "LOCAL_SNOWFLAKE_PORT": str(server.port),
        "LOCAL_SNOWFLAKE_DATA_DIR": str(server.data_dir),
        **more,
    }


def statement_count(cursor: Any) -> int:
    cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")
    return int(cursor.fetchone()[0])


def test_plan_and_apply_in_dev_touch_only_dev_objects(
    tmp_path: Path, local_snowflake_server: ServerInfo, local_snowflake_connect: Any
):
    root = repo_copy(tmp_path, "environments:\n  prod: {}\n  dev: {suffix: _ENVPLAN}\n")
    env = stand_in(local_snowflake_server, DYNAMIC_TABLES_ENVIRONMENT="dev")
    out = io.StringIO()
    assert run_plan(root, None, out, env=env) == 1
    text = out.getvalue()
    assert text.splitlines()[0] == "environment: dev"
    assert '"ECOMMERCE_ENVPLAN"."ANALYTICS"."CUSTOMER_LIFETIME_VALUE"' in text
    assert "FROM ECOMMERCE_ENVPLAN.RAW.RAW_ORDERS" in text
    assert "ECOMMERCE_ENVPLAN.ANALYTICS.DAILY_REVENUE_ROLLUP" in text  # finance's query
    assert re.findall(r"\b(?:ECOMMERCE|FINANCE)\b(?!_ENVPLAN)", text.replace('"', "")) == []
    assert "REFUSED" not in text  # grants.yaml names ECOMMERCE.RAW: checked as declared

    # the sources come from the tenants' seed SQL, mapped the same way, then apply converges
    cursor = local_snowflake_connect().cursor()
    dev = load_environments(root / "environments.yaml").get("dev")
    for slug, schema in (("ecommerce", "RAW"), ("finance", "REPORTING")):
        database = f"{slug.upper()}_ENVPLAN"
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.{schema}")
        seed = (root / SEED.format(slug=slug)).read_text(encoding="utf-8")
        for _ in cursor.connection.execute_string(rewrite_sql(seed, dev)):
            pass
    assert run_apply(root, None, True, io.StringIO(), lambda _q: True, env=env) == 0
    cursor.execute(
        "SELECT COUNT(*) FROM ECOMMERCE_ENVPLAN.INFORMATION_SCHEMA.TABLES "
        "WHERE TABLE_NAME = 'CUSTOMER_LIFETIME_VALUE'"
    )
    assert cursor.fetchone()[0] == 1
    again = io.StringIO()
    assert run_plan(root, None, again, env=env) == 0
    assert again.getvalue().splitlines()[-1].startswith("plan: no changes")


@pytest.mark.parametrize(
    ("environments", "message"),
    [
        (
            "environments:\n  dev:\n    databases: {ECOMMERCE: SHARED_X, FINANCE: SHARED_X}\n",
            "environments.dev.databases.FINANCE (line 3): maps FINANCE onto SHARED_X, as "
            "ECOMMERCE is",
        ),
        (
            "environments:\n  dev:\n    databases: {ECOMMERCE: FINANCE_ENVX}\n",
            "does not map the database FINANCE",
        ),
        (
            'environments:\n  dev: {suffix: "_X\\"; DROP DATABASE FINANCE; --"}\n',
            "is not a database name suffix",
        ),
    ],
    ids=["two-onto-one", "unmapped-database", "suffix-injection"],
)
def test_a_hostile_environment_is_refused_before_any_statement(
    tmp_path: Path,
    local_snowflake_server: ServerInfo,
    local_snowflake_connect: Any,
    environments: str,
    message: str,
):
    root = repo_copy(tmp_path, environments)
    cursor = local_snowflake_connect().cursor()
    before = statement_count(cursor)
    env = stand_in(local_snowflake_server, DYNAMIC_TABLES_ENVIRONMENT="dev")
    with pytest.raises(PlanError, match=re.escape(message)):
        run_apply(root, None, True, io.StringIO(), lambda _q: True, env=env)
    assert statement_count(cursor) == before + 1  # the count statement itself, nothing else


def test_the_cli_option_and_the_variable_select_the_same_environment(
    tmp_path: Path,
    local_snowflake_server: ServerInfo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    root = repo_copy(tmp_path, "environments:\n  prod: {}\n  dev: {suffix: _ENVCLI}\n")
    monkeypatch.chdir(root)
    for name, value in stand_in(local_snowflake_server).items():
        monkeypatch.setenv(name, value)
    for name in ("SNOWFLAKE_ACCOUNT", "ECOMMERCE_SNOWFLAKE_ACCOUNT", "FINANCE_SNOWFLAKE_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    # recorded by monkeypatch first, so that what `--environment` sets is undone after the test
    monkeypatch.setenv("DYNAMIC_TABLES_ENVIRONMENT", "unset")
    monkeypatch.delenv("DYNAMIC_TABLES_ENVIRONMENT")

    def plan(*argv: str) -> list[str]:
        status = main([*argv, "plan", "--tenant", "ecommerce"])
        assert status == EXIT_PENDING
        return capsys.readouterr().out.splitlines()[:-1]  # the last line says the time taken

    by_option = plan("--environment", "dev")
    assert by_option[0] == "environment: dev"
    assert any("ECOMMERCE_ENVCLI" in line for line in by_option)
    monkeypatch.setenv("DYNAMIC_TABLES_ENVIRONMENT", "dev")
    assert plan() == by_option

    assert main(["--environment", "Dev; drop", "plan"]) == EXIT_ERROR
    assert capsys.readouterr().err == (
        "ERROR: --environment: 'Dev; drop' is not an environment name: use lowercase letters, "
        "digits and '_', starting with a letter.\n"
    )
    assert main(["--environment", "qa", "plan"]) == EXIT_ERROR
    assert capsys.readouterr().err.startswith("ERROR: unknown environment 'qa': ")
