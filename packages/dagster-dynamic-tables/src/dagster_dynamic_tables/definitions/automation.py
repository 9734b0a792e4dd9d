"""Blocking data tests hold back downstream automation: every automation condition of a code
location's executable assets also waits for the blocking checks of the asset's deps.

A data test declared `blocking: true` is a blocking Dagster asset check. Inside one run, Dagster
itself keeps downstream steps from running after a blocking check fails (severity ERROR). Across
runs, declarative automation does not: `AutomationCondition.eager()` and `on_cron()` do not look
at checks. Dagster's condition for it is `AutomationCondition.all_deps_blocking_checks_passed()`:
true when every blocking check of every dep has passed against that dep's latest
materialization, or is requested in the same tick. A check not evaluated yet against the latest
materialization (the freshness sensor has recorded a refresh, the run of its data tests has not
finished) does not count as passed: the downstream asset waits for the tests, then runs (eager's
trigger stays set until the asset is requested).

`hold_back_on_blocking_checks(defs)` ANDs that condition into the condition of every executable
asset that has one and does not include it yet: the tenant's Python assets (`eager()` downstream of
a Dynamic Table), its orchestrated `scheduler: DISABLE` tables, and, since the checks of another
code location's asset are in the workspace's asset graph the daemon evaluates with, assets
downstream of another tenant's tables too. Teams keep writing plain `eager()`: a test a team
declares blocking holds back every team's downstream work, which a condition each team had to
remember could not promise. The UI shows the whole condition.

An asset downstream of a source whose blocking test has never run waits for its first run (on the
source's `data_tests_cron`, or launched from the UI).

Sources (plain specs: Snowflake tables an ETL loads, which Dagster never materializes) count as
"missing" for automation forever, so `eager()` never fires for an asset with a source among its
deps (`~any_deps_missing()`), nor `on_cron()` (`all_deps_updated_since_cron` waits for a source
to update): both would leave an orchestrated table over a raw table unrefreshed. Those two parts
of the condition leave out the asset's deps that are sources of the same code location
(`dg.AutomationCondition.ignore`); a source's materialization, should one be reported, still
triggers `eager()`. So `on_cron` over sources only fires at every cron tick, and over a Dynamic
Table once that table's refresh was recorded since the tick.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence, Set
from typing import Any, cast

import dagster as dg

BLOCKING_CHECKS_LABEL = "all_deps_blocking_checks_passed"


Condition = dg.AutomationCondition[Any]


def _includes_blocking_checks(condition: Condition) -> bool:
    if condition.get_label() == BLOCKING_CHECKS_LABEL:
        return True
    children = cast("Sequence[Condition]", condition.children)  # pyright: ignore[reportUnknownMemberType] -- dagster leaves the type argument open
    return any(_includes_blocking_checks(child) for child in children)


def held_back(condition: Condition) -> Condition:
    """`condition`, also waiting for its deps' blocking checks (unchanged if it already does)."""
    if _includes_blocking_checks(condition):
        return condition
    return condition & dg.AutomationCondition.all_deps_blocking_checks_passed()


SOURCE_WAITS = ("any_deps_missing", "all_deps_updated_since_cron")
"""Labels (prefixes) of the parts of eager() and on_cron() that wait on every dep."""


def _source_waits(condition: Condition) -> list[Condition]:
    label = condition.get_label() or ""
    if label.startswith(SOURCE_WAITS) and hasattr(condition, "ignore"):
        return [condition]
    children = cast("Sequence[Condition]", condition.children)  # pyright: ignore[reportUnknownMemberType] -- as above
    return [found for child in children for found in _source_waits(child)]


def without_source_waits(condition: Condition, sources: Sequence[dg.AssetKey]) -> Condition:
    """`condition` with its waits on every dep (`SOURCE_WAITS`) leaving out `sources`."""
    if not sources or not hasattr(condition, "replace"):
        return condition
    selection = dg.AssetSelection.assets(*sources)
    for wait in _source_waits(condition):
        ignoring = cast("Any", wait).ignore(selection)
        condition = cast("Any", condition).replace(wait.get_label(), ignoring)
    return condition


def _condition_of(spec: dg.AssetSpec) -> Condition | None:
    # dagster's AssetSpec leaves AutomationCondition's type argument open:
    return cast("Condition | None", spec.automation_condition)  # pyright: ignore[reportUnknownMemberType]


def _needs_hold(spec: dg.AssetSpec) -> bool:
    condition = _condition_of(spec)
    return condition is not None and not _includes_blocking_checks(condition)


def _holding(sources: Set[dg.AssetKey]) -> Callable[[dg.AssetSpec], dg.AssetSpec]:
    def hold(spec: dg.AssetSpec) -> dg.AssetSpec:
        condition = _condition_of(spec)
        if condition is None or _includes_blocking_checks(condition):
            return spec
        waited = [dep.asset_key for dep in spec.deps if dep.asset_key in sources]
        condition = held_back(without_source_waits(condition, waited))
        return spec.replace_attributes(  # pyright: ignore[reportUnknownMemberType] -- as above
            automation_condition=condition
        )

    return hold


def hold_back_on_blocking_checks(defs: dg.Definitions) -> dg.Definitions:
    """`defs` with every executable asset's automation condition held back by its deps' blocking
    checks, its waits on every dep leaving out sources (see the module docstring); `defs` itself
    when no condition needs it."""
    specs = [
        spec
        for asset in defs.assets or []
        if isinstance(asset, dg.AssetsDefinition)
        for spec in asset.specs
    ]
    if not any(_needs_hold(spec) for spec in specs):
        return defs
    sources = {
        asset.key
        for asset in defs.assets or []
        if isinstance(asset, dg.AssetSpec) and not asset.is_virtual
    }
    with warnings.catch_warnings():
        # Definitions.map_asset_specs is marked preview; it maps specs and definitions alike,
        # which rebuilding each AssetsDefinition here would copy.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=_holding(sources))
