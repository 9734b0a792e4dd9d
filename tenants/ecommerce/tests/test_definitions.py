"""The ecommerce code location as Dagster loads it: keys, lineage, virtual flags, automation."""

import dagster as dg
import pytest
from dagster_snowflake import SnowflakeResource
from ecommerce.definitions import defs

SLUG = "ecommerce"
RAW_ORDERS = dg.AssetKey([SLUG, "raw_orders"])
RAW_CUSTOMERS = dg.AssetKey([SLUG, "raw_customers"])
CLV = dg.AssetKey([SLUG, "customer_lifetime_value"])
ROLLUP = dg.AssetKey([SLUG, "daily_revenue_rollup"])
DASHBOARD = dg.AssetKey([SLUG, "executive_dashboard_report"])

EXPECTED = {
    RAW_ORDERS: {
        "virtual": False,
        "deps": set(),
        "kinds": {"snowflake"},
        "metadata": {
            "snowflake_table": "ECOMMERCE.RAW.RAW_ORDERS",
            "snowflake_object_type": "TABLE",
        },
    },
    RAW_CUSTOMERS: {
        "virtual": False,
        "deps": set(),
        "kinds": {"snowflake"},
        "metadata": {
            "snowflake_table": "ECOMMERCE.RAW.RAW_CUSTOMERS",
            "snowflake_object_type": "TABLE",
        },
    },
    CLV: {
        "virtual": True,
        "deps": {RAW_ORDERS, RAW_CUSTOMERS},
        "kinds": {"snowflake", "dynamic_table"},
        "metadata": {
            "snowflake_table": "ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE",
            "snowflake_object_type": "DYNAMIC TABLE",
            "target_lag": "1 minute",
            "refresh_mode": "INCREMENTAL",
            "warehouse": "ECOMMERCE_WH",
        },
    },
    ROLLUP: {
        "virtual": True,
        "deps": {RAW_ORDERS},
        "kinds": {"snowflake", "dynamic_table"},
        "metadata": {
            "snowflake_table": "ECOMMERCE.ANALYTICS.DAILY_REVENUE_ROLLUP",
            "snowflake_object_type": "DYNAMIC TABLE",
            "target_lag": "1 hour",
            "refresh_mode": "FULL",
            "warehouse": "ECOMMERCE_WH",
        },
    },
    DASHBOARD: {
        "virtual": False,
        "deps": {CLV, ROLLUP},
        "kinds": {"snowflake", "python"},
        "metadata": {},
    },
}


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def test_asset_keys_all_start_with_the_slug(graph):
    assert set(graph.get_all_asset_keys()) == set(EXPECTED)


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda key: key.path[-1])
def test_asset_lineage_kinds_and_metadata(graph, key):
    node = graph.get(key)
    expected = EXPECTED[key]
    assert node.is_virtual is expected["virtual"]
    assert set(node.parent_keys) == expected["deps"]
    assert set(node.kinds) == expected["kinds"]
    for name, value in expected["metadata"].items():
        assert node.metadata[name] == value, name
    assert node.is_executable is (key == DASHBOARD)


@pytest.mark.parametrize("key", [CLV, ROLLUP], ids=["clv", "rollup"])
def test_dynamic_tables_freshness_is_the_lag_check_not_a_policy(graph, key):
    # A Dagster freshness policy counts materializations (data changes) only: it would fail a
    # quiet table that Snowflake keeps within its lag (see the library README, "Freshness").
    assert graph.get(key).freshness_policy is None
    assert dg.AssetCheckKey(key, "within_target_lag") in graph.asset_check_keys


def test_selecting_a_dynamic_table_into_a_job_fails():
    job = dg.define_asset_job("refresh_clv", selection=[CLV])
    broken = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    with pytest.raises(dg.DagsterInvalidDefinitionError) as info:
        broken.resolve_job_def("refresh_clv")
    assert "Selected keys must be a subset of existing executable asset keys" in str(
        info.value.__cause__
    )


def test_dashboard_runs_on_refresh_materializations_not_through_virtual(graph):
    condition = graph.get(DASHBOARD).automation_condition
    # eager(), held back while a blocking check of a dep fails (the platform adds it).
    assert condition == (
        dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    )
    assert condition != dg.AutomationCondition.eager().resolve_through_virtual()


def test_location_has_sensors_checks_and_snowflake_resource():
    repo = defs.get_repository_def()
    sensors = {sensor.name: sensor for sensor in repo.sensor_defs}
    assert set(sensors) == {"dynamic_table_freshness", "automation_condition_sensor"}
    for sensor in sensors.values():
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    graph = defs.resolve_asset_graph()
    automation = sensors["automation_condition_sensor"]
    assert automation.asset_selection is not None
    assert automation.asset_selection.resolve(graph) == {DASHBOARD}
    checks = {(key.asset_key, key.name) for key in defs.resolve_asset_graph().asset_check_keys}
    names = {"refresh_succeeded", "scheduling_active", "within_target_lag", "matches_declaration"}
    assert checks == {(asset, name) for asset in (CLV, ROLLUP) for name in names}
    assert isinstance(defs.resources["snowflake"], SnowflakeResource)  # type: ignore[index]


class _RecordingCursor:
    """Records the statements the dashboard sends; answers one row of (customers, revenue)."""

    def __init__(self, statements: list[str]) -> None:
        self.statements = statements

    def execute(self, sql: str) -> None:
        self.statements.append(sql)

    def fetchone(self) -> tuple[int, float]:
        return (3, 42.0)


class _RecordingConnection:
    def __init__(self, statements: list[str]) -> None:
        self.statements = statements

    def cursor(self) -> _RecordingCursor:
        return _RecordingCursor(self.statements)


@pytest.mark.parametrize(
    ("environment", "database"), [(None, "ECOMMERCE"), ("dev", "ECOMMERCE_DEV")]
)
def test_dashboard_reads_the_selected_environments_tables(monkeypatch, environment, database):
    """The dashboard's own SQL goes through `current_table`: in dev it reads ECOMMERCE_DEV's
    Dynamic Tables, never prod's."""
    import contextlib

    from ecommerce.defs.assets.executive_dashboard_report import executive_dashboard_report

    monkeypatch.delenv("DYNAMIC_TABLES_ENVIRONMENT", raising=False)
    if environment:
        monkeypatch.setenv("DYNAMIC_TABLES_ENVIRONMENT", environment)
    statements: list[str] = []

    class Recording:
        @contextlib.contextmanager
        def get_connection(self):
            yield _RecordingConnection(statements)

    snowflake = dg.ResourceDefinition.hardcoded_resource(Recording())
    result = dg.materialize([executive_dashboard_report], resources={"snowflake": snowflake})
    assert result.success
    (sql,) = statements
    assert f"FROM {database}.ANALYTICS.CUSTOMER_LIFETIME_VALUE" in sql
    assert f"FROM {database}.ANALYTICS.DAILY_REVENUE_ROLLUP" in sql
