"""The four Dynamic Table health checks: evaluation from typed state, and the checks' own
execution (as from the UI) against the local Snowflake stand-in."""

import itertools
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.definitions.resources import build_snowflake_resource
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.definitions.tenant import build_tenant_definitions
from dagster_dynamic_tables.health.checks import (
    build_check_specs,
    build_dynamic_table_checks,
    check_runs_in_process_executor,
)
from dagster_dynamic_tables.health.rules import (
    CHECK_NAMES,
    MATCHES_DECLARATION,
    REFRESH_SUCCEEDED,
    SCHEDULING_ACTIVE,
    WITHIN_TARGET_LAG,
    CheckOutcome,
    evaluate_dynamic_table,
)
from dagster_dynamic_tables.sql.records import DynamicTableState, SchedulingState
from dagster_snowflake import SnowflakeResource
from local_snowflake import connection_args
from support.check_runs import execute_health_checks
from support.processes import free_port
from support.repo import TESTS_ROOT
from support.shop import create_shop_objects, shop_tenant, stand_in_resource
from support.snowflake_resources import counting_resource, logins, unreachable_resource

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def declared(target_lag: str = "1 minute", **kwargs: Any) -> DynamicTable:
    fields: dict[str, Any] = {
        "name": "clv",
        "table": "ANALYTICS.ECOMMERCE.CLV",
        "target_lag": target_lag,
        "warehouse": "transform_wh",
        "refresh_mode": "INCREMENTAL",
        "query": "SELECT 1",
    }
    return DynamicTable(**{**fields, **kwargs})


def healthy(**changes: Any) -> DynamicTableState:
    fields: dict[str, Any] = {
        "qualified_name": "ANALYTICS.ECOMMERCE.CLV",
        "target_lag_sec": 60,
        "target_lag_type": "USER_DEFINED",
        "scheduling_state": SchedulingState("ACTIVE"),
        "latest_data_timestamp": NOW - timedelta(seconds=30),
        "last_completed_refresh_state": "SUCCEEDED",
        "refresh_mode": "INCREMENTAL",
        "warehouse": "TRANSFORM_WH",
        "target_lag": "1 minute",
    }
    return DynamicTableState(**{**fields, **changes})


def outcomes(dt: DynamicTable, state: DynamicTableState | None) -> dict[str, CheckOutcome]:
    return {o.check_name: o for o in evaluate_dynamic_table(dt, state, NOW)}


def test_check_names_are_exactly_the_four():
    assert CHECK_NAMES == (
        "refresh_succeeded",
        "scheduling_active",
        "within_target_lag",
        "matches_declaration",
    )
    tenant = Tenant("shop", dynamic_tables=(declared(),))
    dt = tenant.dynamic_tables[0]
    assert [spec.name for spec in build_check_specs(tenant, dt)] == list(CHECK_NAMES)
    (checks,) = build_dynamic_table_checks(tenant)
    assert {key.name for key in checks.check_keys} == set(CHECK_NAMES)
    assert {key.asset_key for key in checks.check_keys} == {dg.AssetKey(["shop", "clv"])}


def test_one_check_definition_per_dynamic_table():
    other = declared(name="other", table="DB.S.OTHER")
    tenant = Tenant("shop", dynamic_tables=(declared(), other))
    checks = build_dynamic_table_checks(tenant)
    assert [c.node_def.name for c in checks] == ["shop__clv__health", "shop__other__health"]
    assert [{key.asset_key.path[-1] for key in c.check_keys} for c in checks] == [
        {"clv"},
        {"other"},
    ]


def test_no_dynamic_table_means_no_checks():
    assert build_dynamic_table_checks(Tenant("shop")) == []


def test_healthy_table_passes_all_four():
    results = outcomes(declared(), healthy())
    assert all(o.passed for o in results.values()), results


