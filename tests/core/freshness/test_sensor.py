"""The freshness sensor: what needs no server (its name and interval, databases Snowflake refuses,
faults described), then real ticks against the local stand-in (real connector, real
`DagsterInstance`), with events persisted the way the daemon does. The tick, window and cursor
logic on typed rows: test_tick.py, test_window.py, test_cursor.py."""

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.asset_health.asset_health import AssetHealthStatus
from dagster._core.definitions.freshness import FreshnessState
from dagster_dynamic_tables.declarations.loader import load_tenant
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.definitions.resources import build_snowflake_resource
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.definitions.tenant import build_tenant_definitions
from dagster_dynamic_tables.freshness.cursor import SensorCursor
from dagster_dynamic_tables.freshness.sensor import (
    FULL_READ_INTERVAL,
    SENSOR_NAME,
    build_freshness_sensor,
    readable_tables,
    unreadable_database,
)
from dagster_dynamic_tables.freshness.show import build_show_statement
from dagster_dynamic_tables.health.checks import build_dynamic_table_checks
from dagster_dynamic_tables.health.rules import (
    CHECK_NAMES,
    MATCHES_DECLARATION,
    REFRESH_SUCCEEDED,
    SCHEDULING_ACTIVE,
    WITHIN_TARGET_LAG,
)
from dagster_dynamic_tables.snowflake_io.faults import describe_snowflake_fault
from dagster_dynamic_tables.sql.columns import build_show_columns_statement
from dagster_dynamic_tables.sql.statements import requires_warehouse
from dagster_snowflake import SnowflakeResource
from snowflake.connector import errors as sf_errors
from support.processes import free_port
from support.sensor_rows import DT, KEY, TENANT, materialized_versions
from support.shop import create_shop_objects, shop_tenant, stand_in_resource


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            sf_errors.OperationalError(
                msg="Could not connect to Snowflake backend after 2 attempt(s).Aborting",
                errno=250001,
            ),
            "cannot reach Snowflake at account 'acme' as user 'DAGSTER'",
        ),
        (
            sf_errors.DatabaseError(
                msg="Incorrect username or password was specified.",
                errno=390100,
                sqlstate="08004",
            ),
            "Snowflake refused the login for account 'acme' as user 'DAGSTER'",
        ),
        (
            sf_errors.ProgrammingError(
                msg="Database 'ANALYTICS' does not exist or not authorized.",
                errno=2003,
                sqlstate="02000",
            ),
            "Snowflake denied access to the Dynamic Tables' metadata",
        ),
        (
            sf_errors.ProgrammingError(msg="Statement reached its timeout", errno=630),
            "Snowflake timed out",
        ),
        (
            sf_errors.ProgrammingError(msg="No active warehouse selected", errno=606),
            "Snowflake has no running warehouse",
        ),
    ],
    ids=["unreachable", "authentication", "privilege", "timeout", "no-warehouse"],
)
def test_expected_snowflake_faults_are_described_without_secrets(error, expected):
    error.raw_msg = f"{error.raw_msg} (password hunter2secret)"
    resource = SnowflakeResource(account="acme", user="DAGSTER", password="hunter2secret")
    reason = describe_snowflake_fault(error, resource)
    assert reason is not None
    assert expected in reason
    assert "Fix: " in reason
    assert "hunter2secret" not in reason


def test_unexpected_snowflake_errors_are_not_described():
    error = sf_errors.ProgrammingError(msg="SQL compilation error: syntax error", errno=1003)
    resource = SnowflakeResource(account="acme", user="DAGSTER", password="x")
    assert describe_snowflake_fault(error, resource) is None


def test_a_database_snowflake_refuses_is_named_from_its_error():
    databases = {"ANALYTICS", "Mixed"}
    missing = sf_errors.ProgrammingError(
        msg="Database 'ANALYTICS' does not exist or not authorized.", errno=2003
    )
    assert unreadable_database(missing, databases) == "ANALYTICS"
    schema = sf_errors.ProgrammingError(
        msg="""Schema '"Mixed".S' does not exist or not authorized.""", errno=2003
    )
    assert unreadable_database(schema, databases) == "Mixed"
    other = sf_errors.ProgrammingError(msg="Database 'ELSEWHERE' does not exist", errno=2003)
    assert unreadable_database(other, databases) is None
    timeout = sf_errors.ProgrammingError(msg="Statement reached its timeout", errno=630)
    assert unreadable_database(timeout, databases) is None


