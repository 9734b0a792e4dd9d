"""The one mapping from declared names to an environment's: `in_environment`.

Every Snowflake name a tenant declares is a prod name. `in_environment(tenant, env)` returns the
same tenant with every name mapped through `env` (`declarations.environments.Environment`):

- each source's, Dynamic Table's and view's `table` (its database);
- each Dynamic Table's `warehouse` and `initialization_warehouse`;
- the SELECT of each Dynamic Table and view (`rewrite_sql`): every fully qualified reference
  (`DB.SCHEMA.NAME`, or `DB.SCHEMA.NAME.COLUMN`) gets the environment's database;
- the data tests: a relationship's `table:` and the text of `sql:` tests.

Asset keys, names, deps and everything else stay as they are, so the graph is the same in every
environment. The local seed SQL goes through `rewrite_sql` when the stand-in runs it.

`rewrite_sql` works on `query_text.tokens` (no sqlglot: code locations run it): strings, `$$`
blocks and comments are left alone, a dotted name is a run of adjacent words and quoted
identifiers; names of three or four parts whose parts are all identifiers are object references
(two-part `SCHEMA.NAME` references resolve in the object's own database, which is mapped already),
and so are the names after DATABASE (one part) and SCHEMA (two parts), as seed files write them;
a name right after `:` is a path into a VARIANT, not a reference. A reference the environment
cannot map (a database missing from an explicit `databases:` map without a suffix) is an error
naming the declaration file, the YAML path and the name; every such reference is reported at once.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from dagster_dynamic_tables.declarations.data_tests import DataTest
from dagster_dynamic_tables.declarations.environments import Environment, current_environment
from dagster_dynamic_tables.declarations.identifiers import (
    parse_identifier,
    split_name_parts,
)
from dagster_dynamic_tables.declarations.models import (
    DynamicTable,
    SourceTable,
    Tenant,
    View,
)
from dagster_dynamic_tables.errors import EnvironmentsError
from dagster_dynamic_tables.sql.query_text import Token, tokens

__all__ = [
    "check_databases",
    "current_table",
    "environment_settings",
    "in_environment",
    "rewrite_sql",
]

_D = TypeVar("_D", SourceTable, DynamicTable, View)


def in_environment(
    tenant: Tenant, env: Environment | None, *, file: Path | str | None = None
) -> Tenant:
    """`tenant` with every Snowflake name mapped into `env` (None, or an environment that maps
    nothing: `tenant` itself). `file` names the declaration file in errors (default: the
    tenant's folder). Raise `EnvironmentsError` listing every name `env` cannot map."""
    if env is None or env.maps_nothing:
        return tenant
    mapper = _Mapper(env)
    mapped = dataclasses.replace(
        tenant,
        sources=tuple(mapper.each(tenant.sources, "sources")),
        dynamic_tables=tuple(mapper.each(tenant.dynamic_tables, "dynamic_tables")),
        views=tuple(mapper.each(tenant.views, "views")),
    )
    if mapper.problems:
        where = file if file is not None else (tenant.base_dir or f"tenant {tenant.slug}")
        count = len(mapper.problems)
        lines = "\n".join(f"  - {problem}" for problem in mapper.problems)
        raise EnvironmentsError(
            f"{count} name{'s' if count != 1 else ''} in {where} cannot be mapped into "
            f"environment {env.name!r}:\n{lines}"
        )
    check_databases([tenant], env)
    return mapped


def rewrite_sql(sql: str, env: Environment | None, *, where: str = "the SQL") -> str:
    """`sql` with the database of every fully qualified reference mapped into `env`; raise
    `EnvironmentsError` naming `where` and the reference when `env` cannot map it."""
    if env is None or not env.maps_databases:
        return sql
    problems: list[str] = []
    text = _rewrite(sql, env, where, problems)
    if problems:
        raise EnvironmentsError("; ".join(problems))
    return text


def check_databases(tenants: Iterable[Tenant], env: Environment | None) -> None:
    """Raise `EnvironmentsError` when `env` maps a declared database onto another declared
    database, or two declared databases onto one: checked before any statement runs."""
    if env is None or not env.maps_databases:
        return
    written = {
        d.qualified_name.database.resolved: d.qualified_name.database.text
        for tenant in tenants
        for d in tenant.all()
    }
    declared = sorted(written)
    onto: dict[str, str] = {}
    for database in declared:
        try:
            mapped = parse_identifier(env.database(written[database])).resolved
        except EnvironmentsError:
            continue  # `in_environment` reports it, with the file that names it
        if mapped in declared:
            raise EnvironmentsError(
                f"environment {env.name!r} ({env.file}) maps the declared database {database} "
                f"onto {mapped}, which tenants declare objects in (a prod database). Fix: map "
                f"{database} to a database of the environment's own."
            )
        if mapped in onto:
            raise EnvironmentsError(
                f"environment {env.name!r} ({env.file}) maps the declared databases "
                f"{onto[mapped]} and {database} both onto {mapped}. Fix: map each to a database "
                "of its own."
            )
        onto[mapped] = database


def current_table(
    qualified: str, *, start: Path | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """A declared `DB.SCHEMA.NAME` in the selected environment, for a tenant's own Python code
    that writes SQL (an asset reading a Dynamic Table): `ECOMMERCE.ANALYTICS.X` is
    `ECOMMERCE_DEV.ANALYTICS.X` in dev. The file is found from `start` (default: the working
    directory) or `DYNAMIC_TABLES_ENVIRONMENTS_FILE`, as the code location finds it."""
    environment = current_environment(
        start if start is not None else Path.cwd(), os.environ if environ is None else environ
    )
    return qualified if environment is None else environment.table(qualified)


_WAREHOUSE_SETTINGS = ("SNOWFLAKE_WAREHOUSE", "SNOWFLAKE_MONITORING_WAREHOUSE")


def environment_settings(
    env: Environment | None, slug: str, environ: Mapping[str, str]
) -> Mapping[str, str]:
    """`environ` as the tenant's Snowflake settings see it in `env`: the environment's role as
    `SNOWFLAKE_ROLE` (a tenant's own `<SLUG>_SNOWFLAKE_ROLE` still wins), and the warehouse
    settings (`[<SLUG>_]SNOWFLAKE_WAREHOUSE`, `..._MONITORING_WAREHOUSE`) mapped through the
    environment's `warehouses:`. `environ` itself when `env` maps neither."""
    if env is None or not (env.role or env.warehouses):
        return environ
    result = dict(environ)
    if env.role:
        result["SNOWFLAKE_ROLE"] = env.role
    for name in _WAREHOUSE_SETTINGS:
        for variable in (name, f"{slug.upper()}_{name}"):
            value = result.get(variable)
            if value:
                result[variable] = env.warehouse(value)
    return result


class _Mapper:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.problems: list[str] = []

    def each(self, declarations: Iterable[_D], section: str) -> Iterator[_D]:
        for index, declaration in enumerate(declarations):
            yield self.one(declaration, f"{section}[{index}]")

    def one(self, declaration: _D, path: str) -> _D:
        update: dict[str, object] = {"table": self.table(declaration.table, f"{path}.table")}
        if isinstance(declaration, DynamicTable):
            update["warehouse"] = self.env.warehouse(declaration.warehouse)
            if declaration.initialization_warehouse is not None:
                update["initialization_warehouse"] = self.env.warehouse(
                    declaration.initialization_warehouse
                )
        if isinstance(declaration, DynamicTable | View) and declaration.query is not None:
            field = "query_file" if declaration.query_file is not None else "query"
            where = f"{path}.{field}"
            if declaration.query_file is not None:
                where += f" ({declaration.query_file})"
            update["query"] = _rewrite(declaration.query, self.env, where, self.problems)
        if isinstance(declaration, SourceTable | DynamicTable) and declaration.data_tests:
            update["data_tests"] = [
                self.data_test(test, f"{path}.data_tests[{index}]")
                for index, test in enumerate(declaration.data_tests)
            ]
        return declaration.model_copy(update=update)

    def table(self, qualified: str, where: str) -> str:
        try:
            return self.env.table(qualified)
        except EnvironmentsError as e:
            self.problems.append(f"{where}: {qualified}: {e}")
            return qualified

    def data_test(self, test: DataTest, where: str) -> DataTest:
        update: dict[str, object] = {}
        if test.sql is not None:
            update["sql"] = _rewrite(test.sql, self.env, f"{where}.sql", self.problems)
        relation = test.relationships
        if relation is not None and relation.table is not None:
            table = self.table(relation.table, f"{where}.relationships.table")
            update["relationships"] = relation.model_copy(update={"table": table})
        return test.model_copy(update=update) if update else test


def _rewrite(sql: str, env: Environment, where: str, problems: list[str]) -> str:
    pieces: list[str] = []
    done = 0
    for start, end, parts in _database_names(sql):
        try:
            database = env.database(parts[0])
        except EnvironmentsError as e:
            problems.append(f"{where}: the reference {sql[start:end]}: {e}")
            continue
        pieces += [sql[done:start], database]
        done = start + len(parts[0])
    pieces.append(sql[done:])
    return "".join(pieces)


_LEADS = {"DATABASE": 1, "SCHEMA": 2}
"""Keywords after which a name of this many parts starts with a database (`CREATE DATABASE X`,
`CREATE SCHEMA X.S`, `SHOW ... IN DATABASE X`): seed files use them."""
_SKIPPED = frozenset({"IF", "NOT", "EXISTS"})


def _database_names(sql: str) -> Iterator[tuple[int, int, list[str]]]:
    """(start, end, parts) of each name whose first part is a database: every name of three or
    four parts, and the names `_LEADS` announce. Parts are identifiers; a run of adjacent words
    and quoted identifiers is one name; a name right after `:` (a VARIANT path) is left out."""
    found = list(tokens(sql))
    index = 0
    while index < len(found):
        first = found[index]
        if first.kind not in ("word", "quoted"):
            index += 1
            continue
        last = index + 1
        while (
            last < len(found)
            and found[last].kind in ("word", "quoted")
            and found[last].start == found[last - 1].end
        ):
            last += 1
        start, end = first.start, found[last - 1].end
        lead = _LEADS.get(_keyword_before(found, index), 0)
        before = found[index - 1] if index else None
        index = last
        if not lead and "." not in sql[start:end]:
            continue  # one part: a keyword, a column, an alias
        if first.kind == "word" and sql[start:end].upper() in _SKIPPED:
            continue  # DATABASE IF NOT EXISTS: the words, not the name
        if before is not None and before.text == ":" and before.end == start:
            continue
        parts = split_name_parts(sql[start:end])
        if len(parts) in (3, 4, lead) and all(_is_identifier(part) for part in parts):
            yield start, end, parts


def _keyword_before(found: list[Token], index: int) -> str:
    """The word just before token `index`, over IF [NOT] EXISTS, upper-cased ('' if none)."""
    at = index - 1
    while at >= 0 and found[at].kind == "word" and found[at].text.upper() in _SKIPPED:
        at -= 1
    return found[at].text.upper() if at >= 0 and found[at].kind == "word" else ""


def _is_identifier(text: str) -> bool:
    try:
        parse_identifier(text)
    except ValueError:
        return False
    return True
