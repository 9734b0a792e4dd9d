"""Assemble one tenant's Dagster definitions from its validated declarations."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
from dagster_snowflake import SnowflakeResource

from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.definitions.resources import (
    MONITORING_RESOURCE_KEY,
    build_monitoring_resource,
    build_snowflake_resource,
)
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.freshness.sensor import build_freshness_sensor
from dagster_dynamic_tables.gc_pause import without_gc
from dagster_dynamic_tables.health.checks import (
    build_dynamic_table_checks,
    check_runs_in_process_executor,
)

AUTOMATION_SENSOR_NAME = "automation_condition_sensor"


def build_tenant_definitions(
    tenant: Tenant, *, env: Mapping[str, str] | None = None
) -> dg.Definitions:
    """Specs, freshness sensor, health checks, a RUNNING automation sensor and the `snowflake`
    resource for one tenant (and `snowflake_monitoring`, which the sensor then uses, when a
    monitoring warehouse is set: see `resources.build_monitoring_resource`).

    The executor is Dagster's default, except that a run made only of asset checks executes in
    the run's process (see `checks`); it is the executor of the whole code location, so another
    `Definitions` in the tenant's `defs/` folder cannot set one too (Dagster refuses two).
    """
    resources: dict[str, SnowflakeResource] = {
        "snowflake": build_snowflake_resource(tenant, env=env)
    }
    monitoring = build_monitoring_resource(tenant, env=env)
    if monitoring is not None:
        resources[MONITORING_RESOURCE_KEY] = monitoring
    sensor_resource = MONITORING_RESOURCE_KEY if monitoring is not None else "snowflake"
    with without_gc():  # thousands of definitions for a large tenant, all kept: see without_gc
        return dg.Definitions(
            assets=build_asset_specs(tenant),
            asset_checks=build_dynamic_table_checks(tenant),
            sensors=[
                build_freshness_sensor(tenant, resource_key=sensor_resource),
                # Dagster's implicit automation sensor starts STOPPED on a fresh instance, and then
                # nothing downstream of a refresh ever fires: ship one that is RUNNING by default.
                dg.AutomationConditionSensorDefinition(
                    name=AUTOMATION_SENSOR_NAME,
                    # The executable assets: Dynamic Tables, views and sources have no condition.
                    target=dg.AssetSelection.all(),
                    default_status=dg.DefaultSensorStatus.RUNNING,
                ),
            ],
            resources=resources,
            executor=check_runs_in_process_executor,
        )