def test_an_unreadable_database_is_left_out_and_retried_every_ten_ticks():
    other = DynamicTable(
        name="other", table="OTHER.S.T", target_lag="1 minute", warehouse="WH", query="SELECT 1"
    )
    tables = (DT, other)
    cursor = SensorCursor(unreadable={"OTHER": 0})
    assert readable_tables(tables, cursor) == ([DT], {"OTHER"})
    assert readable_tables(tables, replace(cursor, unreadable={"OTHER": 9})) == (
        list(tables),
        set(),
    )
    # Never every database: a tenant that can read none is read (and skips) as it is.
    everything = SensorCursor(unreadable={"OTHER": 0, "ANALYTICS": 0})
    assert readable_tables(tables, everything) == (list(tables), set())
    assert SensorCursor.from_json(cursor.to_json()) == cursor


def test_sensor_is_named_and_running_by_default():
    sensor = build_freshness_sensor(TENANT)
    assert sensor.name == "dynamic_table_freshness"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 60
    assert sensor.required_resource_keys == {"snowflake"}
    assert build_freshness_sensor(TENANT, minimum_interval_seconds=5).minimum_interval_seconds == 5


def test_declared_sensor_interval_reaches_the_tenant_sensor(tmp_path):
    declarations = tmp_path / "defs.yaml"
    declarations.write_text(
        "tenant: shop\nsensor_interval_seconds: 30\ndynamic_tables:\n"
        "  - {name: clv, table: DB.S.CLV, target_lag: 1 minute, warehouse: WH, query: SELECT 1}\n"
    )
    tenant = load_tenant(declarations)
    assert tenant.sensor_interval_seconds == 30
    defs = build_tenant_definitions(tenant, env={})
    assert defs.resolve_sensor_def("dynamic_table_freshness").minimum_interval_seconds == 30


def test_declared_change_signal_reaches_the_tenant(tmp_path):
    declarations = tmp_path / "defs.yaml"
    body = (
        "dynamic_tables:\n"
        "  - {name: clv, table: DB.S.CLV, target_lag: 1 minute, warehouse: WH, query: SELECT 1}\n"
    )
    declarations.write_text("tenant: shop\n" + body)
    assert load_tenant(declarations).change_signal == "data_timestamp"  # the exact rule
    declarations.write_text("tenant: shop\nchange_signal: rows_and_bytes\n" + body)
    assert load_tenant(declarations).change_signal == "rows_and_bytes"


# Real ticks against the stand-in ------------------------------------------------------------

_databases = itertools.count()


