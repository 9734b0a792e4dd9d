"""`plan` / `apply` against the local stand-in over the real connector (no mocks).

Each test declares its own database, so the session's server is shared safely.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import snowflake.connector
from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.errors import PlanError, SnowflakeSettingsError
from dagster_dynamic_tables.platform.plan.apply import ApplyResult, apply_plan
from dagster_dynamic_tables.platform.plan.build import (
    Action,
    PlannedObject,
    TenantPlan,
    plan_dynamic_table,
    plan_tenant,
)
from dagster_dynamic_tables.platform.plan.connect import connect_tenant
from dagster_dynamic_tables.platform.plan.declared import load_declared_tenants
from dagster_dynamic_tables.platform.plan.run import run_apply, run_plan
from dagster_dynamic_tables.platform.plan.show import format_plan
from dagster_dynamic_tables.platform.plan.snapshot import (
    ExistingDynamicTable,
    ExistingObject,
    Snapshot,
)
from dagster_dynamic_tables.sql import ddl
from local_snowflake import ServerInfo
from support.repo import REPO_ROOT

Connect = Callable[..., snowflake.connector.SnowflakeConnection]

QUERY = "select customer_id, sum(amount) as total from {db}.RAW.ORDERS group by customer_id"


def _attributes(db: str, **dt_fields: Any) -> dict[str, Any]:
    return {
        "tenant": "shop",
        "sources": [{"name": "raw_orders", "table": f"{db}.RAW.ORDERS"}],
        "dynamic_tables": [
            {
                "name": "revenue",
                "table": f"{db}.ANALYTICS.REVENUE",
                "target_lag": "1 minute",
                "warehouse": "TRANSFORMING",
                "refresh_mode": "INCREMENTAL",
                "deps": ["raw_orders"],
                "query": QUERY.format(db=db),
                **dt_fields,
            },
            {
                "name": "top_customers",
                "table": f"{db}.ANALYTICS.TOP_CUSTOMERS",
                "target_lag": "DOWNSTREAM",
                "warehouse": "TRANSFORMING",
                "refresh_mode": "FULL",
                "deps": ["revenue"],
                "query": f"select customer_id from {db}.ANALYTICS.REVENUE where total > 10",
            },
        ],
        "views": [
            {
                "name": "dashboard",
                "table": f"{db}.BI.DASHBOARD",
                "deps": ["revenue"],
                "query": f"select * from {db}.ANALYTICS.REVENUE",
            }
        ],
    }


def _tenant(db: str, **dt_fields: Any) -> Tenant:
    return build_tenant(_attributes(db, **dt_fields), file=None, base_dir=None)


@pytest.fixture
def conn(local_snowflake_connect: Connect) -> snowflake.connector.SnowflakeConnection:
    return local_snowflake_connect()


@pytest.fixture
def cursor(conn: snowflake.connector.SnowflakeConnection) -> Iterator[Any]:
    cur = conn.cursor()
    yield cur
    cur.close()


def _seed(cursor: Any, db: str) -> None:
    cursor.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {db}.RAW")
    cursor.execute(f"CREATE TABLE {db}.RAW.ORDERS (customer_id INT, amount INT)")
    cursor.execute(f"INSERT INTO {db}.RAW.ORDERS VALUES (1, 5), (1, 7), (2, 3)")


def _plan(cursor: Any, tenant: Tenant) -> TenantPlan:
    # The stand-in keeps a view's SQL rewritten by DuckDB, so view queries are compared only
    # against Snowflake (run_plan decides this from the target).
    return plan_tenant(cursor, tenant, stand_in=True)


def _actions(plan: TenantPlan) -> dict[str, Action]:
    return {item.declaration.name: item.action for item in plan.objects}


@dataclass
class Applied:
    result: ApplyResult
    questions: list[str]


def _apply(cursor: Any, plan: TenantPlan, *, yes: bool = True, answer: bool = True) -> Applied:
    questions: list[str] = []

    def ask(question: str) -> bool:
        questions.append(question)
        return answer

    return Applied(apply_plan(cursor, plan, yes=yes, ask=ask, out=io.StringIO()), questions)


def _history(cursor: Any, db: str) -> list[tuple[str, str, str]]:
    cursor.execute(
        "SELECT NAME, REFRESH_ACTION, REFRESH_TRIGGER FROM TABLE("
        f"{db}.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(RESULT_LIMIT => 1000)) "
        "ORDER BY REFRESH_START_TIME"
    )
    return [tuple(row) for row in cursor.fetchall()]


def test_plan_on_an_empty_account_lists_creates_with_their_ddl(cursor: Any) -> None:
    db = "PLAN_EMPTY"
    tenant = _tenant(db)
    plan = _plan(cursor, tenant)
    assert _actions(plan) == {
        "raw_orders": Action.SOURCE_MISSING,
        "revenue": Action.CREATE,
        "top_customers": Action.CREATE,
        "dashboard": Action.CREATE,
    }
    revenue = next(item for item in plan.objects if item.declaration.name == "revenue")
    assert revenue.statements == (ddl.render_dynamic_table(tenant.dynamic_tables[0]),)
    assert (plan.statements_read, plan.databases) == (1, 1)  # no database: SHOW is not needed
    assert f'GRANT MONITOR ON DYNAMIC TABLE "{db}"."ANALYTICS"."REVENUE" TO ROLE <tenant role>' in (
        plan.grants
    )
    assert len(plan.pending) == 3


def test_apply_then_plan_lists_nothing(cursor: Any) -> None:
    db = "PLAN_APPLY"
    _seed(cursor, db)
    tenant = _tenant(db)
    result = _apply(cursor, _plan(cursor, tenant), yes=False, answer=False)
    assert result.result.applied == [
        f"{db}.ANALYTICS.REVENUE",
        f"{db}.ANALYTICS.TOP_CUSTOMERS",
        f"{db}.BI.DASHBOARD",
    ]
    assert result.questions == []  # creating is not reinitializing: nothing to confirm
    again = _plan(cursor, tenant)
    assert again.pending == []
    assert _actions(again) == {
        "raw_orders": Action.SOURCE_PRESENT,
        "revenue": Action.UNCHANGED,
        "top_customers": Action.UNCHANGED,
        "dashboard": Action.UNCHANGED,
    }
    assert (again.statements_read, again.databases) == (2, 1)


def test_a_changed_lag_or_warehouse_is_altered_in_place_without_reinitializing(
    cursor: Any,
) -> None:
    db = "PLAN_ALTER"
    _seed(cursor, db)
    _apply(cursor, _plan(cursor, _tenant(db)))
    before = _history(cursor, db)
    changed = _tenant(db, target_lag="5 minutes", warehouse="BIGGER_WH")
    plan = _plan(cursor, changed)
    revenue = next(item for item in plan.objects if item.declaration.name == "revenue")
    assert (revenue.action, revenue.reinitializes) == (Action.ALTER, False)
    assert [change.render() for change in revenue.changes] == [
        "TARGET_LAG: 1 minute -> 5 minutes",
        "WAREHOUSE: TRANSFORMING -> BIGGER_WH",
    ]
    assert revenue.statements[0].startswith(f'CREATE OR ALTER DYNAMIC TABLE "{db}"')
    result = _apply(cursor, plan, yes=False, answer=False)
    assert result.questions == []
    assert result.result.applied == [f"{db}.ANALYTICS.REVENUE"]
    assert _history(cursor, db) == before  # no refresh, so no reinitialization
    assert _plan(cursor, changed).pending == []


def test_a_changed_query_re_creates_and_asks_first(cursor: Any) -> None:
    db = "PLAN_QUERY"
    _seed(cursor, db)
    _apply(cursor, _plan(cursor, _tenant(db)))
    changed = _tenant(db, query=QUERY.format(db=db) + " having sum(amount) > 1")
    plan = _plan(cursor, changed)
    revenue = next(item for item in plan.objects if item.declaration.name == "revenue")
    assert (revenue.action, revenue.reinitializes) == (Action.RECREATE, True)
    assert [change.prop for change in revenue.changes] == [ddl.QUERY]
    declined = _apply(cursor, plan, yes=False, answer=False)
    assert declined.result.declined == [f"{db}.ANALYTICS.REVENUE"]
    assert len(declined.questions) == 1
    assert "REINITIALIZES" in declined.questions[0]
    assert _plan(cursor, changed).pending  # still pending
    confirmed = _apply(cursor, plan, yes=False, answer=True)
    assert confirmed.result.applied == [f"{db}.ANALYTICS.REVENUE"]
    assert _history(cursor, db)[-1][1] == "REINITIALIZE"
    assert _plan(cursor, changed).pending == []


def test_layout_and_keyword_case_of_the_query_do_not_count(cursor: Any) -> None:
    db = "PLAN_LAYOUT"
    _seed(cursor, db)
    _apply(cursor, _plan(cursor, _tenant(db)))
    relaid = QUERY.format(db=db).upper().replace(" ", "\n   ")
    assert _actions(_plan(cursor, _tenant(db, query=relaid)))["revenue"] is Action.UNCHANGED


def test_declared_auto_matches_the_mode_snowflake_chose_and_says_which(cursor: Any) -> None:
    db = "PLAN_AUTO"
    _seed(cursor, db)
    _apply(cursor, _plan(cursor, _tenant(db, refresh_mode="AUTO")))
    plan = _plan(cursor, _tenant(db, refresh_mode="AUTO"))
    revenue = next(item for item in plan.objects if item.declaration.name == "revenue")
    assert revenue.action is Action.UNCHANGED
    assert "refresh_mode AUTO: Snowflake chose INCREMENTAL" in revenue.notes
    adaptive = _plan(cursor, _tenant(db, refresh_mode="ADAPTIVE"))
    revenue = next(item for item in adaptive.objects if item.declaration.name == "revenue")
    assert (revenue.action, revenue.reinitializes) == (Action.RECREATE, True)
    assert [change.render() for change in revenue.changes] == [
        "REFRESH_MODE: INCREMENTAL -> ADAPTIVE"
    ]
    _apply(cursor, adaptive)
    cursor.execute(f"SHOW DYNAMIC TABLES LIKE 'REVENUE' IN DATABASE {db}")
    assert [row[9] for row in cursor.fetchall()] == ["ADAPTIVE"]  # refresh_mode
    assert _actions(_plan(cursor, _tenant(db, refresh_mode="ADAPTIVE")))["revenue"] is (
        Action.UNCHANGED
    )
    assert _actions(_plan(cursor, _tenant(db, refresh_mode="AUTO")))["revenue"] is (
        Action.UNCHANGED
    )


def test_a_table_in_a_declared_place_is_a_conflict_and_is_never_dropped(cursor: Any) -> None:
    db = "PLAN_CONFLICT"
    _seed(cursor, db)
    cursor.execute(f"CREATE SCHEMA {db}.ANALYTICS")
    cursor.execute(f"CREATE TABLE {db}.ANALYTICS.REVENUE (x INT)")
    cursor.execute(f"CREATE TABLE {db}.ANALYTICS.UNDECLARED (x INT)")
    plan = _plan(cursor, _tenant(db))
    assert _actions(plan)["revenue"] is Action.CONFLICT
    result = _apply(cursor, plan)
    assert result.result.conflicts == [f"{db}.ANALYTICS.REVENUE"]
    assert result.result.blocked == [f"{db}.ANALYTICS.TOP_CUSTOMERS", f"{db}.BI.DASHBOARD"]
    cursor.execute(f"SELECT COUNT(*) FROM {db}.ANALYTICS.UNDECLARED")
    assert cursor.fetchone() == (0,)
    cursor.execute(f"SELECT COUNT(*) FROM {db}.ANALYTICS.REVENUE")
    assert cursor.fetchone() == (0,)


def test_plan_reads_a_fixed_number_of_statements_per_database(cursor: Any) -> None:
    db = "PLAN_COUNT"
    _seed(cursor, db)
    many = _attributes(db)
    many["dynamic_tables"] += [
        {
            "name": f"extra_{index}",
            "table": f"{db}.S{index % 3}.EXTRA_{index}",
            "target_lag": "1 hour",
            "warehouse": "TRANSFORMING",
            "query": f"select {index} as n",
        }
        for index in range(30)
    ]
    tenant = build_tenant(many, file=None, base_dir=None)
    cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")
    start = cursor.fetchone()[0]
    plan = _plan(cursor, tenant)
    cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")
    assert cursor.fetchone()[0] - start - 1 == plan.statements_read == 2


def test_format_plan_shows_headlines_changes_and_ddl(cursor: Any) -> None:
    db = "PLAN_FORMAT"
    _seed(cursor, db)
    _apply(cursor, _plan(cursor, _tenant(db)))
    lines = format_plan(_plan(cursor, _tenant(db, target_lag="2 minutes")), "here")
    text = "\n".join(lines)
    assert lines[0] == "tenant shop (here): read 1 database with 2 statements"
    assert f"  alter      {db}.ANALYTICS.REVENUE (dynamic table): in place, keeps its data" in text
    assert "      TARGET_LAG: 1 minute -> 2 minutes" in text
    assert f'      | CREATE OR ALTER DYNAMIC TABLE "{db}"."ANALYTICS"."REVENUE"' in text
    assert lines[-1] == "  0 to create, 1 to alter, 0 to re-create, 2 unchanged"


# --- the commands, on a repository folder ---------------------------------------------------


def _repo(tmp_path: Path, db: str) -> Path:
    import yaml

    defs = tmp_path / "tenants" / "shop" / "src" / "shop" / "defs" / "snowflake"
    defs.mkdir(parents=True)
    (tmp_path / "tenants" / "shop" / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    document = {"type": "dagster_dynamic_tables.DynamicTablesComponent"}
    document["attributes"] = _attributes(db)  # pyright: ignore[reportArgumentType]
    (defs / "defs.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    schemas = [f"{db}.RAW", f"{db}.ANALYTICS", f"{db}.BI"]
    grants = {"tenants": {"shop": {"owner": "@acme/shop", "schemas": schemas}}}
    (tmp_path / "grants.yaml").write_text(yaml.safe_dump(grants, sort_keys=False))
    return tmp_path


def test_run_plan_and_run_apply_exit_statuses(
    tmp_path: Path, local_snowflake_server: ServerInfo, cursor: Any
) -> None:
    db = "PLAN_COMMANDS"
    _seed(cursor, db)
    root = _repo(tmp_path, db)
    env = {
        "LOCAL_SNOWFLAKE_PORT": str(local_snowflake_server.port),
        "LOCAL_SNOWFLAKE_DATA_DIR": str(local_snowflake_server.data_dir),
    }
    out = io.StringIO()
    assert run_plan(root, None, out, env=env) == 1
    assert "plan: 3 changes pending" in out.getvalue()
    out = io.StringIO()
    assert run_apply(root, "shop", False, out, lambda _question: False, env=env) == 0
    assert "apply shop: 3 applied" in out.getvalue()
    assert out.getvalue().endswith("plan shop after apply: no changes\n")
    out = io.StringIO()
    assert run_plan(root, "shop", out, env=env) == 0
    assert "plan: no changes" in out.getvalue()


# --- classification against rows shaped as Snowflake reports them ----------------------------
# The stand-in's SHOW DYNAMIC TABLES has no scheduler, initialization_warehouse or
# immutable_where column and keeps no comment or clustering key; Snowflake reports them. These
# tests feed `plan_dynamic_table` such rows (data, not a mock of the connector).

FULL_DT: dict[str, Any] = {
    "name": "orders",
    "table": "SHOP.A.ORDERS",
    "target_lag": "10 minutes",
    "warehouse": "WH",
    "refresh_mode": "INCREMENTAL",
    "scheduler": "DISABLE",
    "initialization_warehouse": "XL",
    "cluster_by": ["order_date"],
    "comment": "orders",
    "data_retention_time_in_days": 1,
    "frozen_where": "order_date < current_date() - 30",
    "query": "select order_date, amount from SHOP.RAW.ORDERS",
}


def _snowflake_row(dt: DynamicTable, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": "ORDERS",
        "database_name": "SHOP",
        "schema_name": "A",
        "target_lag": dt.lag.text,
        "refresh_mode": dt.refresh_mode,
        "warehouse": "WH",
        "scheduler": dt.scheduler,
        "initialization_warehouse": "XL",
        "cluster_by": "LINEAR(order_date)",
        "comment": dt.comment,
        "immutable_where": dt.frozen_where,
        "text": ddl.render_dynamic_table(dt),
    }
    row.update(overrides)
    return row


def _classify(changed: dict[str, Any], transient: bool = False, **row: Any) -> PlannedObject:
    declared = DynamicTable.model_validate({**FULL_DT, "transient": transient})
    snapshot = Snapshot(
        objects={"SHOP.A.ORDERS": ExistingObject("TABLE", transient, 1)},
        dynamic_tables={"SHOP.A.ORDERS": ExistingDynamicTable(_snowflake_row(declared, **row))},
    )
    dt = DynamicTable.model_validate({**FULL_DT, "transient": transient, **changed})
    return plan_dynamic_table(dt, snapshot, "sql/orders.sql")


ALTER = "CREATE OR ALTER"


@pytest.mark.parametrize(
    ("changed", "action", "reinitializes", "verb"),
    [
        ({}, Action.UNCHANGED, False, None),
        ({"target_lag": "1 hour"}, Action.ALTER, False, "CREATE OR ALTER"),
        ({"warehouse": "OTHER"}, Action.ALTER, False, "CREATE OR ALTER"),
        ({"scheduler": "ENABLE"}, Action.ALTER, False, "CREATE OR ALTER"),
        ({"initialization_warehouse": None}, Action.ALTER, False, "CREATE OR ALTER"),
        ({"cluster_by": ["order_date", "amount"]}, Action.ALTER, False, "CREATE OR ALTER"),
        ({"comment": "new"}, Action.ALTER, False, "CREATE OR ALTER"),
        ({"data_retention_time_in_days": 0}, Action.ALTER, False, "CREATE OR ALTER"),
        ({"frozen_where": "order_date < current_date() - 7"}, Action.ALTER, True, ALTER),
        ({"refresh_mode": "ADAPTIVE"}, Action.RECREATE, True, "CREATE OR ALTER"),
        ({"refresh_mode": "AUTO"}, Action.UNCHANGED, False, None),
        ({"query": "select order_date from SHOP.RAW.ORDERS"}, Action.RECREATE, True, ALTER),
        ({"transient": True}, Action.RECREATE, True, "CREATE OR REPLACE TRANSIENT"),
        ({"initialize": "ON_SCHEDULE"}, Action.UNCHANGED, False, None),
    ],
    ids=[
        "unchanged", "target_lag", "warehouse", "scheduler", "initialization_warehouse",
        "cluster_by", "comment", "retention", "frozen_where", "refresh_mode", "auto", "query",
        "transient", "initialize_only_at_creation",
    ],
)  # fmt: skip
def test_each_property_change_is_classified_as_snowflake_documents(
    changed: dict[str, Any], action: Action, reinitializes: bool, verb: str | None
) -> None:
    planned = _classify(changed)
    assert (planned.action, planned.reinitializes) == (action, reinitializes)
    if verb is None:
        assert planned.statements == ()
    else:
        assert planned.statements[0].startswith(verb + " DYNAMIC TABLE")


def test_a_transient_table_is_altered_with_alter_statements_and_its_query_re_created() -> None:
    planned = _classify({"target_lag": "1 hour", "comment": "new"}, transient=True)
    assert (planned.action, planned.reinitializes) == (Action.ALTER, False)
    assert planned.statements == (
        'ALTER DYNAMIC TABLE "SHOP"."A"."ORDERS" SET\n  TARGET_LAG = \'1 hour\'',
        'ALTER DYNAMIC TABLE "SHOP"."A"."ORDERS" SET COMMENT = \'new\'',
    )
    query = _classify({"query": "select 1 as one"}, transient=True)
    assert query.action is Action.RECREATE
    assert query.statements[0].startswith("CREATE OR REPLACE TRANSIENT DYNAMIC TABLE")
    assert "COPY GRANTS" in query.statements[0]


def test_query_drift_names_the_file_to_look_at() -> None:
    planned = _classify({"query": "select 2 as two"})
    assert "the SELECT running in Snowflake differs from sql/orders.sql" in planned.notes


def test_properties_snowflake_does_not_report_are_named_not_guessed() -> None:
    declared = DynamicTable.model_validate(FULL_DT)
    row = {
        key: value
        for key, value in _snowflake_row(declared).items()
        if key not in ("scheduler", "initialization_warehouse", "immutable_where")
    }
    snapshot = Snapshot(dynamic_tables={"SHOP.A.ORDERS": ExistingDynamicTable(row)})
    planned = plan_dynamic_table(declared, snapshot)
    assert planned.action is Action.UNCHANGED
    assert planned.notes == (
        "not compared (Snowflake did not report it): SCHEDULER, INITIALIZATION_WAREHOUSE, "
        "FROZEN WHERE, DATA_RETENTION_TIME_IN_DAYS",
    )


# --- tenants and settings -------------------------------------------------------------------


def test_tenants_are_loaded_upstream_first_from_the_repository() -> None:
    # The repository may hold onboarded teams beside the two shipped tenants: only those two
    # and their order (finance reads ecommerce's rollup) are fixed.
    slugs = [tenant.slug for tenant in load_declared_tenants(REPO_ROOT)]
    assert {"ecommerce", "finance"} <= set(slugs)
    assert slugs.index("ecommerce") < slugs.index("finance")
    assert [t.slug for t in load_declared_tenants(REPO_ROOT, "finance")] == ["finance"]
    missing = f"t_{secrets.token_hex(6)}"  # a slug no team picks
    known = r"tenants: (\w+, )*ecommerce, (\w+, )*finance\b"
    with pytest.raises(PlanError, match=rf"no tenant '{missing}' under .*{known}"):
        load_declared_tenants(REPO_ROOT, missing)


def test_an_account_without_credentials_is_a_settings_error_naming_the_variables() -> None:
    tenant = _tenant("PLAN_SETTINGS")
    with (
        pytest.raises(SnowflakeSettingsError, match="set SHOP_SNOWFLAKE_USER or SNOWFLAKE_USER"),
        connect_tenant(tenant, REPO_ROOT, {"SNOWFLAKE_ACCOUNT": "acme-prod"}),
    ):
        pass


# --- scheduler DISABLE ----------------------------------------------------------------------


def test_a_disabled_scheduler_gives_no_freshness_policy_and_passes_no_lag_on() -> None:
    from dagster_dynamic_tables.definitions.specs import effective_lags

    def dt(name: str, lag: str, deps: list[str], **fields: Any) -> dict[str, Any]:
        table = f"SHOP.A.{name.upper()}"
        query = "select 1 as one"
        return {"name": name, "table": table, "target_lag": lag, "warehouse": "WH",
                "deps": deps, "query": query, **fields}  # fmt: skip

    tenant = build_tenant(
        {
            "tenant": "shop",
            "dynamic_tables": [
                dt("base", "DOWNSTREAM", []),
                dt("manual", "1 minute", ["base"], scheduler="DISABLE"),
                dt("scheduled", "5 minutes", []),
            ],
        },
        file=None,
        base_dir=None,
    )
    assert effective_lags(tenant) == {"base": None, "manual": None, "scheduled": 300}


# --- the checks: query drift, AUTO, a disabled scheduler -----------------------------------


def _state(**fields: Any) -> Any:
    from datetime import UTC, datetime

    from dagster_dynamic_tables.sql.records import DynamicTableState, SchedulingState

    values: dict[str, Any] = {
        "qualified_name": "SHOP.A.ORDERS",
        "target_lag_sec": 600,
        "target_lag_type": "USER_DEFINED",
        "scheduling_state": SchedulingState("RUNNING"),
        "latest_data_timestamp": datetime(2026, 12, 1, tzinfo=UTC),
        "last_completed_refresh_state": "SUCCEEDED",
        "refresh_mode": "INCREMENTAL",
        "warehouse": "WH",
        "target_lag": "10 minutes",
        "text": ddl.render_dynamic_table(DynamicTable.model_validate(FULL_DT)),
    }
    return DynamicTableState(**{**values, **fields})


def _outcomes(dt: DynamicTable, state: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    from dagster_dynamic_tables.health.rules import evaluate_dynamic_table

    now = datetime(2026, 12, 2, tzinfo=UTC)  # a day after the last refresh
    return {outcome.check_name: outcome for outcome in evaluate_dynamic_table(dt, state, now)}


def test_a_disabled_scheduler_keeps_scheduling_and_lag_checks_green() -> None:
    from dagster_dynamic_tables.sql.records import SchedulingState

    dt = DynamicTable.model_validate(FULL_DT)  # scheduler: DISABLE
    results = _outcomes(dt, _state(scheduling_state=SchedulingState("SUSPENDED")))
    scheduling, lag = results["scheduling_active"], results["within_target_lag"]
    assert (scheduling.passed, scheduling.kind) == (True, "scheduler_disabled")
    assert scheduling.description == (
        "Scheduler DISABLE (declared): Snowflake refreshes SHOP.A.ORDERS only when asked (ALTER "
        'DYNAMIC TABLE "SHOP"."A"."ORDERS" REFRESH), so it is not scheduled (Snowflake reports '
        "SUSPENDED)."
    )
    assert (lag.passed, lag.kind) == (True, "scheduler_disabled")
    assert lag.description == (
        "Scheduler DISABLE (declared): the table refreshes only when asked, so its lag is not "
        "held to the target lag (current lag 86400 s)."
    )
    enabled = DynamicTable.model_validate({**FULL_DT, "scheduler": "ENABLE"})
    assert not _outcomes(enabled, _state())["within_target_lag"].passed  # a day behind 10 min


def test_declared_auto_names_the_mode_snowflake_chose() -> None:
    dt = DynamicTable.model_validate({**FULL_DT, "refresh_mode": "AUTO"})
    result = _outcomes(dt, _state(refresh_mode="ADAPTIVE"))["matches_declaration"]
    assert result.passed
    assert result.description == (
        "Target lag, refresh mode (AUTO: Snowflake chose ADAPTIVE), warehouse, query match the "
        "declaration."
    )


def test_query_drift_fails_matches_declaration_and_names_the_file() -> None:
    dt = DynamicTable.model_validate({**FULL_DT, "query_file": "sql/orders.sql", "query": None})
    dt = dt.model_copy(update={"query": "select order_date from SHOP.RAW.ORDERS"})
    result = _outcomes(dt, _state())["matches_declaration"]
    assert (result.passed, result.kind) == (False, "drift:query")
    assert result.description == (
        "SHOP.A.ORDERS differs from its declaration: query: the SELECT running in Snowflake "
        "differs from sql/orders.sql. Fix: run `uv run dynamic-tables plan` to see the change "
        "and `uv run dynamic-tables apply` to deploy the declared query (it reinitializes the "
        "table), or change sql/orders.sql to what Snowflake runs."
    )
    relaid = dt.model_copy(update={"query": FULL_DT["query"].upper().replace(" ", "\n  ")})
    assert _outcomes(relaid, _state())["matches_declaration"].passed


def test_the_check_catches_a_changed_query_before_apply_on_the_stand_in(
    conn: snowflake.connector.SnowflakeConnection, cursor: Any
) -> None:
    from dagster_dynamic_tables.health.rules import matches_declaration
    from dagster_dynamic_tables.sql.statements import fetch_states

    db = "PLAN_DRIFT_CHECK"
    _seed(cursor, db)
    _apply(cursor, _plan(cursor, _tenant(db)))
    changed = _tenant(db, query=QUERY.format(db=db) + " having sum(amount) > 1")
    dt = changed.dynamic_tables[0]
    before = matches_declaration(dt, fetch_states(conn, [dt])[dt.qualified_name.resolved])
    assert (before.passed, before.kind) == (False, "drift:query")
    _apply(cursor, _plan(cursor, changed))
    after = matches_declaration(dt, fetch_states(conn, [dt])[dt.qualified_name.resolved])
    assert after.passed, after.description


def test_a_disabled_scheduler_keeps_its_checks_green_on_the_stand_in(
    conn: snowflake.connector.SnowflakeConnection, cursor: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from dagster_dynamic_tables.health.rules import evaluate_dynamic_table
    from dagster_dynamic_tables.sql.statements import fetch_states

    db = "PLAN_SCHEDULER"
    _seed(cursor, db)
    tenant = _tenant(db, scheduler="DISABLE")
    _apply(cursor, _plan(cursor, tenant))
    assert _plan(cursor, tenant).pending == []
    dt = tenant.dynamic_tables[0]
    # Not scheduled (the stand-in reports it SUSPENDED here) and a day behind its target lag.
    cursor.execute(f"ALTER DYNAMIC TABLE {dt.qualified_name.sql} SUSPEND")
    state = fetch_states(conn, [dt])[dt.qualified_name.resolved]
    later = datetime.now(UTC) + timedelta(days=1)
    results = {o.check_name: o for o in evaluate_dynamic_table(dt, state, later)}
    assert all(outcome.passed for outcome in results.values()), results
    assert results["scheduling_active"].kind == "scheduler_disabled"
    assert results["within_target_lag"].kind == "scheduler_disabled"


# --- grants are enforced by plan and apply themselves (issue 16 item 4) ----------------------

_COPY_SKIP = ("__pycache__", ".venv", "tests", "deploy", "Dockerfile*", "*.egg-info")


def _tenants_copy(tmp_path: Path, ecommerce_db: str, finance_db: str) -> Path:
    """The repository's tenants, grants.yaml and root pyproject.toml, copied, with the two
    tenants' databases renamed (unique names on the session's shared stand-in)."""
    import shutil

    root = tmp_path / "repo"
    shutil.copytree(
        REPO_ROOT / "tenants", root / "tenants", ignore=shutil.ignore_patterns(*_COPY_SKIP)
    )
    for name in ("grants.yaml", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, root / name)
    for path in [
        root / "grants.yaml",
        *root.glob("tenants/**/*.yaml"),
        *root.glob("tenants/**/*.sql"),
    ]:
        text = path.read_text(encoding="utf-8")
        text = text.replace("ECOMMERCE.", f"{ecommerce_db}.").replace("FINANCE.", f"{finance_db}.")
        path.write_text(text, encoding="utf-8")
    return root


ECOMMERCE_YAML = "tenants/ecommerce/src/ecommerce/defs/snowflake/defs.yaml"


def _add_dynamic_table(root: Path, name: str, table: str, query: str, deps: str = "[]") -> None:
    """Append a Dynamic Table to ecommerce's declarations (its third, dynamic_tables[2])."""
    path = root / ECOMMERCE_YAML
    path.write_text(
        path.read_text(encoding="utf-8") + f"    - name: {name}\n"
        f"      table: {table}\n"
        "      target_lag: 1 minute\n"
        "      warehouse: ECOMMERCE_WH\n"
        f"      deps: {deps}\n"
        f"      query: {query}\n",
        encoding="utf-8",
    )


