"""A quiet 1-minute Dynamic Table does not wake the monitoring warehouse (issue 20).

Snowflake refreshes such a table every minute; with no source change each refresh is NO_DATA,
which moves SHOW's data timestamp but neither its `rows` nor its `bytes`. The sensor then sends
SHOW alone (no warehouse) until something else moves, and reads the refresh history (warehouse)
on a data-changing refresh, a change of a check's outcome, and the periodic full read.

Against the local stand-in (real connector, real `DagsterInstance`), the sensor's clock following
the stand-in's. The statements each tick sends are read from the connector's own log of the
queries it runs ("running query [...]"), so what is counted is what went over the wire.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations.models import ChangeSignal
from dagster_dynamic_tables.freshness.sensor import FULL_READ_INTERVAL, build_freshness_sensor
from dagster_dynamic_tables.health.rules import REFRESH_SUCCEEDED, WITHIN_TARGET_LAG
from dagster_dynamic_tables.sql.statements import Statement, requires_warehouse
from dagster_snowflake import SnowflakeResource
from support.shop import create_shop_objects, shop_tenant, stand_in_resource

_databases = itertools.count()
_QUERY = re.compile(r"^running query \[(.*)\]$", re.DOTALL)


@dataclass
class Quiet:
    """The shop tenant (orders -> totals, lag 1 minute) in a database of its own, its sensor and a
    real instance; `minute()` moves the stand-in's clock 61 s and runs its scheduler."""

    database: str
    sql: Any
    resource: SnowflakeResource
    caplog: pytest.LogCaptureFixture
    full_read_interval: timedelta = FULL_READ_INTERVAL
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)
    cursor: str | None = None
    now: datetime | None = None

    change_signal: ChangeSignal = "rows_and_bytes"

    def __post_init__(self) -> None:
        self.sensor = build_freshness_sensor(
            replace(shop_tenant(self.database), change_signal=self.change_signal),
            clock=lambda: self.now or datetime.now().astimezone(),
            full_read_interval=self.full_read_interval,
        )

    def run(self, statement: str) -> list[tuple[Any, ...]]:
        self.sql.execute(statement)
        return list(self.sql.fetchall())

    def stand_in_now(self) -> datetime:
        return datetime.fromisoformat(
            self.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(0)")[0][0]
        )

    def minute(self) -> str:
        """61 s later by the stand-in's clock, one scheduler pass; its summary."""
        self.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(61)")
        self.now = self.stand_in_now()
        return str(
            self.run(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER('{self.database}')")[0][0]
        )

    def last_refresh(self) -> tuple[datetime, str, str]:
        """(DATA_TIMESTAMP, STATE, REFRESH_ACTION) of TOTALS' latest refresh."""
        return self.run(
            f"SELECT DATA_TIMESTAMP, STATE, REFRESH_ACTION FROM TABLE({self.database}"
            f".INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(NAME => '{self.database}.S.TOTALS'"
            ", RESULT_LIMIT => 10000)) ORDER BY DATA_TIMESTAMP DESC LIMIT 1"
        )[0]

    def tick(self) -> tuple[list[Any], list[str]]:
        """One tick, its events stored as the daemon does: (events, statements sent)."""
        self.caplog.clear()
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources={"snowflake": self.resource}
        )
        result = self.sensor(context)
        sent = [
            match[1]
            for record in self.caplog.records
            if record.name == "snowflake.connector.cursor"
            and (match := _QUERY.match(record.getMessage()))
        ]
        assert isinstance(result, dg.SensorResult), result
        for event in result.asset_events:
            self.instance.report_runless_asset_event(event)
        self.cursor = result.cursor or self.cursor
        return list(result.asset_events), sent


def without_columns(sent: list[str]) -> list[str]:
    """The statements but `SHOW COLUMNS` (sent for a table created since its last read, see
    `freshness.columns`; no warehouse)."""
    return [text for text in sent if not text.startswith("SHOW COLUMNS")]


