"""What the freshness sensor records beyond the refresh itself (issue 20), on real ticks against
the local stand-in (real connector, real `DagsterInstance`, events stored as the daemon stores
them): the refresh statistics as numeric metadata, and the column schemas of the Dynamic Table
(on its materializations) and of its source (as observations), read with SHOW COLUMNS only when
needed."""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.freshness.events import describe_events
from dagster_dynamic_tables.freshness.sensor import (
    FULL_READ_INTERVAL,
    SENSOR_NAME,
    build_freshness_sensor,
)
from dagster_dynamic_tables.health.checks import build_dynamic_table_checks
from dagster_dynamic_tables.metadata import COLUMN_SCHEMA, TABLE_CREATED_ON
from support.refresh_statistics import STATISTICS
from support.sensor_rows import KEY
from support.shop import create_shop_objects, shop_tenant, stand_in_resource

ORDERS = dg.AssetKey(["shop", "orders"])
_databases = itertools.count()


@dataclass
class Shop:
    """The shop tenant on a stand-in database of its own, its sensor, a real instance."""

    database: str
    sql: Any
    sensor: dg.SensorDefinition
    resource: Any
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)
    cursor: str | None = None
    now: datetime | None = None

    def run(self, statement: str) -> list[tuple[Any, ...]]:
        self.sql.execute(statement)
        return list(self.sql.fetchall())

    def statements(self) -> int:
        return int(self.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")[0][0])

    def tick(self) -> tuple[list[Any], int]:
        """One tick, stored as the daemon stores it: its events and how many statements it
        sent."""
        before = self.statements()
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources={"snowflake": self.resource}
        )
        result = self.sensor(context)
        sent = self.statements() - before - 1  # minus the count statement
        events: list[Any] = []
        if isinstance(result, dg.SensorResult):
            events = list(result.asset_events)
            for event in events:
                self.instance.report_runless_asset_event(event)
            self.cursor = result.cursor or self.cursor
        return events, sent

    def latest(self) -> dg.AssetMaterialization:
        entry = self.instance.get_latest_materialization_event(KEY)
        assert entry is not None
        assert entry.asset_materialization is not None
        return entry.asset_materialization

    def observations(self) -> list[dg.AssetObservation]:
        records = self.instance.fetch_observations(ORDERS, limit=100).records
        return [r.asset_observation for r in records if r.asset_observation]

    def change_source(self, amount: int) -> None:
        self.run(f"INSERT INTO {self.database}.S.ORDERS VALUES ({amount}, {amount})")
        self.run(f"ALTER DYNAMIC TABLE {self.database}.S.TOTALS REFRESH")


@pytest.fixture
def shop(local_snowflake_connect, local_snowflake_connection_args) -> Iterator[Shop]:
    database = f"SENSOR_METADATA_{next(_databases)}"
    sql = local_snowflake_connect().cursor()
    create_shop_objects(sql, database)
    tenant = shop_tenant(database)
    resource = stand_in_resource(local_snowflake_connection_args)
    holder: list[Shop] = []
    defs = dg.Definitions(
        assets=build_asset_specs(tenant),
        asset_checks=build_dynamic_table_checks(tenant),
        sensors=[build_freshness_sensor(tenant, clock=lambda: holder[0].now or datetime.now(UTC))],
        resources={"snowflake": resource},
    )
    holder.append(Shop(database, sql, defs.resolve_sensor_def(SENSOR_NAME), resource))
    yield holder[0]
    holder[0].instance.dispose()


def _numbers(event: dg.AssetMaterialization) -> dict[str, int]:
    return {
        name: value.value
        for name, value in event.metadata.items()
        if isinstance(value, dg.IntMetadataValue) and value.value is not None
    }