@dataclass
class Harness:
    """One tenant on its own stand-in database, its sensor and a real instance."""

    database: str
    sql: Any
    tenant: Tenant
    resource: SnowflakeResource
    now: list[datetime | None] = field(default_factory=lambda: [None])
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)
    cursor: str | None = None
    result_limit: int = 10_000

    def __post_init__(self) -> None:
        defs = dg.Definitions(
            assets=build_asset_specs(self.tenant),
            asset_checks=build_dynamic_table_checks(self.tenant),
            sensors=[
                build_freshness_sensor(
                    self.tenant, clock=self.clock, result_limit=self.result_limit
                )
            ],
            resources={"snowflake": self.resource},
        )
        dg.Definitions.validate_loadable(defs)
        self.sensor = defs.resolve_sensor_def(SENSOR_NAME)

    def clock(self) -> datetime:
        return self.now[0] or datetime.now(UTC)

    def run(self, statement: str) -> list[tuple[Any, ...]]:
        self.sql.execute(statement)
        return list(self.sql.fetchall())

    def statement_count(self) -> int:
        return int(self.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")[0][0])

    def tick(self, resource: SnowflakeResource | None = None) -> Any:
        """One sensor tick, persisting its events and cursor as the daemon does."""
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"snowflake": resource or self.resource},
        )
        result = self.sensor(context)
        if isinstance(result, dg.SensorResult):
            for event in result.asset_events:
                self.instance.report_runless_asset_event(event)
            if result.cursor is not None:
                self.cursor = result.cursor
        return result

    def events(self, result: Any) -> list[Any]:
        assert isinstance(result, dg.SensorResult), result
        return list(result.asset_events)

    def versions(self, result: Any) -> list[str]:
        return materialized_versions(self.events(result))

    def checks(self, result: Any) -> dict[str, dg.AssetCheckEvaluation]:
        return {
            e.check_name: e
            for e in self.events(result)
            if isinstance(e, dg.AssetCheckEvaluation) and e.asset_key == KEY
        }

    def history(self) -> list[tuple[Any, ...]]:
        """(DATA_TIMESTAMP, STATE, REFRESH_ACTION) of TOTALS, oldest first."""
        return self.run(
            f"SELECT DATA_TIMESTAMP, STATE, REFRESH_ACTION FROM TABLE({self.database}"
            f".INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(NAME => '{self.database}.S.TOTALS'"
            ", RESULT_LIMIT => 10000)) ORDER BY DATA_TIMESTAMP"
        )

    def recorded_versions(self) -> list[str]:
        records = self.instance.fetch_materializations(KEY, limit=1000).records
        versions = [
            (r.asset_materialization.tags or {})["dagster/data_version"]
            for r in records
            if r.asset_materialization
        ]
        return sorted(versions)

    def change_source(self, amount: int) -> None:
        self.run(f"INSERT INTO {self.database}.S.ORDERS VALUES ({amount}, {amount})")

    def refresh(self) -> None:
        self.run(f"ALTER DYNAMIC TABLE {self.database}.S.TOTALS REFRESH")


