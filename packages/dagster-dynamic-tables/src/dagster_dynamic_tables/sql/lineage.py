"""The tables a Dynamic Table's or view's query reads, and the reads the lineage graph misses.

A query that reads a table it does not name in `deps` gives Dagster a graph without that edge:
the freshness sensor and the downstream automation never hear of it, and a tenant can read
another tenant's table without anyone seeing it. `tables_read` parses the SELECT with sqlglot's
Snowflake dialect and returns every table it reads (CTEs and derived tables are not tables;
table functions such as FLATTEN or GENERATOR read none). Names are resolved as Snowflake does:
an unqualified `T` is `<the object's database>.<the object's schema>.T`, `S.T` is
`<the object's database>.S.T`; unquoted parts are upper-cased, quoted ones keep their case.

`read_problems` compares those reads with the declaration's deps and with every object the
tenants declare: `tenants check` reports them as findings and `plan` prints them. Repository
tooling only: sqlglot is imported here, never by a code location.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import sqlglot
import sqlglot.errors
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant, View
from dagster_dynamic_tables.errors import QueryReadError

__all__ = [
    "QueryReadError",
    "ReadProblem",
    "declared_objects",
    "read_problems",
    "tables_read",
]

DIALECT = "snowflake"


def _part(identifier: exp.Expr | None, default: str) -> str:
    if not isinstance(identifier, exp.Identifier):
        return default
    name = str(identifier.this)
    return name if identifier.args.get("quoted") else name.upper()


def _tables(tree: exp.Expr) -> Iterator[exp.Table]:
    """Every table the query reads, CTE and derived-table references left out."""
    try:
        scopes = traverse_scope(tree)
    except sqlglot.errors.SqlglotError:  # scoping failed: fall back to every table node
        ctes = {cte.alias_or_name.upper() for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            if table.db or table.name.upper() not in ctes:
                yield table
        return
    for scope in scopes:
        for source in scope.sources.values():
            if isinstance(source, exp.Table):
                yield source


def tables_read(query: str, database: str, schema: str) -> frozenset[tuple[str, str, str]]:
    """The resolved (database, schema, name) of each table `query` reads; unqualified
    names take `database` and `schema` (the reading object's own, as Snowflake resolves them).
    Raises `QueryReadError` when the query cannot be read."""
    try:
        statements = [s for s in sqlglot.parse(query, read=DIALECT) if s is not None]
    except sqlglot.errors.SqlglotError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise QueryReadError(f"sqlglot (Snowflake dialect) cannot parse it: {first}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kinds = ", ".join(type(s).__name__.upper() for s in statements) or "nothing"
        raise QueryReadError(f"it is not one SELECT (sqlglot reads: {kinds})")
    names: set[tuple[str, str, str]] = set()
    for table in _tables(statements[0]):
        if not isinstance(table.this, exp.Identifier):
            if isinstance(table.this, exp.Func) and not isinstance(
                table.this, exp.Anonymous | exp.DynamicIdentifier
            ):
                continue  # a table function (GENERATOR, FLATTEN...): reads no table
            raise QueryReadError(
                f"it names a table at run time ({table.sql(dialect=DIALECT)}), so which table it "
                "reads cannot be known before it runs"
            )
        names.add(
            (
                _part(table.args.get("catalog"), database),
                _part(table.args.get("db"), schema),
                _part(table.this, ""),
            )
        )
    return frozenset(names)


@dataclass(frozen=True)
class ReadProblem:
    """One read the lineage graph does not show, or a query that cannot be read."""

    path: str
    """YAML path of the declaration (`dynamic_tables[1]`)."""
    key: str
    """Its asset key (`ecommerce/spy`)."""
    message: str
    fix: str

    def render(self) -> str:
        return f"{self.path} ({self.key}) {self.message} Fix: {self.fix}."


def _declarations(tenant: Tenant) -> Iterator[tuple[str, DynamicTable | View]]:
    for index, dt in enumerate(tenant.dynamic_tables):
        yield f"dynamic_tables[{index}]", dt
    for index, view in enumerate(tenant.views):
        yield f"views[{index}]", view


def read_problems(
    tenant: Tenant,
    declared: Mapping[str, str],
    granted: Callable[[str, str], bool],
) -> list[ReadProblem]:
    """Reads of `tenant`'s Dynamic Tables and views that are not among their deps.

    `declared` maps every declared object's resolved qualified name (all tenants) to its asset key
    (`finance/budget_targets`); `granted(database, schema)` says whether the tenant's grants
    cover a schema. A read of a declared object missing from deps asks for the dep; a read of an
    object nobody declares asks for a source declaration (in the tenant's own schemas) or names
    the grants it is outside of."""
    problems: list[ReadProblem] = []
    for path, item in _declarations(tenant):
        key = "/".join(tenant.key_path(item))
        own = item.qualified_name
        try:
            reads = tables_read(item.query or "", own.database.resolved, own.schema.resolved)
        except QueryReadError as e:
            field = "query_file" if item.query_file is not None else "query"
            problems.append(
                ReadProblem(
                    f"{path}.{field}",
                    key,
                    f"cannot be checked for undeclared reads: {str(e).rstrip('.')}.",
                    "write the query as one plain SELECT naming its tables (sqlglot's Snowflake "
                    "dialect must parse it), or report the parse failure to the platform team",
                )
            )
            continue
        deps = {"/".join(dep) for dep in tenant.dep_keys(item)}
        for parts in sorted(reads):
            if ".".join(parts) == own.resolved:
                continue
            problem = _read_problem(tenant, parts, declared, deps, granted)
            if problem is not None:
                problems.append(ReadProblem(path, key, *problem))
    return problems


def _read_problem(
    tenant: Tenant,
    parts: tuple[str, str, str],
    declared: Mapping[str, str],
    deps: set[str],
    granted: Callable[[str, str], bool],
) -> tuple[str, str] | None:
    name = ".".join(parts)
    database, schema, table = parts
    owner_key = declared.get(name)
    if owner_key is not None:
        if owner_key in deps:
            return None
        own_prefix = f"{tenant.slug}/"
        dep = owner_key.removeprefix(own_prefix) if owner_key.startswith(own_prefix) else owner_key
        return (
            f"reads {name} ({owner_key}), which is not among its deps, so the lineage graph "
            "does not show it and nothing downstream waits for it.",
            f"add {dep} to its deps",
        )
    if granted(database, schema):
        return (
            f"reads {name}, which no tenant declares, so the lineage graph does not show it.",
            f"declare it under sources (name: {table.lower()}, table: {name}) and add it to "
            "the deps",
        )
    return (
        f"reads {name}, which no tenant declares and which is outside the tenant's grants "
        f"(schema {database}.{schema}).",
        "read it through the owning tenant's declared object, named in deps by its full key "
        "(other_tenant/asset); or ask the platform team to extend grants.yaml and declare it "
        "as a source",
    )


def declared_objects(tenant: Tenant) -> dict[str, str]:
    """The tenant's declared objects: resolved qualified name -> asset key (`shop/orders`)."""
    return {item.qualified_name.resolved: "/".join(tenant.key_path(item)) for item in tenant.all()}