@pytest.mark.parametrize(
    ("state", "code", "message"),
    [
        ("FAILED", "002003", "SQL compilation error: invalid identifier 'AMOUNT'"),
        ("UPSTREAM_FAILED", "UPSTREAM_FAILURE", "upstream ANALYTICS.ECOMMERCE.ORDERS_DT failed"),
        ("CANCELLED", "CANCELLED", "cancelled by user"),
    ],
    ids=["failed", "upstream-failed", "cancelled"],
)
def test_failed_last_refresh_fails_refresh_succeeded_with_code_and_message(state, code, message):
    result = outcomes(
        declared(),
        healthy(
            last_completed_refresh_state=state,
            last_completed_refresh_state_code=code,
            last_completed_refresh_state_message=message,
        ),
    )[REFRESH_SUCCEEDED]
    assert not result.passed
    assert result.severity == "ERROR"
    assert result.description == (
        f"The last completed refresh of ANALYTICS.ECOMMERCE.CLV is {state} "
        f"(state code {code}): {message}"
    )


def test_suspended_table_fails_scheduling_active_with_reason():
    result = outcomes(
        declared(),
        healthy(
            scheduling_state=SchedulingState(
                "SUSPENDED", "SUSPENDED_DUE_TO_ERRORS", "5 consecutive failed refreshes"
            )
        ),
    )[SCHEDULING_ACTIVE]
    assert not result.passed
    assert result.description == (
        "ANALYTICS.ECOMMERCE.CLV is SUSPENDED (SUSPENDED_DUE_TO_ERRORS): 5 consecutive failed "
        "refreshes. Snowflake will not refresh it. Fix the cause, then ALTER DYNAMIC TABLE "
        '"ANALYTICS"."ECOMMERCE"."CLV" RESUME.'
    )


def test_a_skipped_last_refresh_passes_refresh_succeeded():
    result = outcomes(
        declared(),
        healthy(
            last_completed_refresh_state="SKIPPED",
            last_completed_refresh_state_message="previous refresh still running",
        ),
    )[REFRESH_SUCCEEDED]
    assert (result.passed, result.kind) == (True, "skipped")
    assert result.description == (
        "The last refresh of ANALYTICS.ECOMMERCE.CLV was SKIPPED (previous refresh still "
        "running): Snowflake skips a refresh when the previous one is still running or nothing "
        "is due."
    )


def test_lag_figures_are_numeric_metadata():
    state = healthy(
        latest_data_timestamp=NOW - timedelta(seconds=42),
        mean_lag_sec=30,
        maximum_lag_sec=58,
        time_within_target_lag_ratio=0.99,
    )
    metadata = outcomes(declared(), state)[WITHIN_TARGET_LAG].dagster_metadata()
    for key in ("lag_seconds", "mean_lag_seconds", "maximum_lag_seconds"):
        assert isinstance(metadata[key].value, int | float), key
    assert metadata["time_within_target_lag_ratio"].value == 0.99


@pytest.mark.parametrize("state", ["RUNNING", "ACTIVE", "SOMETHING_NEW"])
def test_anything_but_suspended_is_active(state):
    result = outcomes(declared(), healthy(scheduling_state=SchedulingState(state)))
    assert result[SCHEDULING_ACTIVE].passed


@pytest.mark.parametrize(
    ("lag_seconds", "passed", "severity", "kind"),
    [
        (30, True, "WARN", "ok"),
        (60, True, "WARN", "ok"),
        (61, True, "WARN", "ok"),  # a 1-minute table between refreshes: no flapping
        (90, True, "WARN", "ok"),
        (91, False, "WARN", "above_margin"),
        (120, False, "WARN", "above_margin"),
        (121, False, "ERROR", "above_2x"),
    ],
    ids=["within", "at-target", "just-above-1x", "at-1.5x", "above-1.5x", "at-2x", "above-2x"],
)
def test_within_target_lag_warns_above_1_5x_and_errors_above_2x(
    lag_seconds, passed, severity, kind
):
    state = healthy(latest_data_timestamp=NOW - timedelta(seconds=lag_seconds))
    result = outcomes(declared(), state)[WITHIN_TARGET_LAG]
    assert (result.passed, result.severity, result.kind) == (passed, severity, kind)
    assert result.metadata["lag_seconds"] == lag_seconds
    assert result.metadata["target_lag_seconds"] == 60