def _set_type(root: Path, type_path: str) -> None:
    path = root / ECOMMERCE_YAML
    text = path.read_text(encoding="utf-8")
    assert "type: dagster_dynamic_tables.DynamicTablesComponent" in text
    path.write_text(
        text.replace("type: dagster_dynamic_tables.DynamicTablesComponent", f"type: {type_path}"),
        encoding="utf-8",
    )


def _refusal(db: str, name: str = "spy", path: str = "dynamic_tables[2]") -> str:
    return (
        f"REFUSED tenant 'ecommerce': {ECOMMERCE_YAML} {path} ({name}) declares "
        f"{db}.REPORTING.REVENUE_VS_BUDGET in schema {db}.REPORTING, outside the tenant's grants "
        f"(ECOMMERCE_{db[-1]}.RAW, ECOMMERCE_{db[-1]}.ANALYTICS). Fix: declare it in a granted "
        "schema, or ask the platform team to extend grants.yaml (`uv run dynamic-tables tenants "
        f"grant ecommerce --schema {db}.REPORTING`)."
    )


def _stand_in_env(server: ServerInfo) -> dict[str, str]:
    return {
        "LOCAL_SNOWFLAKE_PORT": str(server.port),
        "LOCAL_SNOWFLAKE_DATA_DIR": str(server.data_dir),
    }