def version(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@pytest.fixture
def resource(local_snowflake_connection_args) -> SnowflakeResource:
    return stand_in_resource(local_snowflake_connection_args)


@pytest.fixture
def harness(local_snowflake_connect, resource) -> Iterator[Harness]:
    database = f"SENSOR_{next(_databases)}"
    sql = local_snowflake_connect().cursor()
    create_shop_objects(sql, database)
    tenant = shop_tenant(database)
    harness = Harness(database, sql, tenant, resource)
    yield harness
    harness.instance.dispose()  # removes its temporary directory


def test_refresh_becomes_one_materialization_then_nothing(harness):
    cold = harness.tick()
    (created,) = harness.history()
    assert harness.versions(cold) == [version(created[0])]
    assert set(harness.checks(cold)) == set(CHECK_NAMES)
    assert all(e.passed for e in harness.checks(cold).values())

    harness.change_source(3)
    harness.refresh()
    result = harness.tick()
    latest = harness.history()[-1]
    assert latest[1:] == ("SUCCEEDED", "INCREMENTAL")
    (materialization,) = harness.events(result)
    assert result.skip_reason is not None
    assert result.skip_reason.skip_message == (
        "Recorded 1 refresh: shop/totals (1). No run requested: Dynamic Table refreshes are "
        "recorded without runs."
    )
    assert (materialization.tags or {})["dagster/data_version"] == version(latest[0])
    assert materialization.metadata["refresh_action"].value == "INCREMENTAL"
    assert materialization.metadata["rows_inserted"].value == 1
    assert set(materialization.metadata) >= {
        "data_timestamp",
        "refresh_trigger",
        "refresh_start_time",
        "refresh_end_time",
        "refresh_duration_seconds",
        "rows_deleted",
        "query_id",
    }

    idle = harness.tick()
    assert isinstance(idle, dg.SensorResult)
    assert idle.asset_events == []
    assert idle.skip_reason is not None
    assert idle.skip_reason.skip_message == "No new Dynamic Table refresh and no health change."
    assert harness.recorded_versions() == sorted(version(row[0]) for row in harness.history())


def test_no_data_refresh_is_not_a_materialization(harness):
    harness.tick()
    harness.refresh()  # nothing changed upstream
    assert harness.history()[-1][1:] == ("SUCCEEDED", "NO_DATA")
    assert harness.tick().asset_events == []


def test_two_refreshes_between_ticks_are_two_materializations_in_order(harness):
    harness.tick()
    harness.change_source(3)
    harness.refresh()
    harness.change_source(4)
    harness.refresh()
    result = harness.tick()
    expected = [version(row[0]) for row in harness.history()[-2:]]
    assert harness.versions(result) == expected
    assert expected[0] < expected[1]


def test_failed_refresh_fails_refresh_succeeded_without_materialization(harness):
    harness.tick()
    harness.run(f"ALTER TABLE {harness.database}.S.ORDERS DROP COLUMN AMOUNT")
    harness.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(61)")
    harness.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER()")
    assert harness.history()[-1][1] == "FAILED"
    # SHOW does not report a failed refresh (the data timestamp stays): the next tick is idle
    # and costs no warehouse; the failure is reported by the next full read.
    idle = harness.tick()
    assert isinstance(idle, dg.SensorResult)
    assert list(idle.asset_events) == []
    harness.now[0] = datetime.now(UTC) + FULL_READ_INTERVAL
    result = harness.tick()
    assert harness.versions(result) == []
    failed = harness.checks(result)[REFRESH_SUCCEEDED]
    assert not failed.passed
    assert "is FAILED (state code " in (failed.description or "")


def test_suspension_fails_scheduling_active(harness):
    harness.tick()
    harness.run(f"ALTER DYNAMIC TABLE {harness.database}.S.TOTALS SUSPEND")
    result = harness.tick()
    assert list(harness.checks(result)) == [SCHEDULING_ACTIVE]
    assert not harness.checks(result)[SCHEDULING_ACTIVE].passed
    assert "is SUSPENDED (USER_SUSPENDED)" in (
        harness.checks(result)[SCHEDULING_ACTIVE].description or ""
    )


def test_lag_over_target_warns_then_errors(harness):
    (created,) = harness.history()
    harness.now[0] = created[0] + timedelta(seconds=30)
    assert harness.checks(harness.tick())[WITHIN_TARGET_LAG].passed
    harness.now[0] = created[0] + timedelta(seconds=75)
    assert harness.tick().asset_events == []  # between 1x and 1.5x: no swing, no event
    harness.now[0] = created[0] + timedelta(seconds=100)
    warn = harness.checks(harness.tick())[WITHIN_TARGET_LAG]
    assert (warn.passed, warn.severity) == (False, dg.AssetCheckSeverity.WARN)
    harness.now[0] = created[0] + timedelta(seconds=110)
    assert harness.tick().asset_events == []  # same situation: nothing new to report
    harness.now[0] = created[0] + timedelta(seconds=150)
    error = harness.checks(harness.tick())[WITHIN_TARGET_LAG]
    assert (error.passed, error.severity) == (False, dg.AssetCheckSeverity.ERROR)


def test_declaration_drift_fails_matches_declaration(harness):
    harness.tick()
    harness.run(f"ALTER DYNAMIC TABLE {harness.database}.S.TOTALS SET TARGET_LAG = '5 minutes'")
    drift = harness.checks(harness.tick())[MATCHES_DECLARATION]
    assert not drift.passed
    assert "target_lag: declared '1 minute' (60 s), Snowflake has 300 s" in (
        drift.description or ""
    )


def test_missing_dynamic_table_fails_every_check_saying_so(harness):
    harness.run(f"DROP DYNAMIC TABLE {harness.database}.S.TOTALS")
    checks = harness.checks(harness.tick())
    assert set(checks) == set(CHECK_NAMES)
    for evaluation in checks.values():
        assert not evaluation.passed
        assert "does not exist in Snowflake" in (evaluation.description or "")


def test_snowflake_down_skips_then_catches_up_without_loss_or_duplicates(
    harness, local_snowflake_connection_args
):
    harness.tick()
    down = SnowflakeResource(
        account="local",
        user="local",
        password="hunter2secret",
        autocommit=True,
        additional_snowflake_connection_args={
            **local_snowflake_connection_args,
            "port": free_port(),  # nothing listens
            "login_timeout": 3,
        },
    )
    cursor_before = harness.cursor
    harness.change_source(3)
    harness.refresh()
    skipped = harness.tick(down)
    assert isinstance(skipped, dg.SkipReason)
    assert "cannot reach Snowflake at account 'local'" in (skipped.skip_message or "")
    assert "OperationalError 250001" in (skipped.skip_message or "")
    assert "hunter2secret" not in (skipped.skip_message or "")
    assert harness.cursor == cursor_before

    harness.change_source(4)
    harness.refresh()
    caught_up = harness.tick()
    assert harness.versions(caught_up) == [version(row[0]) for row in harness.history()[-2:]]
    assert harness.tick().asset_events == []
    assert harness.recorded_versions() == sorted(version(row[0]) for row in harness.history())


def test_stand_in_that_cannot_start_skips_saying_why(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = {"LOCAL_SNOWFLAKE_DATA_DIR": str(blocker / "data"), "LOCAL_SNOWFLAKE_PORT": "1"}
    resource = build_snowflake_resource(TENANT, env=env)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"snowflake": resource})
        skipped = build_freshness_sensor(TENANT)(context)
    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message == (
        "The local Snowflake stand-in for tenant 'shop' did not start: cannot use "
        f"{blocker / 'data'} as the local-snowflake data directory: Not a directory. Fix: point "
        "LOCAL_SNOWFLAKE_DATA_DIR (or --data-dir) at a writable directory, or unset it to use "
        ".local_snowflake/ at the repository root. The cursor is kept: refreshes that land "
        "meanwhile are reported once Snowflake answers."
    )


