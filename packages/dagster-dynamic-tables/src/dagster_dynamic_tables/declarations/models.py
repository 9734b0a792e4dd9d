"""Declaration models: what a tenant writes in YAML (or in Python) about its Snowflake objects.

Field names are Snowflake's and dbt-snowflake's (`table`, `target_lag`, `refresh_mode`,
`initialize`, `warehouse`, `scheduler`, `initialization_warehouse`, `cluster_by`, `transient`,
`comment`, `data_retention_time_in_days`, `frozen_where`). The models validate single fields;
`crosschecks.check_tenant` checks the whole set (duplicates, unknown deps, cycles);
`read_query_file` resolves `query_file` (through `files.read_tenant_file`: confined to the
tenant's `defs/` folder, bounded, never blocking).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    model_validator,
)

from dagster_dynamic_tables.declarations.files import MAX_QUERY_FILE_BYTES, read_tenant_file
from dagster_dynamic_tables.declarations.identifiers import (
    QualifiedName,
    parse_identifier,
    parse_qualified_name,
)
from dagster_dynamic_tables.declarations.lags import TargetLag, parse_target_lag
from dagster_dynamic_tables.errors import DeclarationProblem

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _any_case(word: str) -> str:
    return "".join(f"[{char.lower()}{char.upper()}]" for char in word)


_UNITS = "|".join(_any_case(unit) for unit in ("second", "minute", "hour", "day"))
_LAG_PATTERN = rf"^\s*([0-9]+\s+({_UNITS})[sS]?|{_any_case('downstream')})\s*$"
QUERY_OPTIONAL = "query_optional"
"""Validation context key: when True, a DT or view may omit both query and query_file."""
_NAME_PATTERN = "^[a-z][a-z0-9_]*$"
# Dagster's own owner rule (dagster._core.definitions.utils.is_valid_owner), checked here so a bad
# owner is reported with the other declaration problems instead of failing when specs are built.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,7}")


def check_asset_name(value: str) -> str:
    if not value or not value[0].isalpha() or not set(value) <= _NAME_CHARS:
        raise ValueError(
            f"{value!r} is not a valid asset name: use lowercase letters, digits and '_', "
            "starting with a letter (e.g. customer_lifetime_value)"
        )
    return value


def _check_qualified_name(value: str) -> str:
    parse_qualified_name(value)
    return value


def _check_target_lag(value: str) -> str:
    return parse_target_lag(value).text


def _check_identifier(value: str) -> str:
    parse_identifier(value)
    return value


def _check_dep(value: str) -> str:
    parts = value.split("/")
    if not all(part and part[0].isalpha() and set(part) <= _NAME_CHARS for part in parts):
        raise ValueError(
            f"{value!r} is not a valid dep: name one of this tenant's objects (raw_orders) or "
            "another tenant's asset by its full key (other_tenant/asset), in lowercase letters, "
            "digits and '_'"
        )
    return value


MINIMUM_SENSOR_INTERVAL_SECONDS = 10
MAXIMUM_SENSOR_INTERVAL_SECONDS = 3600
DEFAULT_SENSOR_INTERVAL_SECONDS = 60


def _check_sensor_interval(value: int) -> int:
    if not MINIMUM_SENSOR_INTERVAL_SECONDS <= value <= MAXIMUM_SENSOR_INTERVAL_SECONDS:
        raise ValueError(
            f"{value} seconds is outside the allowed {MINIMUM_SENSOR_INTERVAL_SECONDS} to "
            f"{MAXIMUM_SENSOR_INTERVAL_SECONDS}: every tick sends two statements to Snowflake, and "
            "a refresh is recorded (and downstream assets run) up to one interval after it lands; "
            f"use {DEFAULT_SENSOR_INTERVAL_SECONDS} (the default) or a value in that range"
        )
    return value


MAXIMUM_DATA_RETENTION_DAYS = 90
"""Snowflake's longest Time Travel retention (Enterprise Edition; Standard allows 0 or 1)."""
MAXIMUM_TRANSIENT_RETENTION_DAYS = 1
"""A transient table keeps Time Travel data for at most one day."""


