"""The data tests of orchestrated (`scheduler: DISABLE`) Dynamic Tables: checks of the multi-asset
that refreshes them, run after each refresh over the same connection; a failing blocking test holds
back the tables downstream of it in the run, and Dagster fails the step."""

from collections.abc import Iterator

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations.data_tests import DataTest, NotNull, name_data_tests
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.definitions.orchestrated import build_orchestrated_refresh
from dagster_dynamic_tables.health.data_tests import plan_data_tests

from tests.core.definitions.test_orchestrated import BASE, DOUBLED, Connect, StandIn


def _with_tests(tenant: Tenant, *, blocking: bool) -> Tenant:
    base, doubled = tenant.dynamic_tables[1], tenant.dynamic_tables[0]
    tests = name_data_tests([DataTest(not_null=NotNull(column="AMOUNT"), blocking=blocking)])
    d_tests = name_data_tests([DataTest(not_null=NotNull(column="D"))])
    return Tenant(
        tenant.slug,
        sources=tenant.sources,
        dynamic_tables=(
            doubled.model_copy(update={"data_tests": d_tests}),
            base.model_copy(update={"data_tests": tests}),
            tenant.dynamic_tables[2],
        ),
    )


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _run(
    stand_in: StandIn, tenant: Tenant, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    assets = build_orchestrated_refresh(tenant, data_tests=plan_data_tests(tenant))
    return dg.materialize(
        [assets],
        instance=instance,
        resources={"snowflake": stand_in.resource},
        raise_on_error=False,
    )


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    evaluations = result.get_asset_check_evaluations()
    return {f"{e.asset_key.path[-1]}.{e.check_name}": e.passed for e in evaluations}


def test_each_refreshed_table_is_tested_once_after_its_refresh(
    local_snowflake_connect: Connect, local_snowflake_connection_args, instance
):
    stand_in = StandIn(local_snowflake_connect, local_snowflake_connection_args)
    tenant = _with_tests(stand_in.tenant, blocking=True)
    stand_in.cursor.execute(f"INSERT INTO {stand_in.database}.S.ORDERS VALUES (2, 20)")

    result = _run(stand_in, tenant, instance)

    assert result.success
    assert _checks(result) == {"base.not_null_amount": True, "doubled.not_null_d": True}
    keys = [e.asset_key for e in result.get_asset_materialization_events()]
    assert keys == [BASE, DOUBLED]


def test_a_failing_blocking_test_holds_back_the_downstream_table(
    local_snowflake_connect: Connect, local_snowflake_connection_args, instance
):
    stand_in = StandIn(local_snowflake_connect, local_snowflake_connection_args)
    tenant = _with_tests(stand_in.tenant, blocking=True)
    stand_in.cursor.execute(f"INSERT INTO {stand_in.database}.S.ORDERS VALUES (3, NULL)")

    result = _run(stand_in, tenant, instance)

    assert not result.success  # Dagster fails the step on a failed blocking check
    assert _checks(result) == {"base.not_null_amount": False}
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [BASE]


def test_a_failing_test_that_does_not_block_lets_the_downstream_table_refresh(
    local_snowflake_connect: Connect, local_snowflake_connection_args, instance
):
    stand_in = StandIn(local_snowflake_connect, local_snowflake_connection_args)
    tenant = _with_tests(stand_in.tenant, blocking=False)
    stand_in.cursor.execute(f"INSERT INTO {stand_in.database}.S.ORDERS VALUES (3, NULL)")

    result = _run(stand_in, tenant, instance)

    assert result.success
    assert _checks(result)["base.not_null_amount"] is False
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [BASE, DOUBLED]