def test_history_longer_than_one_read_is_caught_up_in_pages_in_order(harness):
    # Snowflake's limit is 10,000: the same logic, with fewer refreshes (same instance).
    harness = replace(harness, result_limit=3)
    harness.tick()  # cold start: the creation refresh
    for amount in range(3, 10):  # 7 refreshes that change data, 61 s apart
        harness.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(61)")
        harness.change_source(amount)
        harness.refresh()
    expected = [version(row[0]) for row in harness.history()]
    reported: list[str] = []
    pages_seen = 0
    for _ in range(12):
        before = harness.statement_count()
        reported += harness.versions(harness.tick())
        assert harness.statement_count() - before - 1 <= 2  # (minus the count statement)
        pages = json.loads(harness.cursor or "{}").get("pages")
        pages_seen += pages is not None
        if pages is None and len(reported) == 7:
            break
    assert pages_seen >= 2  # the history was read in pages
    assert reported == expected[1:]  # every refresh, oldest first, none twice
    assert harness.recorded_versions() == expected
    assert harness.tick().asset_events == []


def test_the_daemons_way_of_evaluating_a_tick_reaches_the_resource(harness):
    # The daemon calls evaluate_tick, which passes resources on the context only (a direct call
    # passes them as keyword arguments too): both must work.
    context = dg.build_sensor_context(
        instance=harness.instance, resources={"snowflake": harness.resource}
    )
    data = harness.sensor.evaluate_tick(context)
    assert data.cursor is not None
    assert len(data.asset_events) > 0


def test_an_idle_tick_sends_one_metadata_statement_and_no_warehouse_statement(harness):
    harness.tick()  # the first tick reads everything
    before = harness.statement_count()
    idle = harness.tick()
    assert harness.statement_count() - before - 1 == 1  # SHOW only (minus the count statement)
    assert not requires_warehouse(build_show_statement('"X"'))
    assert isinstance(idle, dg.SensorResult)
    assert list(idle.asset_events) == []
    harness.change_source(5)
    harness.refresh()
    before = harness.statement_count()
    busy = harness.tick()
    assert harness.statement_count() - before - 1 == 2  # SHOW, then history and state
    assert len(harness.versions(busy)) == 1