def check_sql_fragment(value: str) -> str:
    """A SQL expression written into DDL as it is (`cluster_by`, `frozen_where`): one expression,
    with closed quotes and balanced parentheses, no `;` and no comment that could swallow the rest
    of the statement. Raise ValueError saying what is wrong."""
    text = value.strip()
    if not text:
        raise ValueError("the expression is empty: give a SQL expression such as order_date")
    depth = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char in "'\"":
            end = closing_quote(text, index)
            if end < 0:
                kind = "string" if char == "'" else "quoted identifier"
                raise ValueError(f"{value!r} has an unclosed {kind} (a {char} without its pair)")
            index = end + 1
            continue
        if text.startswith(("--", "/*", "//"), index):
            raise ValueError(
                f"{value!r} holds a SQL comment ({text[index : index + 2]}): remove it"
            )
        if char == ";":
            raise ValueError(f"{value!r} holds a ';': give one expression, not a statement")
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise ValueError(f"{value!r} closes a parenthesis it never opened")
        index += 1
    if depth:
        raise ValueError(f"{value!r} leaves {depth} parenthesis(es) open")
    return text


def closing_quote(text: str, start: int) -> int:
    """Index of the quote closing the string or quoted identifier opened at `start`, -1 if none.

    A doubled quote (`''`, `""`) is part of the text; in strings a backslash escapes the next
    character, as in Snowflake."""
    quote = text[start]
    index = start + 1
    while index < len(text):
        char = text[index]
        if quote == "'" and char == "\\":
            index += 2
            continue
        if char == quote:
            if index + 1 < len(text) and text[index + 1] == quote:
                index += 2
                continue
            return index
        index += 1
    return -1


def _check_retention(value: int) -> int:
    if not 0 <= value <= MAXIMUM_DATA_RETENTION_DAYS:
        raise ValueError(
            f"{value} days is outside Snowflake's 0 to {MAXIMUM_DATA_RETENTION_DAYS} days of "
            "Time Travel retention: use a whole number of days in that range (0 turns Time "
            "Travel off)"
        )
    return value


