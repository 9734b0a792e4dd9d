"""Declarations -> `dg.AssetSpec`: source tables, virtual Dynamic Tables and virtual views.

A `scheduler: DISABLE` Dynamic Table is refreshed by Dagster: `build_spec` describes it so, and
`build_asset_specs` leaves it out, its executable spec being the tenant's orchestrated
multi-asset's (`orchestrated.build_orchestrated_refresh`).

Usable from YAML (`build_asset_specs(tenant)`) and straight from Python (`source_table`,
`dynamic_table`, `view`), both through the same pydantic models, so a bad argument fails with the
same message as the same mistake in YAML.

A Dynamic Table has no Dagster freshness policy: its freshness is the `within_target_lag` check,
which the freshness sensor evaluates on every tick from the data timestamp SHOW reports (NO_DATA
refreshes included), so a quiet table that Snowflake keeps within its lag passes, and one whose
refreshes stop fails (WARN past 1.5 x the lag, ERROR past 2 x). Dagster 1.13.27 evaluates a
`FreshnessPolicy` (time window or cron) from one input only, the time its latest
*materialization* was written (`freshness_evaluator.py`, run by the freshness daemon, whose
state the UI shows); observations and `dagster/last_updated_timestamp` metadata do not count.
Materializations are what downstream `AutomationCondition.eager()` runs on, so the sensor
records one only for a refresh that changed data: a policy would measure the time since the
last data change and fail a healthy table whose sources are quiet (a 1-minute DT after 9
minutes). See the library README ("Freshness").

`effective_lags` gives the lag Snowflake holds each DOWNSTREAM table to through its consumers.

Views are virtual and have no automation condition: a view is always
consistent with its inputs, so assets downstream of a view should use
`AutomationCondition.eager().resolve_through_virtual()` (assets downstream of a Dynamic Table use
plain `AutomationCondition.eager()`, which fires on the DT's refresh materialization).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Any, TypedDict, TypeVar, Unpack

import dagster as dg
from pydantic import BaseModel, ValidationError

from dagster_dynamic_tables import metadata
from dagster_dynamic_tables.declarations.models import (
    QUERY_OPTIONAL,
    Declaration,
    DynamicTable,
    Initialize,
    RefreshMode,
    SourceTable,
    Tenant,
    View,
)
from dagster_dynamic_tables.declarations.problems import translate_validation_error
from dagster_dynamic_tables.errors import DeclarationError

DAGSTER_TABLE_NAME = "dagster/table_name"
SOURCE_KINDS = frozenset({"snowflake"})
DYNAMIC_TABLE_KINDS = frozenset({"snowflake", "dynamic_table"})
VIEW_KINDS = frozenset({"snowflake", "view"})

_M = TypeVar("_M", bound=BaseModel)

AssetDep = str | dg.AssetKey | dg.AssetSpec
"""A dep given to a Python builder: a name (`raw_orders`, `other_tenant/asset`), a key or a spec."""


def build_asset_specs(tenant: Tenant) -> list[dg.AssetSpec]:
    """The specs of a tenant's sources, Dynamic Tables and views, in declaration order, but for
    its `scheduler: DISABLE` Dynamic Tables: Dagster refreshes those, and their executable specs
    are `orchestrated.build_orchestrated_refresh`'s (a key is defined once)."""
    return [
        build_spec(tenant, declaration)
        for declaration in tenant.all()
        if not orchestrated_by_dagster(declaration)
    ]


def orchestrated_by_dagster(declaration: Declaration) -> bool:
    """Whether Dagster refreshes the object: a Dynamic Table with `scheduler: DISABLE`."""
    return isinstance(declaration, DynamicTable) and declaration.scheduler == "DISABLE"


def build_spec(tenant: Tenant, declaration: Declaration) -> dg.AssetSpec:
    """The spec of one of `tenant`'s declarations (key `[tenant.slug, name]`)."""
    deps = [] if isinstance(declaration, SourceTable) else tenant.dep_keys(declaration)
    return _spec(declaration, [tenant.slug, declaration.name], deps)


