"""Every automation condition of a tenant's executable assets also waits for its deps' blocking
checks (`definitions.automation`); the behaviour over ticks is in
tests/core/freshness/test_data_test_runs.py (a failing blocking data test holds back a
downstream asset)."""

from collections.abc import Iterator

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
