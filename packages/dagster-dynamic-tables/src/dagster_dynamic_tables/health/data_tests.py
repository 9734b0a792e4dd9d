"""Declared data tests as Dagster asset checks: their specs, running a batch, and one
`@multi_asset_check` per tenant.

- `plan_data_tests(tenant)`: every data test the tenant declares (sources first, then Dynamic
  Tables, in declaration order), with its table and, for a relationships test, its parent's table
  and key (the tenant's own object, or `table:` for another tenant's asset).
- `build_data_test_specs(planned)`: one `AssetCheckSpec` per test, named as declared, on its
  asset; `blocking` as declared for severity error, never for warn (a failing blocking check
  holds back the asset's downstream in the same run and in automation); the description says
  what the test checks; metadata `sql` holds the failing-rows query (a markdown SQL block), so
  the UI shows it before any run. A relationships test whose parent asset key is known depends
  on that asset.
- `run_data_tests(connection, planned)`: runs the tests one statement each over the ONE open
  connection it is given, and yields an `AssetCheckResult` per test: passed when no failing row;
  severity as declared (WARN / ERROR); metadata `failing_rows` (int), `sample` (a markdown table
  of at most 5 rows, values cut to 200 characters, the whole bounded to ~4 KB), `sql`, and
  `error_code` / `error_message` when Snowflake refused the SQL (then the description names the
  unknown column of a 000904, with the fix). A refused test fails; it never raises.
- `build_data_test_checks(tenant_slug, planned)`: the tenant's
  `@multi_asset_check(can_subset=True)` named `<tenant>__data_tests`. Executing it runs the
  selected tests only, in one `read_snowflake` (one login, one connection, one statement per
  test) through the tenant's `snowflake` resource (the key the health checks use: a Pythonic
  resource reaches a check as itself only as a parameter named after its key). A fault of the read
  itself (network, login, deadline) fails the step with `faults.describe_fault`'s words, as the
  health checks do; a run of checks only executes in the run's process under the tenant's
  `health.checks.check_runs_in_process_executor`.

Why one definition per tenant, not per table as the health checks: the issue asks for one run
and one connection per tenant per tick; a single step gives both without the health checks'
shared-read machinery. The cost is Dagster's resolution of a component's checks, quadratic in
the specs of one definition (see `health.checks`): fine for hundreds of tests, to be split into
chunks if a tenant declares thousands.
"""

# No `from __future__ import annotations`: Dagster reads the check function's annotations.
from collections.abc import Iterable, Iterator, Mapping, Sequence

import dagster as dg
from dagster_snowflake import SnowflakeResource

from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.declarations.consistency import relationships_parent
from dagster_dynamic_tables.declarations.data_tests import DataTest
from dagster_dynamic_tables.declarations.identifiers import QualifiedName, parse_qualified_name
from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable, Tenant
from dagster_dynamic_tables.snowflake_io.faults import EXPECTED_FAULTS, describe_fault
from dagster_dynamic_tables.snowflake_io.session import read_snowflake
from dagster_dynamic_tables.sql.data_tests import (
    INVALID_IDENTIFIER,
    DataTestOutcome,
    JsonValue,
    PlannedDataTest,
    failing_rows_sql,
    run_data_test,
)
from dagster_dynamic_tables.sql.statements import Connection


def _parent(tenant: Tenant, test: DataTest) -> tuple[QualifiedName | None, tuple[str, ...] | None]:
    relationships = test.relationships
    if relationships is None:
        return None, None
    key = tuple(relationships.to_key(tenant.slug))
    if relationships.table is not None:
        return parse_qualified_name(relationships.table), key
    parent = relationships_parent(tenant, relationships)
    return (parent.qualified_name if parent is not None else None), key


def plan_data_tests(tenant: Tenant) -> list[PlannedDataTest]:
    """Every data test `tenant` declares, ready to run (see the module docstring)."""
    planned: list[PlannedDataTest] = []
    tested: list[SourceTable | DynamicTable] = [*tenant.sources, *tenant.dynamic_tables]
    for item in tested:
        key = tuple(tenant.key_path(item))
        for test in item.data_tests:
            parent, parent_key = _parent(tenant, test)
            planned.append(PlannedDataTest(key, test, item.qualified_name, parent, parent_key))
    return planned


def data_tests_check_name(tenant_slug: str) -> str:
    """The name of a tenant's data-test definition, which is also its step key in a run."""
    return f"{tenant_slug}__data_tests"


def describe_test(planned: PlannedDataTest) -> str:
    """What the test checks, in a sentence."""
    test = planned.test
    table = planned.table.resolved
    columns = ", ".join(column.resolved for column in test.columns)
    if test.not_null is not None:
        return f"No row of {table} has a NULL {columns}."
    if test.unique is not None:
        return f"No two rows of {table} share {columns} (rows with a NULL in it not compared)."
    if test.accepted_values is not None:
        values = ", ".join(map(str, test.accepted_values.values))
        return f"Every non-NULL {columns} of {table} is one of: {values}."
    if test.relationships is not None and planned.parent is not None:
        parent = f"{planned.parent.resolved}.{test.relationships.field}"
        return f"Every non-NULL {columns} of {table} exists in {parent}."
    if test.row_count is not None:
        low, high = test.row_count.min, test.row_count.max
        bounds = [
            f"at least {low}" if low is not None else "",
            f"at most {high}" if high is not None else "",
        ]
        return f"{table} holds {' and '.join(b for b in bounds if b)} rows."
    return f"The declared query on {table} returns no row."


