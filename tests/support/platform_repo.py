"""A tiny platform repository in a real git repo, for `tenants affected`, `dev` and the CI's
selection: a uv workspace root, and tenants whose declarations read each other's assets."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

ROOT_PYPROJECT = """\
[project]
name = "platform"
version = "0"
requires-python = ">=3.11"

[tool.uv.workspace]
members = ["tenants/*"]
"""


def tenant_yaml(slug: str, deps: Sequence[str] = (), relationships_to: str | None = None) -> str:
    """A declaration file: one source and one Dynamic Table reading it and `deps` (full keys of
    other tenants' assets); `relationships_to`: a data test on the source naming that asset."""
    upper = slug.upper()
    test = (
        f"      data_tests:\n        - relationships: {{column: id, to: {relationships_to}, "
        f"table: {relationships_to.split('/')[0].upper()}.RAW.RAW, field: id}}\n"
        if relationships_to
        else ""
    )
    return f"""\
type: dagster_dynamic_tables.DynamicTablesComponent
attributes:
  tenant: {slug}
  sources:
    - name: raw
      table: {upper}.RAW.RAW
{test}  dynamic_tables:
    - name: rollup
      table: {upper}.ANALYTICS.ROLLUP
      target_lag: 1 hour
      warehouse: {upper}_WH
      deps: [raw{"".join(", " + dep for dep in deps)}]
      query: select id from {upper}.RAW.RAW
"""


def write_tenant(root: Path, slug: str, yaml_text: str) -> Path:
    folder = root / "tenants" / slug
    defs = folder / "src" / slug / "defs" / "snowflake"
    defs.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(f'[project]\nname = "{slug}"\nversion = "0"\n')
    (defs / "defs.yaml").write_text(yaml_text)
    (folder / "tests").mkdir(exist_ok=True)
    (folder / "tests" / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    return folder


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def make_platform_repo(root: Path, tenants: dict[str, str]) -> Path:
    """A git repo at `root` on branch main, one commit: the root files and `tenants` (slug ->
    declaration YAML); then a branch `feature` checked out, so that changes go there."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "ci@example.com")
    git(root, "config", "user.name", "CI")
    git(root, "config", "commit.gpgsign", "false")
    (root / "pyproject.toml").write_text(ROOT_PYPROJECT)
    (root / "uv.lock").write_text("version = 1\n")
    (root / "grants.yaml").write_text("tenants: {}\n")
    (root / "workspace.yaml").write_text("load_from: []\n")
    (root / "README.md").write_text("# platform\n")
    (root / ".gitignore").write_text(".tmp*/\n")
    (root / "packages" / "core").mkdir(parents=True)
    (root / "packages" / "core" / "core.py").write_text("X = 1\n")
    (root / "tests" / "core").mkdir(parents=True)
    (root / "tests" / "core" / "test_core.py").write_text("def test_core():\n    pass\n")
    for slug, text in tenants.items():
        write_tenant(root, slug, text)
    commit_all(root, "platform")
    git(root, "checkout", "-q", "-b", "feature")
    return root


def chain_repo(root: Path) -> Path:
    """ecommerce <- finance <- growth (deps), ecommerce <- marketing (a relationships test),
    and ops reading nobody."""
    return make_platform_repo(
        root,
        {
            "ecommerce": tenant_yaml("ecommerce"),
            "finance": tenant_yaml("finance", ["ecommerce/rollup"]),
            "growth": tenant_yaml("growth", ["finance/rollup"]),
            "marketing": tenant_yaml("marketing", relationships_to="ecommerce/raw"),
            "ops": tenant_yaml("ops"),
        },
    )
