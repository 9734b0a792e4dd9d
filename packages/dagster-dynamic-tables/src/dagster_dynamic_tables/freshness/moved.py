"""What moved since the last tick, from SHOW alone: the freshness sensor's second stage.

Per schema, short digests (`cursor.digest`) of what SHOW reports for its declared DTs
(`show.fingerprint` of each), of their `within_target_lag` outcomes and of the declared names
(`shown_digests`); a schema whose digests differ from the cursor's, or that has history pages to
catch up, moved and is read this tick (`moved_schemas`). Every schema is read on a full read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.freshness.cursor import SchemaDigests, SensorCursor, digest
from dagster_dynamic_tables.freshness.show import fingerprint
from dagster_dynamic_tables.health.rules import within_target_lag
from dagster_dynamic_tables.sql.records import DynamicTableState


def tables_by_schema(tenant: Tenant) -> dict[str, list[DynamicTable]]:
    """The tenant's DTs per schema prefix, in declaration order."""
    schemas: dict[str, list[DynamicTable]] = {}
    for dt in tenant.dynamic_tables:
        schemas.setdefault(dt.qualified_name.schema_prefix, []).append(dt)
    return schemas


def shown_digests(
    tenant: Tenant, shown: Mapping[str, DynamicTableState], now: datetime
) -> dict[str, SchemaDigests]:
    """Per schema, the digests of what SHOW reports (fingerprints, lag outcomes) and of the
    declared names; `health` is left empty (it needs the second statement)."""
    digests: dict[str, SchemaDigests] = {}
    for prefix, tables in tables_by_schema(tenant).items():
        names = sorted(dt.qualified_name.resolved for dt in tables)
        states = {
            dt.qualified_name.resolved: shown.get(dt.qualified_name.resolved) for dt in tables
        }
        lags = {
            dt.qualified_name.resolved: _lag_signature(dt, states[dt.qualified_name.resolved], now)
            for dt in tables
        }
        digests[prefix] = SchemaDigests(
            shown=digest(f"{name}={fingerprint(states[name])}" for name in names),
            lag=digest(f"{name}={lags[name]}" for name in names),
            roster=digest(names),
        )
    return digests


def _lag_signature(dt: DynamicTable, state: DynamicTableState | None, now: datetime) -> str:
    if state is None or state.metadata_hidden:
        return "-"
    return within_target_lag(dt, state, now).signature


def moved_schemas(
    tenant: Tenant, cursor: SensorCursor, current: Mapping[str, SchemaDigests], full: bool
) -> set[str]:
    """The schemas to read this tick: every one on a full read; else those whose SHOW digests
    or declared names differ from the cursor's, and those with history pages to catch up."""
    declared = set(tables_by_schema(tenant))
    if full:
        return declared
    moved = {prefix for prefix, ends in cursor.pages.items() if ends and prefix in declared}
    for prefix, now_seen in current.items():
        before = cursor.digests.get(prefix)
        if before is None or (before.shown, before.lag, before.roster) != (
            now_seen.shown,
            now_seen.lag,
            now_seen.roster,
        ):
            moved.add(prefix)
    return moved