def _nothing_exists(cursor: Any, root: Path) -> None:
    from dagster_dynamic_tables.platform.plan.snapshot import read_snapshot

    declared = [item for tenant in load_declared_tenants(root) for item in tenant.all()]
    snapshot = read_snapshot(cursor, declared)
    assert (snapshot.objects, snapshot.dynamic_tables) == ({}, {})


def test_apply_refuses_an_object_outside_the_tenants_grants_and_applies_nothing(
    tmp_path: Path,
    local_snowflake_server: ServerInfo,
    cursor: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dagster_dynamic_tables.cli import EXIT_ERROR, main

    root = _tenants_copy(tmp_path, "ECOMMERCE_A", "FINANCE_A")
    # ecommerce declares finance's table: before the fix, apply exited 0 and rewrote it.
    _add_dynamic_table(root, "spy", "FINANCE_A.REPORTING.REVENUE_VS_BUDGET", "select 1 as x")
    monkeypatch.chdir(root)
    for name, value in _stand_in_env(local_snowflake_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SNOWFLAKE_ACCOUNT", raising=False)
    monkeypatch.delenv("ECOMMERCE_SNOWFLAKE_ACCOUNT", raising=False)

    assert main(["apply", "--tenant", "ecommerce", "--yes"]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [_refusal("FINANCE_A")]
    assert captured.err == (
        "ERROR: apply refused 1 declaration outside their tenant's grants (the REFUSED lines "
        "above): nothing of tenant ecommerce was read or applied. Fix: declare the objects in the "
        "tenant's granted schemas, or ask the platform team to extend grants.yaml.\n"
    )
    _nothing_exists(cursor, root)


def test_plan_refuses_the_tenant_and_still_plans_the_others(
    tmp_path: Path, local_snowflake_server: ServerInfo
) -> None:
    root = _tenants_copy(tmp_path, "ECOMMERCE_B", "FINANCE_B")
    _add_dynamic_table(root, "spy", "FINANCE_B.REPORTING.REVENUE_VS_BUDGET", "select 1 as x")
    out = io.StringIO()
    with pytest.raises(PlanError) as raised:
        run_plan(root, None, out, env=_stand_in_env(local_snowflake_server))
    assert str(raised.value) == (
        "plan refused 1 declaration outside their tenant's grants (the REFUSED lines above): "
        "nothing of tenant ecommerce was planned. Fix: declare the objects in the tenant's "
        "granted schemas, or ask the platform team to extend grants.yaml."
    )
    lines = out.getvalue().splitlines()
    assert lines[0] == _refusal("FINANCE_B")
    assert not any(line.startswith("tenant ecommerce (") for line in lines)
    assert any(line.startswith("tenant finance (local stand-in") for line in lines)


def test_a_tenant_without_a_grants_entry_may_declare_nothing(tmp_path: Path) -> None:
    from dagster_dynamic_tables.platform.plan.declared import load_declared_files, refused_objects

    root = _tenants_copy(tmp_path, "ECOMMERCE_C", "FINANCE_C")
    (root / "grants.yaml").write_text("tenants:\n  ecommerce:\n    schemas: [ECOMMERCE_C.RAW]\n")
    lines = [line for _slug, line in refused_objects(root, load_declared_files(root, "finance"))]
    finance_yaml = "tenants/finance/src/finance/defs/snowflake/defs.yaml"
    assert lines == [
        f"tenant 'finance': {finance_yaml} {path} ({name}) declares FINANCE_C.REPORTING.{table} in "
        "schema FINANCE_C.REPORTING, outside the tenant's grants (none: grants.yaml has no entry "
        "for it). Fix: declare it in a granted schema, or ask the platform team to extend "
        "grants.yaml (`uv run dynamic-tables tenants grant finance --schema "
        "FINANCE_C.REPORTING`)."
        for path, name, table in (
            ("sources[0]", "budget_targets", "BUDGET_TARGETS"),
            ("dynamic_tables[0]", "revenue_vs_budget", "REVENUE_VS_BUDGET"),
            ("dynamic_tables[1]", "monthly_revenue", "MONTHLY_REVENUE"),
        )
    ]


def test_a_file_declaring_under_another_tenants_slug_is_refused(tmp_path: Path) -> None:
    from dagster_dynamic_tables.platform.plan.declared import load_declared_files, refused_objects

    root = _tenants_copy(tmp_path, "ECOMMERCE_D", "FINANCE_D")
    path = root / ECOMMERCE_YAML
    path.write_text(path.read_text().replace("tenant: ecommerce", "tenant: finance"))
    lines = [line for _slug, line in refused_objects(root, load_declared_files(root, "ecommerce"))]
    assert lines[0] == (
        f"tenant 'ecommerce': {ECOMMERCE_YAML} says `tenant: finance`, but a tenant declares "
        "objects only under its own slug, within its own grants. Fix: set `tenant: ecommerce`."
    )


@pytest.mark.parametrize(
    "type_path",
    [
        "dagster_dynamic_tables.definitions.component.DynamicTablesComponent",
        "spy_components.SpyComponent",
    ],
    ids=["module_path", "subclass"],
)
def test_the_component_type_is_resolved_as_dagster_resolves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, type_path: str
) -> None:
    # Before the fix only the exact text `dagster_dynamic_tables.DynamicTablesComponent` counted:
    # these files were skipped by plan and apply while the code location loaded them.
    module = tmp_path / "spy_components.py"
    module.write_text(
        "from dagster_dynamic_tables import DynamicTablesComponent\n\n\n"
        "class SpyComponent(DynamicTablesComponent):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    root = _tenants_copy(tmp_path, "ECOMMERCE_E", "FINANCE_E")
    _set_type(root, type_path)
    _add_dynamic_table(root, "spy", "FINANCE_E.REPORTING.REVENUE_VS_BUDGET", "select 1 as x")
    out = io.StringIO()
    with pytest.raises(PlanError, match=r"^apply refused 1 declaration"):
        run_apply(root, "ecommerce", True, out, lambda _question: True, env={})
    assert out.getvalue().splitlines() == [_refusal("FINANCE_E")]


def test_a_type_that_does_not_import_is_a_declaration_error(tmp_path: Path) -> None:
    root = _tenants_copy(tmp_path, "ECOMMERCE_F", "FINANCE_F")
    _set_type(root, "no_such_package.Component")
    with pytest.raises(PlanError) as raised:
        run_plan(root, "ecommerce", io.StringIO(), env={})
    assert str(raised.value) == (
        f"1 problem in {root / ECOMMERCE_YAML}:\n"
        "  - type (line 3): 'no_such_package.Component' cannot be resolved "
        "(ModuleNotFoundError: No module named 'no_such_package'). Fix: name the component class "
        "by its import path, e.g. dagster_dynamic_tables.DynamicTablesComponent."
    )


def test_plan_names_reads_that_are_not_deps(
    tmp_path: Path, local_snowflake_server: ServerInfo
) -> None:
    root = _tenants_copy(tmp_path, "ECOMMERCE_G", "FINANCE_G")
    # Within its grants, but it reads finance's table without naming it in deps.
    _add_dynamic_table(
        root,
        "peek",
        "ECOMMERCE_G.ANALYTICS.PEEK",
        "select * from FINANCE_G.REPORTING.BUDGET_TARGETS join RAW.RAW_ORDERS on true",
        deps="[raw_orders]",
    )
    out = io.StringIO()
    assert run_plan(root, "ecommerce", out, env=_stand_in_env(local_snowflake_server)) == 1
    reads = [line for line in out.getvalue().splitlines() if "UNDECLARED READ" in line]
    assert reads == [
        f"  UNDECLARED READ tenant 'ecommerce': {ECOMMERCE_YAML} dynamic_tables[2] "
        "(ecommerce/peek) reads FINANCE_G.REPORTING.BUDGET_TARGETS (finance/budget_targets), "
        "which is not among its deps, so the lineage graph does not show it and nothing "
        "downstream waits for it. Fix: add finance/budget_targets to its deps."
    ]


# --- the tables a query reads (sqlreads) ------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tables"),
    [
        ("select * from T", {("DB", "SC", "T")}),
        ("select * from other.t", {("DB", "OTHER", "T")}),
        ('select * from x."Mixed".t', {("X", "Mixed", "T")}),
        (
            "with recent as (select * from RAW.ORDERS) select * from recent r "
            "join FIN.REP.BUDGET b on true",
            {("DB", "RAW", "ORDERS"), ("FIN", "REP", "BUDGET")},
        ),
        (
            "select * from (select 1 from A.B.C) where 1 in (select 1 from D)",
            {("A", "B", "C"), ("DB", "SC", "D")},
        ),
        (
            "select f.value from A.B.C t, lateral flatten(input => t.v) f, "
            "table(generator(rowcount => 3))",
            {("A", "B", "C")},
        ),
        ("select 1 as one", set()),
    ],
    ids=["unqualified", "schema_only", "quoted", "cte", "subqueries", "table_functions", "none"],
)
def test_tables_read_resolves_names_as_snowflake_does(
    query: str, tables: set[tuple[str, str, str]]
) -> None:
    from dagster_dynamic_tables.sql.lineage import tables_read

    assert tables_read(query, "DB", "SC") == tables


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "select ( from T",
            "sqlglot (Snowflake dialect) cannot parse it: Expecting ). Line 1, Col: 15.",
        ),
        ("select 1; select 2", "it is not one SELECT (sqlglot reads: SELECT, SELECT)"),
        ("delete from T", "it is not one SELECT (sqlglot reads: DELETE)"),
        (
            "select * from identifier('A.B.C')",
            "it names a table at run time (IDENTIFIER('A.B.C')), so which table it reads cannot "
            "be known before it runs",
        ),
    ],
    ids=["unparseable", "two_statements", "not_a_select", "identifier"],
)
def test_a_query_that_cannot_be_read_says_why(query: str, message: str) -> None:
    from dagster_dynamic_tables.errors import QueryReadError
    from dagster_dynamic_tables.sql.lineage import tables_read

    with pytest.raises(QueryReadError) as raised:
        tables_read(query, "DB", "SC")
    assert str(raised.value) == message
