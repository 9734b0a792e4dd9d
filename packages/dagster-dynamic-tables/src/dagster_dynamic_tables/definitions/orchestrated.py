"""Orchestrated Dynamic Tables: a tenant's `scheduler: DISABLE` Dynamic Tables as one executable
multi-asset that Dagster materializes by refreshing them in Snowflake (issue 18).

Entry API:

- `build_orchestrated_refresh(tenant, tables=None, *, specs=None) -> dg.AssetsDefinition`: one
  `@dg.multi_asset` per tenant over its DISABLE Dynamic Tables (all of them by default),
  `can_subset=True`, requiring the resource `snowflake` (`dagster_snowflake.SnowflakeResource`).
  Its specs are `specs[name]` when the caller gives them, else `orchestrated_spec`: the key,
  group, owners, kinds, deps, metadata and description (refreshed by Dagster) of
  `specs.build_spec`, but executable (not virtual), skippable, with the table's automation
  condition. `specs.build_asset_specs` leaves these tables out: this is their one definition.
- `orchestrated_spec(tenant, dt)`: that spec for one table.
- `automation_condition_for(declared) -> dg.AutomationCondition`: `eager` ->
  `AutomationCondition.eager()`, `{on_cron, timezone}` -> `AutomationCondition.on_cron(cron,
  timezone)` (values from `declarations.orchestration`).

A run refreshes the selected tables over one connection, upstream first within the tenant
(`declarations.graph.upstream_first`: a manual refresh of a DISABLE table does not cascade in
Snowflake, so the platform orders them), each with `sql.manual_refresh.refresh_dynamic_table`
(synchronous). A refresh that changed data yields a `dg.MaterializeResult` whose metadata is the
freshness sensor's for the same refresh (`freshness.events.materialization`: data timestamp,
action, trigger, start/end time, duration, the refresh statistics, query id, and the columns:
`freshness.columns.columns_for_run`, one SHOW DYNAMIC TABLES and, for a table created again
since its last materialization, one SHOW COLUMNS, both without a warehouse) and whose data version
is the sensor's (the data timestamp, `dagster/data_version`): the sensor compares a refresh with
the latest materialization's data version, so it does not record this refresh a second time; and
should the sensor's tick land between the refresh's end and the run's event, the run finds the
sensor's materialization with that data version (`recorded_version`) and yields none. A
NO_DATA refresh yields nothing (the sensor records none either: downstream `eager()` assets do not
run on no change) and says so in the run's log. A refresh that did not succeed (FAILED,
UPSTREAM_FAILED, CANCELLED, or a statement Snowflake refused) fails the step with `dg.Failure`
carrying Snowflake's code and message and the fix; the tables after it are not refreshed, those
before it keep their materializations.

Data tests: the declared tests of these tables are checks of this multi-asset (not of the
tenant's `health.data_tests` definition: a blocking check on a table makes Dagster order the
steps of its downstream tables after the check's step, which, for tables refreshed in one step,
would be a cycle). After each refresh, the table's selected tests run over the same connection
(Dagster selects an asset's checks with it: once per refresh); a table whose selected checks
run without it (the freshness sensor's test run after a refresh made outside Dagster) is tested
without a refresh. A blocking test of severity error that fails holds back the selected tables
downstream of it in this run (not refreshed, not tested: logged), and Dagster fails the step.
"""

# No `from __future__ import annotations`: Dagster reads the op's parameter annotations (the
# context type, the `snowflake` resource) at definition time.

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_snowflake import SnowflakeResource

from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.declarations.graph import upstream_first
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.declarations.orchestration import (
    EAGER,
    AutomationConditionDeclaration,
    effective_automation_condition,
)
from dagster_dynamic_tables.definitions.specs import build_spec
from dagster_dynamic_tables.errors import ManualRefreshError
from dagster_dynamic_tables.freshness.columns import columns_for_run
from dagster_dynamic_tables.freshness.events import materialization
from dagster_dynamic_tables.health.data_tests import (
    build_data_test_specs,
    check_key,
    run_data_tests,
)
from dagster_dynamic_tables.sql.data_tests import PlannedDataTest
from dagster_dynamic_tables.sql.manual_refresh import (
    MONITOR_FIX,
    ManualRefresh,
    refresh_dynamic_table,
)
from dagster_dynamic_tables.sql.statements import Connection