def test_downstream_table_passes_lag_and_reports_it():
    state = healthy(
        target_lag_type="DOWNSTREAM",
        target_lag_sec=None,
        latest_data_timestamp=NOW - timedelta(hours=5),
    )
    result = outcomes(declared("DOWNSTREAM"), state)
    assert result[WITHIN_TARGET_LAG].passed
    assert result[WITHIN_TARGET_LAG].description.startswith("Target lag is DOWNSTREAM")
    assert result[WITHIN_TARGET_LAG].metadata["lag_seconds"] == 5 * 3600
    assert result[MATCHES_DECLARATION].passed


def test_never_refreshed_table_fails_lag():
    result = outcomes(declared(), healthy(latest_data_timestamp=None))[WITHIN_TARGET_LAG]
    assert not result.passed
    assert "has not refreshed successfully yet" in result.description


@pytest.mark.parametrize(
    ("changes", "difference"),
    [
        (
            {"target_lag_sec": 300, "target_lag": "5 minutes"},
            "target_lag: declared '1 minute' (60 s), Snowflake has 300 s",
        ),
        (
            {"target_lag_type": "DOWNSTREAM", "target_lag_sec": None},
            "target_lag: declared '1 minute' (60 s), Snowflake has DOWNSTREAM",
        ),
        ({"refresh_mode": "FULL"}, "refresh_mode: declared INCREMENTAL, Snowflake has FULL"),
        ({"warehouse": "OTHER_WH"}, "warehouse: declared TRANSFORM_WH, Snowflake has OTHER_WH"),
        ({"warehouse": None}, "warehouse: declared TRANSFORM_WH, Snowflake has nothing"),
    ],
    ids=["lag", "lag-downstream", "refresh-mode", "warehouse", "warehouse-unknown"],
)
def test_drift_fails_matches_declaration(changes, difference):
    result = outcomes(declared(), healthy(**changes))[MATCHES_DECLARATION]
    assert not result.passed
    assert result.description == (
        f"ANALYTICS.ECOMMERCE.CLV differs from its declaration: {difference}. Fix: deploy the "
        "declaration again (CREATE OR REPLACE / ALTER DYNAMIC TABLE ... SET), or change the YAML "
        "to what Snowflake has."
    )


def test_declared_auto_matches_the_mode_snowflake_chose():
    result = outcomes(declared(refresh_mode="AUTO"), healthy(refresh_mode="FULL"))
    assert result[MATCHES_DECLARATION].passed


def test_missing_table_fails_every_check_saying_so():
    results = outcomes(declared(), None)
    assert set(results) == set(CHECK_NAMES)
    for result in results.values():
        assert not result.passed
        assert result.severity == "ERROR"
        assert result.description.startswith(
            "ANALYTICS.ECOMMERCE.CLV does not exist in Snowflake, or this role cannot see it."
        )


def test_hidden_metadata_fails_every_check_asking_for_monitor():
    results = outcomes(declared(), DynamicTableState("ANALYTICS.ECOMMERCE.CLV"))
    for result in results.values():
        assert not result.passed
        assert "only the name columns are filled" in result.description
        assert 'GRANT MONITOR ON DYNAMIC TABLE "ANALYTICS"."ECOMMERCE"."CLV"' in result.description


def test_signature_ignores_numbers_that_change_every_tick():
    first = outcomes(declared(), healthy(latest_data_timestamp=NOW - timedelta(seconds=70)))
    later = outcomes(declared(), healthy(latest_data_timestamp=NOW - timedelta(seconds=90)))
    worse = outcomes(declared(), healthy(latest_data_timestamp=NOW - timedelta(seconds=130)))
    assert first[WITHIN_TARGET_LAG].signature == later[WITHIN_TARGET_LAG].signature
    assert first[WITHIN_TARGET_LAG].signature != worse[WITHIN_TARGET_LAG].signature


# Executing the checks (as the UI does) against the stand-in ----------------------------------

_databases = itertools.count()


@pytest.fixture
def database(local_snowflake_connect) -> tuple[str, Any]:
    """A fresh database with schema S, a source table and a cursor on it."""
    name = f"CHECKS_{next(_databases)}"
    cursor = local_snowflake_connect().cursor()
    create_shop_objects(cursor, name)
    return name, cursor


def ghost(database: str) -> DynamicTable:
    """A declared Dynamic Table that does not exist in Snowflake."""
    return DynamicTable(
        name="ghost",
        table=f"{database}.S.GHOST",
        target_lag="1 minute",
        warehouse="WH",
        query="SELECT 1",
    )


