"""Orchestrated Dynamic Tables: a tenant's `scheduler: DISABLE` tables as one executable
multi-asset that refreshes them in Snowflake (the stand-in here), upstream first, recording what
the freshness sensor records for a refresh; a failing refresh fails the step with Snowflake's
code and message and the fix."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pytest
import snowflake.connector
from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable, Tenant
from dagster_dynamic_tables.declarations.orchestration import OnCron
from dagster_dynamic_tables.definitions.orchestrated import (
    automation_condition_for,
    build_orchestrated_refresh,
    orchestrated_spec,
    recorded_version,
)
from dagster_dynamic_tables.definitions.specs import build_spec
from dagster_dynamic_tables.freshness.columns import with_columns
from dagster_dynamic_tables.freshness.cursor import format_data_version
from dagster_dynamic_tables.freshness.events import materialization
from dagster_dynamic_tables.freshness.sensor import build_freshness_sensor
from dagster_dynamic_tables.sql.manual_refresh import REFRESH_FIXES
from dagster_dynamic_tables.sql.records import RefreshRecord
from dagster_snowflake import SnowflakeResource

Connect = Callable[..., snowflake.connector.SnowflakeConnection]
BASE = dg.AssetKey(["shop", "base"])
DOUBLED = dg.AssetKey(["shop", "doubled"])


def tenant_for(database: str) -> Tenant:
    """`doubled` reads `base`: declared downstream first, so declaration order is not graph
    order; `scheduled` is Snowflake's (ENABLE) and never part of the multi-asset."""

    def table(name: str, query: str, deps: list[str], scheduler: str = "DISABLE") -> DynamicTable:
        return DynamicTable.model_validate(
            {
                "name": name,
                "table": f"{database}.S.{name.upper()}",
                "target_lag": "1 minute",
                "warehouse": "WH",
                "scheduler": scheduler,
                "query": query,
                "deps": deps,
                "description": f"The {name} table.",
            }
        )

    return Tenant(
        "shop",
        sources=(SourceTable(name="orders", table=f"{database}.S.ORDERS"),),
        dynamic_tables=(
            table("doubled", f"SELECT ID, AMOUNT * 2 AS D FROM {database}.S.BASE", ["base"]),
            table("base", f"SELECT ID, AMOUNT FROM {database}.S.ORDERS", ["orders"]),
            table("scheduled", f"SELECT ID FROM {database}.S.ORDERS", ["orders"], "ENABLE"),
        ),
    )


def test_automation_conditions_are_dagsters_own():
    assert automation_condition_for("eager") == dg.AutomationCondition.eager()
    assert automation_condition_for(
        OnCron(on_cron="0 6 * * *", timezone="Europe/Paris")
    ) == dg.AutomationCondition.on_cron("0 6 * * *", "Europe/Paris")


def test_the_spec_is_the_declared_one_made_executable_with_an_eager_default():
    tenant = tenant_for("ANALYTICS")
    base = tenant.dynamic_tables[1]
    declared = build_spec(tenant, base)
    spec = orchestrated_spec(tenant, base)
    assert not spec.is_virtual
    assert declared.is_virtual
    same = ("key", "group_name", "owners", "kinds", "metadata", "deps")
    assert {name: getattr(spec, name) for name in same} == {
        name: getattr(declared, name) for name in same
    }
    assert spec.automation_condition == dg.AutomationCondition.eager()
    assert spec.description == (
        "The base table.\n\nSnowflake Dynamic Table ANALYTICS.S.BASE (scheduler DISABLE, refresh "
        'mode: AUTO), refreshed by Dagster: materializing it runs ALTER DYNAMIC TABLE "ANALYTICS".'
        '"S"."BASE" REFRESH (its upstream tables of this tenant first when selected together) and '
        "records the refresh. A refresh made outside Dagster is recorded by the freshness sensor."
    )


def test_only_disable_tables_are_orchestrated():
    tenant = tenant_for("ANALYTICS")
    assets = build_orchestrated_refresh(tenant)
    assert set(assets.keys) == {BASE, DOUBLED}
    assert assets.can_subset
    assert "snowflake" in assets.required_resource_keys
    with pytest.raises(ValueError, match=r"^scheduled of tenant shop have scheduler ENABLE"):
        build_orchestrated_refresh(tenant, [tenant.dynamic_tables[2]])
    alone = Tenant("solo", dynamic_tables=(tenant.dynamic_tables[2],))
    with pytest.raises(ValueError, match=r"^tenant solo has no scheduler: DISABLE Dynamic Table"):
        build_orchestrated_refresh(alone)


