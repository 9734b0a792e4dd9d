"""The grants rule a code location applies to its tenant (`declarations.grants`): where it finds
grants.yaml (the repository root, or `DYNAMIC_TABLES_GRANTS_FILE` in an image), which tenant a
declaration file belongs to (its `tenants/<slug>/` folder, or `DYNAMIC_TABLES_TENANT`), and what it
refuses (an object outside the tenant's grants, another tenant's slug), with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster_dynamic_tables.declarations.grants import check_tenant_grants, read_grants
from dagster_dynamic_tables.declarations.loader import load_tenant
from dagster_dynamic_tables.errors import DeclarationError, RegistrationError
from support.shop import SHOP_DATA
from support.yaml_bombs import alias_bomb

GRANTS = "tenants:\n  shop:\n    owner: '@acme/shop'\n    schemas: [SHOP.RAW, SHOP.ANALYTICS]\n"


def _repo(tmp_path: Path, grants: str | None = GRANTS, folder: str = "shop") -> Path:
    """A platform repository (workspace.yaml, grants.yaml) with the shop tenant's defs.yaml in
    tenants/<folder>/; returns the defs folder."""
    (tmp_path / "workspace.yaml").write_text("load_from: []\n")
    if grants is not None:
        (tmp_path / "grants.yaml").write_text(grants)
    defs = tmp_path / "tenants" / folder / "src" / folder / "defs" / "snowflake"
    defs.mkdir(parents=True)
    (defs / "defs.yaml").write_text((SHOP_DATA / "defs.yaml").read_text())
    (defs / "sql").mkdir()
    for query in (SHOP_DATA / "sql").iterdir():
        (defs / "sql" / query.name).write_text(query.read_text())
    return defs


def _check(defs: Path, environ: dict[str, str] | None = None) -> None:
    tenant = load_tenant(defs / "defs.yaml")
    check_tenant_grants(tenant, defs, environ or {}, file=defs / "defs.yaml")


def test_a_tenant_within_its_grants_loads(tmp_path: Path) -> None:
    _check(_repo(tmp_path))


def test_an_object_outside_the_grants_is_refused_naming_it_and_the_fix(tmp_path: Path) -> None:
    defs = _repo(tmp_path, GRANTS.replace(", SHOP.ANALYTICS", ""))
    with pytest.raises(DeclarationError) as info:
        _check(defs)
    problems = [problem.render() for problem in info.value.problems]
    fix = (
        "Fix: declare it in a granted schema, or ask the platform team to extend grants.yaml "
        "(`uv run dynamic-tables tenants grant shop --schema SHOP.ANALYTICS`)."
    )
    assert problems == [
        "dynamic_tables[0]: orders_clean declares SHOP.ANALYTICS.ORDERS_CLEAN in schema "
        f"SHOP.ANALYTICS, outside the tenant's grants (SHOP.RAW). {fix}",
        "views[0]: orders_view declares SHOP.ANALYTICS.ORDERS_VIEW in schema SHOP.ANALYTICS, "
        f"outside the tenant's grants (SHOP.RAW). {fix}",
    ]


def test_a_tenant_without_an_entry_may_declare_nothing(tmp_path: Path) -> None:
    defs = _repo(tmp_path, "tenants: {}\n")
    with pytest.raises(DeclarationError, match=r"none: grants.yaml has no entry for it") as info:
        _check(defs)
    assert len(info.value.problems) == 3


def test_declaring_under_another_tenants_slug_is_refused(tmp_path: Path) -> None:
    # A folder `evil` whose file says `tenant: shop`, to use shop's grants.
    defs = _repo(tmp_path, GRANTS + "  evil:\n    schemas: [EVIL.RAW]\n", folder="evil")
    with pytest.raises(DeclarationError) as info:
        _check(defs)
    first = info.value.problems[0]
    assert (first.path, first.fix) == ("tenant", "set `tenant: evil`")
    assert "a tenant declares objects only under its own slug" in first.message
    assert len(info.value.problems) == 4  # and its three objects are outside evil's grants


def test_a_tenants_own_workspace_and_grants_files_do_not_count(tmp_path: Path) -> None:
    defs = _repo(tmp_path, "tenants: {}\n")
    folder = tmp_path / "tenants" / "shop"
    (folder / "workspace.yaml").write_text("load_from: []\n")
    (folder / "grants.yaml").write_text(GRANTS)
    with pytest.raises(DeclarationError, match="no entry for it"):
        _check(defs)


def test_outside_a_repository_nothing_is_checked(tmp_path: Path) -> None:
    defs = _repo(tmp_path, "tenants: {}\n")
    (tmp_path / "workspace.yaml").unlink()
    _check(defs)


def test_an_image_reads_the_file_and_the_tenant_from_its_variables(tmp_path: Path) -> None:
    # No repository root (an installed package); the Dockerfile sets both variables.
    defs = _repo(tmp_path, grants=None)
    (tmp_path / "workspace.yaml").unlink()
    grants = tmp_path / "image-grants.yaml"
    grants.write_text(GRANTS + "  other:\n    schemas: [OTHER.RAW]\n")
    _check(defs, {"DYNAMIC_TABLES_GRANTS_FILE": str(grants), "DYNAMIC_TABLES_TENANT": "shop"})
    with pytest.raises(DeclarationError, match="set `tenant: other`"):
        _check(defs, {"DYNAMIC_TABLES_GRANTS_FILE": str(grants), "DYNAMIC_TABLES_TENANT": "other"})
    with pytest.raises(RegistrationError, match=r"DYNAMIC_TABLES_GRANTS_FILE=.* names no file"):
        _check(defs, {"DYNAMIC_TABLES_GRANTS_FILE": str(tmp_path / "missing.yaml")})


def test_a_hostile_grants_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "grants.yaml"
    path.write_text(alias_bomb())
    with pytest.raises(RegistrationError, match=f"Cannot read {path}"):
        read_grants(path)
