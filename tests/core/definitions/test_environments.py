"""The repository's tenants as code locations in prod and in dev: the same asset keys, graph and
checks, every Snowflake name of the specs mapped; then the freshness sensor of the dev tenant
against the stand-in, whose statements (as the connector sends them) name only dev objects, and
the local setup (seed SQL included) under the dev names."""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations.environments import Environment, load_environments
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.definitions.location import load_tenant_definitions
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.freshness.sensor import SENSOR_NAME, build_freshness_sensor
from dagster_dynamic_tables.health.checks import build_dynamic_table_checks
from dagster_dynamic_tables.metadata import SNOWFLAKE_TABLE
from dagster_dynamic_tables.platform.plan.declared import load_declared_files
from dagster_dynamic_tables.sql.environments import in_environment
from dagster_dynamic_tables.standin import (
    create_local_objects,
    register_local_tenant,
    registered_environment,
    registered_tenants,
)
from support.repo import REPO_ROOT
from support.shop import stand_in_resource

pytestmark = [
    # Dagster 1.13.27 parses every defs.yaml with pydantic's deprecated `parse_obj_as`
    # (dagster/_utils/pydantic_yaml.py): not ours to fix.
    pytest.mark.filterwarnings(
        "ignore:`parse_obj_as` is deprecated:pydantic.warnings.PydanticDeprecatedSince20"
    ),
]

TABLE_NAME = "dagster/table_name"


@pytest.fixture
def keep_registry() -> Iterator[None]:
    """Loading a location registers its tenant for the stand-in (process-wide): put back what
    was registered before, so later tests see the prod tenants."""
    before = [(tenant, registered_environment(tenant.slug)) for tenant in registered_tenants()]
    yield
    for tenant, environment in before:
        register_local_tenant(tenant, environment)


def location(slug: str, monkeypatch: pytest.MonkeyPatch, environment: str | None) -> Any:
    if environment is None:
        monkeypatch.delenv("DYNAMIC_TABLES_ENVIRONMENT", raising=False)
    else:
        monkeypatch.setenv("DYNAMIC_TABLES_ENVIRONMENT", environment)
    return load_tenant_definitions(importlib.import_module(f"{slug}.defs"))


def specs(defs: Any) -> dict[tuple[str, ...], dg.AssetSpec]:
    return {tuple(spec.key.path): spec for spec in defs.resolve_all_asset_specs()}