class StandIn:
    def __init__(self, connect: Connect, connection_args: dict[str, Any]) -> None:
        self.cursor = connect().cursor()
        self.database = f"ORCHESTRATED_{uuid.uuid4().hex[:8].upper()}"
        self.tenant = tenant_for(self.database)
        for statement in (
            f"CREATE DATABASE {self.database}",
            f"CREATE SCHEMA {self.database}.S",
            f"CREATE TABLE {self.database}.S.ORDERS (ID INT, AMOUNT INT)",
            f"INSERT INTO {self.database}.S.ORDERS VALUES (1, 10)",
        ):
            self.cursor.execute(statement)
        for dt in (self.tenant.dynamic_tables[1], self.tenant.dynamic_tables[0]):
            self.cursor.execute(
                f"CREATE DYNAMIC TABLE {dt.table} TARGET_LAG = '1 minute' WAREHOUSE = WH "
                f"SCHEDULER = DISABLE AS {dt.query}"
            )
        scheduled = self.tenant.dynamic_tables[2]
        self.cursor.execute(
            f"CREATE DYNAMIC TABLE {scheduled.table} TARGET_LAG = '1 minute' WAREHOUSE = WH AS "
            f"{scheduled.query}"
        )
        self.resource = SnowflakeResource(
            account="local",
            user="local",
            password="local",
            autocommit=True,
            additional_snowflake_connection_args=connection_args,
        )

    def materialize(
        self, instance: dg.DagsterInstance, selection: list[dg.AssetKey] | None = None
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [build_orchestrated_refresh(self.tenant)],
            instance=instance,
            resources={"snowflake": self.resource},
            selection=selection,
            raise_on_error=False,
        )


@pytest.fixture
def stand_in(local_snowflake_connect: Connect, local_snowflake_connection_args) -> StandIn:
    return StandIn(local_snowflake_connect, local_snowflake_connection_args)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _materializations(result: dg.ExecuteInProcessResult) -> list[dg.AssetMaterialization]:
    return [
        event.step_materialization_data.materialization
        for event in result.get_asset_materialization_events()
    ]


def test_tables_selected_together_refresh_upstream_first_with_the_sensors_metadata(
    stand_in: StandIn, instance: dg.DagsterInstance
):
    stand_in.cursor.execute(f"INSERT INTO {stand_in.database}.S.ORDERS VALUES (2, 20)")

    result = stand_in.materialize(instance)

    assert result.success
    events = _materializations(result)
    assert [event.asset_key for event in events] == [BASE, DOUBLED]  # upstream first
    full = RefreshRecord(
        "DB.S.T", "SUCCEEDED", datetime(2026, 11, 20, 10, tzinfo=UTC), query_id="q",
        refresh_start_time=datetime(2026, 11, 20, 10, tzinfo=UTC),
        refresh_end_time=datetime(2026, 11, 20, 10, 1, tzinfo=UTC), refresh_action="FULL",
        refresh_trigger="MANUAL", rows_inserted=1, rows_deleted=0, rows_copied=0,
        partitions_added=1, partitions_removed=0, queued_time_ms=0, compilation_time_ms=1,
        execution_time_ms=2,
    )  # fmt: skip
    # The sensor's metadata for a refresh with every statistic, the table's columns and when it
    # was created (issue 20).
    sensor_keys = set(
        with_columns(
            materialization(BASE, stand_in.tenant.dynamic_tables[1], full),
            dg.TableSchema(columns=[dg.TableColumn("ID", "NUMBER(38,0)")]),
            datetime(2026, 11, 20, 9, tzinfo=UTC),
        ).metadata
    )
    for event in events:
        assert set(event.metadata) == sensor_keys
        stamp = event.metadata[md.DATA_TIMESTAMP].value
        assert isinstance(stamp, float)
        assert (event.tags or {})[md.DATA_VERSION_TAG] == format_data_version(
            datetime.fromtimestamp(stamp, UTC)
        )
        assert event.metadata[md.REFRESH_TRIGGER].value == "MANUAL"
    assert events[0].metadata[md.ROWS_INSERTED].value == 1  # the new order
    schema = events[0].metadata[md.COLUMN_SCHEMA].value
    assert isinstance(schema, dg.TableSchema)
    assert schema.columns[0].name == "ID"
    assert events[0].metadata[md.SNOWFLAKE_TABLE].value == f"{stand_in.database}.S.BASE"
    stamps = [event.metadata[md.DATA_TIMESTAMP].value for event in events]
    assert isinstance(stamps[0], float)
    assert isinstance(stamps[1], float)
    assert stamps[0] < stamps[1]


