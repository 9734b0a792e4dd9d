"""`tenants check` on the data tests across tenants: a relationships target in another tenant
must be an asset that tenant declares, with the table it declares for it; an sql test may read
another tenant's declared object (as a dep across tenants may), or an undeclared object only
inside its tenant's grants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.platform.grants import Grants, TenantGrants
from dagster_dynamic_tables.platform.repo import TenantFolder
from dagster_dynamic_tables.platform.tenant_data_tests import data_test_findings
from dagster_dynamic_tables.platform.tenant_views import DeclaredObject, TenantView

CRM = {
    "tenant": "crm",
    "sources": [{"name": "people", "table": "CRM.RAW.PEOPLE"}],
}


def _view(root: Path, attributes: dict[str, Any]) -> TenantView:
    slug = attributes["tenant"]
    path = root / "tenants" / slug / "defs.yaml"
    tenant = build_tenant(attributes, file=path, base_dir=path.parent)
    view = TenantView(TenantFolder(slug, path.parent), loaded=True)
    view.declarations.append((path, tenant))
    for item in tenant.all():
        name = item.qualified_name
        key = tuple(tenant.key_path(item))
        view.keys[key] = "defs.yaml"
        view.objects.append(
            DeclaredObject(
                slug, path, key, name.resolved, name.database.resolved, name.schema.resolved
            )
        )
    return view


def _shop(tests: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tenant": "shop",
        "sources": [{"name": "orders", "table": "SHOP.RAW.ORDERS", "data_tests": tests}],
    }


GRANTS = Grants(tenants={"shop": TenantGrants("@shop", ("SHOP.RAW",))})


def _findings(tmp_path: Path, tests: list[dict[str, Any]]) -> list[str]:
    views = [_view(tmp_path, _shop(tests)), _view(tmp_path, CRM)]
    return data_test_findings(tmp_path, GRANTS, views)


def test_a_target_another_tenant_declares_with_its_table_is_fine(tmp_path: Path):
    relationships = {"column": "pid", "to": "crm/people", "field": "id", "table": "crm.raw.people"}
    assert _findings(tmp_path, [{"relationships": relationships}]) == []


def test_an_unknown_target_and_a_wrong_table_are_findings(tmp_path: Path):
    tests = [
        {"relationships": {"column": "a", "to": "crm/persons", "field": "id", "table": "C.R.P"}},
        {
            "relationships": {"column": "b", "to": "crm/people", "field": "id", "table": "C.R.P"},
            "name": "people_b",
        },
    ]
    assert _findings(tmp_path, tests) == [
        "tenant 'shop': tenants/shop/defs.yaml sources[0].data_tests (relationships_a): "
        "relationships to crm/persons, which no tenant declares. Fix: name an asset some tenant "
        "declares, by its full key (e.g. ecommerce/customers).",
        "tenant 'shop': tenants/shop/defs.yaml sources[0].data_tests (people_b): relationships "
        "table C.R.P is not the table tenant 'crm' declares for crm/people (CRM.RAW.PEOPLE), so "
        "the test would read another table. Fix: write `table: CRM.RAW.PEOPLE`.",
    ]


def test_an_sql_test_reads_declared_objects_or_granted_schemas(tmp_path: Path):
    tests = [
        {"sql": "select * from CRM.RAW.PEOPLE p join RAW.ORDERS o on o.pid = p.id", "name": "ok"},
        {"sql": "select * from RAW.OTHER", "name": "granted"},
        {"sql": "select * from CRM.SECRET.SALARIES", "name": "outside"},
    ]
    assert _findings(tmp_path, tests) == [
        "tenant 'shop': tenants/shop/defs.yaml sources[0].data_tests (outside): the sql test "
        "reads CRM.SECRET.SALARIES, which no tenant declares and which is outside the tenant's "
        "grants (schema CRM.SECRET). Fix: read the owning tenant's declared object, or ask the "
        "platform team to extend grants.yaml."
    ]
