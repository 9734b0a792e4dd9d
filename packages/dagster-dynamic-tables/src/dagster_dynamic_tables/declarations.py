"""Declaration models: what a tenant writes in YAML (or in Python) about its Snowflake objects.

Field names are Snowflake's and dbt-snowflake's (`table`, `target_lag`, `refresh_mode`,
`initialize`, `warehouse`). The models validate single fields; `Tenant` validates the whole set
(duplicates, unknown deps, cycles) and resolves `query_file`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from dagster_dynamic_tables.errors import DeclarationProblem
from dagster_dynamic_tables.identifiers import QualifiedName, parse_identifier, parse_qualified_name
from dagster_dynamic_tables.lags import TargetLag, parse_target_lag

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _check_asset_name(value: str) -> str:
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
    for part in parts:
        _check_asset_name(part)
    return value


AssetName = Annotated[
    str,
    AfterValidator(_check_asset_name),
    Field(description="Asset name inside the tenant: lowercase letters, digits and '_'."),
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
DepName = Annotated[str, AfterValidator(_check_dep)]
RefreshMode = Literal["AUTO", "FULL", "INCREMENTAL"]
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
    owners: list[str] = Field(
        default_factory=list,
        description="Owners shown in the UI: e-mail addresses or 'team:<name>'.",
    )
    group: AssetName | None = Field(
        default=None,
        description="Dagster asset group; defaults to sources, dynamic_tables or views.",
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
        default=None, description="The SELECT that defines the object (give this or query_file)."
    )
    query_file: str | None = Field(
        default=None,
        description="Path of a .sql file holding the SELECT, relative to the YAML file "
        "(give this or query).",
    )
    deps: list[DepName] = Field(
        default_factory=list,
        description="Upstream assets: a short name for this tenant's own objects, the full key "
        "(other_tenant/asset) for another tenant's.",
    )

    @model_validator(mode="after")
    def _one_query(self) -> _Derived:
        if self.query is not None and self.query_file is not None:
            raise ValueError("give either query or query_file, not both")
        if self.query is None and self.query_file is None:
            raise ValueError("give the SELECT as query, or a .sql file path as query_file")
        return self


class DynamicTable(_Derived):
    """A Snowflake Dynamic Table: refreshed by Snowflake on its target lag, never run by Dagster."""

    object_type: ClassVar[ObjectType] = "DYNAMIC TABLE"
    default_group: ClassVar[str] = "dynamic_tables"

    target_lag: Annotated[str, AfterValidator(_check_target_lag)] = Field(
        description="How stale the table may get: '<n> seconds|minutes|hours|days' "
        "(at least 60 seconds) or DOWNSTREAM.",
        examples=["1 minute", "2 hours", "DOWNSTREAM"],
    )
    warehouse: Annotated[str, AfterValidator(_check_identifier)] = Field(
        description="Warehouse that runs the refreshes."
    )
    refresh_mode: RefreshMode = Field(default="AUTO", description="AUTO, FULL or INCREMENTAL.")
    initialize: Initialize = Field(
        default="ON_CREATE", description="ON_CREATE (refresh at creation) or ON_SCHEDULE."
    )

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
    local_seed_file: Path | None = field(default=None, compare=False)
    """SQL that creates and fills the source tables in the local stand-in (never run on Snowflake)."""

    def all(self) -> Iterator[Declaration]:
        yield from self.sources
        yield from self.dynamic_tables
        yield from self.views

    def dep_keys(self, declaration: _Derived) -> list[list[str]]:
        """Asset key paths of a declaration's deps (short names get this tenant's prefix)."""
        return [dep.split("/") if "/" in dep else [self.slug, dep] for dep in declaration.deps]

    def key_path(self, declaration: Declaration) -> list[str]:
        return [self.slug, declaration.name]


def check_tenant(tenant: Tenant) -> list[DeclarationProblem]:
    """Cross-declaration checks: slug, duplicate names and tables, unknown deps, cycles."""
    problems: list[DeclarationProblem] = []
    try:
        _check_asset_name(tenant.slug)
    except ValueError as e:
        problems.append(DeclarationProblem("tenant", str(e), "use the tenant's slug"))
    problems += _duplicates(tenant)
    problems += _unknown_deps(tenant)
    problems += _cycles(tenant)
    return problems


def _paths(tenant: Tenant) -> Iterator[tuple[str, Declaration]]:
    for section, items in (
        ("sources", tenant.sources),
        ("dynamic_tables", tenant.dynamic_tables),
        ("views", tenant.views),
    ):
        for index, item in enumerate(items):
            yield f"{section}[{index}]", item


def _duplicates(tenant: Tenant) -> list[DeclarationProblem]:
    problems: list[DeclarationProblem] = []
    names: dict[str, str] = {}
    tables: dict[str, str] = {}
    for path, item in _paths(tenant):
        if item.name in names:
            problems.append(
                DeclarationProblem(
                    f"{path}.name",
                    f"{item.name!r} is already declared at {names[item.name]}.",
                    "give every object of the tenant its own name",
                )
            )
        names.setdefault(item.name, path)
        resolved = item.qualified_name.resolved
        if resolved in tables:
            problems.append(
                DeclarationProblem(
                    f"{path}.table",
                    f"{item.table!r} is already declared at {tables[resolved]}.",
                    "declare each Snowflake object once",
                )
            )
        tables.setdefault(resolved, path)
    return problems


def _unknown_deps(tenant: Tenant) -> list[DeclarationProblem]:
    problems: list[DeclarationProblem] = []
    names = {item.name for item in tenant.all()}
    for path, item in _paths(tenant):
        if isinstance(item, SourceTable):
            continue
        for index, dep in enumerate(item.deps):
            parts = dep.split("/")
            own = len(parts) == 1 or (len(parts) == 2 and parts[0] == tenant.slug)
            if own and parts[-1] not in names:
                problems.append(
                    DeclarationProblem(
                        f"{path}.deps[{index}]",
                        f"{dep!r} is not declared in this tenant (declared: "
                        f"{', '.join(sorted(names)) or 'nothing'}).",
                        "declare it, fix the spelling, or name another tenant's asset by its "
                        "full key (other_tenant/asset)",
                    )
                )
    return problems


def _cycles(tenant: Tenant) -> list[DeclarationProblem]:
    graph: dict[str, list[str]] = {}
    for item in tenant.all():
        if isinstance(item, SourceTable):
            graph[item.name] = []
            continue
        own = (dep.split("/") for dep in item.deps)
        graph[item.name] = [p[-1] for p in own if len(p) == 1 or p[0] == tenant.slug]
    problems: list[DeclarationProblem] = []
    seen_cycles: set[frozenset[str]] = set()
    for start in graph:
        cycle = _find_cycle(graph, start)
        if cycle and frozenset(cycle) not in seen_cycles:
            seen_cycles.add(frozenset(cycle))
            problems.append(
                DeclarationProblem(
                    "deps",
                    f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}.",
                    "remove one of these deps; Snowflake objects cannot depend on themselves",
                )
            )
    return problems


def _find_cycle(graph: dict[str, list[str]], start: str) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, []):
            if nxt == start:
                return path
            if nxt not in path:
                stack.append((nxt, [*path, nxt]))
    return None


def resolve_queries(
    items: Sequence[DynamicTable] | Sequence[View], base_dir: Path | None, section: str
) -> tuple[list[DynamicTable | View], list[DeclarationProblem]]:
    """Read every `query_file` (relative to `base_dir`) into `query`."""
    resolved: list[DynamicTable | View] = []
    problems: list[DeclarationProblem] = []
    for index, item in enumerate(items):
        if item.query_file is None:
            resolved.append(item)
            continue
        path = Path(item.query_file)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            problems.append(
                DeclarationProblem(
                    f"{section}[{index}].query_file",
                    f"cannot read {item.query_file!r} ({path}): {e.strerror or e}.",
                    "give a path relative to the YAML file, or inline the SELECT as query",
                )
            )
            continue
        if not text.strip():
            problems.append(
                DeclarationProblem(
                    f"{section}[{index}].query_file",
                    f"{item.query_file!r} ({path}) is empty.",
                    "put the SELECT that defines the object in the file",
                )
            )
            continue
        resolved.append(item.model_copy(update={"query": text.strip().rstrip(";").strip()}))
    return resolved, problems
