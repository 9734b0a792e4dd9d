"""Data tests as Dagster asset checks: their specs, and the tenant's one definition executed
against the stand-in (pass, fail, refused SQL, a subset, one connection per batch)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations.data_tests import (
    AcceptedValues,
    DataTest,
    NotNull,
    Relationships,
    RowCountRange,
    Unique,
    name_data_tests,
)
from dagster_dynamic_tables.declarations.identifiers import parse_qualified_name
from dagster_dynamic_tables.health.data_tests import (
    build_data_test_checks,
    build_data_test_specs,
    data_tests_check_name,
    sample_table,
)
from dagster_dynamic_tables.metadata import FAILING_ROWS, SAMPLE, SQL
from dagster_dynamic_tables.sql.data_tests import PlannedDataTest
from support.snowflake_resources import counting_resource, logins, unreachable_resource

ORDERS = ("shop", "orders")
CUSTOMERS = ("shop", "customers")


def plan(database: str) -> list[PlannedDataTest]:
    """ORDERS' tests: two pass, three fail (one a warning, one blocking), one names a column
    that does not exist."""
    orders = parse_qualified_name(f"{database}.S.ORDERS")
    customers = parse_qualified_name(f"{database}.S.CUSTOMERS")
    tests = name_data_tests(
        [
            DataTest(not_null=NotNull(column="id")),
            DataTest(row_count=RowCountRange(min=1)),
            DataTest(unique=Unique(column="id"), blocking=True),
            DataTest(
                accepted_values=AcceptedValues(column="status", values=["open"]), severity="warn"
            ),
            DataTest(relationships=Relationships(column="customer_id", to="customers", field="id")),
            DataTest(not_null=NotNull(column="email")),
        ]
    )
    return [
        PlannedDataTest(
            ORDERS,
            test,
            orders,
            parent=customers if test.relationships else None,
            parent_key=CUSTOMERS if test.relationships else None,
        )
        for test in tests
    ]


def test_a_warning_never_blocks_in_a_run_or_in_automation():
    """Dagster stops a run's downstream steps only for a failed blocking check of severity
    ERROR, but `all_deps_blocking_checks_passed()` holds automation back for any failed blocking
    check: a `severity: warn` test declared blocking would block in one and not the other."""
    orders = parse_qualified_name("SHOP.S.ORDERS")
    warn, error = name_data_tests(
        [
            DataTest(not_null=NotNull(column="id"), severity="warn", blocking=True),
            DataTest(not_null=NotNull(column="email"), blocking=True),
        ]
    )
    specs = build_data_test_specs([PlannedDataTest(ORDERS, t, orders) for t in (warn, error)])
    assert [(spec.name, spec.blocking) for spec in specs] == [
        ("not_null_id", False),
        ("not_null_email", True),
    ]


def test_specs_carry_name_blocking_description_and_sql():
    specs = {spec.name: spec for spec in build_data_test_specs(plan("SHOP"))}
    assert list(specs) == [
        "not_null_id",
        "row_count",
        "unique_id",
        "accepted_values_status",
        "relationships_customer_id",
        "not_null_email",
    ]
    assert {name for name, spec in specs.items() if spec.blocking} == {"unique_id"}
    assert all(spec.asset_key == dg.AssetKey(list(ORDERS)) for spec in specs.values())
    assert specs["not_null_id"].description == "No row of SHOP.S.ORDERS has a NULL ID."
    assert specs["row_count"].description == "SHOP.S.ORDERS holds at least 1 rows."
    sql = specs["not_null_id"].metadata[SQL]
    assert isinstance(sql, dg.MarkdownMetadataValue)
    assert sql.value == '```sql\nSELECT "ID" FROM "SHOP"."S"."ORDERS" WHERE "ID" IS NULL\n```'
    relationships = specs["relationships_customer_id"]
    assert {dep.asset_key for dep in relationships.additional_deps} == {
        dg.AssetKey(list(CUSTOMERS))
    }


def test_no_test_means_no_definition():
    assert build_data_test_checks("shop", []) is None


def test_the_sample_is_a_markdown_table_with_escaped_cells():
    table = sample_table([{"A": "x|y", "B": None}, {"A": "line\nbreak", "B": True}], True)
    assert table == (
        "| A | B |\n| --- | --- |\n| x\\|y | NULL |\n| line break | true |\n\n"
        "(cut to keep the sample small)"
    )
    assert sample_table([], False) == "No sample."


# Executed against the stand-in -----------------------------------------------------------------

_databases = itertools.count()


@pytest.fixture
def database(local_snowflake_connect) -> str:
    name = f"DATA_TEST_CHECKS_{next(_databases)}"
    cursor = local_snowflake_connect().cursor()
    for sql in (
        f"CREATE DATABASE {name}",
        f"CREATE SCHEMA {name}.S",
        f"CREATE TABLE {name}.S.CUSTOMERS (ID INT)",
        f"INSERT INTO {name}.S.CUSTOMERS VALUES (1)",
        f"CREATE TABLE {name}.S.ORDERS (ID INT, STATUS VARCHAR, CUSTOMER_ID INT)",
        f"INSERT INTO {name}.S.ORDERS VALUES (1, 'open', 1), (2, 'lost', 7), (2, 'open', 1)",
    ):
        cursor.execute(sql)
    return name


def execute(
    database: str, log: Path, connection_args: dict[str, Any], selection: dg.AssetSelection
) -> tuple[bool, dict[str, dg.AssetCheckEvaluation]]:
    """Whether the run succeeded, and the evaluations it stored."""
    checks = build_data_test_checks("shop", plan(database))
    assert checks is not None
    job = dg.define_asset_job("data_tests", selection=selection)
    defs = dg.Definitions(
        assets=[dg.AssetSpec(list(ORDERS)), dg.AssetSpec(list(CUSTOMERS))],
        asset_checks=[checks],
        jobs=[job],
        resources={"snowflake": counting_resource(log, connection_args)},
    )
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("data_tests").execute_in_process(
            instance=instance, raise_on_error=False
        )
        return result.success, {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_batch_runs_over_one_connection_and_reports_each_test(
    database, tmp_path, local_snowflake_connection_args
):
    log = tmp_path / "logins.txt"
    success, evaluations = execute(
        database, log, local_snowflake_connection_args, dg.AssetSelection.all_asset_checks()
    )
    assert not success  # the blocking unique_id failed with ERROR: Dagster fails the step
    assert logins(log) == 1
    summary = {
        name: (e.passed, e.severity, _int(e.metadata.get(FAILING_ROWS)))
        for name, e in evaluations.items()
    }
    error, warn = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
    assert summary == {
        "not_null_id": (True, error, 0),
        "row_count": (True, error, 0),
        "unique_id": (False, error, 1),
        "accepted_values_status": (False, warn, 1),
        "relationships_customer_id": (False, error, 1),
        "not_null_email": (False, error, None),
    }
    failed = evaluations["relationships_customer_id"]
    assert (
        failed.description
        == "1 failing row(s) in " + f"{database}.S.ORDERS; a sample is in the metadata."
    )
    assert failed.metadata[SAMPLE].value == "| CUSTOMER_ID |\n| --- |\n| 7 |"
    assert 'NOT EXISTS (SELECT 1 FROM "' in str(failed.metadata[SQL].value)
    refused = evaluations["not_null_email"]
    assert "EMAIL" in (refused.description or "")
    assert refused.metadata["error_code"].value


def test_a_subset_runs_only_the_selected_tests(database, tmp_path, local_snowflake_connection_args):
    log = tmp_path / "logins.txt"
    keys = [
        dg.AssetCheckKey(dg.AssetKey(list(ORDERS)), name) for name in ("row_count", "unique_id")
    ]
    success, evaluations = execute(
        database, log, local_snowflake_connection_args, dg.AssetSelection.checks(*keys)
    )
    assert sorted(evaluations) == ["row_count", "unique_id"]
    assert not success
    assert logins(log) == 1


def test_failing_non_blocking_tests_leave_the_run_successful(
    database, tmp_path, local_snowflake_connection_args
):
    log = tmp_path / "logins.txt"
    names = ("accepted_values_status", "relationships_customer_id", "not_null_email")
    keys = [dg.AssetCheckKey(dg.AssetKey(list(ORDERS)), name) for name in names]
    success, evaluations = execute(
        database, log, local_snowflake_connection_args, dg.AssetSelection.checks(*keys)
    )
    assert success
    assert not any(e.passed for e in evaluations.values())
    assert sorted(evaluations) == sorted(names)


def test_the_definition_is_named_after_the_tenant():
    checks = build_data_test_checks("shop", plan("SHOP"))
    assert checks is not None
    assert checks.node_def.name == data_tests_check_name("shop") == "shop__data_tests"


def _int(value: object) -> int | None:
    return value.value if isinstance(value, dg.IntMetadataValue) else None


def test_snowflake_down_fails_the_step_saying_why_without_secrets():
    resource = unreachable_resource("hunter2secret")
    checks = build_data_test_checks("shop", plan("SHOP"))
    assert checks is not None
    defs = dg.Definitions(
        assets=[dg.AssetSpec(list(ORDERS)), dg.AssetSpec(list(CUSTOMERS))],
        asset_checks=[checks],
        jobs=[dg.define_asset_job("data_tests", selection=dg.AssetSelection.all_asset_checks())],
        resources={"snowflake": resource},
    )
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("data_tests").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.error)
    assert (
        "Data tests not run: cannot reach Snowflake at account 'local' as user 'local'" in message
    )
    assert "Dynamic Table state not read" not in message
    assert "hunter2secret" not in message
