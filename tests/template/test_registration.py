"""Onboarding and registration in a temporary copy of the repository, as a user runs them.

One copy gets its own environment (`uv run` creates it, as on a fresh clone), onboards two teams
with the README's commands, then runs the CI steps that depend on the set of tenants; the drift
checks run the CLI on copies, with the copies' tenant sources first on the Python path; the cruft
round trip runs on temporary git repositories. No test takes a slug a team may pick (but the
README's own example, `growth`, in a copy where it is removed first if a team onboarded it).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from support import environment
from support.repo import REPO_ROOT

ROOT_FILES = ("workspace.yaml", "pyproject.toml", "uv.lock", "dg.toml", "grants.yaml")


def _snapshot(root: Path) -> dict[str, bytes]:
    paths = [root / name for name in ROOT_FILES] + [root / ".github" / "CODEOWNERS"]
    paths += sorted((root / "deploy").rglob("*"))
    return {str(p.relative_to(root)): p.read_bytes() for p in paths if p.is_file()}


def _unique_slug() -> str:
    """A slug no team picks: tests never take a name a team may use."""
    return f"t_{secrets.token_hex(5)}"


def _remove_tenant(root: Path, slug: str, sh, env: dict[str, str]) -> None:
    """The README's removal: delete the folder and its grants entry, then sync."""
    shutil.rmtree(root / "tenants" / slug)
    grants_file = root / "grants.yaml"
    grants = yaml.safe_load(grants_file.read_text())
    grants["tenants"].pop(slug, None)
    grants_file.write_text(yaml.safe_dump(grants, sort_keys=False))
    result = sh(
        [environment.uv(), "run", "--no-sync", "dynamic-tables", "tenants", "sync"], root, env, 900
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(3600)  # a fresh environment, two onboardings and the tests they affect
def test_onboarding_two_teams_in_a_fresh_copy_keeps_ci_green(repo_copy: Path, sh, make_env) -> None:
    """Two teams onboard with the README's commands, then every `.ci/run` step that depends on
    the set of tenants passes in the copy: `tenants check`, `dagster definitions validate` (in
    test_workspace.py), and the tests that enumerate tenants (the plan's repository test, the
    tenant-check and workspace tests, the new tenants' own tests). The copy gets its own
    environment, as a fresh clone does."""
    uv, root, env = environment.uv(), repo_copy, make_env()
    if (root / "tenants" / "growth").exists():  # the README's example team was onboarded here
        _remove_tenant(root, "growth", sh, env)
    second = _unique_slug()

    # The README's commands, as written (the second with `-o tenants`, which it says is the same).
    readme = [uv, "run", "cookiecutter", "templates/tenant", "--no-input"]
    result = sh([*readme, "tenant_slug=growth", "tenant_name=Growth"], root, env, 900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "tenants" / "growth" / "src" / "growth" / "definitions.py").is_file()
    assert not (root / "growth").exists(), "generation left a folder at the repository root"
    name = f"tenant_name=Team {second}"
    result = sh([*readme, "-o", "tenants", f"tenant_slug={second}", name], root, env, 900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "tenants" / second / "pyproject.toml").is_file()
    assert not (root / "tenants" / "tenants").exists()

    workspace = yaml.safe_load((root / "workspace.yaml").read_text())
    locations = [entry["python_module"]["location_name"] for entry in workspace["load_from"]]
    assert {"ecommerce", "finance", "growth", second} <= set(locations)
    assert locations == sorted(locations)
    codeowners = (root / ".github" / "CODEOWNERS").read_text()
    assert "/tenants/growth/  @growth-team" in codeowners
    assert f"/tenants/{second}/  @{second.replace('_', '-')}-team" in codeowners
    grants = yaml.safe_load((root / "grants.yaml").read_text())["tenants"]
    assert grants["growth"] == {"owner": "@growth-team", "schemas": ["GROWTH.ANALYTICS"]}
    for slug in ("growth", second):
        assert f'path = "tenants/{slug}"' in (root / "dg.toml").read_text()
        assert f'"{slug}",' in (root / "pyproject.toml").read_text()
        assert f'name = "{slug.replace("_", "-")}"' in (root / "uv.lock").read_text()
        assert (root / "tenants" / slug / "Dockerfile").is_file()

    # A taken slug stops with the answer check's line, and nothing at the root changes.
    before = _snapshot(root)
    result = sh([*readme, "tenant_slug=finance", "tenant_name=Finance"], root, env, 300)
    assert result.returncode == 1
    assert "ERROR: tenant_slug 'finance' is taken: tenants/finance already exists" in (
        result.stdout + result.stderr
    )
    assert _snapshot(root) == before
    assert not (root / "finance").exists()

    # Registration is idempotent: a second sync changes nothing.
    result = sh([uv, "run", "--frozen", "dynamic-tables", "tenants", "sync"], root, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "everything already in line" in result.stdout
    assert _snapshot(root) == before

    # .ci/run's steps that depend on the tenants, and the tests that enumerate the repository's
    # tenants (the rest of test_plan.py builds its own tenants), for the two new tenants only (the
    # shipped ones' cases run in the main suite); of the isolated image environment, only whether
    # it validates (the storage, launcher and isolation checks depend on no particular tenant).
    # `dagster definitions validate -w workspace.yaml` is test_workspace.py's first test, run here
    # on the copy with the same assertions (every location, then "All code locations passed"), so
    # it is not run a second time. The tests run beside `tenants check` and dg (both read the copy
    # and write only to their own temporary folders).
    home = root / ".dagster_home"
    home.mkdir()
    dagster_env = make_env(DAGSTER_HOME=str(home))
    tests = [
        "tests/core/platform/test_workspace.py",
        "tests/core/platform/test_plan.py::test_tenants_are_loaded_upstream_first_from_the_repository",
        "tests/core/platform/test_tenant_check.py",
        "tests/deployments/test_deploy.py",
        "tests/deployments/test_isolated_install.py",
        "-k",
        "not ecommerce and not finance and (not test_isolated_install or validates)",
        "tenants/growth",
        f"tenants/{second}",
    ]
    pytest_args = [uv, "run", "--frozen", "pytest", "-v", "-p", "no:cacheprovider", *tests]
    with ThreadPoolExecutor(max_workers=1) as pool:
        tests_run = pool.submit(sh, pytest_args, root, env, 3000)
        result = sh([uv, "run", "--frozen", "dynamic-tables", "tenants", "check"], root, env, 600)
        assert result.returncode == 0, result.stdout + result.stderr
        # dg sees every project; `check yaml` and `list defs` take one, named from the root.
        result = sh([uv, "run", "--frozen", "dg", "list", "projects"], root, dagster_env)
        assert {f"tenants/{slug}" for slug in locations} <= set(result.stdout.split()), (
            result.stderr
        )
        target = ["--target-path", "tenants/finance"]
        dg_defs = [uv, "run", "--frozen", "dg", "list", "defs", "--json", *target]
        result = sh(dg_defs, root, dagster_env)
        assert result.returncode == 0, result.stdout + result.stderr
        listed = {asset["asset_key"] for asset in json.loads(result.stdout)["assets"]}
        assert {"finance/revenue_vs_budget", "finance/budget_report"} <= listed
        result = tests_run.result()
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " failed" not in result.stdout
    assert "test_workspace.py::test_workspace_validates_every_location PASSED" in result.stdout


def test_template_syntax_in_an_answer_runs_nothing_and_registers_nothing(
    repo_copy: Path, sh, make_env
) -> None:
    root, marker = repo_copy, repo_copy / "MARKER"
    before = _snapshot(root)
    injection = f"{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}"
    args = [sys.executable, "-m", "cookiecutter", "--no-input", "templates/tenant"]
    result = sh([*args, f"tenant_slug={_unique_slug()}", f"tenant_name={injection}"], root)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert output.strip().startswith("ERROR: tenant_name ")
    assert "contains Jinja template syntax" in output
    assert not marker.exists(), "the answer ran as code"
    assert _snapshot(root) == before
    tenants = sorted(p.name for p in (root / "tenants").iterdir())
    assert tenants == sorted(p.name for p in (REPO_ROOT / "tenants").iterdir())


def _tenant_path(root: Path) -> str:
    return os.pathsep.join(str(p / "src") for p in sorted((root / "tenants").iterdir()))


def _check(root: Path, sh, make_env) -> tuple[int, list[str]]:
    env = make_env(PYTHONPATH=_tenant_path(root))
    result = sh([sys.executable, "-m", "dagster_dynamic_tables.cli", "tenants", "check"], root, env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("ERROR:")]
    return result.returncode, lines


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_tenants_check_passes_on_the_repository_and_prints_only_its_verdict(sh, make_env) -> None:
    env = make_env(PYTHONPATH=_tenant_path(REPO_ROOT))
    command = [sys.executable, "-m", "dagster_dynamic_tables.cli", "tenants", "check"]
    result = sh(command, REPO_ROOT, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (
        "tenants check: every tenant is registered, within its grants and free of conflicts\n"
    )
    assert "Warning" not in result.stderr, result.stderr  # Dagster's BetaWarning, once a location


def test_tenants_check_reports_each_kind_of_drift(repo_copy: Path, sh, make_env) -> None:
    root = repo_copy
    finance_defs = root / "tenants/finance/src/finance/defs/snowflake/defs.yaml"
    ecommerce_defs = root / "tenants/ecommerce/src/ecommerce/defs/snowflake/defs.yaml"
    # An unregistered tenant (a copy of finance, renamed): also no grants, and it declares
    # finance's Snowflake objects again.
    clone = root / "tenants" / "orphan"
    shutil.copytree(root / "tenants" / "finance", clone)
    (clone / "src" / "finance").rename(clone / "src" / "orphan")
    _edit(clone / "pyproject.toml", 'name = "finance"', 'name = "orphan"')
    _edit(clone / "src/orphan/defs/snowflake/defs.yaml", "tenant: finance", "tenant: orphan")
    _edit(clone / "src/orphan/defs/assets/budget_report.py", '"finance", "budget', '"orphan", "b')
    _edit(clone / "src/orphan/defs/assets/budget_report.py", '["finance", "rev', '["orphan", "rev')
    # A stale workspace entry.
    with (root / "workspace.yaml").open("a") as workspace:
        workspace.write(
            "  - python_module:\n      module_name: ghost.definitions\n      location_name: ghost\n"
        )
    # A dependency on a key no tenant declares, and a cycle through two tenants.
    _edit(
        finance_defs,
        "deps: [ecommerce/daily_revenue_rollup, budget_targets]",
        "deps: [ecommerce/daily_revenue_rollup, budget_targets, ecommerce/no_such_table]",
    )
    _edit(
        ecommerce_defs,
        "      deps: [raw_orders]\n      query_file: sql/daily_revenue_rollup.sql",
        "      deps: [raw_orders, finance/revenue_vs_budget]\n"
        "      query_file: sql/daily_revenue_rollup.sql",
    )
    # An object outside the tenant's grants.
    _edit(finance_defs, "table: FINANCE.REPORTING.BUDGET_TARGETS", "table: FINANCE.PLANNING.BUDGET")
    # The same asset key in two tenants.
    (root / "tenants/finance/src/finance/defs/assets/copy.py").write_text(
        "import dagster as dg\n\n\n"
        "@dg.asset(key=['ecommerce', 'executive_dashboard_report'])\n"
        "def copy() -> None: ...\n"
    )

    code, lines = _check(root, sh, make_env)
    text = "\n".join(lines)
    assert code == 1, text
    expected = [
        "ERROR: tenant 'orphan' (tenants/orphan) is not registered in workspace.yaml",
        "ERROR: workspace.yaml registers tenant 'ghost', but tenants/ghost does not exist",
        "ERROR: tenant 'orphan' (tenants/orphan) has no entry in grants.yaml",
        "ERROR: Snowflake object FINANCE.REPORTING.REVENUE_VS_BUDGET is declared by 2 tenants: "
        "finance (tenants/finance/src/finance/defs/snowflake/defs.yaml), orphan "
        "(tenants/orphan/src/orphan/defs/snowflake/defs.yaml)",
        "ERROR: asset key ecommerce/executive_dashboard_report is declared by several tenants: "
        "ecommerce (tenants/ecommerce/src/ecommerce/defs/assets/executive_dashboard_report.py), "
        "finance (tenants/finance/src/finance/defs/assets/copy.py)",
        "ERROR: tenant 'finance': finance/revenue_vs_budget "
        "(tenants/finance/src/finance/defs/snowflake/defs.yaml) depends on "
        "ecommerce/no_such_table, which no tenant declares",
        "ERROR: a dependency cycle runs through tenants ecommerce, finance: "
        "ecommerce/daily_revenue_rollup -> finance/revenue_vs_budget",
        "ERROR: tenant 'finance': tenants/finance/src/finance/defs/snowflake/defs.yaml declares "
        "FINANCE.PLANNING.BUDGET in schema FINANCE.PLANNING, outside its grants "
        "(FINANCE.REPORTING)",
    ]
    for line in expected:
        assert any(found.startswith(line) for found in lines), f"missing: {line}\n---\n{text}"
    assert all("Fix:" in line for line in lines), text


def test_cruft_update_brings_a_template_change_into_the_tenant(tmp_path: Path, sh, make_env):
    env = make_env(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    template_repo = tmp_path / "platform"
    shutil.copytree(REPO_ROOT / "templates", template_repo / "templates")
    git = ["git", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "template v1"]):
        assert sh([*git, *args], template_repo, env).returncode == 0
    team_repo = tmp_path / "team"
    (team_repo / "tenants").mkdir(parents=True)
    assert sh([*git, "init", "-q"], team_repo, env).returncode == 0
    cruft = str(Path(sys.executable).parent / "cruft")
    context = json.dumps({"tenant_slug": "growth", "tenant_name": "Growth"})
    result = sh(
        [
            cruft,
            "create",
            str(template_repo),
            "--directory",
            "templates/tenant",
            "--output-dir",
            "tenants",
            "--no-input",
            "--extra-context",
            context,
        ],
        team_repo,
        env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tenant = team_repo / "tenants" / "growth"
    recorded = json.loads((tenant / ".cruft.json").read_text())
    assert recorded["directory"] == "templates/tenant"
    assert recorded["context"]["cookiecutter"]["tenant_slug"] == "growth"
    for args in (["add", "."], ["commit", "-qm", "growth from the template"]):
        assert sh([*git, *args], team_repo, env).returncode == 0

    readme = template_repo / "templates/tenant/{{cookiecutter.tenant_slug}}/README.md"
    readme.write_text(readme.read_text() + "\n## On call\n\nAsk in #data-platform.\n")
    for args in (["commit", "-qam", "template v2"],):
        assert sh([*git, *args], template_repo, env).returncode == 0
    result = sh([cruft, "update", "--skip-apply-ask", "-y"], tenant, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ask in #data-platform." in (tenant / "README.md").read_text()
    assert json.loads((tenant / ".cruft.json").read_text())["commit"] != recorded["commit"]


def test_failed_registration_puts_everything_back(repo_copy: Path, sh, make_env) -> None:
    root = repo_copy
    before = _snapshot(root)
    # `uv lock` fails (UV names the uv that registration runs): sync stops after writing the
    # workspace and pyproject, and the hook must undo all of it.
    env = make_env(UV="/bin/false")
    slug = _unique_slug()
    args = [sys.executable, "-m", "cookiecutter", "--no-input", "templates/tenant"]
    result = sh([*args, f"tenant_slug={slug}"], root, env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"ERROR: tenant '{slug}' was not registered, and nothing was kept:" in output
    assert "`uv lock` failed" in output
    assert not (root / "tenants" / slug).exists()
    assert not (root / slug).exists()
    assert _snapshot(root) == before
