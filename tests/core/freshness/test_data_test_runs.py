"""The run of data tests the freshness sensor requests after a tick that recorded refreshes: what
it selects and its run key (no server), then real ticks against the stand-in: one run per tick of
exactly the recorded tables' tests, executed in one step over one connection with one statement
per test; nothing for an idle tick or for a refresh Dagster recorded itself; and downstream
automation held back while a blocking test fails (Dagster's `all_deps_blocking_checks_passed`)."""

import itertools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations.data_tests import (
    DataTest,
    NotNull,
    RowCountRange,
    name_data_tests,
)
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.freshness.data_test_runs import (
    data_test_keys,
    data_tests_run_request,
    data_tests_selection,
)
from dagster_dynamic_tables.freshness.events import describe_events
from dagster_dynamic_tables.freshness.sensor import SENSOR_NAME, build_freshness_sensor
from dagster_dynamic_tables.health.checks import build_dynamic_table_checks
from dagster_dynamic_tables.health.data_tests import build_data_test_checks
from dagster_dynamic_tables.sql.data_tests import PlannedDataTest
from support.shop import create_shop_objects, shop_tenant
from support.snowflake_resources import counting_resource, logins

TOTALS = dg.AssetKey(["shop", "totals"])
COUNTS = dg.AssetKey(["shop", "counts"])
NOT_NULL = dg.AssetCheckKey(TOTALS, "not_null_id")
ROW_COUNT = dg.AssetCheckKey(TOTALS, "row_count")
POSITIVE = dg.AssetCheckKey(TOTALS, "positive_totals")
TESTS = [NOT_NULL, ROW_COUNT, POSITIVE]


def shop_with_tests(database: str) -> Tenant:
    """The shop tenant whose `totals` declares three tests (the last one blocking), beside a
    `counts` table that declares none."""
    tenant = shop_tenant(
        database,
        DynamicTable(
            name="counts",
            table=f"{database}.S.COUNTS",
            target_lag="1 minute",
            warehouse="WH",
            refresh_mode="INCREMENTAL",
            query=f"SELECT ID, COUNT(*) AS N FROM {database}.S.ORDERS GROUP BY ID",
            deps=["orders"],
        ),
    )
    totals, counts = tenant.dynamic_tables
    tests = [
        DataTest(not_null=NotNull(column="ID")),
        DataTest(row_count=RowCountRange(min=1)),
        DataTest(
            sql=f"SELECT ID, TOTAL FROM {database}.S.TOTALS WHERE TOTAL < 0",
            name="positive_totals",
            blocking=True,
        ),
    ]
    totals = totals.model_copy(update={"data_tests": name_data_tests(tests)})
    return Tenant(tenant.slug, sources=tenant.sources, dynamic_tables=(totals, counts))


def planned_tests(tenant: Tenant) -> list[PlannedDataTest]:
    return [
        PlannedDataTest(tuple(tenant.key_path(dt)), test, dt.qualified_name)
        for dt in tenant.dynamic_tables
        for test in dt.data_tests
    ]


# What a tick requests, without a server -------------------------------------------------------


def materialized(key: dg.AssetKey, version: str) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(asset_key=key, tags={"dagster/data_version": version})


def test_the_keys_are_those_of_the_declared_tests_of_each_table():
    keys = data_test_keys(shop_with_tests("DB"))
    assert keys == {TOTALS: TESTS}
    selection = data_tests_selection(keys)
    assert selection is not None
    assert data_tests_selection({}) is None


def test_a_tick_that_recorded_refreshes_requests_one_run_of_exactly_their_tests():
    tenant = shop_with_tests("DB")
    keys = data_test_keys(tenant)
    health = dg.AssetCheckEvaluation(asset_key=TOTALS, check_name="refresh_succeeded", passed=True)
    events = [materialized(TOTALS, "v1"), materialized(TOTALS, "v2"), materialized(COUNTS, "v1")]
    request = data_tests_run_request(tenant, [*events, health], keys)
    assert request is not None
    assert request.asset_selection == []
    assert request.asset_check_keys == TESTS  # once, though two refreshes of totals landed
    assert request.run_key is not None
    assert request.run_key.startswith("shop:data-tests:")
    # Recorded refreshes of tables without tests, or health results only: no run.
    assert data_tests_run_request(tenant, [materialized(COUNTS, "v1"), health], keys) is None
    assert data_tests_run_request(tenant, [], keys) is None


