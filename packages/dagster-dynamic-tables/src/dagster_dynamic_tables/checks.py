"""The per-tenant health checks as Dagster definitions.

One `@multi_asset_check(can_subset=True)` per DT declares its four checks, so they show in the UI
before any evaluation. The freshness sensor supplies evaluations on its own; running a DT's checks
from the UI asks Snowflake once (the state statement) and evaluates with the same code.

Why one definition per DT and not one per tenant: Dagster rebuilds an `AssetChecksDefinition`
for every check key over all the specs of the definition that holds it when it resolves the asset
graph of a YAML component (`RepositoryData.get_asset_checks_defs_by_key`). One definition for the
whole tenant makes loading quadratic in the number of DTs (about a minute for 1,000 DTs); one per
DT keeps it linear (`tests/benchmarks/bench_specs.py`).
"""

# No `from __future__ import annotations`: Dagster reads the check function's annotations
# (context type, resource type) at definition time.
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import dagster as dg
from dagster_snowflake import SnowflakeResource

from dagster_dynamic_tables.declarations import DynamicTable, Tenant
from dagster_dynamic_tables.health import (
    CHECK_NAMES,
    MATCHES_DECLARATION,
    REFRESH_SUCCEEDED,
    SCHEDULING_ACTIVE,
    WITHIN_TARGET_LAG,
    evaluate_dynamic_table,
    to_check_result,
)
from dagster_dynamic_tables.queries import (
    EXPECTED_FAULTS,
    describe_fault,
    fetch_states,
    read_snowflake,
)

CHECK_DESCRIPTIONS = {
    REFRESH_SUCCEEDED: (
        "The last completed refresh is not FAILED, UPSTREAM_FAILED or CANCELLED (SKIPPED passes)."
    ),
    SCHEDULING_ACTIVE: (
        "Snowflake schedules refreshes: the table is not SUSPENDED (a table declared with "
        "scheduler: DISABLE passes: it refreshes only when asked)."
    ),
    WITHIN_TARGET_LAG: (
        "Now minus the latest data timestamp is within the target lag "
        "(WARN above 1.5x, ERROR above 2x; DOWNSTREAM tables and tables with scheduler: "
        "DISABLE pass)."
    ),
    MATCHES_DECLARATION: (
        "Target lag, refresh mode (a declared AUTO matches the mode Snowflake chose), warehouse "
        "and query (whitespace and keyword case aside) in Snowflake match the YAML."
    ),
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_check_specs(tenant: Tenant, dt: DynamicTable) -> list[dg.AssetCheckSpec]:
    """The four check specs of one DT of the tenant."""
    return [
        dg.AssetCheckSpec(
            name=check,
            asset=dg.AssetKey(tenant.key_path(dt)),
            description=CHECK_DESCRIPTIONS[check],
        )
        for check in CHECK_NAMES
    ]


def build_dynamic_table_checks(
    tenant: Tenant, *, clock: Callable[[], datetime] = _utc_now
) -> list[dg.AssetChecksDefinition]:
    """The tenant's DT health checks: one definition per DT, none when it declares no DT.

    Executing them (from the UI, or a job) reads the DT's state from Snowflake through the
    `snowflake` resource; the freshness sensor reports the same evaluations without a run.
    """
    return [_build_checks_of(tenant, dt, clock) for dt in tenant.dynamic_tables]


def _build_checks_of(
    tenant: Tenant, dt: DynamicTable, clock: Callable[[], datetime]
) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(tenant.key_path(dt))

    @dg.multi_asset_check(
        specs=build_check_specs(tenant, dt),
        can_subset=True,
        name=f"{tenant.slug}__{dt.name}__health",
        description=f"Health of the Snowflake Dynamic Table {dt.qualified_name.resolved}.",
    )
    def dynamic_table_health(
        context: dg.AssetCheckExecutionContext, snowflake: SnowflakeResource
    ) -> Iterator[dg.AssetCheckResult]:
        selected = context.selected_asset_check_keys
        try:
            states = read_snowflake(snowflake, lambda connection: fetch_states(connection, [dt]))
        except EXPECTED_FAULTS as error:
            reason = describe_fault(error, snowflake)
            if reason is None:
                raise
            # Unknown health is not a failed check: the run fails, saying why and how to fix it.
            raise dg.Failure(description=reason) from error
        state = states.get(dt.qualified_name.resolved)
        for outcome in evaluate_dynamic_table(dt, state, clock()):
            if dg.AssetCheckKey(key, outcome.check_name) in selected:
                yield to_check_result(key, outcome)

    return dynamic_table_health
