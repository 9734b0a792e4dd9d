"""Downstream work starts when a Dynamic Table refresh lands, not when its source changes.

A downstream asset with plain `AutomationCondition.eager()` is requested after the sensor's
runless materialization of the (virtual) DT, and never after a materialization of the raw table
the DT reads, nor after the DT's NO_DATA refreshes over a quiet period.
"""

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.freshness.events import materialization
from dagster_dynamic_tables.freshness.sensor import build_freshness_sensor
from dagster_dynamic_tables.sql.records import RefreshRecord
from support.shop import create_shop_objects, shop_tenant, stand_in_resource

# dagster's own evaluate_automation_conditions() passes a beta parameter internally.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Parameter `include_sources` of function `AssetSelection.all`:dagster.BetaWarning"
)


ORDERS = dg.AssetKey(["shop", "orders"])
TOTALS = dg.AssetKey(["shop", "totals"])
REPORT = dg.AssetKey(["reporting", "totals_report"])


@dg.asset(key=REPORT, deps=[TOTALS], automation_condition=dg.AutomationCondition.eager())
def totals_report() -> None:
    """A downstream asset in another team's code, reading the DT."""


class Automation:
    """Evaluates the automation conditions tick after tick, as the automation sensor does."""

    def __init__(self, tenant: Tenant, instance: dg.DagsterInstance) -> None:
        self.defs = dg.Definitions(assets=[*build_asset_specs(tenant), totals_report])
        self.instance = instance
        self.cursor = None

    def requested(self) -> set[dg.AssetKey]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.cursor
        )
        self.cursor = result.cursor
        return {key for key in (ORDERS, TOTALS, REPORT) if result.get_num_requested(key)}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_eager_downstream_runs_after_the_dt_materialization_not_after_the_source(instance):
    tenant = shop_tenant("ANALYTICS")
    automation = Automation(tenant, instance)
    assert automation.requested() == set()  # the DT has never been recorded: nothing to run

    instance.report_runless_asset_event(dg.AssetMaterialization(ORDERS))
    assert automation.requested() == set()  # the source changed, the DT has not refreshed yet

    record = RefreshRecord(
        "ANALYTICS.S.TOTALS", "SUCCEEDED", datetime(2026, 11, 20, 10, tzinfo=UTC),
        refresh_action="INCREMENTAL",
    )  # fmt: skip
    instance.report_runless_asset_event(materialization(TOTALS, tenant.dynamic_tables[0], record))
    assert automation.requested() == {REPORT}
    assert automation.requested() == set()  # handled: not requested again

    instance.report_runless_asset_event(dg.AssetMaterialization(ORDERS))
    assert automation.requested() == set()


_databases = itertools.count()


def test_eager_downstream_runs_after_the_sensor_records_a_refresh_and_not_after_no_data(
    instance, local_snowflake_connect, local_snowflake_connection_args
):
    sql = local_snowflake_connect().cursor()
    database = f"AUTOMATION_{next(_databases)}"
    create_shop_objects(sql, database, orders="(1, 10)")
    tenant = shop_tenant(database)
    automation = Automation(tenant, instance)
    sensor = build_freshness_sensor(tenant)
    resource = stand_in_resource(local_snowflake_connection_args)
    cursor: list[str | None] = [None]

    def tick() -> None:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor[0], resources={"snowflake": resource}
        )
        result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
        cursor[0] = result.cursor

    assert automation.requested() == set()
    tick()  # cold start: records the creation refresh
    assert automation.requested() == {REPORT}

    sql.execute(f"INSERT INTO {database}.S.ORDERS VALUES (2, 20)")
    instance.report_runless_asset_event(dg.AssetMaterialization(ORDERS))  # e.g. the loader's event
    assert automation.requested() == set()  # the DT has not refreshed: downstream waits

    sql.execute(f"ALTER DYNAMIC TABLE {database}.S.TOTALS REFRESH")
    tick()
    assert automation.requested() == {REPORT}

    # A quiet period: Snowflake keeps refreshing (NO_DATA), which keeps the DT within its lag
    # (its freshness); downstream does not run again until the data changes.
    for _ in range(10):
        sql.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(61)")
        sql.execute(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER('{database}')")
        assert "NO_DATA" in str(sql.fetchone())
        tick()
        assert automation.requested() == set()
    sql.execute(f"INSERT INTO {database}.S.ORDERS VALUES (3, 30)")
    sql.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(61)")
    sql.execute(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER('{database}')")
    tick()
    assert automation.requested() == {REPORT}
