"""What `.ci/run` validates and tests (`platform.ci_scope`), on real git repositories: the full set
on main, without a base, on shared code; the affected tenants on a branch; the files `.ci/run`
reads; and the deselection `tests/conftest.py` makes from them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml
from dagster_dynamic_tables.platform.ci_scope import CiScope, ci_scope, write_scope
from support.platform_repo import chain_repo, commit_all, git
from support.processes import run
from support.repo import REPO_ROOT


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return chain_repo(tmp_path / "repo")


def _change(repo: Path, path: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text("changed\n")
    commit_all(repo, f"change {path}")


def _files(out: Path) -> tuple[list[str], str, str]:
    args = (out / "pytest_args").read_text().split("\0")[:-1]
    return args, (out / "validate_workspace").read_text(), (out / "unaffected").read_text()


def test_main_runs_everything_exactly_as_the_readme_says(repo: Path, tmp_path: Path) -> None:
    _change(repo, "tenants/finance/x.txt")
    git(repo, "checkout", "-q", "main")
    scope = ci_scope(repo, {})
    assert scope == CiScope(True, "on main")
    write_scope(repo, scope, tmp_path)
    assert _files(tmp_path) == ([], "workspace.yaml", "")  # `uv run pytest`, workspace.yaml


def test_a_branch_changing_finance_validates_and_tests_finance_and_its_downstream(
    repo: Path, tmp_path: Path
) -> None:
    _change(repo, "tenants/finance/x.txt")
    scope = ci_scope(repo, {"CI_BASE_REF": "main"})
    assert (scope.full, scope.tenants) == (False, ["finance", "growth"])
    assert scope.unaffected == ["ecommerce", "marketing", "ops"]
    assert scope.why == (
        "branch feature, compared with main: finance: its folder changed; growth: downstream "
        "of finance"
    )
    write_scope(repo, scope, tmp_path)
    args, workspace, unaffected = _files(tmp_path)
    assert args == ["tests", "tenants/finance/tests", "tenants/growth/tests"]
    assert workspace == str(tmp_path / "workspace.yaml")
    locations = yaml.safe_load(Path(workspace).read_text())["load_from"]
    assert [entry["python_module"]["location_name"] for entry in locations] == [
        "finance",
        "growth",
    ]
    assert unaffected == "ecommerce marketing ops"
    assert (tmp_path / "tenants").read_text() == "finance growth"


def test_a_branch_changing_ecommerce_reaches_its_readers(repo: Path) -> None:
    _change(repo, "tenants/ecommerce/x.txt")
    scope = ci_scope(repo, {"CI_BASE_REF": "main"})
    assert scope.tenants == ["ecommerce", "finance", "growth", "marketing"]
    assert scope.unaffected == ["ops"]


def test_a_branch_changing_no_tenant_runs_the_core_tests_and_validates_nothing(
    repo: Path, tmp_path: Path
) -> None:
    _change(repo, "README.md")
    scope = ci_scope(repo, {"CI_BASE_REF": "main"})
    assert (scope.full, scope.tenants) == (False, [])
    assert scope.why == "branch feature, compared with main: no tenant affected"
    write_scope(repo, scope, tmp_path)
    assert _files(tmp_path) == (["tests"], "", "ecommerce finance growth marketing ops")
    assert not (tmp_path / "workspace.yaml").exists()


def test_a_branch_affecting_every_tenant_runs_everything(repo: Path) -> None:
    _change(repo, "tenants/ecommerce/x.txt")
    _change(repo, "tenants/ops/x.txt")
    scope = ci_scope(repo, {"CI_BASE_REF": "main"})
    assert scope.full
    assert scope.why.endswith("ops: its folder changed (every tenant)")


def test_shared_code_on_a_branch_runs_everything(repo: Path) -> None:
    _change(repo, "uv.lock")
    scope = ci_scope(repo, {"CI_BASE_REF": "main"})
    assert scope == CiScope(True, "branch feature: shared code changed since main (uv.lock)")


def test_no_base_runs_everything_and_says_why(repo: Path) -> None:
    _change(repo, "tenants/finance/x.txt")
    scope = ci_scope(repo, {})  # origin/main: there is no remote
    assert scope.full
    assert scope.why.startswith(
        "branch feature, but the base is unavailable: base 'origin/main' is not a commit"
    )
    assert "Fix: fetch it, e.g. `git fetch origin main`" in scope.why


def test_github_pull_request_variables(repo: Path) -> None:
    _change(repo, "tenants/ops/x.txt")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")  # as actions/checkout fetches it
    git(repo, "checkout", "-q", "--detach")  # a pull request's merge commit is checked out
    env = {"GITHUB_HEAD_REF": "feature", "GITHUB_BASE_REF": "main", "GITHUB_REF_NAME": "7/merge"}
    scope = ci_scope(repo, env)
    assert (scope.full, scope.tenants) == (False, ["ops"])
    assert scope.why.startswith("branch feature, compared with origin/main: ")


def test_a_github_push_to_main_runs_everything(repo: Path) -> None:
    _change(repo, "tenants/ops/x.txt")
    env = {"GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": "main"}
    assert ci_scope(repo, env) == CiScope(True, "on main")


def test_detached_head_without_a_branch_name_runs_everything(repo: Path) -> None:
    _change(repo, "tenants/ops/x.txt")
    git(repo, "checkout", "-q", "--detach")
    assert ci_scope(repo, {"CI_BASE_REF": "main"}).why == (
        "detached HEAD and no CI_BRANCH: no branch to compare"
    )


def test_ci_full_and_another_main_branch_name(repo: Path) -> None:
    _change(repo, "tenants/ops/x.txt")
    assert ci_scope(repo, {"CI_FULL": "1", "CI_BASE_REF": "main"}).why == "CI_FULL=1"
    assert ci_scope(repo, {"CI_MAIN_BRANCH": "feature"}) == CiScope(True, "on feature")


def test_the_module_ci_run_calls(repo: Path, tmp_path: Path) -> None:
    _change(repo, "tenants/growth/x.txt")
    env = {**os.environ, "CI_BASE_REF": "main"}
    for name in ("CI_BRANCH", "CI_FULL", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "GITHUB_BASE_REF"):
        env.pop(name, None)
    out = tmp_path / "scope"
    out.mkdir()
    result = run(
        [sys.executable, "-m", "dagster_dynamic_tables.platform.ci_scope", str(out)],
        cwd=repo,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "CI scope: tenants growth; the core's tests and theirs (branch feature, compared with "
        "main: growth: its folder changed)\n"
    )
    assert _files(out) == (
        ["tests", "tenants/growth/tests"],
        str(out / "workspace.yaml"),
        "ecommerce finance marketing ops",
    )


def test_conftest_leaves_out_the_unaffected_tenants_tests() -> None:
    # A real pytest collecting the real test file (8-15 s here, pytest's own start-up): the
    # deselection must match the node ids and parameters as pytest makes them.
    env = {**os.environ, "CI_UNAFFECTED_TENANTS": "ecommerce"}
    result = run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/core/platform/test_workspace.py",
        ],
        cwd=REPO_ROOT,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert collected
    assert not [line for line in collected if "[ecommerce]" in line]
    assert not [line for line in collected if "validates_every_location" in line]
    assert [line for line in collected if "[finance]" in line]
    assert "deselected" in result.stdout