def test_the_run_key_is_the_same_for_the_same_refreshes_and_new_for_a_new_one():
    tenant = shop_with_tests("DB")
    keys = data_test_keys(tenant)

    def key(*versions: str) -> str | None:
        events = [materialized(TOTALS, v) for v in versions]
        request = data_tests_run_request(tenant, events, keys)
        assert request is not None
        return request.run_key

    assert key("v1") == key("v1")  # a tick evaluated again: Dagster launches the key once
    assert key("v1") != key("v2")
    assert key("v1", "v2") != key("v2")


def test_the_summary_names_the_run_of_tests():
    events = [materialized(TOTALS, "v1")]
    assert describe_events(events, tests=TESTS) == (
        "Recorded 1 refresh: shop/totals (1). Requested one run of 3 data tests of shop/totals."
    )


# Real ticks against the stand-in --------------------------------------------------------------

_databases = itertools.count()


@dataclass
class Stand:
    """The tested shop tenant on its own stand-in database: its sensor, its data tests and a
    downstream asset per automation condition, a real instance."""

    database: str
    sql: Any
    tenant: Tenant
    login_log: Path
    resource: Any
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)
    cursor: str | None = None
    automation: Any = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        checks = build_data_test_checks(self.tenant.slug, planned_tests(self.tenant))
        assert checks is not None

        @dg.asset(
            key=["shop", "guarded_report"],
            deps=[TOTALS],
            automation_condition=dg.AutomationCondition.eager()
            & dg.AutomationCondition.all_deps_blocking_checks_passed(),
        )
        def guarded_report() -> None: ...

        @dg.asset(
            key=["shop", "plain_report"],
            deps=[TOTALS],
            automation_condition=dg.AutomationCondition.eager(),
        )
        def plain_report() -> None: ...

        self.defs = dg.Definitions(
            assets=[*build_asset_specs(self.tenant), guarded_report, plain_report],
            asset_checks=[*build_dynamic_table_checks(self.tenant), checks],
            sensors=[build_freshness_sensor(self.tenant)],
            resources={"snowflake": self.resource},
        )
        dg.Definitions.validate_loadable(self.defs)
        self.sensor = self.defs.resolve_sensor_def(SENSOR_NAME)

    def run(self, statement: str) -> list[tuple[Any, ...]]:
        self.sql.execute(statement)
        return list(self.sql.fetchall())

    def statement_count(self) -> int:
        # The counting statement itself is one: callers subtract it.
        return int(self.run("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")[0][0])

    def tick(self) -> Any:
        """One tick, its events persisted and its run requests resolved, as the daemon does."""
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"snowflake": self.resource},
            repository_def=self.defs.get_repository_def(),
        )
        data = self.sensor.evaluate_tick(context)
        for event in data.asset_events:
            self.instance.report_runless_asset_event(event)
        if data.cursor is not None:
            self.cursor = data.cursor
        return data

    def execute(self, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        """The requested run, in process, on the instance (what a run worker executes)."""
        job = self.defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection=set(request.asset_selection or []),
            asset_check_selection=set(request.asset_check_keys or []),
        )
        return job.execute_in_process(
            instance=self.instance,
            resources={"snowflake": self.resource},
            raise_on_error=False,
            tags=request.tags,
        )

    def automate(self) -> set[str]:
        """One evaluation of the downstream assets' automation conditions: what it requests."""
        self.now += timedelta(seconds=30)
        with warnings.catch_warnings():
            # Dagster's own call of AssetSelection.all(include_sources=True) warns (beta).
            warnings.simplefilter("ignore", dg.BetaWarning)
            result = dg.evaluate_automation_conditions(
                defs=self.defs,
                instance=self.instance,
                cursor=self.automation,
                evaluation_time=self.now,
            )
        self.automation = result.cursor
        return {r.key.to_user_string() for r in result.results if r.true_subset.size}

    def refresh(self, values: str) -> None:
        self.run(f"INSERT INTO {self.database}.S.ORDERS VALUES {values}")
        self.run(f"ALTER DYNAMIC TABLE {self.database}.S.TOTALS REFRESH")


@pytest.fixture
def stand(local_snowflake_connect, local_snowflake_connection_args, tmp_path) -> Iterator[Stand]:
    database = f"TESTED_{next(_databases)}"
    sql = local_snowflake_connect().cursor()
    create_shop_objects(sql, database)
    sql.execute(
        f"CREATE DYNAMIC TABLE {database}.S.COUNTS TARGET_LAG = '1 minute' WAREHOUSE = WH "
        f"REFRESH_MODE = INCREMENTAL AS "
        f"SELECT ID, COUNT(*) AS N FROM {database}.S.ORDERS GROUP BY ID"
    )
    log = tmp_path / "logins"
    resource = counting_resource(log, local_snowflake_connection_args)
    stand = Stand(database, sql, shop_with_tests(database), log, resource)
    yield stand
    stand.instance.dispose()


