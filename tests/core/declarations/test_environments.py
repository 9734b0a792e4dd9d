"""Environments: the shipped environments.yaml, hostile files refused at load time, selection
(variable, Dagster+ branch deployments) and where the file is found."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster_dynamic_tables.declarations.environments import (
    ENVIRONMENTS_FILE_VARIABLE,
    Environments,
    current_environment,
    find_environments_file,
    load_environments,
    selected_environment_name,
)
from dagster_dynamic_tables.errors import EnvironmentsError
from support.repo import REPO_ROOT
from support.yaml_bombs import alias_bomb

SHIPPED = REPO_ROOT / "environments.yaml"


@pytest.fixture(scope="module")
def shipped() -> Environments:
    return load_environments(SHIPPED)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "environments.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the shipped file -----------------------------------------------------------------------


def test_the_shipped_file_lists_prod_as_declared_and_dev_with_a_suffix(shipped: Environments):
    assert shipped.names() == ["prod", "dev"]
    prod, dev = shipped.get("prod"), shipped.get("dev")
    assert prod.maps_nothing
    assert prod.table("ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE") == (
        "ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE"
    )
    assert dev.table("ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE") == (
        "ECOMMERCE_DEV.ANALYTICS.CUSTOMER_LIFETIME_VALUE"
    )
    assert dev.table('finance."Reporting".x') == 'FINANCE_DEV."Reporting".x'
    assert dev.database('"Mixed db"') == '"Mixed db_DEV"'
    assert dev.warehouse("ECOMMERCE_WH") == "ECOMMERCE_WH"
    assert (dev.role, dev.is_branch) == (None, False)


def test_a_branch_environment_is_a_suffix_with_the_base_environments_warehouses(
    tmp_path: Path,
):
    environments = load_environments(
        write(
            tmp_path,
            "environments:\n  prod: {}\n  dev:\n    suffix: _DEV\n"
            "    warehouses: {ECOMMERCE_WH: DEV_WH}\n    role: DEV_ROLE\n"
            "branches: {base: dev, cloned_dynamic_tables: refresh_on_demand}\n",
        )
    )
    branch = environments.get("pr_7")
    assert (branch.name, branch.is_branch, branch.suffix) == ("pr_7", True, "_PR_7")
    assert branch.table("ECOMMERCE.RAW.RAW_ORDERS") == "ECOMMERCE_PR_7.RAW.RAW_ORDERS"
    assert (branch.warehouse("ecommerce_wh"), branch.role) == ("DEV_WH", "DEV_ROLE")
    assert branch.cloned_dynamic_tables == "refresh_on_demand"
    assert "pr_7" not in environments.names()


def test_the_shipped_branches_resume_cloned_dynamic_tables(shipped: Environments):
    assert shipped.get("pr_12").cloned_dynamic_tables == "resume"
    assert shipped.get("pr_12").table("FINANCE.REPORTING.X") == "FINANCE_PR_12.REPORTING.X"


def test_an_unknown_environment_lists_the_known_ones(shipped: Environments):
    with pytest.raises(EnvironmentsError) as raised:
        shipped.get("dve")
    assert str(raised.value) == (
        f"unknown environment 'dve': {SHIPPED} lists prod, dev, and branch environments are "
        "named pr_<id> (e.g. pr_7). Fix: set DYNAMIC_TABLES_ENVIRONMENT (or --environment) to "
        "one of them."
    )


def test_an_explicit_map_without_suffix_names_what_it_cannot_map(tmp_path: Path):
    environments = load_environments(
        write(tmp_path, "environments:\n  staging:\n    databases: {ECOMMERCE: ECOM_STG}\n")
    )
    staging = environments.get("staging")
    assert staging.table("ecommerce.raw.orders") == "ECOM_STG.raw.orders"
    with pytest.raises(EnvironmentsError) as raised:
        staging.table("FINANCE.REPORTING.X")
    assert str(raised.value) == (
        f"environment 'staging' ({tmp_path / 'environments.yaml'}) does not map the database "
        "FINANCE: its databases: lists ECOMMERCE and it has no suffix. Fix: add FINANCE to "
        "environments.staging.databases, or give the environment a suffix."
    )


# --- hostile or broken files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'environments:\n  "dev; drop": {suffix: _DEV}\n',
            "environments.dev; drop (line 2): 'dev; drop' is not an environment name: use "
            "lowercase letters, digits and '_', starting with a letter. Fix: rename the "
            "environment.",
        ),
        (
            "environments:\n  dev: {suffix: '_DEV\"; DROP DATABASE X; --'}\n",
            "environments.dev.suffix (line 2): '_DEV\"; DROP DATABASE X; --' is not a database "
            "name suffix. Fix: use letters, digits and '_' only, e.g. _DEV.",
        ),
        (
            "environments:\n  dev:\n    databases: {ECOMMERCE: 'ECOMMERCE_DEV\"; DROP X'}\n",
            "environments.dev.databases.ECOMMERCE (line 3): 'ECOMMERCE_DEV\"; DROP X' is not an "
            "unquoted Snowflake database name. Fix: use letters, digits, '_' and '$', starting "
            "with a letter or '_' (no quotes, spaces or ';').",
        ),
        (
            "environments:\n  dev:\n    databases: {'\"Ecom\"': ECOM_DEV}\n",
            'environments.dev.databases."Ecom" (line 3): \'"Ecom"\' is not an unquoted Snowflake '
            "database name. Fix: use letters, digits, '_' and '$', starting with a letter or '_' "
            "(no quotes, spaces or ';').",
        ),
        (
            "environments:\n  dev:\n    databases: {ECOMMERCE: SHARED_DEV, FINANCE: shared_dev}\n",
            "environments.dev.databases.FINANCE (line 3): maps FINANCE onto SHARED_DEV, as "
            "ECOMMERCE is: two declared databases would share one. Fix: map each declared "
            "database to a database of its own.",
        ),
        (
            "environments:\n  dev:\n    databases: {ECOMMERCE: ECOMMERCE}\n",
            "environments.dev.databases.ECOMMERCE (line 3): maps ECOMMERCE onto itself, the "
            "declared (prod) database. Fix: map it to a database of this environment, or remove "
            "the environment's mapping to use the declarations as written.",
        ),
        (
            "environments:\n  dev:\n    databases: {ECOMMERCE: FINANCE, FINANCE: FIN_DEV}\n",
            "environments.dev.databases.ECOMMERCE (line 3): maps ECOMMERCE onto FINANCE, which "
            "is a declared database itself. Fix: map it to a database of its own.",
        ),
        (
            "environments:\n  a:\n    databases: {FINANCE: FIN_A}\n"
            "  b:\n    databases: {ECOMMERCE: FINANCE}\n",
            "environments.b.databases.ECOMMERCE (line 5): maps ECOMMERCE onto FINANCE, a "
            "declared (prod) database. Fix: map it to a database of this environment.",
        ),
        (
            "environments:\n  a: {suffix: _DEV}\n  b: {suffix: _dev}\n",
            "environments.b.suffix (line 3): _DEV is the suffix of 'a' too: both environments "
            "would use the same databases. Fix: give each environment its own suffix.",
        ),
        (
            "environments:\n  a:\n    databases: {ECOMMERCE: ECOMMERCE_DEV}\n  b: {suffix: _DEV}\n",
            "environments.b.suffix (line 4): maps ECOMMERCE onto ECOMMERCE_DEV, which "
            "environment 'a' uses. Fix: give each environment databases of its own.",
        ),
        (
            "environments:\n  dev: {suffix: _PR_1}\n",
            "environments.dev.suffix (line 2): _PR_1 is the suffix of branch environments (pr_<id> "
            "uses _PR_<ID>). Fix: choose another suffix.",
        ),
        (
            "environments:\n  pr_1: {suffix: _X}\n",
            "environments.pr_1 (line 2): names starting with pr_ are branch environments, made by "
            "`dynamic-tables env create`, not listed. Fix: choose another name.",
        ),
        (
            "environments:\n  dev: {role: 'ADMIN; DROP'}\n",
            "environments.dev.role (line 2): 'ADMIN; DROP' is not an unquoted Snowflake role "
            "name. Fix: use letters, digits, '_' and '$', starting with a letter or '_' (no "
            "quotes, spaces or ';').",
        ),
        (
            "environments:\n  dev: {suffix: _DEV, schemas: x}\n",
            "environments.dev.schemas (line 2): unknown key. Fix: use suffix, databases, "
            "warehouses, role, description.",
        ),
        (
            "environments:\n  prod: {}\nbranches: {base: staging}\n",
            "branches.base (line 3): 'staging' is not a listed environment. Fix: name one of prod.",
        ),
        (
            "environments:\n  prod: {}\nbranches: {base: prod, cloned_dynamic_tables: drop}\n",
            "branches.cloned_dynamic_tables (line 3): 'drop' is not a choice. Fix: use resume or "
            "refresh_on_demand.",
        ),
        (
            "environments: {}\n",
            "environments (line 1): no environment is listed. Fix: list at least `prod: {}` (the "
            "declarations as written).",
        ),
    ],
    ids=[
        "name-with-semicolon",
        "suffix-injection",
        "mapped-name-injection",
        "quoted-key",
        "two-onto-one",
        "onto-itself",
        "onto-a-declared-database",
        "onto-another-environments-prod-database",
        "same-suffix",
        "suffix-onto-another-environments-database",
        "branch-suffix",
        "branch-name-listed",
        "role-injection",
        "unknown-key",
        "unknown-branch-base",
        "unknown-clone-choice",
        "no-environment",
    ],
)
def test_a_hostile_or_broken_file_is_refused_naming_field_value_and_fix(
    tmp_path: Path, text: str, message: str
):
    path = write(tmp_path, text)
    with pytest.raises(EnvironmentsError) as raised:
        load_environments(path)
    assert str(raised.value) == f"{path}: {message}"


def test_yaml_bombs_and_duplicate_keys_are_refused_by_the_bounded_loader(tmp_path: Path):
    with pytest.raises(EnvironmentsError, match="alias bomb"):
        load_environments(write(tmp_path, alias_bomb()))
    with pytest.raises(EnvironmentsError, match="duplicate key 'dev'"):
        load_environments(write(tmp_path, "environments:\n  dev: {}\n  dev: {suffix: _X}\n"))


def test_a_fifo_is_refused_without_blocking(tmp_path: Path):
    import os

    fifo = tmp_path / "environments.yaml"
    os.mkfifo(fifo)
    with pytest.raises(EnvironmentsError) as raised:
        load_environments(fifo)
    assert str(raised.value) == (
        f"{fifo} is a named pipe (FIFO), not a regular file. Fix: point it at a regular file "
        "inside defs/."
    )


# --- selection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "selected"),
    [
        ({}, None),
        ({"DYNAMIC_TABLES_ENVIRONMENT": "dev"}, "dev"),
        ({"DYNAMIC_TABLES_ENVIRONMENT": ""}, None),
        (
            {"DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "1", "DAGSTER_CLOUD_PULL_REQUEST_ID": "42"},
            "pr_42",
        ),
        (
            {"DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "0", "DAGSTER_CLOUD_PULL_REQUEST_ID": "42"},
            None,
        ),
        (
            {
                "DYNAMIC_TABLES_ENVIRONMENT": "dev",
                "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "1",
                "DAGSTER_CLOUD_PULL_REQUEST_ID": "42",
            },
            "dev",
        ),
    ],
    ids=["unset", "variable", "empty", "branch-deployment", "not-a-branch", "variable-wins"],
)
def test_selection(environ: dict[str, str], selected: str | None):
    assert selected_environment_name(environ) == selected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"DYNAMIC_TABLES_ENVIRONMENT": "Dev'; --"},
            'DYNAMIC_TABLES_ENVIRONMENT: "Dev\'; --" is not an environment name: use lowercase '
            "letters, digits and '_', starting with a letter. Fix: set it to an environment "
            "listed in environments.yaml, or unset it to use the declarations as written.",
        ),
        (
            {"DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "1"},
            "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT=1 (a Dagster+ branch deployment) but "
            "DAGSTER_CLOUD_PULL_REQUEST_ID is '', not a pull request number: the branch "
            "environment pr_<id> cannot be chosen. Fix: set DYNAMIC_TABLES_ENVIRONMENT to the "
            "environment this deployment should use.",
        ),
    ],
    ids=["hostile-variable", "branch-without-pull-request"],
)
def test_a_bad_selection_is_an_error(environ: dict[str, str], message: str):
    with pytest.raises(EnvironmentsError) as raised:
        selected_environment_name(environ)
    assert str(raised.value) == message


def test_branch_deployment_variables_select_the_pull_requests_environment():
    environment = current_environment(
        REPO_ROOT / "tenants" / "ecommerce",
        {"DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "1", "DAGSTER_CLOUD_PULL_REQUEST_ID": "7"},
    )
    assert environment is not None
    assert (environment.name, environment.is_branch) == ("pr_7", True)
    assert environment.table("ECOMMERCE.RAW.RAW_ORDERS") == "ECOMMERCE_PR_7.RAW.RAW_ORDERS"


# --- finding the file ---------------------------------------------------------------------------


def repo(tmp_path: Path) -> Path:
    (tmp_path / "workspace.yaml").write_text("load_from: []\n")
    write(tmp_path, "environments:\n  prod: {}\n  dev: {suffix: _DEV}\n")
    tenant = tmp_path / "tenants" / "shop" / "src" / "shop" / "defs"
    tenant.mkdir(parents=True)
    return tenant


def test_the_file_is_found_at_the_repository_root_from_a_tenant_folder(tmp_path: Path):
    tenant = repo(tmp_path)
    assert find_environments_file(tenant, {}) == tmp_path / "environments.yaml"
    environment = current_environment(tenant, {"DYNAMIC_TABLES_ENVIRONMENT": "dev"})
    assert environment is not None
    assert environment.suffix == "_DEV"
    assert current_environment(tenant, {}) is None


def test_a_tenants_own_environments_file_is_never_used(tmp_path: Path):
    tenant = repo(tmp_path)
    (tenant / "environments.yaml").write_text("environments:\n  dev: {suffix: _PROD_AGAIN}\n")
    environment = current_environment(tenant, {"DYNAMIC_TABLES_ENVIRONMENT": "dev"})
    assert environment is not None
    assert environment.suffix == "_DEV"


def test_a_workspace_file_planted_in_a_tenants_folder_does_not_make_it_the_root(tmp_path: Path):
    tenant = repo(tmp_path)
    planted = tmp_path / "tenants" / "shop"
    (planted / "workspace.yaml").write_text("load_from: []\n")
    (planted / "environments.yaml").write_text(
        "environments:\n  dev:\n    databases: {SHOP: FINANCE}\n"
    )
    assert find_environments_file(tenant, {}) == tmp_path / "environments.yaml"


def test_the_file_variable_wins(tmp_path: Path):
    tenant = repo(tmp_path)
    other = tmp_path / "elsewhere.yaml"
    other.write_text("environments:\n  dev: {suffix: _ELSEWHERE}\n")
    environ = {ENVIRONMENTS_FILE_VARIABLE: str(other), "DYNAMIC_TABLES_ENVIRONMENT": "dev"}
    assert find_environments_file(tenant, environ) == other
    environment = current_environment(tenant, environ)
    assert environment is not None
    assert environment.suffix == "_ELSEWHERE"


def test_a_selected_environment_without_a_file_says_which_variable_to_set(tmp_path: Path):
    (tmp_path / "workspace.yaml").write_text("load_from: []\n")
    with pytest.raises(EnvironmentsError) as raised:
        current_environment(tmp_path, {"DYNAMIC_TABLES_ENVIRONMENT": "dev"})
    assert str(raised.value) == (
        "DYNAMIC_TABLES_ENVIRONMENT selects environment 'dev', but no environments.yaml was "
        "found: searched the repository root (the folder holding workspace.yaml) above "
        f"{tmp_path}. Fix: set DYNAMIC_TABLES_ENVIRONMENTS_FILE to the file's path, or unset "
        "DYNAMIC_TABLES_ENVIRONMENT to use the declarations as written."
    )


def test_unset_needs_no_file(tmp_path: Path):
    assert current_environment(tmp_path, {}) is None
