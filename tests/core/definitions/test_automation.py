"""Every automation condition of a tenant's executable assets also waits for its deps' blocking
checks (`definitions.automation`); the behaviour over ticks is in
tests/core/freshness/test_data_test_runs.py (a failing blocking data test holds back a
downstream asset)."""

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from dagster_dynamic_tables.definitions.automation import (
    held_back,
    hold_back_on_blocking_checks,
)

GATE = dg.AutomationCondition.all_deps_blocking_checks_passed()


def test_a_condition_is_held_back_once():
    eager = dg.AutomationCondition.eager()
    assert held_back(eager) == eager & GATE
    assert held_back(held_back(eager)) == eager & GATE
    cron = dg.AutomationCondition.on_cron("0 6 * * *")
    assert held_back(cron) == cron & GATE
    assert held_back(cron | GATE) == cron | GATE  # a condition that names it is left as written


def test_executable_assets_with_a_condition_are_held_back_others_are_left():
    @dg.asset(deps=["table"], automation_condition=dg.AutomationCondition.eager())
    def report() -> None: ...

    @dg.asset(deps=["table"])
    def by_hand() -> None: ...

    @dg.multi_asset(
        specs=[
            dg.AssetSpec("a", automation_condition=dg.AutomationCondition.eager()),
            dg.AssetSpec("b", automation_condition=dg.AutomationCondition.on_cron("0 6 * * *")),
        ],
        can_subset=True,
    )
    def refresh() -> Iterator[dg.MaterializeResult]:
        yield from ()

    defs = dg.Definitions(assets=[dg.AssetSpec("table", is_virtual=True), report, by_hand, refresh])
    graph = hold_back_on_blocking_checks(defs).resolve_asset_graph()
    conditions = {
        key.to_user_string(): graph.get(key).automation_condition
        for key in graph.get_all_asset_keys()
    }
    assert conditions == {
        "table": None,
        "report": dg.AutomationCondition.eager() & GATE,
        "by_hand": None,
        "a": dg.AutomationCondition.eager() & GATE,
        "b": dg.AutomationCondition.on_cron("0 6 * * *") & GATE,
    }


def test_definitions_needing_nothing_are_returned_as_they_are():
    @dg.asset(automation_condition=dg.AutomationCondition.eager() & GATE)
    def gated() -> None: ...

    defs = dg.Definitions(assets=[dg.AssetSpec("table", is_virtual=True), gated])
    assert hold_back_on_blocking_checks(defs) is defs


def test_the_tenants_downstream_assets_are_held_back():
    import ecommerce.definitions
    import finance.definitions

    for defs, key in (
        (ecommerce.definitions.defs, ["ecommerce", "executive_dashboard_report"]),
        (finance.definitions.defs, ["finance", "budget_report"]),
    ):
        condition = defs.resolve_asset_graph().get(dg.AssetKey(key)).automation_condition
        assert condition == dg.AutomationCondition.eager() & GATE


def _requested(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: Any, at: datetime):
    with warnings.catch_warnings():
        # Dagster's own call of AssetSelection.all(include_sources=True) warns (beta).
        warnings.simplefilter("ignore", dg.BetaWarning)
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=cursor, evaluation_time=at
        )
    requested = {r.key.to_user_string() for r in result.results if r.true_subset.size}
    return requested, result.cursor


def test_a_source_that_never_updates_does_not_hold_eager_or_on_cron_back():
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                "eager_table",
                deps=["raw", "table"],
                automation_condition=dg.AutomationCondition.eager(),
            ),
            dg.AssetSpec(
                "cron_table",
                deps=["raw"],
                automation_condition=dg.AutomationCondition.on_cron("* * * * *"),
            ),
        ],
        can_subset=True,
    )
    def refresh() -> Iterator[dg.MaterializeResult]:
        yield from ()

    raw, table = dg.AssetSpec("raw"), dg.AssetSpec("table", deps=["raw"], is_virtual=True)
    defs = hold_back_on_blocking_checks(dg.Definitions(assets=[raw, table, refresh]))
    start = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    with dg.DagsterInstance.ephemeral() as instance:
        requested, cursor = _requested(defs, instance, None, start)
        assert requested == set()
        instance.report_runless_asset_event(dg.AssetMaterialization("table"))
        requested, cursor = _requested(defs, instance, cursor, start + timedelta(seconds=10))
        assert requested == {"eager_table"}  # its other dep, the source, never updates
        requested, cursor = _requested(defs, instance, cursor, start + timedelta(seconds=40))
        assert requested == {"cron_table"}  # the cron tick passed; its only dep is a source
