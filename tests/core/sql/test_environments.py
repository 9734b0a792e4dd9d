"""`in_environment`, the one mapping: the repository's tenants in prod and dev (same keys and
graph, every Snowflake name mapped), the SQL rewrite, data tests, names it cannot map, and
mappings onto a declared database."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster_dynamic_tables.declarations.data_tests import DataTest, Relationships
from dagster_dynamic_tables.declarations.environments import (
    Environment,
    load_environments,
)
from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable, Tenant
from dagster_dynamic_tables.errors import EnvironmentsError
from dagster_dynamic_tables.platform.plan.declared import load_declared_files
from dagster_dynamic_tables.sql.environments import (
    check_databases,
    current_table,
    environment_settings,
    in_environment,
    rewrite_sql,
)
from support.repo import REPO_ROOT

DEV = load_environments(REPO_ROOT / "environments.yaml").get("dev")
PROD = load_environments(REPO_ROOT / "environments.yaml").get("prod")


def repo_tenants() -> dict[str, tuple[Path, Tenant]]:
    """The repository's tenants as declared (no environment selected)."""
    return {f.tenant.slug: (f.path, f.tenant) for f in load_declared_files(REPO_ROOT, environ={})}


TENANTS = repo_tenants()


def graph(tenant: Tenant) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    return {
        tuple(tenant.key_path(d)): sorted(
            tuple(key) for key in (tenant.dep_keys(d) if not isinstance(d, SourceTable) else [])
        )
        for d in tenant.all()
    }


@pytest.mark.parametrize("slug", ["ecommerce", "finance"])
def test_prod_is_the_declarations_as_written(slug: str):
    _file, tenant = TENANTS[slug]
    assert in_environment(tenant, PROD) is tenant
    assert in_environment(tenant, None) is tenant


@pytest.mark.parametrize("slug", ["ecommerce", "finance"])
def test_dev_maps_every_snowflake_name_and_keeps_keys_and_graph(slug: str):
    file, tenant = TENANTS[slug]
    dev = in_environment(tenant, DEV, file=file)
    assert graph(dev) == graph(tenant)
    assert [d.name for d in dev.all()] == [d.name for d in tenant.all()]
    for declared, mapped in zip(tenant.all(), dev.all(), strict=True):
        database = declared.qualified_name.database.resolved
        assert mapped.table == declared.table.replace(f"{database}.", f"{database}_DEV.", 1)
        if isinstance(declared, DynamicTable):
            assert isinstance(mapped, DynamicTable)
            assert mapped.warehouse == declared.warehouse  # dev maps no warehouse
            assert declared.query is not None
            assert mapped.query is not None
            # every fully qualified reference names a dev database, none a prod one
            for prod_db in ("ECOMMERCE", "FINANCE"):
                assert f"{prod_db}." not in mapped.query
            assert mapped.query.replace("_DEV.", ".") == declared.query


def test_finance_reads_ecommerce_in_dev_too():
    file, tenant = TENANTS["finance"]
    queries = [d.query or "" for d in in_environment(tenant, DEV, file=file).dynamic_tables]
    assert any("ECOMMERCE_DEV.ANALYTICS.DAILY_REVENUE_ROLLUP" in query for query in queries)


STAGING = Environment(
    "staging",
    databases={"ECOMMERCE": "ECOM_STG"},
    warehouses={"WH": "STG_WH", "BIG": "STG_BIG"},
    file=Path("environments.yaml"),
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select * from ECOMMERCE.RAW.ORDERS", "select * from ECOM_STG.RAW.ORDERS"),
        ("select * from ecommerce.raw.orders o", "select * from ECOM_STG.raw.orders o"),
        ('select * from "ECOMMERCE"."RAW"."ORDERS"', 'select * from ECOM_STG."RAW"."ORDERS"'),
        ("select ecommerce.raw.orders.id from x", "select ECOM_STG.raw.orders.id from x"),
        ("select * from RAW.ORDERS", "select * from RAW.ORDERS"),
        ("select 'ECOMMERCE.RAW.ORDERS' as s", "select 'ECOMMERCE.RAW.ORDERS' as s"),
        ("select 1 -- ECOMMERCE.RAW.ORDERS\n", "select 1 -- ECOMMERCE.RAW.ORDERS\n"),
        ("select 1 /* ECOMMERCE.RAW.ORDERS */", "select 1 /* ECOMMERCE.RAW.ORDERS */"),
        ("select $$ECOMMERCE.RAW.ORDERS$$", "select $$ECOMMERCE.RAW.ORDERS$$"),
        ("select v:ECOMMERCE.RAW.ORDERS from t", "select v:ECOMMERCE.RAW.ORDERS from t"),
        ("select 1.5, a.b from t", "select 1.5, a.b from t"),
        ("CREATE DATABASE IF NOT EXISTS ecommerce;", "CREATE DATABASE IF NOT EXISTS ECOM_STG;"),
        ("create schema ECOMMERCE.RAW", "create schema ECOM_STG.RAW"),
        ("show tables in database ECOMMERCE", "show tables in database ECOM_STG"),
        ("select schema, raw.orders from t", "select schema, raw.orders from t"),
        ("use schema RAW", "use schema RAW"),
    ],
    ids=[
        "three-parts",
        "lower-case",
        "quoted-parts",
        "column-reference",
        "two-parts",
        "string",
        "line-comment",
        "block-comment",
        "dollar-string",
        "variant-path",
        "numbers-and-columns",
        "create-database",
        "create-schema",
        "in-database",
        "a-column-named-schema",
        "schema-of-the-current-database",
    ],
)
def test_rewrite_maps_fully_qualified_references_only(sql: str, expected: str):
    assert rewrite_sql(sql, STAGING) == expected


