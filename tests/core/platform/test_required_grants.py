"""The grants `plan` lists for a tenant's role: what the sensor, the checks, Dagster's refreshes
of `scheduler: DISABLE` tables and the data tests need (no Snowflake: the list comes from the
declarations alone)."""

from __future__ import annotations

from typing import Any

from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.platform.plan.build import required_grants

ROLE = "SHOP_ROLE"


def _tenant(*, scheduler: str, data_tests: list[Any]) -> Any:
    return build_tenant(
        {
            "tenant": "shop",
            "sources": [
                {
                    "name": "raw_orders",
                    "table": "SHOP.RAW.ORDERS",
                    "data_tests": [{"not_null": {"column": "order_id"}}],
                },
                {"name": "raw_customers", "table": "SHOP.RAW.CUSTOMERS"},
            ],
            "dynamic_tables": [
                {
                    "name": "revenue",
                    "table": "SHOP.ANALYTICS.REVENUE",
                    "target_lag": "1 minute",
                    "warehouse": "TRANSFORMING",
                    "scheduler": scheduler,
                    "deps": ["raw_orders"],
                    "query": "select order_id, amount from SHOP.RAW.ORDERS",
                    "data_tests": data_tests,
                }
            ],
        },
        file=None,
        base_dir=None,
    )


def test_a_table_dagster_refreshes_needs_operate_and_a_tested_table_select() -> None:
    grants = required_grants(
        _tenant(scheduler="DISABLE", data_tests=[{"unique": {"column": "order_id"}}]), ROLE
    )
    table = '"SHOP"."ANALYTICS"."REVENUE"'
    assert f'GRANT MONITOR ON DYNAMIC TABLE {table} TO ROLE "SHOP_ROLE"' in grants
    assert f'GRANT OPERATE ON DYNAMIC TABLE {table} TO ROLE "SHOP_ROLE"' in grants
    assert f'GRANT SELECT ON DYNAMIC TABLE {table} TO ROLE "SHOP_ROLE"' in grants
    # The source with data tests is read by them; the untested one is not.
    assert 'GRANT SELECT ON TABLE "SHOP"."RAW"."ORDERS" TO ROLE "SHOP_ROLE"' in grants
    assert not any('"CUSTOMERS"' in grant for grant in grants if "SELECT" in grant)
    assert len(grants) == len(set(grants))


def test_a_table_snowflake_refreshes_needs_no_operate_and_untested_no_select() -> None:
    grants = required_grants(_tenant(scheduler="ENABLE", data_tests=[]), None)
    assert not any(grant.startswith("GRANT OPERATE") for grant in grants)
    assert not any("DYNAMIC TABLE" in grant and "SELECT" in grant for grant in grants)
    assert all(grant.endswith("TO ROLE <tenant role>") for grant in grants)