def test_a_subset_refreshes_only_what_is_selected_and_no_data_records_nothing(
    stand_in: StandIn, instance: dg.DagsterInstance
):
    stand_in.cursor.execute(f"INSERT INTO {stand_in.database}.S.ORDERS VALUES (2, 20)")
    first = stand_in.materialize(instance, [BASE])
    assert first.success
    assert [event.asset_key for event in _materializations(first)] == [BASE]

    again = stand_in.materialize(instance, [BASE])  # nothing changed since: NO_DATA
    assert again.success
    assert _materializations(again) == []


def test_a_refresh_that_fails_fails_the_step_with_code_message_and_fix(
    stand_in: StandIn, instance: dg.DagsterInstance
):
    database = stand_in.database
    stand_in.cursor.execute(f"CREATE OR REPLACE TABLE {database}.S.ORDERS (ID INT)")

    result = stand_in.materialize(instance)

    assert not result.success
    assert _materializations(result) == []  # base failed: doubled was not refreshed
    failure = next(event for event in result.all_events if event.is_step_failure)
    data = failure.step_failure_data
    assert data is not None
    assert data.user_failure_data is not None
    assert data.user_failure_data.description == (
        f"shop/base: The manual refresh of {database}.S.BASE is FAILED (code 000904): SQL "
        "compilation error:\ninvalid identifier 'AMOUNT'. Fix: the query names a column its "
        "inputs do not have (anymore): correct the query or the input table, deploy it (`uv run "
        "dynamic-tables plan`, then `apply`) and materialize again."
    )
    values = {key: value.value for key, value in data.user_failure_data.metadata.items()}
    assert values == {
        md.QUALIFIED_NAME: f"{database}.S.BASE",
        md.STATE: "FAILED",
        md.STATE_CODE: "000904",
        md.STATE_MESSAGE: "SQL compilation error:\ninvalid identifier 'AMOUNT'",
        "fix": REFRESH_FIXES["000904"],
        md.QUERY_ID: values[md.QUERY_ID],
    }


def test_the_freshness_sensor_records_a_refresh_made_outside_dagster_not_one_dagster_made(
    stand_in: StandIn, instance: dg.DagsterInstance
):
    sensor = build_freshness_sensor(stand_in.tenant)
    cursor: list[str | None] = [None]

    def tick() -> set[dg.AssetKey]:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor[0], resources={"snowflake": stand_in.resource}
        )
        result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
        cursor[0] = result.cursor
        return {e.asset_key for e in result.asset_events if isinstance(e, dg.AssetMaterialization)}

    stand_in.cursor.execute(f"INSERT INTO {stand_in.database}.S.ORDERS VALUES (2, 20)")
    assert stand_in.materialize(instance).success
    # Cold start: the ENABLE table's creation refresh is recorded; the refreshes Dagster made
    # carry the data version the sensor compares with: not recorded twice.
    assert tick() == {dg.AssetKey(["shop", "scheduled"])}

    stand_in.cursor.execute(f"INSERT INTO {stand_in.database}.S.ORDERS VALUES (3, 30)")
    stand_in.cursor.execute(f"ALTER DYNAMIC TABLE {stand_in.database}.S.BASE REFRESH")
    assert tick() == {BASE}  # a manual refresh made outside Dagster


def test_the_recorded_version_is_the_latest_materializations(instance: dg.DagsterInstance):
    assert recorded_version(instance, BASE) is None
    instance.report_runless_asset_event(dg.AssetMaterialization(BASE))
    assert recorded_version(instance, BASE) is None
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            BASE, tags={md.DATA_VERSION_TAG: "2026-11-20T10:00:00.000000+00:00"}
        )
    )
    assert recorded_version(instance, BASE) == "2026-11-20T10:00:00.000000+00:00"