def run_checks(tenant: Tenant, resource: SnowflakeResource) -> dict[tuple[str, str], Any]:
    result = execute_health_checks(tenant, resource)
    assert result.success
    return {
        (evaluation.asset_key.path[-1], evaluation.check_name): evaluation
        for evaluation in result.get_asset_check_evaluations()
    }


def test_executed_checks_report_health_and_missing_tables(
    database, local_snowflake_connection_args
):
    name, cursor = database
    tenant = shop_tenant(name, ghost(name))
    cursor.execute(f"ALTER DYNAMIC TABLE {name}.S.TOTALS SUSPEND")
    evaluations = run_checks(tenant, stand_in_resource(local_snowflake_connection_args))
    assert set(evaluations) == {(dt, check) for dt in ("totals", "ghost") for check in CHECK_NAMES}
    assert evaluations["totals", REFRESH_SUCCEEDED].passed
    assert evaluations["totals", MATCHES_DECLARATION].passed
    assert not evaluations["totals", SCHEDULING_ACTIVE].passed
    assert "is SUSPENDED" in (evaluations["totals", SCHEDULING_ACTIVE].description or "")
    for check in CHECK_NAMES:
        evaluation = evaluations["ghost", check]
        assert not evaluation.passed
        assert "does not exist in Snowflake" in (evaluation.description or "")


def test_executed_checks_fail_the_run_saying_why_when_snowflake_is_down():
    resource = unreachable_resource("hunter2secret")
    tenant = Tenant("shop", dynamic_tables=(declared(),))
    result = execute_health_checks(tenant, resource)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.error)
    # the login's fault, with the timeouts it ran with (the connector's default socket timeout)
    assert (
        "Dynamic Table state not read: cannot reach Snowflake at account 'local' as user "
        "'local': the login did not complete (SNOWFLAKE_LOGIN_TIMEOUT 3 s, "
        "SNOWFLAKE_SOCKET_TIMEOUT unset (the connector's default), statements 15 s: the endpoint "
        "did not answer in time, or refused the connection)"
    ) in message
    assert "hunter2secret" not in message


def test_executed_checks_fail_the_run_saying_why_when_the_stand_in_cannot_start(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = {"LOCAL_SNOWFLAKE_DATA_DIR": str(blocker / "data"), "LOCAL_SNOWFLAKE_PORT": "1"}
    tenant = Tenant("shop", dynamic_tables=(declared(),))
    result = execute_health_checks(tenant, build_snowflake_resource(tenant, env=env))
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.error)
    assert (
        "The local Snowflake stand-in for tenant 'shop' did not start: cannot use "
        f"{blocker / 'data'} as the local-snowflake data directory: Not a directory."
    ) in message


# One read per run: the checks of many DTs in one run ------------------------------------------


def statement_count(cursor: Any) -> int:
    cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")
    return int(cursor.fetchall()[0][0])


@pytest.fixture
def three_tables(database) -> tuple[Tenant, Any]:
    """TOTALS in the fixture's database, DOUBLED in a second database, GHOST nowhere."""
    name, cursor = database
    for sql in (
        f"CREATE DATABASE {name}_B",
        f"CREATE SCHEMA {name}_B.S",
        f"CREATE DYNAMIC TABLE {name}_B.S.DOUBLED TARGET_LAG = '2 minutes' WAREHOUSE = WH "
        f"REFRESH_MODE = FULL AS SELECT ID, AMOUNT * 2 AS V FROM {name}.S.ORDERS",
    ):
        cursor.execute(sql)
    doubled = DynamicTable(
        name="doubled",
        table=f"{name}_B.S.DOUBLED",
        target_lag="2 minutes",
        warehouse="WH",
        refresh_mode="FULL",
        query=f"SELECT ID, AMOUNT * 2 AS V FROM {name}.S.ORDERS",
    )
    return shop_tenant(name, doubled, ghost(name)), cursor


def check_definitions(
    tenant: Tenant, resource: SnowflakeResource, **executor: Any
) -> dg.Definitions:
    return dg.Definitions(
        assets=build_asset_specs(tenant),
        asset_checks=build_dynamic_table_checks(tenant, clock=lambda: NOW),
        resources={"snowflake": resource},
        **executor,
    )