def effective_lags(tenant: Tenant) -> dict[str, int | None]:
    """Target lag in seconds of each Dynamic Table, DOWNSTREAM ones resolved to their fastest
    consumer's (None when no Dynamic Table of the tenant consumes them). A table whose scheduler
    is disabled refreshes only when asked: None, and it passes no lag on."""
    tables = {table.name: table for table in tenant.dynamic_tables}
    resolved: dict[str, int | None] = {
        name: None if table.scheduler == "DISABLE" else table.lag.seconds
        for name, table in tables.items()
    }
    # Spread the shortest lag from each consumer to the DOWNSTREAM tables it reads, shortest
    # first, so each DOWNSTREAM table is settled once: linear-ish, no recursion on long chains.
    queue = [(lag, name) for name, lag in resolved.items() if lag is not None]
    heapq.heapify(queue)
    while queue:
        lag, name = heapq.heappop(queue)
        for key in tenant.dep_keys(tables[name]):
            dep = key[1] if len(key) == 2 and key[0] == tenant.slug else None
            if (
                dep in tables
                and resolved[dep] is None
                and tables[dep].lag.is_downstream
                and tables[dep].scheduler != "DISABLE"
            ):
                resolved[dep] = lag
                heapq.heappush(queue, (lag, dep))
    return resolved


def _spec(
    declaration: Declaration,
    key: Sequence[str],
    deps: Sequence[Sequence[str]],
) -> dg.AssetSpec:
    table = declaration.qualified_name
    common: dict[str, Any] = {
        metadata.SNOWFLAKE_TABLE: declaration.table,
        metadata.SNOWFLAKE_OBJECT_TYPE: declaration.object_type,
        # Dagster's standard table-name key: the UI shows it and links assets on the same table.
        DAGSTER_TABLE_NAME: table.resolved,
    }
    intro = f"{declaration.description.strip()}\n\n" if declaration.description else ""
    asset_key = dg.AssetKey(list(key))
    owners = list(declaration.owners)
    # Group names are global in Dagster's lineage page: a tenant's default groups carry its slug.
    group = declaration.group or f"{key[0]}_{declaration.default_group}"
    if isinstance(declaration, SourceTable):
        return dg.AssetSpec(
            asset_key,
            description=f"{intro}Snowflake table {table}, loaded outside Dagster.",
            metadata=common,
            group_name=group,
            owners=owners,
            kinds=set(SOURCE_KINDS),
        )
    dep_keys = [dg.AssetKey(list(dep)) for dep in deps]
    if isinstance(declaration, View):
        return dg.AssetSpec(
            asset_key,
            deps=dep_keys,
            description=f"{intro}Snowflake view {table}: always consistent with its inputs.",
            metadata=common,
            group_name=group,
            owners=owners,
            kinds=set(VIEW_KINDS),
            is_virtual=True,
        )
    return dg.AssetSpec(
        asset_key,
        deps=dep_keys,
        description=f"{intro}{_dynamic_table_line(declaration)}",
        metadata={
            **common,
            metadata.TARGET_LAG: declaration.lag.text,
            metadata.REFRESH_MODE: declaration.refresh_mode,
            metadata.WAREHOUSE: declaration.warehouse,
            metadata.INITIALIZE: declaration.initialize,
        },
        group_name=group,
        owners=owners,
        kinds=set(DYNAMIC_TABLE_KINDS),
        is_virtual=True,
    )


def _dynamic_table_line(dt: DynamicTable) -> str:
    table = dt.qualified_name
    if dt.scheduler == "DISABLE":
        return (
            f"Snowflake Dynamic Table {table} (scheduler DISABLE, refresh mode: "
            f"{dt.refresh_mode}), refreshed by Dagster: materializing it runs ALTER DYNAMIC TABLE "
            f"{table.sql} REFRESH (its upstream tables of this tenant first when selected "
            "together) and records the refresh. A refresh made outside Dagster is recorded by the "
            "freshness sensor."
        )
    return (
        f"Snowflake Dynamic Table {table} (target lag: {dt.lag.text}, refresh mode: "
        f"{dt.refresh_mode}), refreshed by Snowflake, never run by Dagster. Freshness: the "
        "within_target_lag check (Snowflake's data timestamp against the target lag)."
    )


# --- Python builders ------------------------------------------------------------------------


