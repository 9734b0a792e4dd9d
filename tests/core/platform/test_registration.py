"""Registration files rendered from tenants/ and grants.yaml: idempotent, keep comments, strict."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster_dynamic_tables.errors import RegistrationError
from dagster_dynamic_tables.platform.grants import (
    Grants,
    TenantGrants,
    load_grants,
    record_grants,
    split_grant,
)
from dagster_dynamic_tables.platform.registration import (
    render_codeowners,
    render_dg_toml,
    render_pyproject,
)
from dagster_dynamic_tables.platform.repo import TenantFolder, find_platform_root, slug_problem
from dagster_dynamic_tables.platform.workspace import render_workspace, workspace_modules
from support.repo import REPO_ROOT

PYPROJECT = """\
[project]
name = "root"

[tool.uv.workspace]
members = ["packages/*", "tenants/*"]

[tool.uv.sources]
core = { workspace = true }
stale = { workspace = true }
alpha = { workspace = true }

[dependency-groups]
dev = [
    "pytest==8.4.2",  # the test runner
    "core[local]",
    "ruff==0.14.5"
    ,
    "alpha",
    "stale",
]
"""


def _tenants(tmp_path: Path, *slugs: str) -> list[TenantFolder]:
    folders = []
    for slug in slugs:
        folder = tmp_path / "tenants" / slug
        folder.mkdir(parents=True)
        (folder / "pyproject.toml").write_text(f'[project]\nname = "{slug}"\n')
        folders.append(TenantFolder(slug, folder))
    return folders


def test_pyproject_keeps_other_entries_and_comments_and_lists_tenants_sorted(tmp_path):
    tenants = _tenants(tmp_path, "zeta", "alpha")
    once = render_pyproject(PYPROJECT, tenants, {"core"})
    assert "stale = { workspace = true }" not in once
    assert "zeta = { workspace = true }" in once
    assert '    "pytest==8.4.2",  # the test runner\n    "core[local]",\n' in once
    dev = once.split("dev = [", 1)[1]
    assert dev.index('"ruff==0.14.5",') < dev.index('"alpha",') < dev.index('"zeta",')
    assert '"stale"' not in dev
    assert render_pyproject(once, tenants, {"core"}) == once


def test_workspace_dg_and_codeowners_are_sorted_and_complete():
    workspace = render_workspace(["finance", "ecommerce"])
    assert workspace.index("ecommerce.definitions") < workspace.index("finance.definitions")
    assert "location_name: finance" in workspace
    assert 'path = "tenants/ecommerce"' in render_dg_toml(["ecommerce"])
    grants = Grants("@acme/platform", {"finance": TenantGrants("@acme/finance", ("F.R",))})
    owners = render_codeowners(grants, ["finance", "growth"])
    assert "*  @acme/platform" in owners
    assert "/tenants/finance/  @acme/finance" in owners
    assert "/tenants/growth/  @acme/platform" in owners  # no grants entry yet: the platform's


def test_rendered_workspace_reads_back(tmp_path):
    path = tmp_path / "workspace.yaml"
    path.write_text(render_workspace(["b", "a"]))
    assert workspace_modules(path) == [("a", "a.definitions"), ("b", "b.definitions")]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("ecommerce.analytics", ("ECOMMERCE", "ANALYTICS")),
        ("FINANCE.*", ("FINANCE", "*")),
        ('"Mixed.Db"."a b"', ("Mixed.Db", "a b")),
    ],
    ids=["unquoted", "whole-database", "quoted-with-dot"],
)
def test_grant_entries_resolve_like_snowflake_names(entry, expected):
    assert split_grant(entry) == expected


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("ANALYTICS", "grants.yaml: 'ANALYTICS' is not a schema grant. Fix: write DATABASE.SCHEMA"),
        ("A.B.C", "grants.yaml: 'A.B.C' is not a schema grant."),
        ("A.my-schema", "grants.yaml: 'A.my-schema': 'my-schema' is not a valid Snowflake"),
    ],
    ids=["no-schema", "three-parts", "bad-identifier"],
)
def test_bad_grant_entries_are_named(entry, message):
    with pytest.raises(RegistrationError) as info:
        split_grant(entry)
    assert str(info.value).startswith(message)


def test_record_grants_adds_without_duplicates_and_keeps_the_owner(tmp_path):
    assert record_grants(tmp_path, "growth", ["GROWTH.A"], owner="@acme/growth")
    assert record_grants(tmp_path, "growth", ["GROWTH.A", "GROWTH.B"], owner=None)
    assert not record_grants(tmp_path, "growth", ["GROWTH.B"], owner=None)
    grants = load_grants(tmp_path)
    assert grants.tenants["growth"] == TenantGrants("@acme/growth", ("GROWTH.A", "GROWTH.B"))
    with pytest.raises(RegistrationError, match="tenant_slug 'Bad' is not a lowercase"):
        record_grants(tmp_path, "Bad", ["X.Y"], owner=None)


def test_malformed_grants_file_is_named(tmp_path):
    (tmp_path / "grants.yaml").write_text("tenants:\n  growth:\n    schemas: GROWTH.A\n")
    with pytest.raises(RegistrationError, match=r"tenants\.growth\.schemas must be a list"):
        load_grants(tmp_path)


@pytest.mark.parametrize(
    ("slug", "problem"),
    [
        ("growth", None),
        ("data_science", None),
        ("Growth", "is not a lowercase Python identifier"),
        ("async", "is a Python keyword"),
        ("tests", "is reserved"),
        ("os", "is reserved"),
    ],
    ids=["plain", "underscore", "upper", "keyword", "repo-folder", "stdlib"],
)
def test_slug_rule(slug, problem):
    found = slug_problem(slug)
    assert found is None if problem is None else problem in (found or "")


def test_platform_root_is_found_from_a_tenant_and_refused_elsewhere(tmp_path):
    root = REPO_ROOT
    assert find_platform_root(root / "tenants" / "finance" / "src") == root
    with pytest.raises(Exception, match="is not inside the platform repository"):
        find_platform_root(tmp_path)