def _sql_block(sql: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"```sql\n{sql}\n```")


def build_data_test_spec(planned: PlannedDataTest) -> dg.AssetCheckSpec:
    test = planned.test
    return dg.AssetCheckSpec(
        name=planned.check_name,
        asset=dg.AssetKey(list(planned.asset_key)),
        description=describe_test(planned),
        # A warning never blocks: Dagster would stop nothing in the run, but would hold back
        # automation across runs; `blocking` counts for severity error only, the same way in both.
        blocking=test.blocking and test.severity == "error",
        additional_deps=[dg.AssetKey(list(planned.parent_key))] if planned.parent_key else None,
        metadata={
            md.SQL: _sql_block(failing_rows_sql(planned)),
            md.DATA_TEST_KIND: dg.MetadataValue.text(test.kind),
        },
    )


def build_data_test_specs(planned: Iterable[PlannedDataTest]) -> list[dg.AssetCheckSpec]:
    """One check spec per planned test."""
    return [build_data_test_spec(p) for p in planned]


def check_key(planned: PlannedDataTest) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(dg.AssetKey(list(planned.asset_key)), planned.check_name)


def sample_table(sample: Sequence[Mapping[str, JsonValue]], truncated: bool) -> str:
    """The sample as a markdown table (cells escaped), with a note when it was cut."""
    if not sample:
        return "No sample."
    columns = list(dict.fromkeys(key for row in sample for key in row))
    lines = [
        "| " + " | ".join(_cell(column) for column in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
        *("| " + " | ".join(_cell(row.get(column)) for column in columns) + " |" for row in sample),
    ]
    if truncated:
        lines.append("\n(cut to keep the sample small)")
    return "\n".join(lines)


def _cell(value: JsonValue) -> str:
    if value is None:
        return "NULL"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def data_test_result(planned: PlannedDataTest, outcome: DataTestOutcome) -> dg.AssetCheckResult:
    """One outcome as the check's result."""
    warn = planned.test.severity == "warn"
    severity = dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR
    metadata: dict[str, dg.MetadataValue] = {
        md.SQL: _sql_block(outcome.sql),
        md.QUALIFIED_NAME: dg.MetadataValue.text(planned.table.resolved),
    }
    if outcome.error_code is not None:
        metadata[md.ERROR_CODE] = dg.MetadataValue.text(outcome.error_code)
        metadata[md.ERROR_MESSAGE] = dg.MetadataValue.text(outcome.error_message or "")
    else:
        failing = outcome.failing_rows or 0
        metadata[md.FAILING_ROWS] = dg.MetadataValue.int(failing)
        metadata[md.SAMPLE] = dg.MetadataValue.md(
            sample_table(outcome.sample, outcome.sample_truncated)
        )
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(list(planned.asset_key)),
        check_name=planned.check_name,
        passed=outcome.passed,
        severity=severity,
        description=_result_description(planned, outcome),
        metadata=metadata,
    )


def _result_description(planned: PlannedDataTest, outcome: DataTestOutcome) -> str:
    table = planned.table.resolved
    if outcome.error_code is None:
        if outcome.passed:
            return "No failing row."
        return f"{outcome.failing_rows} failing row(s) in {table}; a sample is in the metadata."
    if outcome.error_code == INVALID_IDENTIFIER or outcome.invalid_identifier is not None:
        name = outcome.invalid_identifier or "a column of the test"
        return (
            f"Snowflake does not know {name} (error {outcome.error_code}: invalid identifier) "
            f"in the SQL of this test on {table}. Fix: correct the column in the test's "
            "declaration, or add the column to the table."
        )
    return (
        f"Snowflake refused the SQL of this test on {table} (error {outcome.error_code}): "
        f"{outcome.error_message}"
    )


def run_data_tests(
    connection: Connection, planned: Iterable[PlannedDataTest]
) -> Iterator[dg.AssetCheckResult]:
    """Run each test on the open `connection`, one statement each, yielding its result."""
    for test in planned:
        yield data_test_result(test, run_data_test(connection, test))


def build_data_test_checks(
    tenant_slug: str, planned: Sequence[PlannedDataTest]
) -> dg.AssetChecksDefinition | None:
    """The tenant's data tests as one subsettable definition; None when it declares none."""
    if not planned:
        return None
    by_key = {check_key(p): p for p in planned}

    @dg.multi_asset_check(
        specs=build_data_test_specs(planned),
        can_subset=True,
        name=data_tests_check_name(tenant_slug),
        description=f"The data tests declared by tenant {tenant_slug}.",
    )
    def data_tests(
        context: dg.AssetCheckExecutionContext, snowflake: SnowflakeResource
    ) -> Iterator[dg.AssetCheckResult]:
        chosen = context.selected_asset_check_keys
        selected = [p for key, p in by_key.items() if key in chosen]  # in declaration order
        try:
            results = read_snowflake(
                snowflake, lambda connection: list(run_data_tests(connection, selected))
            )
        except EXPECTED_FAULTS as error:
            reason = describe_fault(error, snowflake)
            if reason is None:
                raise
            # Said as for the health checks' read, whose words these are.
            reason = reason.removeprefix("Dynamic Table state not read: ")
            raise dg.Failure(description=f"Data tests not run: {reason}") from error
        yield from results

    return data_tests
