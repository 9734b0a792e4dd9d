"""What moved since the last tick, from SHOW alone: the freshness sensor's second stage.

Per schema, short digests (`cursor.digest`) of what SHOW reports for its declared DTs
(`show.fingerprint` of each), of their `within_target_lag` outcomes and of the declared names
(`shown_digests`); a schema whose digests differ from the cursor's, or that has history pages to
catch up, moved and is read this tick (`moved_schemas`). Every schema is read on a full read.

A quiet schema does not wake the warehouse. Every refresh moves a table's data timestamp,
NO_DATA ones included, so a 1-minute table whose sources never change would be read on every
tick. The `shown` digest the cursor keeps is therefore one of two forms (`shown_digest`):

- quiet (`stamped=False`): each table's `rows`, `bytes` and `created_on` instead of its data
  timestamp (where SHOW reports them). Stored, for a tenant that declares `change_signal:
  rows_and_bytes`, for a schema whose last read found every `refresh_succeeded` passing. A
  NO_DATA refresh moves nothing; nor does a data-changing one
  that keeps the row count and the byte size (e.g. an update to values of the same width):
  it is read, and recorded, on the next full read (`sensor.FULL_READ_INTERVAL`, 15 minutes).
- stamped: with the data timestamps. Stored for every other tenant (the default,
  `change_signal: data_timestamp`: every refresh is read, the exact rule) and while a
  `refresh_succeeded` fails, so that the next refresh, NO_DATA or not, is read at once and
  reports the recovery.

The current tick matches the cursor's digest against either form. The lag check needs neither:
`within_target_lag` is evaluated from SHOW on every tick, and a change of its outcome moves the
schema (`lag`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def shown_digest(
    tables: Sequence[DynamicTable], shown: Mapping[str, DynamicTableState], *, stamped: bool
) -> str:
    """The digest of what SHOW reports for `tables` (one schema's), quiet or stamped (see the
    module docstring). Where SHOW reports no `rows`/`bytes` the two forms are the same."""
    names = sorted(dt.qualified_name.resolved for dt in tables)
    return digest(f"{name}={fingerprint(shown.get(name), stamped=stamped)}" for name in names)


def shown_digests(
    tenant: Tenant, shown: Mapping[str, DynamicTableState], now: datetime
) -> dict[str, SchemaDigests]:
    """Per schema, the digests of what SHOW reports (`shown`: the quiet form; lag outcomes) and
    of the declared names; `health` is left empty (it needs the second statement)."""
    digests: dict[str, SchemaDigests] = {}
    for prefix, tables in tables_by_schema(tenant).items():
        names = sorted(dt.qualified_name.resolved for dt in tables)
        lags: dict[str, str] = {}
        for dt in tables:
            lags[dt.qualified_name.resolved] = _lag_signature(
                dt, shown.get(dt.qualified_name.resolved), now
            )
        digests[prefix] = SchemaDigests(
            shown=shown_digest(tables, shown, stamped=False),
            lag=digest(f"{name}={lags[name]}" for name in names),
            roster=digest(names),
        )
    return digests


def _lag_signature(dt: DynamicTable, state: DynamicTableState | None, now: datetime) -> str:
    if state is None or state.metadata_hidden:
        return "-"
    return within_target_lag(dt, state, now).signature


def moved_schemas(
    tenant: Tenant,
    cursor: SensorCursor,
    current: Mapping[str, SchemaDigests],
    full: bool,
    shown: Mapping[str, DynamicTableState] | None = None,
) -> set[str]:
    """The schemas to read this tick: every one on a full read; else those whose SHOW digests
    or declared names differ from the cursor's, and those with history pages to catch up.

    `current`: this tick's `shown_digests`; `shown`: the SHOW states they were made from, to
    match a cursor that holds the stamped form (without them, only the quiet form matches)."""
    by_schema = tables_by_schema(tenant)
    if full:
        return set(by_schema)
    moved = {prefix for prefix, ends in cursor.pages.items() if ends and prefix in by_schema}
    for prefix, now_seen in current.items():
        before = cursor.digests.get(prefix)
        if before is None or not _same(before, now_seen, by_schema.get(prefix), shown):
            moved.add(prefix)
    return moved


def _same(
    before: SchemaDigests,
    now_seen: SchemaDigests,
    tables: Sequence[DynamicTable] | None,
    shown: Mapping[str, DynamicTableState] | None,
) -> bool:
    """Whether a schema's digests match the cursor's (its `shown` in either form)."""
    if (before.lag, before.roster) != (now_seen.lag, now_seen.roster):
        return False
    if before.shown == now_seen.shown:
        return True
    if shown is None or tables is None:
        return False
    return before.shown == shown_digest(tables, shown, stamped=True)
