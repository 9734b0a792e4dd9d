"""Column schemas (`dagster/column_schema`: names, types, nullability, comments) of the Dynamic
Tables and sources, read with `SHOW COLUMNS` (`sql.columns`, no warehouse).

Dagster OSS 1.13 shows an asset's Columns (its page's Overview) from the latest materialization
that carries `dagster/column_schema`, else from the definition; observations are not read there.
So every materialization of a Dynamic Table carries its columns, with `table_created_on` (SHOW
DYNAMIC TABLES `created_on`, when the columns were read):

- Dynamic Tables: the columns are read again only for a table whose `created_on` differs from
  the one its latest recorded materialization carries (created or re-created since), or that has
  none (new to the instance); otherwise they are carried over from that materialization, with no
  statement. So an idle tick sends no `SHOW COLUMNS`, and a busy one one per database whose
  tables were (re)created. The per-table memory of the last read is the instance's latest
  materialization, as for data versions: the cursor keeps nothing per table.
- Sources (never materialized by the platform): read on the sensor's full read and reported as
  an `AssetObservation` when their columns differ from the latest observation's (the cursor keeps
  one digest of all of them, `SensorCursor.columns`, so an unchanged full read looks nothing up).
  The observation shows in the source's Events; it triggers nothing (a plain source is not
  observable: Dagster's automation reads its materializations only).

A `SHOW COLUMNS` the role may not run, or a table it does not list, leaves the columns out: the
next materialization tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
from dagster_snowflake import SnowflakeResource

from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.declarations.identifiers import QualifiedName
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.freshness.cursor import digest
from dagster_dynamic_tables.freshness.events import AssetEvent
from dagster_dynamic_tables.freshness.show import parse_show_row
from dagster_dynamic_tables.snowflake_io.faults import EXPECTED_FAULTS, describe_fault
from dagster_dynamic_tables.snowflake_io.session import read_snowflake
from dagster_dynamic_tables.sql.columns import Column, fetch_columns
from dagster_dynamic_tables.sql.records import DynamicTableState
from dagster_dynamic_tables.sql.statements import Connection, Statement, run


def table_schema(columns: Sequence[Column]) -> dg.TableSchema:
    """Dagster's TableSchema of a table's columns."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=column.name,
                type=column.type,
                description=column.comment,
                constraints=dg.TableColumnConstraints(nullable=column.nullable),
            )
            for column in columns
        ]
    )


@dataclass(frozen=True)
class RecordedColumns:
    """What the latest materialization in the instance says of a table's columns."""

    schema: dg.TableSchema | None = None
    created_on: datetime | None = None


def recorded_columns(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey]
) -> dict[dg.AssetKey, RecordedColumns]:
    """The column schema and `table_created_on` of each key's latest materialization."""
    entries = instance.get_latest_materialization_events(keys)
    found: dict[dg.AssetKey, RecordedColumns] = {}
    for key in keys:
        entry = entries.get(key)
        event = entry.asset_materialization if entry else None
        found[key] = _from_metadata(event.metadata if event else {})
    return found


def _from_metadata(metadata: Mapping[str, object]) -> RecordedColumns:
    schema = metadata.get(md.COLUMN_SCHEMA)
    created = metadata.get(md.TABLE_CREATED_ON)
    return RecordedColumns(
        schema=schema.schema if isinstance(schema, dg.TableSchemaMetadataValue) else None,
        created_on=(
            datetime.fromtimestamp(created.value, UTC)
            if isinstance(created, dg.TimestampMetadataValue)
            else None
        ),
    )


def to_read(
    materialized: Mapping[dg.AssetKey, QualifiedName],
    shown: Mapping[str, DynamicTableState],
    recorded: Mapping[dg.AssetKey, RecordedColumns],
) -> list[QualifiedName]:
    """The materialized tables whose columns must be read: (re)created since the recorded read,
    or never read."""
    names: list[QualifiedName] = []
    for key, name in materialized.items():
        before = recorded.get(key, RecordedColumns())
        state = shown.get(name.resolved)
        created = state.created_on if state else None
        if before.schema is None or created is None or before.created_on != created:
            names.append(name)
    return names


def with_columns(
    event: dg.AssetMaterialization, schema: dg.TableSchema | None, created_on: datetime | None
) -> dg.AssetMaterialization:
    """`event` with `dagster/column_schema` and `table_created_on` (each when known)."""
    values = dict(event.metadata)
    if schema is not None:
        values[md.COLUMN_SCHEMA] = dg.MetadataValue.table_schema(schema)
    if created_on is not None:
        values[md.TABLE_CREATED_ON] = dg.MetadataValue.timestamp(created_on)
    return dg.AssetMaterialization(
        asset_key=event.asset_key,
        description=event.description,
        metadata=values,
        partition=event.partition,
        tags=event.tags,
    )


def attach_columns(
    events: Sequence[AssetEvent],
    names: Mapping[dg.AssetKey, QualifiedName],
    shown: Mapping[str, DynamicTableState],
    recorded: Mapping[dg.AssetKey, RecordedColumns],
    read: Mapping[str, Sequence[Column]],
) -> list[AssetEvent]:
    """Each materialization with its table's columns: those just `read` (with SHOW's
    `created_on`), else those `recorded` (carried over)."""
    attached: list[AssetEvent] = []
    for event in events:
        name = names.get(event.asset_key)
        if not isinstance(event, dg.AssetMaterialization) or name is None:
            attached.append(event)
            continue
        if name.resolved in read:
            state = shown.get(name.resolved)
            schema = table_schema(read[name.resolved])
            attached.append(with_columns(event, schema, state.created_on if state else None))
        else:
            before = recorded.get(event.asset_key, RecordedColumns())
            attached.append(with_columns(event, before.schema, before.created_on))
    return attached