def test_refresh_statistics_are_stored_as_numbers_the_plots_tab_draws(shop):
    shop.tick()
    shop.change_source(3)  # a new ID: one row inserted, the two others rewritten
    shop.tick()
    numbers = _numbers(shop.latest())
    assert {k: numbers[k] for k in ("rows_inserted", "rows_deleted", "rows_copied")} == {
        "rows_inserted": 1,
        "rows_deleted": 0,
        "rows_copied": 2,
    }
    assert set(numbers) == set(STATISTICS)
    assert all(value >= 0 for value in numbers.values())
    # Dagster plots int and float metadata: the duration stays a float, the statistics ints.
    assert isinstance(shop.latest().metadata["refresh_duration_seconds"], dg.FloatMetadataValue)


def _columns(event: dg.AssetMaterialization | dg.AssetObservation) -> list[tuple[str, str, bool]]:
    value = event.metadata[COLUMN_SCHEMA]
    assert isinstance(value, dg.TableSchemaMetadataValue)
    return [(c.name, c.type, c.constraints.nullable) for c in value.schema.columns]


def test_the_column_schema_is_read_after_create_and_re_create_and_carried_over_otherwise(shop):
    events, sent = shop.tick()  # created: read with the source's (one SHOW COLUMNS IN SCHEMA)
    assert sent == 3
    # (the stand-in types SUM(INT) as FLOAT where Snowflake says NUMBER(38,0): see its README)
    assert [(name, nullable) for name, _, nullable in _columns(shop.latest())] == [
        ("ID", True),
        ("TOTAL", True),
    ]
    assert _columns(shop.latest())[0][1] == "NUMBER(38,0)"
    created = shop.latest().metadata[TABLE_CREATED_ON]

    shop.change_source(3)
    events, sent = shop.tick()  # a refresh: the columns carried over, no SHOW COLUMNS
    assert (len(events), sent) == (1, 2)
    assert _columns(shop.latest())[0] == ("ID", "NUMBER(38,0)", True)
    assert shop.latest().metadata[TABLE_CREATED_ON] == created

    assert shop.tick() == ([], 1)  # idle: SHOW only

    shop.run(
        f"CREATE OR REPLACE DYNAMIC TABLE {shop.database}.S.TOTALS TARGET_LAG = '1 minute' "
        f"WAREHOUSE = WH REFRESH_MODE = INCREMENTAL AS SELECT ID, SUM(AMOUNT) AS TOTAL, "
        f"COUNT(*) AS ORDERS FROM {shop.database}.S.ORDERS GROUP BY ID"
    )
    events, sent = shop.tick()  # re-created: read again (SHOW COLUMNS IN TABLE)
    assert sent == 3
    assert [name for name, _, _ in _columns(shop.latest())] == ["ID", "TOTAL", "ORDERS"]
    assert shop.latest().metadata[TABLE_CREATED_ON] != created
    assert shop.tick() == ([], 1)


def test_source_columns_are_observed_on_full_reads_when_they_change(shop):
    shop.tick()
    (first,) = shop.observations()
    assert _columns(first) == [("ID", "NUMBER(38,0)", True), ("AMOUNT", "NUMBER(38,0)", True)]

    shop.now = datetime.now(UTC) + FULL_READ_INTERVAL  # a full read: same columns, nothing new
    events, _ = shop.tick()
    assert not [e for e in events if isinstance(e, dg.AssetObservation)]

    shop.run(f"ALTER TABLE {shop.database}.S.ORDERS ADD COLUMN NOTE VARCHAR")
    shop.now += FULL_READ_INTERVAL + timedelta(seconds=1)
    events, _ = shop.tick()
    (observed,) = [e for e in events if isinstance(e, dg.AssetObservation)]
    assert [name for name, _, _ in _columns(observed)] == ["ID", "AMOUNT", "NOTE"]
    assert len(shop.observations()) == 2

    shop.cursor = None  # a lost cursor (or one from before issue 20) reports nothing twice
    events, _ = shop.tick()
    assert not [e for e in events if isinstance(e, dg.AssetObservation)]


def test_a_tick_that_observed_source_columns_says_so():
    events = [dg.AssetObservation(ORDERS), dg.AssetObservation(dg.AssetKey(["shop", "customers"]))]
    assert describe_events(events) == (
        "Recorded the columns of 2 sources: shop/orders; shop/customers. No run requested: "
        "Dynamic Table refreshes are recorded without runs."
    )
