"""Declarations -> asset specs, table-driven: every field of every declaration model, no freshness
policy on any spec, DOWNSTREAM lags, the Python builders and what Dagster does with the specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_dynamic_tables import metadata
from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable, Tenant, View
from dagster_dynamic_tables.definitions.orchestrated import build_orchestrated_refresh
from dagster_dynamic_tables.definitions.specs import (
    build_asset_specs,
    build_spec,
    dynamic_table,
    effective_lags,
    source_table,
    view,
)
from dagster_dynamic_tables.errors import DeclarationError

RAW_ORDERS = {"name": "raw_orders", "table": "SHOP.RAW.ORDERS"}
LONG_NAME = "T" * 255
MODELS = {"sources": SourceTable, "dynamic_tables": DynamicTable, "views": View}


def _table_meta(written: str, resolved: str, object_type: str) -> dict[str, Any]:
    return {
        metadata.SNOWFLAKE_TABLE: written,
        metadata.SNOWFLAKE_OBJECT_TYPE: object_type,
        "dagster/table_name": resolved,
    }


def _dt_meta(
    table: str,
    lag: str,
    mode: str = "AUTO",
    warehouse: str = "TRANSFORMING",
    init: str = "ON_CREATE",
) -> dict[str, Any]:
    return {
        **_table_meta(table, table, "DYNAMIC TABLE"),
        metadata.TARGET_LAG: lag,
        metadata.REFRESH_MODE: mode,
        metadata.WAREHOUSE: warehouse,
        metadata.INITIALIZE: init,
    }


def _dt_description(table: str, lag: str, mode: str = "AUTO") -> str:
    return (
        f"Snowflake Dynamic Table {table} (target lag: {lag}, refresh mode: {mode}), refreshed by "
        "Snowflake, never run by Dagster. Freshness: the within_target_lag check (Snowflake's data "
        "timestamp against the target lag)."
    )


# (id, section, declaration as in YAML, expected spec attributes)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "source_minimal",
        "sources",
        {"name": "raw_customers", "table": "SHOP.RAW.CUSTOMERS"},
        {
            "key": dg.AssetKey(["shop", "raw_customers"]),
            "deps": [],
            "kinds": {"snowflake"},
            "metadata": _table_meta("SHOP.RAW.CUSTOMERS", "SHOP.RAW.CUSTOMERS", "TABLE"),
            "owners": [],
            "group_name": "shop_sources",
            "description": "Snowflake table SHOP.RAW.CUSTOMERS, loaded outside Dagster.",
            "is_virtual": False,
            "freshness_policy": None,
            "automation_condition": None,
        },
    ),
    (
        "source_every_field",
        "sources",
        {
            "name": "raw_customers",
            "table": "shop.raw.customers",
            "description": "  Customers from the CRM.  ",
            "owners": ["team:crm", "jane@example.com"],
            "group": "crm",
            # Data tests are checks on the asset (health.data_tests): the spec is unchanged.
            "data_tests": [{"not_null": {"column": "id"}}],
            "data_tests_cron": "0 7 * * *",
            "data_tests_timezone": "Europe/Paris",
        },
        {
            "key": dg.AssetKey(["shop", "raw_customers"]),
            "metadata": _table_meta("shop.raw.customers", "SHOP.RAW.CUSTOMERS", "TABLE"),
            "owners": ["team:crm", "jane@example.com"],
            "group_name": "crm",
            "description": "Customers from the CRM.\n\n"
            "Snowflake table shop.raw.customers, loaded outside Dagster.",
        },
    ),
    (
        "source_quoted_mixed_case",
        "sources",
        {"name": "raw_events", "table": 'Shop."Raw Data"."Events.2024"'},
        {
            "metadata": _table_meta(
                'Shop."Raw Data"."Events.2024"', "SHOP.Raw Data.Events.2024", "TABLE"
            ),
            "description": 'Snowflake table Shop."Raw Data"."Events.2024", loaded outside Dagster.',
        },
    ),
    (
        "source_255_character_name",
        "sources",
        {"name": "raw_long", "table": f"SHOP.RAW.{LONG_NAME}"},
        {"metadata": _table_meta(f"SHOP.RAW.{LONG_NAME}", f"SHOP.RAW.{LONG_NAME}", "TABLE")},
    ),
    (
        "dynamic_table_minimal",
        "dynamic_tables",
        {
            "name": "orders_clean",
            "table": "SHOP.ANALYTICS.ORDERS_CLEAN",
            "target_lag": "1 minute",
            "warehouse": "TRANSFORMING",
            "query": "select 1",
        },
        {
            "key": dg.AssetKey(["shop", "orders_clean"]),
            "deps": [],
            "kinds": {"snowflake", "dynamic_table"},
            "metadata": _dt_meta("SHOP.ANALYTICS.ORDERS_CLEAN", "1 minute"),
            "owners": [],
            "group_name": "shop_dynamic_tables",
            "description": _dt_description("SHOP.ANALYTICS.ORDERS_CLEAN", "1 minute"),
            "is_virtual": True,
            # Freshness is the within_target_lag check: see test_sensor's quiet-period test.
            "freshness_policy": None,
            "automation_condition": None,
        },
    ),
    (
        "dynamic_table_every_field",
        "dynamic_tables",
        {
            "name": "orders_clean",
            "table": "SHOP.ANALYTICS.ORDERS_CLEAN",
            "description": "Completed orders.",
            "owners": ["team:analytics"],
            "group": "analytics",
            "target_lag": "2 HOURS",
            "warehouse": '"Transforming WH"',
            "refresh_mode": "INCREMENTAL",
            "initialize": "ON_SCHEDULE",
            "deps": ["raw_orders", "shop/raw_orders_2", "billing/invoices"],
            "query_file": "sql/orders_clean.sql",
        },
        {
            "key": dg.AssetKey(["shop", "orders_clean"]),
            "deps": [
                dg.AssetDep(dg.AssetKey(["shop", "raw_orders"])),
                dg.AssetDep(dg.AssetKey(["shop", "raw_orders_2"])),
                dg.AssetDep(dg.AssetKey(["billing", "invoices"])),
            ],
            "metadata": _dt_meta(
                "SHOP.ANALYTICS.ORDERS_CLEAN",
                "2 hours",
                mode="INCREMENTAL",
                warehouse='"Transforming WH"',
                init="ON_SCHEDULE",
            ),
            "owners": ["team:analytics"],
            "group_name": "analytics",
            "description": "Completed orders.\n\n"
            + _dt_description("SHOP.ANALYTICS.ORDERS_CLEAN", "2 hours", "INCREMENTAL"),
            "freshness_policy": None,
        },
    ),
    (
        "dynamic_table_snowflake_options",  # DDL-only options, but a disabled scheduler
        "dynamic_tables",
        {
            "name": "orders_frozen",
            "table": "SHOP.A.ORDERS_FROZEN",
            "target_lag": "1 hour",
            "warehouse": "TRANSFORMING",
            "refresh_mode": "ADAPTIVE",
            "scheduler": "DISABLE",
            "initialization_warehouse": "TRANSFORMING_XL",
            "cluster_by": ["order_date"],
            "transient": True,
            "comment": "Orders, frozen after 30 days.",
            "data_retention_time_in_days": 1,
            "frozen_where": "order_date < current_date() - 30",
            "automation_condition": {"on_cron": "0 6 * * *"},
            "data_tests": [{"unique": {"column": "order_id"}}],
            "query": "select 1",
        },
        {
            "metadata": _dt_meta("SHOP.A.ORDERS_FROZEN", "1 hour", mode="ADAPTIVE"),
            "description": "Snowflake Dynamic Table SHOP.A.ORDERS_FROZEN (scheduler DISABLE, "
            "refresh mode: ADAPTIVE), refreshed by Dagster: materializing it runs ALTER DYNAMIC "
            'TABLE "SHOP"."A"."ORDERS_FROZEN" REFRESH (its upstream tables of this tenant first '
            "when selected together) and records the refresh. A refresh made outside Dagster is "
            "recorded by the freshness sensor.",
            "freshness_policy": None,
            "is_virtual": False,
            "automation_condition": dg.AutomationCondition.on_cron("0 6 * * *", "UTC"),
        },
    ),
    (
        "dynamic_table_lag_exactly_60_seconds",
        "dynamic_tables",
        {
            "name": "fast",
            "table": "SHOP.A.FAST",
            "target_lag": "60 seconds",
            "warehouse": "TRANSFORMING",
            "refresh_mode": "FULL",
            "query": "select 1",
        },
        {
            "metadata": _dt_meta("SHOP.A.FAST", "60 seconds", mode="FULL"),
            "freshness_policy": None,
        },
    ),
    (
        "dynamic_table_lag_in_days",
        "dynamic_tables",
        {
            "name": "slow",
            "table": "SHOP.A.SLOW",
            "target_lag": "1 Day",
            "warehouse": "TRANSFORMING",
            "query": "select 1",
        },
        {
            "metadata": _dt_meta("SHOP.A.SLOW", "1 day"),
            "freshness_policy": None,
        },
    ),
    (
        "dynamic_table_downstream_without_consumer",
        "dynamic_tables",
        {
            "name": "base",
            "table": "SHOP.A.BASE",
            "target_lag": "downstream",
            "warehouse": "TRANSFORMING",
            "deps": ["raw_orders"],
            "query": "select 1",
        },
        {
            "deps": [dg.AssetDep(dg.AssetKey(["shop", "raw_orders"]))],
            "metadata": _dt_meta("SHOP.A.BASE", "DOWNSTREAM"),
            "description": _dt_description("SHOP.A.BASE", "DOWNSTREAM"),
            "freshness_policy": None,
            "is_virtual": True,
        },
    ),
    (
        "view_minimal",
        "views",
        {"name": "dashboard", "table": "SHOP.BI.DASHBOARD", "query": "select 1"},
        {
            "key": dg.AssetKey(["shop", "dashboard"]),
            "deps": [],
            "kinds": {"snowflake", "view"},
            "metadata": _table_meta("SHOP.BI.DASHBOARD", "SHOP.BI.DASHBOARD", "VIEW"),
            "owners": [],
            "group_name": "shop_views",
            "description": "Snowflake view SHOP.BI.DASHBOARD: always consistent with its inputs.",
            "is_virtual": True,
            "freshness_policy": None,
            "automation_condition": None,
        },
    ),
    (
        "view_every_field",
        "views",
        {
            "name": "dashboard",
            "table": "SHOP.BI.DASHBOARD",
            "description": "Revenue dashboard.",
            "owners": ["bi@example.com"],
            "group": "bi",
            "deps": ["raw_orders"],
            "query_file": "sql/orders_clean.sql",
        },
        {
            "deps": [dg.AssetDep(dg.AssetKey(["shop", "raw_orders"]))],
            "owners": ["bi@example.com"],
            "group_name": "bi",
            "description": "Revenue dashboard.\n\n"
            "Snowflake view SHOP.BI.DASHBOARD: always consistent with its inputs.",
            "is_virtual": True,
        },
    ),
]


def _tenant(tmp_path: Path, section: str, item: dict[str, Any]) -> Tenant:
    (tmp_path / "sql").mkdir(exist_ok=True)
    (tmp_path / "sql" / "orders_clean.sql").write_text("select * from shop.raw.orders;\n")
    sources = [RAW_ORDERS, {"name": "raw_orders_2", "table": "SHOP.RAW.ORDERS_2"}]
    attributes: dict[str, Any] = {"tenant": "shop", "sources": sources}
    attributes[section] = [*attributes.get(section, []), item]
    return build_tenant(attributes, file=None, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("section", "item", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_declaration_to_spec(
    tmp_path: Path, section: str, item: dict[str, Any], expected: dict[str, Any]
) -> None:
    tenant = _tenant(tmp_path, section, item)
    specs = {spec.key: spec for spec in build_asset_specs(tenant)}
    if any(dt.scheduler == "DISABLE" for dt in tenant.dynamic_tables):
        # Dagster refreshes these: their one spec is the orchestrated multi-asset's.
        assert not any(dt.name in {k.path[-1] for k in specs} for dt in tenant.dynamic_tables)
        specs = {spec.key: spec for spec in build_orchestrated_refresh(tenant).specs}
    spec = specs[dg.AssetKey(["shop", item["name"]])]
    actual = {attribute: getattr(spec, attribute) for attribute in expected}
    if "deps" in actual:
        actual["deps"] = list(actual["deps"])
    if "kinds" in actual:
        actual["kinds"] = set(actual["kinds"])
    if "owners" in actual:
        actual["owners"] = list(actual["owners"])
    if "metadata" in actual:
        actual["metadata"] = dict(actual["metadata"])
    assert actual == expected


def test_spec_table_exercises_every_model_field() -> None:
    used: dict[str, set[str]] = {section: set() for section in MODELS}
    for _, section, item, _ in CASES:
        used[section] |= set(item)
    assert used == {section: set(model.model_fields) for section, model in MODELS.items()}


def test_specs_are_deterministic(tmp_path: Path) -> None:
    item = CASES[5][2]
    first = build_asset_specs(_tenant(tmp_path, "dynamic_tables", item))
    second = build_asset_specs(_tenant(tmp_path, "dynamic_tables", dict(item)))
    assert first == second
    assert [spec.code_version for spec in first] == [None] * len(first)


def test_build_spec_gives_the_same_spec_as_build_asset_specs(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path, "dynamic_tables", CASES[5][2])
    assert [build_spec(tenant, item) for item in tenant.all()] == build_asset_specs(tenant)


# --- DOWNSTREAM lags -------------------------------------------------------------------------


def _dt(name: str, lag: str, deps: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "table": f"SHOP.A.{name.upper()}",
        "target_lag": lag,
        "warehouse": "W",
        "deps": deps,
        "query": "select 1",
    }


def test_downstream_tables_take_the_lag_of_their_fastest_consumer() -> None:
    tenant = build_tenant(
        {
            "tenant": "shop",
            "sources": [RAW_ORDERS],
            "dynamic_tables": [
                _dt("base", "DOWNSTREAM", ["raw_orders"]),
                _dt("hourly", "1 hour", ["base"]),
                _dt("five_minutes", "5 minutes", ["shop/base"]),
                _dt("chain_start", "DOWNSTREAM", ["raw_orders"]),
                _dt("chain_middle", "DOWNSTREAM", ["chain_start"]),
                _dt("chain_end", "10 minutes", ["chain_middle"]),
                _dt("only_views", "DOWNSTREAM", ["raw_orders"]),
                _dt("other_tenant_reads_it", "DOWNSTREAM", ["raw_orders"]),
                _dt("foreign", "1 minute", ["billing/other_tenant_reads_it"]),
            ],
            "views": [{"name": "v", "table": "SHOP.A.V", "deps": ["only_views"], "query": "x"}],
        },
        file=None,
        base_dir=None,
    )
    assert effective_lags(tenant) == {
        "base": 300,
        "hourly": 3600,
        "five_minutes": 300,
        "chain_start": 600,
        "chain_middle": 600,
        "chain_end": 600,
        "only_views": None,
        "other_tenant_reads_it": None,
        "foreign": 60,
    }
    assert all(spec.freshness_policy is None for spec in build_asset_specs(tenant))


# --- Python builders ------------------------------------------------------------------------


def test_python_builders_give_the_same_specs_as_yaml(tmp_path: Path) -> None:
    yaml_tenant = build_tenant(
        {
            "tenant": "shop",
            "sources": [
                {
                    "name": "raw_orders",
                    "table": "SHOP.RAW.ORDERS",
                    "description": "Orders.",
                    "owners": ["team:shop"],
                    "group": "raw",
                }
            ],
            "dynamic_tables": [
                {
                    "name": "orders_clean",
                    "table": "SHOP.ANALYTICS.ORDERS_CLEAN",
                    "target_lag": "5 minutes",
                    "warehouse": "TRANSFORMING",
                    "refresh_mode": "INCREMENTAL",
                    "initialize": "ON_SCHEDULE",
                    "deps": ["raw_orders", "billing/invoices"],
                    "query": "select 1",
                    "description": "Clean orders.",
                    "owners": ["jane@example.com"],
                    "group": "analytics",
                }
            ],
            "views": [
                {
                    "name": "dashboard",
                    "table": "SHOP.BI.DASHBOARD",
                    "deps": ["orders_clean"],
                    "query": "select 1",
                    "description": "Dashboard.",
                    "owners": ["team:bi"],
                    "group": "bi",
                }
            ],
        },
        file=None,
        base_dir=tmp_path,
    )
    raw = source_table(
        "raw_orders",
        "SHOP.RAW.ORDERS",
        key_prefix="shop",
        description="Orders.",
        owners=["team:shop"],
        group="raw",
    )
    clean = dynamic_table(
        "orders_clean",
        "SHOP.ANALYTICS.ORDERS_CLEAN",
        target_lag="5 minutes",
        warehouse="TRANSFORMING",
        refresh_mode="INCREMENTAL",
        initialize="ON_SCHEDULE",
        deps=[raw, dg.AssetKey(["billing", "invoices"])],
        query="select 1",
        key_prefix=["shop"],
        description="Clean orders.",
        owners=["jane@example.com"],
        group="analytics",
    )
    dashboard = view(
        "dashboard",
        "SHOP.BI.DASHBOARD",
        deps=["orders_clean"],
        query="select 1",
        key_prefix="shop",
        description="Dashboard.",
        owners=["team:bi"],
        group="bi",
    )
    assert [raw, clean, dashboard] == build_asset_specs(yaml_tenant)


def test_python_builders_work_without_a_prefix_or_a_query() -> None:
    spec = dynamic_table("orders_clean", "DB.S.T", target_lag="1 hour", warehouse="W", deps=["a"])
    assert spec.key == dg.AssetKey(["orders_clean"])
    assert [dep.asset_key for dep in spec.deps] == [dg.AssetKey(["a"])]
    assert view("v", "DB.S.V").is_virtual


def test_python_builder_reports_bad_arguments_by_name() -> None:
    with pytest.raises(DeclarationError) as info:
        dynamic_table(
            "Orders",
            "DB.S",
            target_lag="30 seconds",
            warehouse="W",
            refresh_mode="LAZY",  # pyright: ignore[reportArgumentType] (a caller without a type checker)
        )
    assert str(info.value) == (
        "4 problems:\n"
        "  - name: 'Orders' is not a valid asset name: use lowercase letters, digits and '_', "
        "starting with a letter (e.g. customer_lifetime_value).\n"
        "  - table: 'DB.S' is not a fully qualified name: write DATABASE.SCHEMA.NAME, for "
        "example ANALYTICS.ECOMMERCE.ORDERS.\n"
        "  - target_lag: '30 seconds' is 30 seconds, under Snowflake's minimum target lag of 60 "
        "seconds: use '1 minute' or more.\n"
        "  - refresh_mode: 'LAZY' is not allowed; allowed: AUTO, FULL, INCREMENTAL, ADAPTIVE. Fix: "
        "use one of AUTO, FULL, INCREMENTAL, ADAPTIVE."
    )


def test_python_builders_refuse_an_unknown_keyword_as_python_does() -> None:
    # The optional keywords travel as **options: a misspelt one must not pass silently.
    typo: dict[str, Any] = {"refreshmode": "FULL"}
    calls = {
        "source_table": lambda: source_table("a", "DB.S.A", **typo),
        "dynamic_table": lambda: dynamic_table(
            "b", "DB.S.B", target_lag="1 hour", warehouse="W", **typo
        ),
        "view": lambda: view("c", "DB.S.C", **typo),
    }
    for builder, call in calls.items():
        with pytest.raises(TypeError) as info:
            call()
        assert str(info.value) == f"{builder}() got an unexpected keyword argument 'refreshmode'"
    # A keyword one builder takes is still unknown to another.
    with pytest.raises(
        TypeError, match="view\\(\\) got an unexpected keyword argument 'refresh_mode'"
    ):
        view("c", "DB.S.C", **{"refresh_mode": "FULL"})  # pyright: ignore[reportArgumentType]


def test_python_builder_for_a_source_reports_a_bad_owner() -> None:
    with pytest.raises(DeclarationError) as info:
        source_table("raw", "DB.S.T", owners=["bob"])
    assert str(info.value) == (
        "1 problem:\n"
        "  - owners[0]: 'bob' is not a valid owner: use an e-mail address (jane@example.com) or "
        "a team name prefixed with 'team:' (team:analytics)."
    )


# --- what Dagster does with the specs -------------------------------------------------------


def _defs(tenant: Tenant, *jobs: dg.UnresolvedAssetJobDefinition) -> dg.Definitions:
    return dg.Definitions(assets=build_asset_specs(tenant), jobs=list(jobs))


def test_dynamic_tables_and_views_are_virtual_and_not_executable(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path, "views", {"name": "v", "table": "S.B.V", "query": "x"})
    graph = _defs(tenant).resolve_asset_graph()
    assert graph.get_all_asset_keys() == {
        dg.AssetKey(["shop", "raw_orders"]),
        dg.AssetKey(["shop", "raw_orders_2"]),
        dg.AssetKey(["shop", "v"]),
    }
    assert not graph.get(dg.AssetKey(["shop", "v"])).is_executable


def test_selecting_a_dynamic_table_into_a_job_fails(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path, "dynamic_tables", CASES[4][2])
    job = dg.define_asset_job("refresh", selection=[dg.AssetKey(["shop", "orders_clean"])])
    with pytest.raises(dg.DagsterInvalidDefinitionError) as info:
        _defs(tenant, job).resolve_job_def("refresh")
    assert "Selected keys must be a subset of existing executable asset keys" in str(
        info.value.__cause__
    )


def test_a_long_chain_of_downstream_tables_resolves_without_recursion() -> None:
    chain = [_dt("t0", "DOWNSTREAM", ["raw_orders"])]
    chain += [_dt(f"t{i}", "DOWNSTREAM", [f"t{i - 1}"]) for i in range(1, 2000)]
    chain.append(_dt("last", "1 minute", ["t1999"]))
    tenant = build_tenant(
        {"tenant": "shop", "sources": [RAW_ORDERS], "dynamic_tables": chain},
        file=None,
        base_dir=None,
    )
    assert set(effective_lags(tenant).values()) == {60}