@pytest.mark.parametrize("slug", ["ecommerce", "finance"])
def test_prod_and_dev_have_the_same_keys_graph_and_checks_and_dev_names_everywhere(
    slug: str, monkeypatch: pytest.MonkeyPatch, keep_registry: None
):
    del keep_registry
    monkeypatch.delenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", raising=False)
    for name in ("SNOWFLAKE_ACCOUNT", f"{slug.upper()}_SNOWFLAKE_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    prod_defs, dev_defs = location(slug, monkeypatch, None), location(slug, monkeypatch, "dev")
    prod, dev = specs(prod_defs), specs(dev_defs)
    # `local start` creates what the loaded locations registered: the dev objects, dev seed
    registered = {tenant.slug: tenant for tenant in registered_tenants()}[slug]
    environment = registered_environment(slug)
    assert environment is not None
    assert environment.name == "dev"
    assert all("_DEV." in d.table for d in registered.all())
    assert sorted(prod) == sorted(dev)
    assert {k: sorted(d.asset_key.to_user_string() for d in s.deps) for k, s in prod.items()} == {
        k: sorted(d.asset_key.to_user_string() for d in s.deps) for k, s in dev.items()
    }
    prod_checks = prod_defs.resolve_asset_graph().asset_check_keys
    assert prod_checks == dev_defs.resolve_asset_graph().asset_check_keys
    assert len(prod_checks) >= 8
    mapped = 0
    for key, spec in prod.items():
        table = spec.metadata.get(SNOWFLAKE_TABLE)
        if table is None:
            continue  # a Python asset
        database = table.split(".")[0]
        expected = f"{database}_DEV.{table.split('.', 1)[1]}"
        assert dev[key].metadata[SNOWFLAKE_TABLE] == expected
        assert dev[key].metadata[TABLE_NAME] == expected
        assert spec.metadata[TABLE_NAME] == table
        mapped += 1
    assert mapped >= 3


# --- the dev tenant against the stand-in ------------------------------------------------------


def ecommerce() -> Tenant:
    """The repository's ecommerce tenant as declared."""
    (file,) = load_declared_files(REPO_ROOT, "ecommerce", environ={})
    return file.tenant


@pytest.fixture
def dev(tmp_path: Path) -> Environment:
    """dev with a database suffix of its own: the session's stand-in is shared by every test."""
    path = tmp_path / "environments.yaml"
    path.write_text("environments:\n  prod: {}\n  dev: {suffix: _ENVSENSOR}\n")
    return load_environments(path).get("dev")


def captured_statements(records: list[logging.LogRecord]) -> list[str]:
    """The statements the connector sent, from its debug log: `query: [<statement>]`, and
    `binding: [<statement>] with input=[<parameters>]` for those with bound parameters."""
    return [
        record.getMessage()
        for record in records
        if record.name == "snowflake.connector.cursor"
        and record.getMessage().startswith(("query: [", "binding: ["))
    ]


def test_the_dev_tenants_sensor_reads_and_records_only_dev_objects(
    dev: Environment,
    local_snowflake_connect: Any,
    local_snowflake_connection_args: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
):
    tenant = in_environment(ecommerce(), dev)
    conn = local_snowflake_connect()
    report = create_local_objects(conn, tenant, environment=dev)
    # the seed SQL ran under the dev names: the dev sources hold its rows
    assert sorted(report.sources_seeded) == [
        "ECOMMERCE_ENVSENSOR.RAW.RAW_CUSTOMERS",
        "ECOMMERCE_ENVSENSOR.RAW.RAW_ORDERS",
    ]
    cursor = conn.cursor()
    cursor.execute("SELECT COUNT(*) FROM ECOMMERCE_ENVSENSOR.RAW.RAW_ORDERS")
    assert cursor.fetchone()[0] == 5

    resource = stand_in_resource(local_snowflake_connection_args)
    defs = dg.Definitions(
        assets=build_asset_specs(tenant),
        asset_checks=build_dynamic_table_checks(tenant),
        sensors=[build_freshness_sensor(tenant)],
        resources={"snowflake": resource},
    )
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    instance = dg.DagsterInstance.ephemeral()
    cursor_value: str | None = None

    def tick() -> Any:
        nonlocal cursor_value
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor_value, resources={"snowflake": resource}
        )
        result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
        cursor_value = result.cursor
        return result

    with caplog.at_level(logging.DEBUG, logger="snowflake.connector.cursor"):
        tick()
        cursor.execute(
            "INSERT INTO ECOMMERCE_ENVSENSOR.RAW.RAW_ORDERS VALUES "
            "('O2001', 'C003', CURRENT_DATE(), 99.00, 'completed')"
        )
        cursor.execute(
            "ALTER DYNAMIC TABLE ECOMMERCE_ENVSENSOR.ANALYTICS.CUSTOMER_LIFETIME_VALUE REFRESH"
        )
        caplog.clear()
        result = tick()
    materialized = [
        event.asset_key.to_user_string()
        for event in result.asset_events
        if isinstance(event, dg.AssetMaterialization)
    ]
    assert materialized == ["ecommerce/customer_lifetime_value"]
    statements = captured_statements(caplog.records)
    assert statements, "the sensor sent no statement"
    assert any("ECOMMERCE_ENVSENSOR" in statement for statement in statements)
    prod_names = [s for s in statements if re.search(r"ECOMMERCE(?!_ENVSENSOR)", s)]
    assert prod_names == []
    instance.dispose()


def test_the_resource_takes_the_environments_role_and_warehouse(tmp_path: Path):
    from dagster_dynamic_tables.definitions.resources import build_snowflake_resource

    path = tmp_path / "environments.yaml"
    path.write_text(
        "environments:\n  dev:\n    suffix: _DEV\n    role: DEV_TRANSFORMER\n"
        "    warehouses: {PROD_WH: DEV_WH}\n"
    )
    settings = {
        "SNOWFLAKE_ACCOUNT": "acme",
        "SNOWFLAKE_USER": "DAGSTER",
        "SNOWFLAKE_PASSWORD": "secret",
        "SNOWFLAKE_ROLE": "PROD_TRANSFORMER",
        "SNOWFLAKE_WAREHOUSE": "PROD_WH",
        "DYNAMIC_TABLES_ENVIRONMENTS_FILE": str(path),
    }
    prod = build_snowflake_resource(ecommerce(), env=settings)
    assert (prod.role, prod.warehouse) == ("PROD_TRANSFORMER", "PROD_WH")
    dev = build_snowflake_resource(
        ecommerce(), env={**settings, "DYNAMIC_TABLES_ENVIRONMENT": "dev"}
    )
    assert (dev.role, dev.warehouse) == ("DEV_TRANSFORMER", "DEV_WH")
