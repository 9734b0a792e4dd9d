"""Declaration models: what a tenant writes in YAML (or in Python) about its Snowflake objects.

Field names are Snowflake's and dbt-snowflake's (`table`, `target_lag`, `refresh_mode`,
`initialize`, `warehouse`, `scheduler`, `initialization_warehouse`, `cluster_by`, `transient`,
`comment`, `data_retention_time_in_days`, `frozen_where`), plus what Dagster does with them:
`automation_condition` (when Dagster refreshes a `scheduler: DISABLE` table: `orchestration`),
`data_tests` (on sources and Dynamic Tables: `data_tests`) and a source's `data_tests_cron` /
`data_tests_timezone` (when its tests run on their own). The models validate single fields
(their types and checks: `fields`); `consistency.check_tenant` checks the whole set (duplicates,
unknown deps, cycles); `sqlfiles.read_query_file` resolves `query_file` (through
`files.read_tenant_file`: confined to the tenant's `defs/` folder, bounded, never blocking).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    model_validator,
)

from dagster_dynamic_tables.declarations.data_tests import DataTest, name_data_tests
from dagster_dynamic_tables.declarations.fields import (
    DEFAULT_SENSOR_INTERVAL_SECONDS,
    LAG_PATTERN,
    MAXIMUM_DATA_RETENTION_DAYS,
    MAXIMUM_TRANSIENT_RETENTION_DAYS,
    AssetName,
    Comment,
    DepName,
    Identifier,
    Owner,
    RetentionDays,
    SensorInterval,
    SqlExpression,
    TableName,
    TargetLagText,
    WarehouseName,
)
from dagster_dynamic_tables.declarations.identifiers import QualifiedName, parse_qualified_name
from dagster_dynamic_tables.declarations.lags import TargetLag, parse_target_lag
from dagster_dynamic_tables.declarations.orchestration import (
    AutomationConditionField,
    CronText,
    TimezoneName,
    automation_condition_field,
)

QUERY_OPTIONAL = "query_optional"
"""Validation context key: when True, a DT or view may omit both query and query_file."""
RefreshMode = Literal["AUTO", "FULL", "INCREMENTAL", "ADAPTIVE"]
Scheduler = Literal["ENABLE", "DISABLE"]
Initialize = Literal["ON_CREATE", "ON_SCHEDULE"]
ObjectType = Literal["TABLE", "DYNAMIC TABLE", "VIEW"]
ChangeSignal = Literal["data_timestamp", "rows_and_bytes"]
DEFAULT_CHANGE_SIGNAL: ChangeSignal = "data_timestamp"
CHANGE_SIGNAL_DESCRIPTION = (
    "What tells the freshness sensor, from SHOW alone (no warehouse), that a Dynamic Table may "
    "hold new data and its refresh history (a read on a warehouse) is worth reading. "
    "data_timestamp (default): every refresh, NO_DATA ones included; exact, but a 1-minute "
    "table wakes the monitoring warehouse every tick. rows_and_bytes: the table's row count, "
    "byte size or creation moved; NO_DATA refreshes wake nothing, and a change that keeps both "
    "the row count and the byte size (an aggregate updated in place) is recorded by the "
    "15-minute full read, up to 15 minutes late."
)


class _Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    object_type: ClassVar[ObjectType]
    default_group: ClassVar[str]

    name: AssetName
    table: TableName
    description: str | None = Field(
        default=None, description="What the object holds; shown in the Dagster UI."
    )
    owners: list[Owner] = Field(
        default_factory=list,
        description="Owners shown in the UI: e-mail addresses or 'team:<name>'.",
    )
    group: AssetName | None = Field(
        default=None,
        description="Dagster asset group (lowercase letters, digits and '_'); defaults to "
        "<tenant>_sources, <tenant>_dynamic_tables or <tenant>_views. Start it with the tenant's "
        "slug: group names are global in Dagster's lineage page.",
    )

    @property
    def qualified_name(self) -> QualifiedName:
        return parse_qualified_name(self.table)

    @property
    def group_name(self) -> str:
        return self.group or self.default_group


DataTests = Annotated[list[DataTest], AfterValidator(name_data_tests)]
"""Declared data tests, their default names filled in (the loader also reports duplicates)."""


def _data_tests_field(what: str) -> Any:
    return Field(
        default_factory=list[DataTest],
        description=f"Tests of the data {what} holds, each a Dagster asset check: not_null, "
        "unique, accepted_values, relationships, row_count or sql, with optional name, "
        "severity (warn|error) and blocking.",
        examples=[[{"not_null": {"column": "id"}}, {"unique": {"column": "id"}}]],
    )


class SourceTable(_Declaration):
    """A plain Snowflake table loaded outside Dagster (by an ETL tool, say)."""

    object_type: ClassVar[ObjectType] = "TABLE"
    default_group: ClassVar[str] = "sources"

    data_tests: DataTests = _data_tests_field("the table")
    data_tests_cron: CronText | None = Field(
        default=None,
        description="Five-field cron on which the source's data tests run (they also run on "
        "request, from the UI); without it they run only on request.",
        examples=["0 7 * * *"],
    )
    data_tests_timezone: TimezoneName | None = Field(
        default=None,
        description="IANA time zone of data_tests_cron (default UTC).",
        examples=["Europe/Paris"],
    )


class _Derived(_Declaration):
    query: str | None = Field(
        default=None,
        description="The SELECT that defines the object (give this or query_file).",
        examples=["select customer_id, sum(amount) from ECOMMERCE.RAW.RAW_ORDERS group by 1"],
    )
    query_file: str | None = Field(
        default=None,
        description="Path of a .sql file holding the SELECT, relative to the YAML file "
        "(give this or query): a UTF-8 regular file of at most 1 MiB inside the tenant's defs/ "
        "folder (no absolute path, no link or ../ leading out of it).",
        examples=["sql/customer_lifetime_value.sql"],
    )
    deps: list[DepName] = Field(
        default_factory=list,
        description="Upstream assets: a short name for this tenant's own objects, the full key "
        "(other_tenant/asset) for another tenant's.",
    )

    @model_validator(mode="after")
    def _one_query(self, info: ValidationInfo) -> _Derived:
        if self.query is not None and self.query_file is not None:
            raise ValueError("give either query or query_file, not both")
        # Python builders may declare an object for lineage only, without its SELECT.
        context: object = info.context
        optional = (
            isinstance(context, Mapping)
            and cast("Mapping[str, object]", context).get(QUERY_OPTIONAL) is True
        )
        if self.query is None and self.query_file is None and not optional:
            raise ValueError("give the SELECT as query, or a .sql file path as query_file")
        if self.query is not None and not self.query.strip():
            raise ValueError("query is empty: give the SELECT that defines the object")
        return self


class DynamicTable(_Derived):
    """A Snowflake Dynamic Table: refreshed by Snowflake on its target lag (`scheduler: ENABLE`),
    or by Dagster when its `automation_condition` says (`scheduler: DISABLE`)."""

    object_type: ClassVar[ObjectType] = "DYNAMIC TABLE"
    default_group: ClassVar[str] = "dynamic_tables"

    target_lag: TargetLagText = Field(
        description="How stale the table may get: '<n> seconds|minutes|hours|days' "
        "(at least 60 seconds) or DOWNSTREAM.",
        examples=["1 minute", "2 hours", "DOWNSTREAM"],
        # For editors and `dg check yaml` (JSON Schema has no case-insensitive flag); the
        # 60-second minimum is checked when the declarations load.
        json_schema_extra={"pattern": LAG_PATTERN},
    )
    warehouse: Identifier = Field(
        description="Warehouse that runs the refreshes (a Snowflake identifier).",
        examples=["TRANSFORMING"],
    )
    refresh_mode: RefreshMode = Field(
        default="AUTO",
        description="AUTO (Snowflake chooses; since 2026-11-20 ADAPTIVE for new tables whose "
        "query allows incremental refresh, else FULL), FULL, INCREMENTAL or ADAPTIVE "
        "(incremental, reinitializing by itself when a full refresh is cheaper). Changing it "
        "reinitializes the table.",
    )
    initialize: Initialize = Field(
        default="ON_CREATE",
        description="ON_CREATE (refresh at creation) or ON_SCHEDULE; only used when the table "
        "is created.",
    )
    scheduler: Scheduler = Field(
        default="ENABLE",
        description="ENABLE: Snowflake refreshes the table on its target lag. DISABLE: "
        "Dagster refreshes it (ALTER DYNAMIC TABLE ... REFRESH, upstream first) when its "
        "automation_condition says, or when materialized from the UI.",
    )
    initialization_warehouse: WarehouseName | None = Field(
        default=None,
        description="Warehouse for the initial refresh and reinitializations (default: warehouse).",
        examples=["TRANSFORMING_XL"],
    )
    cluster_by: list[SqlExpression] | None = Field(
        default=None,
        description="Clustering key of the table: a list of SQL expressions.",
        examples=[["order_date", "customer_id"]],
    )
    transient: Annotated[bool, Strict()] = Field(
        default=False,
        description="true for a TRANSIENT dynamic table (no Fail-safe, at most 1 day of Time "
        "Travel). Changing it re-creates the table.",
    )
    comment: Comment | None = Field(
        default=None,
        description="Snowflake COMMENT of the table (the description stays Dagster's).",
        examples=["Per-customer lifetime value"],
    )
    data_retention_time_in_days: RetentionDays | None = Field(
        default=None,
        description=f"Days of Time Travel (0 to {MAXIMUM_DATA_RETENTION_DAYS}; at most "
        f"{MAXIMUM_TRANSIENT_RETENTION_DAYS} for a transient table); default: the schema's.",
        examples=[1],
    )
    frozen_where: SqlExpression | None = Field(
        default=None,
        description="Predicate of the frozen region (FROZEN WHERE, formerly IMMUTABLE WHERE): "
        "rows matching it are no longer refreshed.",
        examples=["order_date < CURRENT_DATE() - 30"],
    )
    automation_condition: AutomationConditionField | None = automation_condition_field()
    data_tests: DataTests = _data_tests_field("the table")

    @model_validator(mode="after")
    def _transient_retention(self) -> DynamicTable:
        days = self.data_retention_time_in_days
        if self.transient and days is not None and days > MAXIMUM_TRANSIENT_RETENTION_DAYS:
            raise ValueError(
                f"data_retention_time_in_days is {days}, but a transient table keeps Time Travel "
                f"data for at most {MAXIMUM_TRANSIENT_RETENTION_DAYS} day: use 0 or 1, or set "
                "transient: false"
            )
        return self

    @property
    def lag(self) -> TargetLag:
        return parse_target_lag(self.target_lag)


class View(_Derived):
    """A plain Snowflake view: always consistent with its sources."""

    object_type: ClassVar[ObjectType] = "VIEW"
    default_group: ClassVar[str] = "views"


Declaration = SourceTable | DynamicTable | View


@dataclass(frozen=True)
class Tenant:
    """One team's validated declarations. After `build`, every `query` holds the SELECT text."""

    slug: str
    sources: tuple[SourceTable, ...] = ()
    dynamic_tables: tuple[DynamicTable, ...] = ()
    views: tuple[View, ...] = ()
    base_dir: Path | None = field(default=None, compare=False)
    """Folder of the declaration file; `query_file` and `local_seed_file` are relative to it."""
    defs_root: Path | None = field(default=None, compare=False)
    """The tenant's `defs/` folder: `query_file` and `local_seed_file` must resolve inside it."""
    local_seed_file: Path | None = field(default=None, compare=False)
    """SQL creating and filling the source tables in the local stand-in (never run on Snowflake)."""
    sensor_interval_seconds: int = DEFAULT_SENSOR_INTERVAL_SECONDS
    """Seconds between two ticks of the tenant's freshness sensor."""
    change_signal: ChangeSignal = DEFAULT_CHANGE_SIGNAL
    """What moves a schema to be read by the freshness sensor (`CHANGE_SIGNAL_DESCRIPTION`)."""

    def all(self) -> Iterator[Declaration]:
        yield from self.sources
        yield from self.dynamic_tables
        yield from self.views

    def dep_key(self, dep: str) -> list[str]:
        """Asset key path of one dep: a short name gets this tenant's prefix."""
        return dep.split("/") if "/" in dep else [self.slug, dep]

    def dep_keys(self, declaration: _Derived) -> list[list[str]]:
        """Asset key paths of a declaration's deps (short names get this tenant's prefix)."""
        return [self.dep_key(dep) for dep in declaration.deps]

    def key_path(self, declaration: Declaration) -> list[str]:
        return [self.slug, declaration.name]