def automation_condition_for(
    declared: AutomationConditionDeclaration,
) -> dg.AutomationCondition[Any]:
    """Dagster's condition for a declared `automation_condition`."""
    if declared == EAGER:
        return dg.AutomationCondition.eager()
    return dg.AutomationCondition.on_cron(declared.on_cron, declared.timezone)


def orchestrated_spec(tenant: Tenant, dt: DynamicTable) -> dg.AssetSpec:
    """The executable spec of one DISABLE table: `specs.build_spec`'s, refreshed by Dagster."""
    declared = effective_automation_condition(dt.scheduler, dt.automation_condition)
    spec = build_spec(tenant, dt)
    # dagster's signature leaves AutomationCondition's type argument open:
    return spec.replace_attributes(  # pyright: ignore[reportUnknownMemberType]
        is_virtual=False,
        skippable=True,  # a NO_DATA refresh records no materialization
        automation_condition=None if declared is None else automation_condition_for(declared),
    )


def _tables(tenant: Tenant, tables: Sequence[DynamicTable] | None) -> list[DynamicTable]:
    chosen = [dt for dt in tenant.dynamic_tables if dt.scheduler == "DISABLE"]
    if tables is not None:
        names = {dt.name for dt in tables}
        enabled = [dt.name for dt in tables if dt.scheduler != "DISABLE"]
        if enabled:
            raise ValueError(
                f"{', '.join(enabled)} of tenant {tenant.slug} have scheduler ENABLE: Snowflake "
                "refreshes them; only scheduler: DISABLE tables are refreshed by Dagster"
            )
        chosen = [dt for dt in chosen if dt.name in names]
    if not chosen:
        raise ValueError(f"tenant {tenant.slug} has no scheduler: DISABLE Dynamic Table to refresh")
    order = {item.name: index for index, item in enumerate(upstream_first(tenant))}
    return sorted(chosen, key=lambda dt: order[dt.name])


def _failure(key: dg.AssetKey, error: ManualRefreshError) -> dg.Failure:
    refresh = error.refresh
    values: dict[str, str] = {
        md.QUALIFIED_NAME: refresh.qualified_name,
        md.STATE: refresh.state,
        md.STATE_CODE: refresh.state_code or "",
        md.STATE_MESSAGE: refresh.state_message or "",
        md.FIX: error.fix,
    }
    if refresh.query_id:
        values[md.QUERY_ID] = refresh.query_id
    return dg.Failure(
        description=f"{key.to_user_string()}: {error}",
        metadata={name: value for name, value in values.items() if value},
        allow_retries=False,
    )