def evaluate_in_one_run(
    defs: dg.Definitions, selection: dg.AssetSelection
) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    job = dg.define_asset_job("health", selection=selection)
    with dg.DagsterInstance.ephemeral() as instance:
        result = (
            dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
            .resolve_job_def("health")
            .execute_in_process(instance=instance)
        )
        assert result.success
        return {
            (evaluation.asset_key.path[-1], evaluation.check_name): evaluation
            for evaluation in result.get_asset_check_evaluations()
        }


MOVING_FIGURES = frozenset({"mean_lag_seconds", "maximum_lag_seconds"})
"""Figures Snowflake (and the stand-in) compute from its own clock at each read."""


def summary(evaluation: dg.AssetCheckEvaluation) -> tuple[Any, ...]:
    """What a check evaluation reports, but the figures that move between two reads."""
    metadata = {k: v for k, v in evaluation.metadata.items() if k not in MOVING_FIGURES}
    return (evaluation.passed, evaluation.severity, evaluation.description, metadata)


def test_checks_of_many_tables_in_one_run_read_snowflake_once(
    three_tables, local_snowflake_connection_args, tmp_path
):
    log = tmp_path / "logins.txt"
    tenant, cursor = three_tables
    defs = check_definitions(tenant, counting_resource(log, local_snowflake_connection_args))
    before = statement_count(cursor)
    evaluations = evaluate_in_one_run(defs, dg.AssetSelection.all_asset_checks())
    assert statement_count(cursor) - before - 1 == 1  # minus the first count statement
    assert logins(log) == 1
    assert set(evaluations) == {
        (dt.name, check) for dt in tenant.dynamic_tables for check in CHECK_NAMES
    }


def test_checks_of_many_tables_in_one_run_report_what_each_run_alone_reports(
    three_tables, local_snowflake_connection_args, tmp_path
):
    log = tmp_path / "logins.txt"
    tenant, cursor = three_tables
    cursor.execute(f"ALTER DYNAMIC TABLE {tenant.dynamic_tables[0].table} SUSPEND")
    defs = check_definitions(tenant, counting_resource(log, local_snowflake_connection_args))
    together = evaluate_in_one_run(defs, dg.AssetSelection.all_asset_checks())
    alone: dict[tuple[str, str], dg.AssetCheckEvaluation] = {}
    for dt in tenant.dynamic_tables:
        key = dg.AssetKey(tenant.key_path(dt))
        alone |= evaluate_in_one_run(defs, dg.AssetSelection.checks_for_assets(key))
    assert logins(log) == 1 + len(tenant.dynamic_tables)  # one run, then one per DT
    assert not together["totals", SCHEDULING_ACTIVE].passed
    assert together["doubled", MATCHES_DECLARATION].passed
    assert not together["ghost", REFRESH_SUCCEEDED].passed
    assert {key: summary(e) for key, e in together.items()} == {
        key: summary(e) for key, e in alone.items()
    }


def test_a_run_never_sees_the_read_of_an_earlier_run(
    three_tables, local_snowflake_connection_args, tmp_path
):
    log = tmp_path / "logins.txt"
    tenant, cursor = three_tables
    defs = check_definitions(tenant, counting_resource(log, local_snowflake_connection_args))
    first = evaluate_in_one_run(defs, dg.AssetSelection.all_asset_checks())
    cursor.execute(f"ALTER DYNAMIC TABLE {tenant.dynamic_tables[0].table} SUSPEND")
    second = evaluate_in_one_run(defs, dg.AssetSelection.all_asset_checks())
    assert first["totals", SCHEDULING_ACTIVE].passed
    assert not second["totals", SCHEDULING_ACTIVE].passed
    assert logins(log) == 2