class SpecOptions(TypedDict, total=False):
    """The keywords every Python builder takes besides its name and table (all optional)."""

    key_prefix: str | Sequence[str] | None
    """The key is `[*key_prefix, name]`; a short string dep gets it too."""
    description: str | None
    owners: Sequence[str] | None
    group: str | None


class ViewOptions(SpecOptions, total=False):
    """The keywords of `view` (and of `dynamic_table`, which adds its own)."""

    query: str | None
    deps: Iterable[AssetDep]


class DynamicTableOptions(ViewOptions, total=False):
    """The optional keywords of `dynamic_table` (Snowflake's defaults: AUTO, ON_CREATE)."""

    refresh_mode: RefreshMode
    initialize: Initialize


def source_table(name: str, table: str, **options: Unpack[SpecOptions]) -> dg.AssetSpec:
    """The spec of a plain Snowflake table loaded outside Dagster (kinds `snowflake`).

    Key: `[*key_prefix, name]`. Raises `DeclarationError` for a bad argument, naming it.
    """
    given = _options("source_table", options, SpecOptions.__optional_keys__)
    key_prefix = given.pop("key_prefix", None)
    declaration = _validate(SourceTable, {"name": name, "table": table, **given})
    return _spec(declaration, [*_prefix(key_prefix), declaration.name], [])


def dynamic_table(
    name: str,
    table: str,
    *,
    target_lag: str,
    warehouse: str,
    **options: Unpack[DynamicTableOptions],
) -> dg.AssetSpec:
    """The virtual spec of a Snowflake Dynamic Table (no freshness policy: see the module
    docstring).

    String deps are names: a short name gets `key_prefix` (like a tenant's own object in YAML),
    `other/asset` is a full key. Raises `DeclarationError` for a bad argument.
    """
    given = _options("dynamic_table", options, DynamicTableOptions.__optional_keys__)
    arguments = {"name": name, "table": table, "target_lag": target_lag, "warehouse": warehouse}
    return _virtual_spec(DynamicTable, {**arguments, **given})


def view(name: str, table: str, **options: Unpack[ViewOptions]) -> dg.AssetSpec:
    """The virtual spec of a plain Snowflake view (kinds `snowflake`, `view`).

    Assets downstream of a view should use `AutomationCondition.eager().resolve_through_virtual()`.
    Raises `DeclarationError` for a bad argument.
    """
    return _virtual_spec(
        View,
        {"name": name, "table": table, **_options("view", options, ViewOptions.__optional_keys__)},
    )


def _options(builder: str, options: Mapping[str, Any], accepted: Set[str]) -> dict[str, Any]:
    """The keywords given, as a dict; a keyword not `accepted` is a `TypeError`, as it is for any
    Python function."""
    for key in options:
        if key not in accepted:
            raise TypeError(f"{builder}() got an unexpected keyword argument {key!r}")
    return dict(options)


def _virtual_spec(model: type[DynamicTable | View], arguments: Mapping[str, Any]) -> dg.AssetSpec:
    """A Python builder's spec: string deps are declared by name, every dep keys the spec."""
    given = dict(arguments)
    deps: list[AssetDep] = list(given.pop("deps", ()))
    prefix = _prefix(given.pop("key_prefix", None))
    named = [dep for dep in deps if isinstance(dep, str)]
    declaration = _validate(model, {**given, "deps": named})
    return _spec(declaration, [*prefix, declaration.name], _dep_paths(deps, prefix))


def _validate(model: type[_M], arguments: Mapping[str, Any]) -> _M:
    given = {key: value for key, value in arguments.items() if value is not None}
    try:
        return model.model_validate(given, context={QUERY_OPTIONAL: True})
    except ValidationError as e:
        raise DeclarationError(None, translate_validation_error(e, model, "")) from None


def _prefix(key_prefix: str | Sequence[str] | None) -> list[str]:
    if key_prefix is None:
        return []
    return [key_prefix] if isinstance(key_prefix, str) else list(key_prefix)


def _dep_paths(deps: Sequence[AssetDep], prefix: Sequence[str]) -> list[list[str]]:
    paths: list[list[str]] = []
    for dep in deps:
        if isinstance(dep, str):
            paths.append(dep.split("/") if "/" in dep else [*prefix, dep])
        else:
            paths.append(list(dep.path if isinstance(dep, dg.AssetKey) else dep.key.path))
    return paths
