"""One tenant's definitions with the parts of issue 18: its `scheduler: DISABLE` Dynamic Tables as
one executable multi-asset (no second, virtual spec of the same key), its data tests as one
multi-asset check, and the schedule running its sources' tests on their cron."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.definitions.tenant import (
    build_tenant_definitions,
    source_data_tests_schedule_name,
)
from dagster_dynamic_tables.health.data_tests import data_tests_check_name, plan_data_tests

ENV = {"LOCAL_SNOWFLAKE_PORT": "1"}


def _tenant(tmp_path: Path) -> Tenant:
    attributes = {
        "tenant": "shop",
        "sources": [
            {
                "name": "customers",
                "table": "SHOP.RAW.CUSTOMERS",
                "data_tests": [{"not_null": {"column": "id"}}, {"row_count": {"min": 1}}],
                "data_tests_cron": "0 7 * * *",
                "data_tests_timezone": "Europe/Paris",
            },
            {
                "name": "orders",
                "table": "SHOP.RAW.ORDERS",
                "data_tests": [{"unique": {"column": "id"}}],
            },
        ],
        "dynamic_tables": [
            {
                "name": "totals",
                "table": "SHOP.A.TOTALS",
                "target_lag": "1 minute",
                "warehouse": "WH",
                "deps": ["orders", "customers"],
                "query": "select customer_id from shop.raw.orders",
                "data_tests": [
                    {
                        "relationships": {
                            "column": "customer_id",
                            "to": "customers",
                            "field": "id",
                        },
                        "blocking": True,
                    }
                ],
            },
            {
                "name": "daily",
                "table": "SHOP.A.DAILY",
                "target_lag": "DOWNSTREAM",
                "warehouse": "WH",
                "deps": ["totals"],
                "query": "select * from shop.a.totals",
                "scheduler": "DISABLE",
                "automation_condition": {"on_cron": "0 6 * * *"},
                "data_tests": [{"not_null": {"column": "customer_id"}}],
            },
        ],
    }
    return build_tenant(attributes, file=None, base_dir=tmp_path)


def test_a_disable_table_is_executable_once_with_its_condition(tmp_path: Path):
    defs = build_tenant_definitions(_tenant(tmp_path), env=ENV)
    graph = defs.resolve_asset_graph()
    daily = dg.AssetKey(["shop", "daily"])
    assert graph.get(daily).is_executable
    assert not graph.get(daily).is_virtual
    assert graph.get(daily).automation_condition == dg.AutomationCondition.on_cron(
        "0 6 * * *", "UTC"
    )
    assert graph.get(dg.AssetKey(["shop", "totals"])).is_virtual
    assert "refreshed by Dagster" in (graph.get(daily).description or "")
    # The freshness sensor, automation sensor and schedule load as a code location does.
    dg.Definitions.validate_loadable(defs)


def test_data_tests_are_one_multi_asset_check_on_their_assets(tmp_path: Path):
    tenant = _tenant(tmp_path)
    defs = build_tenant_definitions(tenant, env=ENV)
    graph = defs.resolve_asset_graph()
    names = {(key.asset_key.path[-1], key.name) for key in graph.asset_check_keys}
    assert {
        ("customers", "not_null_id"),
        ("customers", "row_count"),
        ("orders", "unique_id"),
        ("totals", "relationships_customer_id"),
        ("daily", "not_null_customer_id"),
    } <= names
    relationship = next(p for p in plan_data_tests(tenant) if p.test.relationships is not None)
    assert (relationship.parent, relationship.parent_key) == (
        tenant.sources[0].qualified_name,
        ("shop", "customers"),
    )
    totals = dg.AssetCheckKey(dg.AssetKey(["shop", "totals"]), "relationships_customer_id")
    daily = dg.AssetCheckKey(dg.AssetKey(["shop", "daily"]), "not_null_customer_id")
    owners = {
        key: definition
        for definition in [*(defs.asset_checks or []), *(defs.assets or [])]
        if isinstance(definition, dg.AssetsDefinition)
        for key in definition.check_keys
    }
    assert owners[totals].node_def.name == data_tests_check_name("shop")
    assert owners[totals].get_spec_for_check_key(totals).blocking
    # A DISABLE table's tests are checks of the multi-asset that refreshes it.
    assert owners[daily].node_def.name == "shop_orchestrated_dynamic_tables"


def test_sources_tests_run_on_their_cron(tmp_path: Path):
    defs = build_tenant_definitions(_tenant(tmp_path), env=ENV)
    (schedule,) = list(defs.schedules or [])
    assert isinstance(schedule, dg.ScheduleDefinition)
    assert schedule.name == source_data_tests_schedule_name("shop") == "shop_source_data_tests"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 7 * * *", "Europe/Paris")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    job = defs.resolve_job_def(schedule.job_name)
    selected = job.asset_layer.asset_graph.asset_check_keys
    assert {(key.asset_key.path[-1], key.name) for key in selected} == {
        ("customers", "not_null_id"),
        ("customers", "row_count"),
    }


def test_no_schedule_without_a_cron(tmp_path: Path):
    tenant = Tenant("empty")
    defs = build_tenant_definitions(tenant, env=ENV)
    assert list(defs.schedules or []) == []
