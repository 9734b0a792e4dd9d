"""{{ cookiecutter.tenant_name }}'s code location as Dagster loads it.

Written to keep passing as the team adds sources, Dynamic Tables and Python assets: it checks the
platform's rules, not a list of names.
"""

import dagster as dg
import pytest
from dagster_dynamic_tables import CHECK_NAMES
from dagster_snowflake import SnowflakeResource
from {{ cookiecutter.tenant_slug }}.definitions import defs

SLUG = "{{ cookiecutter.tenant_slug }}"


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def _dynamic_tables(graph):
    return {key for key in graph.get_all_asset_keys() if "dynamic_table" in graph.get(key).kinds}


def test_every_asset_key_the_location_defines_starts_with_the_slug():
    # Deps on another tenant's assets (full keys) come back as stubs Dagster made for them.
    specs = defs.resolve_all_asset_specs()
    keys = [s.key for s in specs if "dagster/auto_created_stub_asset" not in s.metadata]
    assert keys
    assert all(key.path[0] == SLUG for key in keys), keys


def test_dynamic_tables_are_virtual_with_metadata_and_freshness(graph):
    tables = _dynamic_tables(graph)
    assert tables
    for key in tables:
        node = graph.get(key)
        if "scheduler DISABLE" in (node.description or ""):
            # Refreshed by Dagster (ALTER DYNAMIC TABLE ... REFRESH) when its condition says.
            assert node.is_executable
            assert not node.is_virtual
            assert node.automation_condition is not None
        else:
            assert node.is_virtual
            assert not node.is_executable
        assert node.metadata["snowflake_object_type"] == "DYNAMIC TABLE"
        assert node.metadata["snowflake_table"].count(".") >= 2
        assert node.freshness_policy is None  # freshness: the within_target_lag check


def test_every_dynamic_table_has_the_four_health_checks(graph):
    checks = {(key.asset_key, key.name) for key in graph.asset_check_keys}
    expected = {(key, name) for key in _dynamic_tables(graph) for name in CHECK_NAMES}
    assert expected <= checks


def test_python_assets_wait_for_refreshes_not_sources(graph):
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_executable and node.automation_condition is not None:
            assert node.automation_condition != (
                dg.AutomationCondition.eager().resolve_through_virtual()
            ), f"{key.to_user_string()} would run ahead of the Dynamic Tables it reads"


def test_sensors_run_by_default_and_snowflake_resource():
    repo = defs.get_repository_def()
    sensors = {sensor.name: sensor for sensor in repo.sensor_defs}
    assert {"dynamic_table_freshness", "automation_condition_sensor"} <= set(sensors)
    assert all(
        sensors[name].default_status == dg.DefaultSensorStatus.RUNNING
        for name in ("dynamic_table_freshness", "automation_condition_sensor")
    )
    assert isinstance(defs.resources["snowflake"], SnowflakeResource)  # type: ignore[index]