def sources_digest(tenant: Tenant, read: Mapping[str, Sequence[Column]]) -> str:
    """One digest of the columns of all the tenant's sources (`SensorCursor.columns`)."""
    return digest(
        f"{source.qualified_name.resolved}={read.get(source.qualified_name.resolved)!r}"
        for source in tenant.sources
    )


def source_observations(
    instance: dg.DagsterInstance, tenant: Tenant, read: Mapping[str, Sequence[Column]]
) -> list[dg.AssetObservation]:
    """An observation with the columns of each source whose columns differ from its latest
    observation's (a source SHOW COLUMNS did not list is left out)."""
    observations: list[dg.AssetObservation] = []
    for source in tenant.sources:
        name = source.qualified_name.resolved
        if name not in read:
            continue
        key = dg.AssetKey(tenant.key_path(source))
        schema = table_schema(read[name])
        latest = instance.fetch_observations(key, limit=1).records
        event = latest[0].asset_observation if latest else None
        if event is not None and _from_metadata(event.metadata).schema == schema:
            continue
        observations.append(
            dg.AssetObservation(
                asset_key=key,
                description=f"The columns of {name}, as Snowflake lists them (SHOW COLUMNS).",
                metadata={
                    md.SNOWFLAKE_TABLE: dg.MetadataValue.text(name),
                    md.COLUMN_SCHEMA: dg.MetadataValue.table_schema(schema),
                },
            )
        )
    return observations


ColumnReader = Callable[[Sequence[QualifiedName]], Mapping[str, Sequence[Column]] | None]
"""Reads the columns of some tables (`sql.columns.fetch_columns` on a connection); None when
Snowflake could not be read (the fault is the caller's to log)."""


def complete_columns(
    instance: dg.DagsterInstance,
    tenant: Tenant,
    events: Sequence[AssetEvent],
    shown: Mapping[str, DynamicTableState],
    read_columns: ColumnReader,
    *,
    sources_before: str | None = None,
) -> tuple[list[AssetEvent], str | None]:
    """A tick's events with the columns of the tables it materialized (see the module
    docstring), and, when `sources_before` is given (a full read: the cursor's digest, "" for
    none), the sources' observations after them; with the sources' new digest (None: not read).
    One `read_columns` call at most, and none when nothing needs reading."""
    names = {dg.AssetKey(tenant.key_path(dt)): dt.qualified_name for dt in tenant.dynamic_tables}
    materialized = {
        event.asset_key: names[event.asset_key]
        for event in events
        if isinstance(event, dg.AssetMaterialization) and event.asset_key in names
    }
    recorded = recorded_columns(instance, list(materialized)) if materialized else {}
    wanted = to_read(materialized, shown, recorded)
    if sources_before is not None:
        wanted += [source.qualified_name for source in tenant.sources]
    nothing: Mapping[str, Sequence[Column]] = {}
    read = read_columns(wanted) if wanted else nothing
    attached = attach_columns(events, materialized, shown, recorded, read or {})
    if sources_before is None or read is None or not tenant.sources:
        return attached, None
    after = sources_digest(tenant, read)
    if after != sources_before:
        attached += source_observations(instance, tenant, read)
    return attached, after


def columns_for_run(
    connection: Connection,
    instance: dg.DagsterInstance,
    event: dg.AssetMaterialization,
    name: QualifiedName,
) -> dg.AssetMaterialization:
    """`event` (a run's refresh of one Dynamic Table, `definitions.orchestrated`) with the
    columns as the sensor attaches them: SHOW DYNAMIC TABLES of the table for its `created_on`,
    then the recorded columns carried over, or SHOW COLUMNS when it was (re)created since."""
    show = Statement(
        f"SHOW DYNAMIC TABLES LIKE %(name)s IN SCHEMA {name.database.sql}.{name.schema.sql}",
        {"name": name.name.resolved},
    )
    shown = {
        state.qualified_name: state
        for state in (parse_show_row(row) for row in run(connection, show))
        if state.qualified_name == name.resolved
    }
    materialized = {event.asset_key: name}
    recorded = recorded_columns(instance, [event.asset_key])
    wanted = to_read(materialized, shown, recorded)
    read = fetch_columns(connection, wanted)[0] if wanted else {}
    (attached,) = attach_columns([event], materialized, shown, recorded, read)
    assert isinstance(attached, dg.AssetMaterialization)
    return attached


def snowflake_column_reader(log: logging.Logger, snowflake: SnowflakeResource) -> ColumnReader:
    """`SHOW COLUMNS` on a connection of its own (needed only when a table was created or
    re-created, and on full reads for the sources). An expected Snowflake fault is logged: the
    columns are read again at the next materialization or full read."""

    def read(tables: Sequence[QualifiedName]) -> Mapping[str, Sequence[Column]] | None:
        try:
            return read_snowflake(
                snowflake,
                lambda connection: fetch_columns(connection, tables)[0],  # pyright: ignore[reportArgumentType] -- a connector connection
            )
        except EXPECTED_FAULTS as error:
            fault = describe_fault(error, snowflake)  # pyright: ignore[reportArgumentType] -- EXPECTED_FAULTS
            if fault is None:
                raise
            log.warning(f"The tables' columns were not read: {fault}")
            return None

    return read
