"""`tenants affected` on real git repositories: each rule, renames, deletions, the working tree,
the merge base, a base that does not exist, and the JSON document CI reads.

The repository (`support.platform_repo.chain_repo`): ecommerce <- finance <- growth through a
Dynamic Table's deps, ecommerce <- marketing through a relationships data test, ops alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from dagster_dynamic_tables.cli import EXIT_ERROR, EXIT_OK, main
from dagster_dynamic_tables.errors import GitError
from dagster_dynamic_tables.platform.affected import affected_tenants, read_tenant_graph
from support.platform_repo import chain_repo, commit_all, git, tenant_yaml, write_tenant

ALL = ["ecommerce", "finance", "growth", "marketing", "ops"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return chain_repo(tmp_path / "repo")


def _touch(repo: Path, path: str, text: str = "changed\n") -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def _defs(repo: Path, slug: str) -> Path:
    return repo / "tenants" / slug / "src" / slug / "defs" / "snowflake" / "defs.yaml"


def test_graph_reads_deps_and_relationships_across_tenants(repo: Path) -> None:
    graph = read_tenant_graph(repo)
    assert dict(graph.upstream) == {
        "ecommerce": frozenset(),
        "finance": frozenset({"ecommerce"}),
        "growth": frozenset({"finance"}),
        "marketing": frozenset({"ecommerce"}),
        "ops": frozenset(),
    }
    assert graph.unreadable == {}
    assert graph.with_upstream(["growth"]) == ["ecommerce", "finance", "growth"]


def test_a_changed_tenant_and_its_downstream_transitively(repo: Path) -> None:
    _touch(repo, "tenants/finance/src/finance/defs/assets/report.py", "X = 1\n")
    commit_all(repo, "finance")
    result = affected_tenants(repo, "main")
    assert result.tenants == ["finance", "growth"]
    assert result.reasons == {"finance": "its folder changed", "growth": "downstream of finance"}
    assert not result.all_tenants
    assert result.removed == []


def test_an_upstream_change_reaches_deps_and_relationships_readers(repo: Path) -> None:
    _touch(repo, "tenants/ecommerce/README.md")
    commit_all(repo, "ecommerce docs")
    result = affected_tenants(repo, "main")
    assert result.tenants == ["ecommerce", "finance", "growth", "marketing"]
    assert result.reasons["marketing"] == "downstream of ecommerce"
    assert result.reasons["growth"] == "downstream of finance"


def test_a_tenant_nobody_reads_is_affected_alone(repo: Path) -> None:
    _touch(repo, "tenants/ops/tests/test_more.py", "def test_x():\n    pass\n")
    commit_all(repo, "ops")
    assert affected_tenants(repo, "main").tenants == ["ops"]


@pytest.mark.parametrize(
    "path",
    [
        "packages/core/core.py",
        "templates/tenant/cookiecutter.json",
        "pyproject.toml",
        "uv.lock",
        "grants.yaml",
        "environments.yaml",
        "deploy/settings.yaml",
        "workspace.yaml",
        "dg.toml",
        "dagster.yaml",
        ".ci/run",
        ".github/workflows/ci.yml",
        "tests/support/helpers.py",
        "conftest.py",
    ],
)
def test_shared_code_affects_every_tenant(repo: Path, path: str) -> None:
    _touch(repo, path)
    commit_all(repo, f"shared {path}")
    result = affected_tenants(repo, "main")
    assert result.all_tenants
    assert result.tenants == ALL
    assert result.shared_changes == [path]
    assert set(result.reasons.values()) == {"shared code changed"}


@pytest.mark.parametrize(
    "path", ["README.md", "tests/core/test_core.py", "docs/guide.md", ".github/CODEOWNERS"]
)
def test_paths_no_location_reads_affect_no_tenant(repo: Path, path: str) -> None:
    _touch(repo, path)
    commit_all(repo, f"docs {path}")
    result = affected_tenants(repo, "main")
    assert (result.tenants, result.all_tenants, result.shared_changes) == ([], False, [])
    assert result.changed_files == 1
    assert result.lines()[0].startswith("no tenant affected since main")


def test_a_renamed_tenant_folder_reports_the_old_slug_removed(repo: Path) -> None:
    git(repo, "mv", "tenants/ops", "tenants/platform_ops")
    commit_all(repo, "rename ops")
    result = affected_tenants(repo, "main")
    assert result.removed == ["ops"]
    assert result.tenants == ["platform_ops"]


def test_a_renamed_upstream_tenant_affects_its_readers(repo: Path) -> None:
    git(repo, "mv", "tenants/ecommerce", "tenants/shop")
    commit_all(repo, "rename ecommerce")
    result = affected_tenants(repo, "main")
    assert result.removed == ["ecommerce"]
    assert result.tenants == ["finance", "growth", "marketing", "shop"]
    assert result.reasons["finance"] == "downstream of ecommerce"


def test_a_deleted_tenant_is_removed_not_validated(repo: Path) -> None:
    git(repo, "rm", "-q", "-r", "tenants/growth")
    commit_all(repo, "remove growth")
    result = affected_tenants(repo, "main")
    assert (result.removed, result.tenants) == (["growth"], [])
    assert result.lines()[-1] == "removed: growth (its folder is gone: nothing to validate)"


def test_uncommitted_and_untracked_changes_count(repo: Path) -> None:
    _defs(repo, "growth").write_text(tenant_yaml("growth", ["finance/rollup"]) + "# edited\n")
    _touch(repo, "tenants/ops/notes.txt")  # untracked
    _touch(repo, "tenants/finance/.tmp_scratch/x.txt")  # git-ignored: not a change
    result = affected_tenants(repo, "main")
    assert result.tenants == ["growth", "ops"]
    assert result.changed_files == 2


def test_the_merge_base_not_the_base_tip_is_compared(repo: Path) -> None:
    _touch(repo, "tenants/ops/x.txt")
    commit_all(repo, "ops on the branch")
    git(repo, "checkout", "-q", "main")
    _touch(repo, "tenants/ecommerce/x.txt")
    commit_all(repo, "ecommerce on main, after the branch started")
    git(repo, "checkout", "-q", "feature")
    result = affected_tenants(repo, "main")
    assert result.tenants == ["ops"]
    assert result.merge_base == git(repo, "merge-base", "main", "feature").strip()


def test_a_tenant_whose_declarations_do_not_load_counts_when_anything_changed(
    repo: Path,
) -> None:
    _defs(repo, "ops").write_text(
        "type: dagster_dynamic_tables.DynamicTablesComponent\n"
        "attributes:\n  tenant: ops\n  sources: 3\n"
    )
    commit_all(repo, "broken ops")
    _touch(repo, "tenants/finance/x.txt")
    result = affected_tenants(repo, "main")
    assert result.tenants == ["finance", "growth", "ops"]
    assert result.reasons["ops"].startswith("its folder changed")
    git(repo, "checkout", "-q", "-b", "later")
    commit_all(repo, "finance")
    result = affected_tenants(repo, "feature")
    assert result.tenants == ["finance", "growth", "ops"]
    assert result.reasons["ops"].startswith("its declarations do not load (1 problem in ")
    assert result.reasons["ops"].endswith("what it reads is unknown")


def test_a_missing_base_is_a_clear_error(repo: Path) -> None:
    with pytest.raises(GitError) as raised:
        affected_tenants(repo, "origin/main")
    assert str(raised.value) == (
        f"base 'origin/main' is not a commit of the git repository at {repo}. Fix: fetch it, "
        "e.g. `git fetch origin main`; in GitHub Actions check out with `fetch-depth: 0`."
    )


def test_a_base_that_looks_like_an_option_is_refused(repo: Path) -> None:
    with pytest.raises(GitError, match=r"^--base '--output=x' is not a git ref\. Fix: "):
        affected_tenants(repo, "--output=x")


def test_outside_git_is_a_clear_error(tmp_path: Path, repo: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))
    with pytest.raises(GitError, match=r"is not in a git working tree \(.*\)\. Fix: run the"):
        affected_tenants(copy, "main")


def test_cli_missing_base_exits_4_with_the_fix(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)
    assert main(["tenants", "affected", "--base", "upstream/release"]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"ERROR: base 'upstream/release' is not a commit of the git repository at {repo}. "
        "Fix: fetch it, e.g. `git fetch upstream release`; in GitHub Actions check out with "
        "`fetch-depth: 0`.\n"
    )


def test_cli_json_document(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tenant(repo, "sales", tenant_yaml("sales", ["growth/rollup"]))  # untracked, new
    monkeypatch.chdir(repo / "tenants")  # any folder inside the repository
    assert main(["tenants", "affected", "--base", "main", "--format", "json"]) == EXIT_OK
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "base": "main",
        "merge_base": git(repo, "rev-parse", "main").strip(),
        "all": False,
        "tenants": ["sales"],
        "removed": [],
        "reasons": {"sales": "its folder changed"},
        "shared_changes": [],
        "changed_files": 3,
    }


def test_cli_text_report(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _touch(repo, "tenants/finance/x.txt")
    monkeypatch.chdir(repo)
    assert main(["tenants", "affected", "--base", "main"]) == EXIT_OK
    merge_base = git(repo, "rev-parse", "main").strip()[:12]
    assert capsys.readouterr().out.splitlines() == [
        f"2 tenant(s) affected since main (merge base {merge_base}, working tree included):",
        "  finance: its folder changed",
        "  growth: downstream of finance",
    ]