def _check_comment(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" and char not in "\n\t" for char in value):
        raise ValueError(
            f"{value[:40]!r} holds a control character: write plain text (line breaks and tabs "
            "are allowed)"
        )
    return value


def _check_owner(value: str) -> str:
    if not (_EMAIL.fullmatch(value) or (value.startswith("team:") and len(value) > 5)):
        raise ValueError(
            f"{value!r} is not a valid owner: use an e-mail address (jane@example.com) or a team "
            "name prefixed with 'team:' (team:analytics)"
        )
    return value


AssetName = Annotated[
    str,
    AfterValidator(check_asset_name),
    Field(
        description="Asset name inside the tenant: lowercase letters, digits and '_', starting "
        "with a letter.",
        examples=["customer_lifetime_value"],
        json_schema_extra={"pattern": _NAME_PATTERN},
    ),
]
TableName = Annotated[
    str,
    AfterValidator(_check_qualified_name),
    Field(
        description="Fully qualified Snowflake name DATABASE.SCHEMA.NAME; "
        'double-quote a part to keep its case ("Mixed")',
        examples=["ANALYTICS.ECOMMERCE.CUSTOMER_LIFETIME_VALUE"],
    ),
]
DepName = Annotated[
    str,
    AfterValidator(_check_dep),
    Field(json_schema_extra={"pattern": "^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*$"}),
]
Owner = Annotated[str, AfterValidator(_check_owner)]
SensorInterval = Annotated[
    int,
    Strict(),
    AfterValidator(_check_sensor_interval),
    Field(
        description="Seconds between two ticks of the tenant's dynamic_table_freshness sensor "
        f"({MINIMUM_SENSOR_INTERVAL_SECONDS} to {MAXIMUM_SENSOR_INTERVAL_SECONDS}): a refresh is "
        "recorded, and downstream assets run, up to this long after it lands.",
        examples=[DEFAULT_SENSOR_INTERVAL_SECONDS],
        # In the schema only: the range itself is checked by _check_sensor_interval, in our words.
        json_schema_extra={
            "minimum": MINIMUM_SENSOR_INTERVAL_SECONDS,
            "maximum": MAXIMUM_SENSOR_INTERVAL_SECONDS,
        },
    ),
]
RefreshMode = Literal["AUTO", "FULL", "INCREMENTAL", "ADAPTIVE"]
Scheduler = Literal["ENABLE", "DISABLE"]
WarehouseName = Annotated[
    str,
    AfterValidator(_check_identifier),
    Field(description="A warehouse (a Snowflake identifier).", examples=["TRANSFORMING"]),
]
SqlExpression = Annotated[str, AfterValidator(check_sql_fragment)]
Initialize = Literal["ON_CREATE", "ON_SCHEDULE"]
ObjectType = Literal["TABLE", "DYNAMIC TABLE", "VIEW"]


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


class SourceTable(_Declaration):
    """A plain Snowflake table loaded outside Dagster (by an ETL tool, say)."""

    object_type: ClassVar[ObjectType] = "TABLE"
    default_group: ClassVar[str] = "sources"


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
    """A Snowflake Dynamic Table: refreshed by Snowflake on its target lag, never run by Dagster."""

    object_type: ClassVar[ObjectType] = "DYNAMIC TABLE"
    default_group: ClassVar[str] = "dynamic_tables"

    target_lag: Annotated[str, AfterValidator(_check_target_lag)] = Field(
        description="How stale the table may get: '<n> seconds|minutes|hours|days' "
        "(at least 60 seconds) or DOWNSTREAM.",
        examples=["1 minute", "2 hours", "DOWNSTREAM"],
        # For editors and `dg check yaml` (JSON Schema has no case-insensitive flag); the
        # 60-second minimum is checked when the declarations load.
        json_schema_extra={"pattern": _LAG_PATTERN},
    )
    warehouse: Annotated[str, AfterValidator(_check_identifier)] = Field(
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
        description="ENABLE: Snowflake refreshes the table on its target lag. DISABLE: only "
        "manual refreshes (ALTER DYNAMIC TABLE ... REFRESH), which do not cascade.",
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
    comment: Annotated[str, AfterValidator(_check_comment)] | None = Field(
        default=None,
        description="Snowflake COMMENT of the table (the description stays Dagster's).",
        examples=["Per-customer lifetime value"],
    )
    data_retention_time_in_days: (
        Annotated[
            int,
            Strict(),
            AfterValidator(_check_retention),
            Field(json_schema_extra={"minimum": 0, "maximum": MAXIMUM_DATA_RETENTION_DAYS}),
        ]
        | None
    ) = Field(
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
        description="Snowflake Dynamic Tables: virtual assets refreshed by Snowflake.",
    )
    views: list[View] = Field(
        default_factory=list[View],
        description="Plain Snowflake views: virtual assets, always consistent with their inputs.",
    )
    sensor_interval_seconds: SensorInterval = DEFAULT_SENSOR_INTERVAL_SECONDS


SECTIONS: dict[str, type[SourceTable] | type[DynamicTable] | type[View]] = {
    "sources": SourceTable,
    "dynamic_tables": DynamicTable,
    "views": View,
}
"""Declaration file sections and the model of their items."""


def read_query_file(
    item: DynamicTable | View, base_dir: Path | None, path: str, defs_root: Path | None = None
) -> tuple[DynamicTable | View, DeclarationProblem | None]:
    """Read `item.query_file` (relative to `base_dir`, inside `defs_root`) into `item.query`.

    `path` is the item's YAML path, used in the problem reported when the file is refused (see
    `files.read_tenant_file`) or empty. An item without `query_file` comes back as it is.
    """
    if item.query_file is None:
        return item, None
    text, problem = read_tenant_file(
        item.query_file,
        field=f"{path}.query_file",
        base_dir=base_dir,
        defs_root=defs_root,
        limit=MAX_QUERY_FILE_BYTES,
        limit_name="MAX_QUERY_FILE_BYTES",
        missing_fix="give a path relative to the YAML file, or inline the SELECT as query",
    )
    if text is None:
        return item, problem
    query = text.strip().rstrip(";").strip()
    if not query:
        return item, DeclarationProblem(
            f"{path}.query_file",
            f"{item.query_file!r} ({(base_dir or Path()) / item.query_file}) is empty.",
            "put the SELECT that defines the object in the file",
        )
    return item.model_copy(update={"query": query}), None


def resolve_queries(
    items: Sequence[DynamicTable] | Sequence[View],
    base_dir: Path | None,
    section: str,
    defs_root: Path | None = None,
) -> tuple[list[DynamicTable | View], list[DeclarationProblem]]:
    """Read every `query_file` (relative to `base_dir`, inside `defs_root`) into `query`.

    Items whose file cannot be read are left out of the first list and reported in the second.
    """
    resolved: list[DynamicTable | View] = []
    problems: list[DeclarationProblem] = []
    for index, item in enumerate(items):
        new, problem = read_query_file(item, base_dir, f"{section}[{index}]", defs_root)
        if problem is None:
            resolved.append(new)
        else:
            problems.append(problem)
    return resolved, problems