def checks_of(result: dg.ExecuteInProcessResult) -> dict[dg.AssetCheckKey, bool]:
    return {e.asset_check_key: e.passed for e in result.get_asset_check_evaluations()}


def test_a_recorded_refresh_runs_its_tables_tests_once_over_one_connection(stand):
    first = stand.tick()  # cold start: each table's data as of now is recorded
    (request,) = first.run_requests
    assert request.asset_check_keys == TESTS

    before, logged = stand.statement_count(), logins(stand.login_log)
    result = stand.execute(request)
    assert result.success
    statements = stand.statement_count() - before - 1
    assert checks_of(result) == dict.fromkeys(TESTS, True)
    assert logins(stand.login_log) - logged == 1  # one connection
    assert statements == len(TESTS)  # one statement per test
    assert len(result.get_step_success_events()) == 1  # one step

    idle_before = stand.statement_count()
    idle = stand.tick()
    assert idle.run_requests == []
    assert list(idle.asset_events) == []
    assert stand.statement_count() - idle_before - 1 == 1  # the idle tick: SHOW only

    stand.refresh("(3, 30)")
    second = stand.tick()
    (again,) = second.run_requests
    assert again.asset_check_keys == TESTS
    assert again.run_key != request.run_key


def test_a_tick_evaluated_again_requests_the_same_run_key(stand):
    cursor = stand.cursor
    context = dg.build_sensor_context(
        instance=stand.instance,
        cursor=cursor,
        resources={"snowflake": stand.resource},
        repository_def=stand.defs.get_repository_def(),
    )
    # The daemon failed to store the tick: it is evaluated again from the same cursor.
    keys = [stand.sensor.evaluate_tick(context).run_requests[0].run_key for _ in range(2)]
    assert keys[0] == keys[1]


def test_a_refresh_dagster_recorded_is_neither_recorded_again_nor_tested_again(stand):
    stand.tick()
    stand.refresh("(3, 30)")
    # An orchestrated run recorded this refresh (its materialization carries the sensor's data
    # version) before the sensor's tick.
    (row,) = stand.run(
        f"SELECT DATA_TIMESTAMP FROM TABLE({stand.database}.INFORMATION_SCHEMA."
        f"DYNAMIC_TABLE_REFRESH_HISTORY(NAME => '{stand.database}.S.TOTALS', "
        "RESULT_LIMIT => 10000)) WHERE REFRESH_TRIGGER = 'MANUAL' ORDER BY DATA_TIMESTAMP DESC "
        "LIMIT 1"
    )
    version = row[0].astimezone(UTC).isoformat(timespec="microseconds")
    stand.instance.report_runless_asset_event(materialized(TOTALS, version))
    data = stand.tick()
    assert [e for e in data.asset_events if isinstance(e, dg.AssetMaterialization)] == []
    assert data.run_requests == []


def test_a_failing_blocking_test_holds_back_downstream_automation(stand):
    stand.automate()  # the first evaluation starts the conditions' memory
    (request,) = stand.tick().run_requests
    # Recorded, not yet tested: the guarded report waits, the plain eager() one does not.
    assert stand.automate() == {"shop/plain_report"}
    assert stand.execute(request).success
    assert stand.automate() == {"shop/guarded_report"}

    stand.refresh("(4, -1000)")  # a negative total breaks the blocking test
    (failing,) = stand.tick().run_requests
    result = stand.execute(failing)
    assert not result.success  # the blocking test failed its step
    assert checks_of(result) == {NOT_NULL: True, ROW_COUNT: True, POSITIVE: False}
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.asset_check_key == POSITIVE
    ]
    assert evaluation.metadata["failing_rows"].value == 1
    assert "-1000" in str(evaluation.metadata["sample"].value)
    assert stand.automate() == {"shop/plain_report"}
    assert stand.automate() == set()  # and it stays held back

    stand.run(f"DELETE FROM {stand.database}.S.ORDERS WHERE ID = 4")
    stand.run(f"ALTER DYNAMIC TABLE {stand.database}.S.TOTALS REFRESH")
    (fixed,) = stand.tick().run_requests
    assert stand.execute(fixed).success
    assert "shop/guarded_report" in stand.automate()