def recorded_version(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    """The data version of the latest materialization `instance` holds for `key`: the sensor may
    have recorded the refresh in the moment between its end and the run's event."""
    entry = instance.get_latest_materialization_event(key)
    event = entry.asset_materialization if entry is not None else None
    return (event.tags or {}).get(md.DATA_VERSION_TAG) if event is not None else None


def _result(
    context: dg.AssetExecutionContext,
    connection: Connection,
    key: dg.AssetKey,
    dt: DynamicTable,
    refresh: ManualRefresh,
) -> dg.MaterializeResult[Any] | None:
    if refresh.record.data_timestamp is None:
        # No history row (no MONITOR): the refresh ran, what it did is unknown.
        context.log.warning(
            f"{key.to_user_string()}: refreshed, but Snowflake shows no refresh history for it. "
            f"Fix: {MONITOR_FIX.format(table=dt.qualified_name.sql)}."
        )
        values: dict[str, dg.MetadataValue] = {
            md.SNOWFLAKE_TABLE: dg.MetadataValue.text(dt.qualified_name.resolved)
        }
        if refresh.record.query_id:
            values[md.QUERY_ID] = dg.MetadataValue.text(refresh.record.query_id)
        return dg.MaterializeResult(asset_key=key, metadata=values)
    if not refresh.changed_data:
        context.log.info(
            f"{key.to_user_string()}: Snowflake refreshed it with action "
            f"{refresh.record.refresh_action}: no data changed, so no materialization is recorded "
            "(as the freshness sensor records none)."
        )
        return None
    event = materialization(key, dt, refresh.record)
    version = (event.tags or {})[md.DATA_VERSION_TAG]
    if recorded_version(context.instance, key) == version:
        context.log.info(
            f"{key.to_user_string()}: the freshness sensor already recorded this refresh "
            f"(data version {version}): not recorded twice."
        )
        return None
    event = columns_for_run(connection, context.instance, event, dt.qualified_name)
    return dg.MaterializeResult(
        asset_key=key, metadata=dict(event.metadata), data_version=dg.DataVersion(version)
    )


def _blocks(planned: PlannedDataTest, result: dg.AssetCheckResult) -> bool:
    return planned.test.blocking and not result.passed and planned.test.severity == "error"


def build_orchestrated_refresh(
    tenant: Tenant,
    tables: Sequence[DynamicTable] | None = None,
    *,
    specs: Mapping[str, dg.AssetSpec] | None = None,
    data_tests: Sequence[PlannedDataTest] = (),
) -> dg.AssetsDefinition:
    """The multi-asset that refreshes `tenant`'s DISABLE Dynamic Tables (see the module
    docstring); `tables` narrows them, `specs` (by table name) replaces the specs it builds,
    `data_tests` are the planned tests (`health.data_tests.plan_data_tests`) of which those of
    these tables become its checks. Raises `ValueError` for a table Snowflake schedules, or when
    there is no table to refresh."""
    ordered = _tables(tenant, tables)
    chosen = {
        dt.name: (specs or {}).get(dt.name) or orchestrated_spec(tenant, dt) for dt in ordered
    }
    keys = {tuple(spec.key.path): name for name, spec in chosen.items()}
    tests: dict[str, list[PlannedDataTest]] = {}
    for planned in data_tests:
        if planned.asset_key in keys:
            tests.setdefault(keys[planned.asset_key], []).append(planned)

    @dg.multi_asset(
        name=f"{tenant.slug}_orchestrated_dynamic_tables",
        specs=list(chosen.values()),
        check_specs=build_data_test_specs(p for table in tests.values() for p in table),
        can_subset=True,
    )
    def refresh_dynamic_tables(
        context: dg.AssetExecutionContext, snowflake: SnowflakeResource
    ) -> Iterator[dg.MaterializeResult[Any] | dg.AssetCheckResult]:
        checks = context.selected_asset_check_keys
        blocked: set[str] = set()
        with snowflake.get_connection() as connection:
            for dt in ordered:
                key = chosen[dt.name].key
                refresh = key in context.selected_asset_keys
                selected = [p for p in tests.get(dt.name, ()) if check_key(p) in checks]
                if not refresh and not selected:
                    continue
                upstream = {path[-1] for path in tenant.dep_keys(dt)} & blocked
                if upstream:
                    blocked.add(dt.name)
                    context.log.warning(
                        f"{key.to_user_string()}: not refreshed nor tested: a blocking data test "
                        f"of {', '.join(sorted(upstream))} failed."
                    )
                    continue
                if refresh:
                    yield from _refresh(context, connection, key, dt)
                for planned, result in zip(
                    selected, run_data_tests(connection, selected), strict=True
                ):
                    if _blocks(planned, result):
                        blocked.add(dt.name)
                    yield result

    return refresh_dynamic_tables


def _refresh(
    context: dg.AssetExecutionContext, connection: Connection, key: dg.AssetKey, dt: DynamicTable
) -> Iterator[dg.MaterializeResult[Any]]:
    context.log.info(f"{key.to_user_string()}: ALTER DYNAMIC TABLE ... REFRESH")
    try:
        refresh = refresh_dynamic_table(connection, dt)
    except ManualRefreshError as e:
        raise _failure(key, e) from e
    result = _result(context, connection, key, dt, refresh)
    if result is not None:
        yield result