def test_wiped_cursor_never_duplicates(harness):
    harness.tick()
    harness.change_source(3)
    harness.refresh()
    harness.tick()
    harness.cursor = None
    again = harness.tick()
    assert harness.versions(again) == []
    harness.change_source(4)
    harness.refresh()
    harness.cursor = None
    after_loss = harness.tick()
    assert harness.versions(after_loss) == [version(harness.history()[-1][0])]
    assert harness.recorded_versions() == sorted(version(row[0]) for row in harness.history())


def test_at_most_two_statements_per_tick_plus_show_columns_for_new_tables(harness):
    # The first tick: SHOW, the history, and one SHOW COLUMNS IN SCHEMA (the new table and the
    # source of its schema, read on this full read); then 2 at most.
    before = harness.statement_count()
    harness.tick()
    assert harness.statement_count() - before - 1 == 3  # minus the count statement itself
    for amount in (3, 4):
        harness.change_source(amount)
        harness.refresh()
        before = harness.statement_count()
        harness.tick()
        assert harness.statement_count() - before - 1 <= 2
    assert not requires_warehouse(build_show_columns_statement('SCHEMA "DB"."S"'))


def test_a_database_left_out_does_not_stop_the_others(harness):
    # Snowflake refused OTHER_DB on an earlier tick (002003): this tick reads the harness's
    # database only, reports its refresh, and fails OTHER_DB's table's checks.
    other = DynamicTable(
        name="other", table="OTHER_DB.S.T", target_lag="1 minute", warehouse="WH", query="SELECT 1"
    )
    tenant = replace(harness.tenant, dynamic_tables=(*harness.tenant.dynamic_tables, other))
    two = replace(harness, tenant=tenant)
    two.cursor = SensorCursor(unreadable={"OTHER_DB": 0}).to_json()
    result = two.tick()
    (created,) = two.history()
    assert two.versions(result) == [version(created[0])]
    other_checks = [
        e
        for e in two.events(result)
        if isinstance(e, dg.AssetCheckEvaluation) and e.asset_key.path[-1] == "other"
    ]
    assert len(other_checks) == 4
    assert not any(e.passed for e in other_checks)
    assert json.loads(two.cursor or "{}")["x"] == {"OTHER_DB": 1}


def test_a_table_of_a_database_left_out_is_reported_missing_even_when_nothing_else_moved(harness):
    harness.tick()  # the harness's own schema is read and recorded
    other = DynamicTable(
        name="other", table="OTHER_DB.S.T", target_lag="1 minute", warehouse="WH", query="SELECT 1"
    )
    tenant = replace(harness.tenant, dynamic_tables=(*harness.tenant.dynamic_tables, other))
    two = replace(harness, tenant=tenant)
    cursor = SensorCursor.from_json(harness.cursor)
    two.cursor = replace(cursor, unreadable={"OTHER_DB": 0}).to_json()
    before = two.statement_count()
    result = two.tick()
    assert two.statement_count() - before - 1 == 1  # SHOW of the readable database only
    other_checks = [e for e in two.events(result) if e.asset_key.path[-1] == "other"]
    assert sorted(e.check_name for e in other_checks) == sorted(CHECK_NAMES)
    assert not any(e.passed for e in other_checks)


# What Dagster itself shows over a quiet period --------------------------------------------------

_CODE_LOCATION = """
import dagster as dg
from dagster_dynamic_tables.health.checks import build_dynamic_table_checks
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_snowflake import SnowflakeResource
from support.shop import shop_tenant

tenant = shop_tenant("{database}")
defs = dg.Definitions(
    assets=build_asset_specs(tenant),
    asset_checks=build_dynamic_table_checks(tenant),
    resources={{"snowflake": SnowflakeResource(account="local", user="local", password="local")}},
)
"""


