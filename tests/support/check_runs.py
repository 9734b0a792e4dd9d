"""Runs of a tenant's health checks as the UI's "Execute checks" starts them: a job `health`
selecting every asset check, beside the tenant's assets and its `snowflake` resource."""

from __future__ import annotations

import dagster as dg
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.health.checks import build_dynamic_table_checks
from dagster_snowflake import SnowflakeResource


def health_checks_definitions(
    tenant: Tenant, resource: SnowflakeResource, executor: dg.ExecutorDefinition | None = None
) -> dg.Definitions:
    """The tenant's assets and health checks, `resource`, and the job `health` of every check
    (with `executor`, else Dagster's default)."""
    job = dg.define_asset_job("health", selection=dg.AssetSelection.all_asset_checks())
    return dg.Definitions(
        assets=build_asset_specs(tenant),
        asset_checks=build_dynamic_table_checks(tenant),
        jobs=[job],
        resources={"snowflake": resource},
        executor=executor,
    )


def execute_health_checks(tenant: Tenant, resource: SnowflakeResource) -> dg.ExecuteInProcessResult:
    """One in-process run of the job `health` on an ephemeral instance; its result, failed or
    not (its events stay readable)."""
    defs = health_checks_definitions(tenant, resource)
    with dg.DagsterInstance.ephemeral() as instance:
        return defs.resolve_job_def("health").execute_in_process(
            instance=instance, raise_on_error=False
        )