def test_a_reference_the_environment_cannot_map_names_the_file_the_path_and_the_name():
    tenant = Tenant(
        "shop",
        sources=(SourceTable(name="orders", table="ECOMMERCE.RAW.ORDERS"),),
        dynamic_tables=(
            DynamicTable(
                name="totals",
                table="ECOMMERCE.S.TOTALS",
                target_lag="1 minute",
                warehouse="WH",
                query="select * from ECOMMERCE.RAW.ORDERS join SHARED.REF.COUNTRIES using (c)",
                deps=["orders"],
            ),
        ),
    )
    with pytest.raises(EnvironmentsError) as raised:
        in_environment(tenant, STAGING, file="tenants/shop/defs.yaml")
    assert str(raised.value) == (
        "1 name in tenants/shop/defs.yaml cannot be mapped into environment 'staging':\n"
        "  - dynamic_tables[0].query: the reference SHARED.REF.COUNTRIES: environment 'staging' "
        "(environments.yaml) does not map the database SHARED: its databases: lists ECOMMERCE "
        "and it has no suffix. Fix: add SHARED to environments.staging.databases, or give the "
        "environment a suffix."
    )


def test_warehouses_and_data_tests_are_mapped():
    tenant = Tenant(
        "shop",
        sources=(
            SourceTable(
                name="orders",
                table="ECOMMERCE.RAW.ORDERS",
                data_tests=[
                    DataTest(sql="select * from ECOMMERCE.RAW.ORDERS where amount < 0", name="s"),
                    DataTest(
                        relationships=Relationships(
                            column="c", to="other/customers", field="id", table="ECOMMERCE.X.C"
                        ),
                        name="r",
                    ),
                ],
            ),
        ),
        dynamic_tables=(
            DynamicTable(
                name="totals",
                table="ECOMMERCE.S.TOTALS",
                target_lag="1 minute",
                warehouse="wh",
                initialization_warehouse="BIG",
                query="select 1 as x",
            ),
        ),
    )
    mapped = in_environment(tenant, STAGING)
    source, table = mapped.sources[0], mapped.dynamic_tables[0]
    assert source.data_tests[0].sql == "select * from ECOM_STG.RAW.ORDERS where amount < 0"
    relationships = source.data_tests[1].relationships
    assert relationships is not None
    assert relationships.table == "ECOM_STG.X.C"
    assert (table.warehouse, table.initialization_warehouse) == ("STG_WH", "STG_BIG")
    assert tenant.sources[0].data_tests[0].sql == (
        "select * from ECOMMERCE.RAW.ORDERS where amount < 0"
    )


def test_a_database_mapped_onto_a_declared_one_is_refused_before_any_statement():
    # a suffix that turns ECOMMERCE into ECOMMERCE_X, which a tenant declares objects in
    onto = Environment("x", suffix="_X", file=Path("environments.yaml"))
    tenants = [
        Tenant("a", sources=(SourceTable(name="s", table="ECOMMERCE.RAW.S"),)),
        Tenant("b", sources=(SourceTable(name="s", table="ECOMMERCE_X.RAW.S"),)),
    ]
    with pytest.raises(EnvironmentsError) as raised:
        check_databases(tenants, onto)
    assert str(raised.value) == (
        "environment 'x' (environments.yaml) maps the declared database ECOMMERCE onto "
        "ECOMMERCE_X, which tenants declare objects in (a prod database). Fix: map ECOMMERCE to "
        "a database of the environment's own."
    )
    two = Environment("y", databases={"A": "SAME", "B": "SAME"}, file=Path("e.yaml"))
    with pytest.raises(EnvironmentsError, match="maps the declared databases A and B both onto"):
        check_databases(
            [
                Tenant("a", sources=(SourceTable(name="s", table="A.RAW.S"),)),
                Tenant("b", sources=(SourceTable(name="s", table="B.RAW.S"),)),
            ],
            two,
        )


def test_the_environments_role_and_warehouses_reach_the_connection_settings():
    env = Environment("dev", suffix="_DEV", warehouses={"WH": "DEV_WH"}, role="DEV_ROLE")
    settings = environment_settings(
        env,
        "shop",
        {"SNOWFLAKE_ROLE": "PROD_ROLE", "SNOWFLAKE_WAREHOUSE": "wh", "SHOP_SNOWFLAKE_ROLE": "R"},
    )
    assert settings["SNOWFLAKE_ROLE"] == "DEV_ROLE"
    assert settings["SHOP_SNOWFLAKE_ROLE"] == "R"  # a tenant's own setting still wins
    assert settings["SNOWFLAKE_WAREHOUSE"] == "DEV_WH"
    unchanged = {"SNOWFLAKE_ROLE": "PROD_ROLE"}
    assert environment_settings(DEV, "shop", unchanged) is unchanged


def test_current_table_maps_a_declared_name_for_a_tenants_own_sql():
    tenant_folder = REPO_ROOT / "tenants" / "ecommerce"
    name = "ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE"
    assert current_table(name, start=tenant_folder, environ={}) == name
    dev = {"DYNAMIC_TABLES_ENVIRONMENT": "dev"}
    assert current_table(name, start=tenant_folder, environ=dev) == (
        "ECOMMERCE_DEV.ANALYTICS.CUSTOMER_LIFETIME_VALUE"
    )