def warehouse_statements(sent: list[str]) -> list[str]:
    return [text for text in sent if requires_warehouse(Statement(text))]


def versions(events: list[Any]) -> list[str]:
    return [
        (e.tags or {})["dagster/data_version"]
        for e in events
        if isinstance(e, dg.AssetMaterialization)
    ]


def checks(events: list[Any]) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in events if isinstance(e, dg.AssetCheckEvaluation)}


@pytest.fixture
def quiet(local_snowflake_connect, local_snowflake_connection_args, caplog) -> Iterator[Quiet]:
    caplog.set_level(logging.DEBUG, logger="snowflake.connector.cursor")
    database = f"QUIET_{next(_databases)}"
    sql = local_snowflake_connect().cursor()
    create_shop_objects(sql, database)
    harness = Quiet(database, sql, stand_in_resource(local_snowflake_connection_args), caplog)
    harness.now = harness.stand_in_now()  # the sensor's clock follows the stand-in's
    yield harness
    harness.instance.dispose()


def test_no_data_refreshes_send_show_alone_and_a_data_change_is_read_once(quiet):
    events, sent = quiet.tick()  # cold start: reads everything, records the creation
    assert len(versions(events)) == 1
    assert len(warehouse_statements(sent)) == 1

    for _ in range(5):
        assert "NO_DATA" in quiet.minute()
        events, sent = quiet.tick()
        assert events == []
        assert len(sent) == 1
        assert sent[0].startswith("SHOW DYNAMIC TABLES IN DATABASE")
        assert warehouse_statements(sent) == []

    quiet.run(f"INSERT INTO {quiet.database}.S.ORDERS VALUES (3, 30)")
    assert "INCREMENTAL" in quiet.minute()
    events, sent = quiet.tick()
    (changed, state, action) = quiet.last_refresh()
    assert (state, action) == ("SUCCEEDED", "INCREMENTAL")
    assert len(without_columns(sent)) == 2
    assert len(warehouse_statements(sent)) == 1
    assert [datetime.fromisoformat(v) for v in versions(events)] == [changed]

    assert "NO_DATA" in quiet.minute()
    events, sent = quiet.tick()
    assert (events, len(sent)) == ([], 1)


def test_by_default_every_refresh_is_read_and_an_update_in_place_recorded_at_once(quiet):
    """`change_signal: data_timestamp` (the default): the exact rule. A NO_DATA refresh moves
    the data timestamp, so the history is read (on a warehouse); an update that keeps the row
    count and byte size is recorded on the next tick, not by the full read."""
    exact = Quiet(quiet.database, quiet.sql, quiet.resource, quiet.caplog)
    exact.change_signal = "data_timestamp"
    exact.__post_init__()
    exact.now = quiet.stand_in_now()
    try:
        exact.tick()
        assert "NO_DATA" in exact.minute()
        events, sent = exact.tick()
        assert events == []
        assert len(warehouse_statements(sent)) == 1  # the NO_DATA refresh was read
        exact.run(f"UPDATE {exact.database}.S.ORDERS SET AMOUNT = 19 WHERE ID = 1")
        assert "INCREMENTAL" in exact.minute()
        changed = exact.last_refresh()[0]
        events, sent = exact.tick()
        assert [datetime.fromisoformat(v) for v in versions(events)] == [changed]
    finally:
        exact.instance.dispose()