@dataclass
class DagsterView:
    """What Dagster makes of the harness's DT, with its own code on a real in-process code
    location holding the harness's definitions: the freshness daemon's iteration (the state the
    asset page shows as "Freshness policy: ..."), then the asset health the webserver computes
    (freshness, checks, materialization, and the overall status Dagster derives from them)."""

    harness: Harness
    code: Any

    def health_at(self, moment: datetime) -> dict[str, Any]:
        import asyncio

        from dagster._core.definitions.asset_health.asset_check_health import (
            get_asset_check_status_and_metadata,
        )
        from dagster._core.definitions.asset_health.asset_freshness_health import (
            get_freshness_status_and_metadata,
        )
        from dagster._core.definitions.asset_health.asset_health import (
            overall_status_from_component_statuses,
        )
        from dagster._core.definitions.asset_health.asset_materialization_health import (
            get_materialization_status_and_metadata,
        )
        from dagster._core.test_utils import freeze_time
        from dagster._daemon.freshness import FreshnessDaemon

        async def statuses(context: Any) -> dict[str, Any]:
            freshness, _ = await get_freshness_status_and_metadata(context, KEY)
            checks, _ = await get_asset_check_status_and_metadata(context, KEY)
            materialization, _ = await get_materialization_status_and_metadata(context, KEY)
            return {
                "freshness": freshness,
                "checks": checks,
                "overall": overall_status_from_component_statuses(
                    checks, materialization, freshness
                ),
            }

        with freeze_time(moment):
            list(FreshnessDaemon().run_iteration(self.code))  # the daemon's own iteration
            records = self.harness.instance.get_freshness_state_records([KEY])
            found = asyncio.run(statuses(self.code.create_request_context()))
        found["state"] = records[KEY].freshness_state if KEY in records else None
        return found


@pytest.fixture
def dagster_view(harness, tmp_path) -> Iterator[DagsterView]:
    import sys

    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    path = tmp_path / "shop_location.py"
    path.write_text(_CODE_LOCATION.format(database=harness.database))
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable, python_file=str(path), attribute="defs"
        ),
        location_name="shop",
    )
    target = InProcessWorkspaceLoadTarget(origin)
    ephemeral = harness.instance
    # The workspace hands the instance to code servers: it needs one on disk, not ephemeral.
    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        create_test_daemon_workspace_context(target, instance) as code,
    ):
        harness.instance = instance
        yield DagsterView(harness, code)
    harness.instance = ephemeral


def test_a_quiet_table_within_its_lag_is_healthy_and_unhealthy_once_refreshes_stop(
    harness, dagster_view
):
    def advance(seconds: int) -> datetime:
        (moment,) = harness.run(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK({seconds})")[0]
        return datetime.fromisoformat(moment)

    started = datetime.now(UTC)
    (stand_in_start,) = harness.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(0)")[0]
    harness.tick()  # cold start: the creation refresh is recorded
    assert len(harness.recorded_versions()) == 1

    # Ten minutes without a data change: Snowflake refreshes every minute (NO_DATA), which
    # keeps the table within its 1-minute lag. Before, Dagster's freshness policy failed after
    # 9 minutes without a materialization.
    for _ in range(10):
        harness.now[0] = advance(61)
        harness.run(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER('{harness.database}')")
        assert harness.history()[-1][1:] == ("SUCCEEDED", "NO_DATA")
        harness.tick()
    assert len(harness.recorded_versions()) == 1  # NO_DATA refreshes are no materializations
    elapsed = harness.now[0] - datetime.fromisoformat(stand_in_start)
    quiet = dagster_view.health_at(started + elapsed)
    assert quiet["state"] != FreshnessState.FAIL  # it was FAIL: the daemon's own evaluation
    # No Dagster freshness policy: the within_target_lag check is the table's freshness.
    assert quiet["freshness"] == AssetHealthStatus.NOT_APPLICABLE
    assert quiet["overall"] == AssetHealthStatus.HEALTHY
    assert quiet["checks"] == AssetHealthStatus.HEALTHY

    # Refreshes stop: the data timestamp stays while time passes, past twice the target lag.
    harness.now[0] = advance(150)
    lag = harness.checks(harness.tick())[WITHIN_TARGET_LAG]
    assert (lag.passed, lag.severity) == (False, dg.AssetCheckSeverity.ERROR)
    elapsed = harness.now[0] - datetime.fromisoformat(stand_in_start)
    stopped = dagster_view.health_at(started + elapsed)
    assert stopped["checks"] == AssetHealthStatus.DEGRADED
    assert stopped["overall"] == AssetHealthStatus.DEGRADED