class TenantDeclarations(BaseModel):
    """One tenant's declaration file: the mapping under `attributes:` in a `defs.yaml`."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="Snowflake Dynamic Tables of one tenant"
    )

    tenant: AssetName = Field(
        description="The tenant's slug (a lowercase Python identifier); every asset key of the "
        "tenant starts with it.",
        examples=["ecommerce"],
    )
    local_seed_file: str | None = Field(
        default=None,
        description="SQL file, relative to the YAML file, that creates and fills the source "
        "tables in the local Snowflake stand-in (never run on Snowflake): a UTF-8 regular file "
        "of at most 8 MiB inside the tenant's defs/ folder.",
        examples=["local/seed.sql"],
    )
    sources: list[SourceTable] = Field(
        default_factory=list[SourceTable],
        description="Plain Snowflake tables loaded outside Dagster that DTs and views read.",
    )
    dynamic_tables: list[DynamicTable] = Field(
        default_factory=list[DynamicTable],
        description="Snowflake Dynamic Tables: virtual assets refreshed by Snowflake, or "
        "assets Dagster refreshes (scheduler: DISABLE).",
    )
    views: list[View] = Field(
        default_factory=list[View],
        description="Plain Snowflake views: virtual assets, always consistent with their inputs.",
    )
    sensor_interval_seconds: SensorInterval = DEFAULT_SENSOR_INTERVAL_SECONDS
    change_signal: ChangeSignal = Field(
        default=DEFAULT_CHANGE_SIGNAL,
        description=CHANGE_SIGNAL_DESCRIPTION,
        examples=["rows_and_bytes"],
    )


SECTIONS: dict[str, type[SourceTable] | type[DynamicTable] | type[View]] = {
    "sources": SourceTable,
    "dynamic_tables": DynamicTable,
    "views": View,
}
"""Declaration file sections and the model of their items."""


class FileShell(BaseModel):
    """The top level of a declaration file, as the loader first validates it: the items of
    each section are validated one by one afterwards (see `loader.build_tenant`)."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    local_seed_file: str | None = None
    sources: list[Any] = Field(
        default_factory=list[Any], description="a list of source tables (name:, table:, ...)"
    )
    dynamic_tables: list[Any] = Field(
        default_factory=list[Any], description="a list of dynamic tables (name:, table:, ...)"
    )
    views: list[Any] = Field(
        default_factory=list[Any], description="a list of views (name:, table:, ...)"
    )
    sensor_interval_seconds: SensorInterval = DEFAULT_SENSOR_INTERVAL_SECONDS
    change_signal: ChangeSignal = DEFAULT_CHANGE_SIGNAL


FILE_SHELL_SCALARS = ("tenant", "local_seed_file", "sensor_interval_seconds", "change_signal")
"""The keys of `FileShell` documented on `TenantDeclarations` (the shell does not describe
them)."""