def test_a_change_show_cannot_see_is_recorded_by_the_full_read(quiet):
    """Same row count, same byte size (an update to values of the same width): SHOW moves as
    for a NO_DATA refresh. The full read records it, with its own data timestamp, at most
    `FULL_READ_INTERVAL` (plus a tick) after the refresh."""
    quiet.tick()
    quiet.run(f"UPDATE {quiet.database}.S.ORDERS SET AMOUNT = 19 WHERE ID = 1")
    assert "INCREMENTAL" in quiet.minute()
    changed = quiet.last_refresh()[0]
    ticks = 0
    while True:
        events, sent = quiet.tick()
        ticks += 1
        if versions(events):
            break
        assert len(sent) == 1  # SHOW alone until the full read
        assert ticks < 30, "the full read never came"
        assert "NO_DATA" in quiet.minute()
    assert len(warehouse_statements(sent)) == 1
    assert [datetime.fromisoformat(v) for v in versions(events)] == [changed]
    assert quiet.now is not None
    latency = quiet.now - changed
    assert latency <= FULL_READ_INTERVAL + timedelta(seconds=61)
    assert not checks(events)  # nothing else to report: the checks kept passing


def test_lag_checks_stay_right_on_show_alone(quiet):
    quiet.tick()
    for _ in range(3):
        quiet.minute()
        assert quiet.tick()[0] == []
    # Refreshes stop (no scheduler pass): SHOW's data timestamp stays, the lag grows past 2x.
    quiet.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(150)")
    quiet.now = quiet.stand_in_now()
    events, sent = quiet.tick()
    lag = checks(events)[WITHIN_TARGET_LAG]
    assert (lag.passed, lag.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert len(without_columns(sent)) == 2  # the outcome changed: the schema is read
    # Refreshes resume (NO_DATA): back within the lag, reported at once.
    assert "NO_DATA" in quiet.minute()
    events, sent = quiet.tick()
    assert checks(events)[WITHIN_TARGET_LAG].passed
    assert versions(events) == []


@pytest.fixture
def quick_full_read(quiet) -> Quiet:
    """A full read every 70 s: a failed refresh is reported while the table is still within its
    lag (1.5x = 90 s), so that the lag check does not move the schema by itself."""
    quiet.full_read_interval = timedelta(seconds=70)
    quiet.__post_init__()
    return quiet


def test_a_recovery_by_a_no_data_refresh_is_reported_at_once(quick_full_read):
    quiet = quick_full_read
    start = quiet.now
    assert start is not None
    quiet.tick()  # a full read
    quiet.run(f"ALTER TABLE {quiet.database}.S.ORDERS DROP COLUMN AMOUNT")
    assert "FAILED" in quiet.minute()  # start + 61 s
    quiet.now = start + timedelta(seconds=75)  # the next full read, still within 1.5x the lag
    events, _ = quiet.tick()
    assert not checks(events)[REFRESH_SUCCEEDED].passed
    assert checks(events).get(WITHIN_TARGET_LAG) is None  # (it kept passing)
    quiet.now = start + timedelta(seconds=80)
    events, sent = quiet.tick()  # nothing moved: SHOW alone, though the stamped form is kept
    assert (events, len(sent)) == ([], 1)
    # Fixed with the same data: the next refresh (30 s later) is NO_DATA. It moves nothing SHOW
    # compares in the quiet form, nor the lag outcome; the check recovers on the next tick, not
    # a full read, because while a refresh_succeeded fails any data timestamp move is read.
    quiet.run(f"ALTER TABLE {quiet.database}.S.ORDERS ADD COLUMN AMOUNT INT")
    quiet.run(f"UPDATE {quiet.database}.S.ORDERS SET AMOUNT = ID * 10")
    quiet.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(30)")
    (summary,) = quiet.run(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER('{quiet.database}')")[0]
    assert "NO_DATA" in summary
    quiet.now = start + timedelta(seconds=100)  # 25 s after the full read: not another one
    events, sent = quiet.tick()
    assert checks(events)[REFRESH_SUCCEEDED].passed
    assert versions(events) == []
    assert len(without_columns(sent)) == 2
    # Healthy again: quiet again.
    assert "NO_DATA" in quiet.minute()
    quiet.now = start + timedelta(seconds=130)
    events, sent = quiet.tick()
    assert (events, len(sent)) == ([], 1)
