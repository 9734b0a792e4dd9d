"""Assemble one tenant's Dagster definitions from its validated declarations.

Beside the specs, sensors, checks and resources: the tenant's `scheduler: DISABLE` Dynamic
Tables as one executable multi-asset (`orchestrated.build_orchestrated_refresh`, which also
holds their data tests), its other declared data tests as one subsettable multi-asset check
(`health.data_tests.build_data_test_checks`),
and, for sources whose tests run on a cron (`data_tests_cron`), one schedule per cron and time
zone selecting those sources' tests (`source_data_tests_schedules`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import dagster as dg
from dagster_snowflake import SnowflakeResource

from dagster_dynamic_tables.declarations.models import SourceTable, Tenant
from dagster_dynamic_tables.definitions.orchestrated import build_orchestrated_refresh
from dagster_dynamic_tables.definitions.resources import (
    MONITORING_RESOURCE_KEY,
    build_monitoring_resource,
    build_snowflake_resource,
)
from dagster_dynamic_tables.definitions.specs import build_asset_specs, orchestrated_by_dagster
from dagster_dynamic_tables.freshness.sensor import build_freshness_sensor
from dagster_dynamic_tables.gc_pause import without_gc
from dagster_dynamic_tables.health.checks import (
    build_dynamic_table_checks,
    check_runs_in_process_executor,
)
from dagster_dynamic_tables.health.data_tests import (
    build_data_test_checks,
    check_key,
    plan_data_tests,
)
from dagster_dynamic_tables.sql.data_tests import PlannedDataTest

AUTOMATION_SENSOR_NAME = "automation_condition_sensor"
DEFAULT_DATA_TESTS_TIMEZONE = "UTC"


def source_data_tests_schedule_name(tenant_slug: str, index: int = 0) -> str:
    """`<slug>_source_data_tests` for the tenant's first cron, `..._2`, `..._3` for others."""
    base = f"{tenant_slug}_source_data_tests"
    return base if index == 0 else f"{base}_{index + 1}"


def source_data_tests_schedules(
    tenant: Tenant, planned: Sequence[PlannedDataTest]
) -> list[dg.ScheduleDefinition]:
    """One schedule per distinct (`data_tests_cron`, `data_tests_timezone`) of the tenant's
    sources (in declaration order), selecting the data tests of those sources: a run of checks
    only, executed in the run's process. Default status RUNNING, as the sensors."""
    groups: dict[tuple[str, str], list[SourceTable]] = {}
    for source in tenant.sources:
        if source.data_tests_cron is not None and source.data_tests:
            zone = source.data_tests_timezone or DEFAULT_DATA_TESTS_TIMEZONE
            groups.setdefault((source.data_tests_cron, zone), []).append(source)
    schedules: list[dg.ScheduleDefinition] = []
    for index, ((cron, zone), sources) in enumerate(groups.items()):
        keys = {tuple(tenant.key_path(source)) for source in sources}
        checks = [check_key(p) for p in planned if p.asset_key in keys]
        names = ", ".join(source.name for source in sources)
        schedules.append(
            dg.ScheduleDefinition(
                name=source_data_tests_schedule_name(tenant.slug, index),
                cron_schedule=cron,
                execution_timezone=zone,
                target=dg.AssetSelection.checks(*checks),
                description=f"Runs the data tests of {names} ({cron}, {zone}).",
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        )
    return schedules


def build_tenant_definitions(
    tenant: Tenant, *, env: Mapping[str, str] | None = None
) -> dg.Definitions:
    """Specs, the orchestrated refresh of DISABLE tables, freshness sensor, health checks, data
    tests, a RUNNING automation sensor and the `snowflake` resource for one tenant (and
    `snowflake_monitoring`, which the sensor then uses, when a monitoring warehouse is set: see
    `resources.build_monitoring_resource`).

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
        assets: list[dg.AssetSpec | dg.AssetsDefinition] = [*build_asset_specs(tenant)]
        planned = plan_data_tests(tenant)
        orchestrated = {
            tuple(tenant.key_path(dt))
            for dt in tenant.dynamic_tables
            if orchestrated_by_dagster(dt)
        }
        if orchestrated:
            # Their data tests are checks of the multi-asset that refreshes them (see there).
            assets.append(build_orchestrated_refresh(tenant, data_tests=planned))
        checks: list[dg.AssetChecksDefinition] = list(build_dynamic_table_checks(tenant))
        # A check-only step runs after the assets its checks depend on: a relationships test
        # whose parent Dagster refreshes would make a cycle with a blocking test upstream of it.
        others = [
            replace(p, parent_key=None) if p.parent_key in orchestrated else p
            for p in planned
            if p.asset_key not in orchestrated
        ]
        data_tests = build_data_test_checks(tenant.slug, others)
        if data_tests is not None:
            checks.append(data_tests)
        return dg.Definitions(
            assets=assets,
            asset_checks=checks,
            schedules=source_data_tests_schedules(tenant, planned),
            sensors=[
                build_freshness_sensor(tenant, resource_key=sensor_resource),
                # Dagster's implicit automation sensor starts STOPPED on a fresh instance, and then
                # nothing downstream of a refresh ever fires: ship one that is RUNNING by default.
                dg.AutomationConditionSensorDefinition(
                    name=AUTOMATION_SENSOR_NAME,
                    # The assets with a condition: the tenant's DISABLE Dynamic Tables and its
                    # own Python assets (sources, other Dynamic Tables and views have none).
                    target=dg.AssetSelection.all(),
                    default_status=dg.DefaultSensorStatus.RUNNING,
                ),
            ],
            resources=resources,
            executor=check_runs_in_process_executor,
        )