def test_a_fault_of_the_shared_read_fails_every_step_without_asking_again(tmp_path):
    log = tmp_path / "logins.txt"
    port = free_port()
    resource = counting_resource(
        log,
        {"host": "127.0.0.1", "port": port, "protocol": "http", "login_timeout": 3},
    )
    other = declared(name="other", table="DB.S.OTHER")
    defs = check_definitions(Tenant("shop", dynamic_tables=(declared(), other)), resource)
    job = dg.define_asset_job("health", selection=dg.AssetSelection.all_asset_checks())
    with dg.DagsterInstance.ephemeral() as instance:
        result = (
            dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
            .resolve_job_def("health")
            .execute_in_process(instance=instance, raise_on_error=False)
        )
        failures = [e for e in result.all_events if e.is_step_failure]
        messages = {str(e.step_failure_data.error) for e in failures}
    assert len(failures) == 2
    assert logins(log) == 1
    assert all("cannot reach Snowflake at account 'local' as user 'local'" in m for m in messages)


# The tenant's executor: a run of checks only executes in process ------------------------------

_ENV = "TEST_CHECKS_EXECUTOR"
"""Prefix of the environment variables the jobs are built from (in every process)."""


@dg.asset
def report() -> None:
    """A Python asset of the tenant: its runs keep Dagster's default executor."""


def checks_job() -> dg.JobDefinition:
    """A reconstructable job of the tenant's checks (one function per job: Dagster caches a
    reconstructable job by the function that builds it)."""
    return executor_job(dg.AssetSelection.all_asset_checks())


def assets_job() -> dg.JobDefinition:
    """A reconstructable job of the tenant's Python asset."""
    return executor_job(dg.AssetSelection.assets(report))


def executor_job(selection: dg.AssetSelection) -> dg.JobDefinition:
    """A job over the tenant's checks and a Python asset, with the executor of
    `build_tenant_definitions`."""
    tenant = Tenant(
        "shop",
        dynamic_tables=tuple(declared(name=f"dt{i}", table=f"DB.S.DT{i}") for i in range(3)),
    )
    resource = counting_resource(
        Path(os.environ[f"{_ENV}_DIR"]) / "logins.txt",
        connection_args("127.0.0.1", int(os.environ[f"{_ENV}_PORT"])),
    )
    defs = dg.Definitions.merge(
        check_definitions(tenant, resource, executor=check_runs_in_process_executor),
        dg.Definitions(
            assets=[report], jobs=[dg.define_asset_job("selected", selection=selection)]
        ),
    )
    return defs.resolve_job_def("selected")


def execute_job(
    job: Callable[[], dg.JobDefinition],
    tmp_path: Path,
    server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[bool, list[str], int]:
    """Success, engine messages and check evaluations of one run of `job`."""
    monkeypatch.setenv(f"{_ENV}_DIR", str(tmp_path))
    monkeypatch.setenv(f"{_ENV}_PORT", str(server.port))
    # A step process imports this module again with the parent's sys.path minus its first entry
    # (Dagster drops the script's folder), which is pytest's `tests/`: keep `support` importable.
    monkeypatch.syspath_prepend(str(TESTS_ROOT))
    home = tmp_path / "instance"
    home.mkdir()
    with (
        dg.DagsterInstance.local_temp(str(home)) as instance,  # multiprocess needs it stored
        dg.execute_job(dg.reconstructable(job), instance) as result,
    ):
        engine = [str(e.message) for e in result.all_events if e.is_engine_event]
        return result.success, engine, len(result.get_asset_check_evaluations())


def test_tenant_definitions_use_the_check_runs_executor():
    tenant = Tenant("shop", dynamic_tables=(declared(),))
    defs = build_tenant_definitions(tenant, env={})
    assert defs.executor is check_runs_in_process_executor


def test_a_run_of_checks_only_executes_in_process_with_one_login(
    local_snowflake_server, tmp_path, monkeypatch
):
    log = tmp_path / "logins.txt"
    success, engine, evaluations = execute_job(
        checks_job, tmp_path, local_snowflake_server, monkeypatch
    )
    assert success
    assert any(m.startswith("Executing steps in process") for m in engine), engine
    assert evaluations == 3 * len(CHECK_NAMES)
    assert logins(log) == 1


def test_a_run_of_assets_keeps_the_multiprocess_executor(
    local_snowflake_server, tmp_path, monkeypatch
):
    success, engine, _ = execute_job(assets_job, tmp_path, local_snowflake_server, monkeypatch)
    assert success
    assert any(m.startswith("Executing steps using multiprocess executor") for m in engine), engine
