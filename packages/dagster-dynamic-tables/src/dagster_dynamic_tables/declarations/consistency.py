"""Checks across one tenant's declarations: duplicate names and tables, unknown deps, cycles,
and the targets of `relationships` data tests.

The models (`models`, with the types of `fields`) validate one field at a time; these checks need
the whole tenant and report every problem they find, each with its YAML path and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping, Sequence

from dagster_dynamic_tables.declarations.data_tests import Relationships
from dagster_dynamic_tables.declarations.fields import check_asset_name
from dagster_dynamic_tables.declarations.identifiers import parse_qualified_name
from dagster_dynamic_tables.declarations.models import (
    Declaration,
    DynamicTable,
    SourceTable,
    Tenant,
)
from dagster_dynamic_tables.errors import DeclarationProblem


def check_tenant(
    tenant: Tenant,
    *,
    locations: Sequence[str] | None = None,
    declared_names: Collection[str] = (),
    test_paths: Mapping[tuple[str, str], str] | None = None,
) -> list[DeclarationProblem]:
    """Cross-declaration checks: slug, duplicate names, tables and deps, unknown deps, cycles,
    relationships targets.

    `locations` gives the YAML path of each declaration in `tenant.all()` order (by default
    `sources[i]`, `dynamic_tables[i]`, `views[i]`); `declared_names` are names of declarations that
    failed their own validation, so that deps on them are not reported as unknown too;
    `test_paths` maps (a declaration's path, a data test's check name) to the test's YAML path
    (default: `<declaration path>.data_tests`).
    """
    problems: list[DeclarationProblem] = []
    try:
        check_asset_name(tenant.slug)
    except ValueError as e:
        problems.append(
            DeclarationProblem(
                "tenant",
                f"{e}.",
                "use the tenant's slug, a lowercase Python identifier (the package name)",
            )
        )
    paths = list(_paths(tenant, locations))
    problems += _duplicates(paths)
    problems += _unknown_deps(tenant, paths, declared_names)
    problems += _cycles(tenant, paths)
    problems += _relationships(tenant, paths, declared_names, test_paths or {})
    return problems


def relationships_of(item: Declaration) -> list[tuple[str, Relationships]]:
    """The `relationships` data tests of a declaration: (check name, test)."""
    if not isinstance(item, SourceTable | DynamicTable) or "data_tests" not in item.__dict__:
        return []
    return [
        (test.check_name, test.relationships)
        for test in item.data_tests
        if test.relationships is not None
    ]


def relationships_parent(tenant: Tenant, test: Relationships) -> Declaration | None:
    """The tenant's declaration a relationships test's `to` names, None for another tenant's
    asset (or an unknown name)."""
    own = test.own_target(tenant.slug)
    return next((item for item in tenant.all() if item.name == own), None)


def _relationships(
    tenant: Tenant,
    paths: Sequence[tuple[str, Declaration]],
    declared_names: Collection[str],
    test_paths: Mapping[tuple[str, str], str],
) -> list[DeclarationProblem]:
    names = {item.name for _, item in paths if _has(item, "name")}
    problems: list[DeclarationProblem] = []
    for path, item in paths:
        for name, test in relationships_of(item):
            where = f"{test_paths.get((path, name), f'{path}.data_tests')}.relationships"
            problem = _relationship_problem(tenant, test, names, declared_names, where)
            if problem is not None:
                problems.append(problem)
    return problems


def _relationship_problem(
    tenant: Tenant,
    test: Relationships,
    names: Collection[str],
    declared_names: Collection[str],
    where: str,
) -> DeclarationProblem | None:
    own = test.own_target(tenant.slug)
    if own is None:
        if test.table is not None:
            return None  # `tenants check` compares it with the other tenant's declaration
        return DeclarationProblem(
            f"{where}.to",
            f"{test.to!r} is another tenant's asset, whose Snowflake table this tenant's code "
            "location cannot know.",
            f"add `table: <its DATABASE.SCHEMA.NAME>` beside `to: {test.to}` (`uv run "
            "dynamic-tables tenants check` says if it is not the table that tenant declares)",
        )
    if own in declared_names and own not in names:
        return None  # its own problems are reported
    if own not in names:
        close = difflib.get_close_matches(own, sorted(names), n=1)
        hint = f"did you mean {close[0]!r}? Otherwise " if close else ""
        return DeclarationProblem(
            f"{where}.to",
            f"{test.to!r} is not declared in this tenant (declared: "
            f"{', '.join(sorted(names)) or 'nothing'}).",
            f"{hint}name one of the tenant's objects, or another tenant's asset by its full key "
            "(other_tenant/asset) with its table",
        )
    parent = relationships_parent(tenant, test)
    if test.table is None or parent is None or not _has(parent, "table"):
        return None
    if parse_qualified_name(test.table).resolved != parent.qualified_name.resolved:
        return DeclarationProblem(
            f"{where}.table",
            f"{test.table!r} is not the table of {test.to!r} ({parent.table}).",
            f"remove `table:` (the tenant's own {test.to!r} is known), or name {parent.table}",
        )
    return None


def _paths(tenant: Tenant, locations: Sequence[str] | None) -> Iterator[tuple[str, Declaration]]:
    items = list(tenant.all())
    if locations is None:
        sections = (
            ("sources", tenant.sources),
            ("dynamic_tables", tenant.dynamic_tables),
            ("views", tenant.views),
        )
        locations = [f"{name}[{i}]" for name, section in sections for i in range(len(section))]
    yield from zip(locations, items, strict=True)


def _duplicates(paths: Sequence[tuple[str, Declaration]]) -> list[DeclarationProblem]:
    problems: list[DeclarationProblem] = []
    names: dict[str, str] = {}
    tables: dict[str, str] = {}
    for path, item in paths:
        if not _has(item, "name", "table"):
            continue  # an invalid item's leftovers (see loader): its own problems are reported
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
                    f"{item.table!r} is already declared at {tables[resolved]} "
                    f"(both are {resolved}).",
                    "declare each Snowflake object once",
                )
            )
        tables.setdefault(resolved, path)
    return problems


def _has(item: Declaration, *fields: str) -> bool:
    """Whether `item` has these fields: always true for a validated declaration."""
    return all(field in item.model_fields_set for field in fields)


def _own_dep(tenant: Tenant, dep: str) -> str | None:
    """The short name of a dep on one of the tenant's own objects, None for another tenant's."""
    parts = dep.split("/")
    if len(parts) == 1 or (len(parts) == 2 and parts[0] == tenant.slug):
        return parts[-1]
    return None


def _unknown_deps(
    tenant: Tenant, paths: Sequence[tuple[str, Declaration]], declared_names: Collection[str]
) -> list[DeclarationProblem]:
    problems: list[DeclarationProblem] = []
    names = {item.name for _, item in paths if _has(item, "name")}
    known = names | set(declared_names)
    for path, item in paths:
        if isinstance(item, SourceTable):
            continue
        seen: dict[tuple[str, ...], int] = {}
        for index, dep in enumerate(item.deps):
            key = tuple(tenant.dep_key(dep))
            if key in seen:
                problems.append(
                    DeclarationProblem(
                        f"{path}.deps[{index}]",
                        f"{dep!r} is already listed at deps[{seen[key]}].",
                        "list each dep once",
                    )
                )
            seen.setdefault(key, index)
            own = _own_dep(tenant, dep)
            if own is not None and own not in known:
                close = difflib.get_close_matches(own, sorted(names), n=1)
                hint = f"did you mean {close[0]!r}? Otherwise " if close else ""
                problems.append(
                    DeclarationProblem(
                        f"{path}.deps[{index}]",
                        f"{dep!r} is not declared in this tenant (declared: "
                        f"{', '.join(sorted(names)) or 'nothing'}).",
                        f"{hint}declare it, or name another tenant's asset by its full key "
                        "(other_tenant/asset)",
                    )
                )
    return problems


def _cycles(tenant: Tenant, paths: Sequence[tuple[str, Declaration]]) -> list[DeclarationProblem]:
    graph: dict[str, list[str]] = {}
    where: dict[str, str] = {}
    for path, item in paths:
        if not _has(item, "name") or item.name in graph:
            continue  # a duplicate name, reported by _duplicates
        where[item.name] = path
        own = () if isinstance(item, SourceTable) else (_own_dep(tenant, d) for d in item.deps)
        graph[item.name] = [name for name in own if name is not None]
    problems: list[DeclarationProblem] = []
    seen: set[frozenset[str]] = set()
    for cycle in _find_cycles(graph):
        if frozenset(cycle) in seen:
            continue
        seen.add(frozenset(cycle))
        problems.append(
            DeclarationProblem(
                f"{where[cycle[0]]}.deps",
                f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}.",
                "remove one of these deps; Snowflake objects cannot depend on themselves",
            )
        )
    return problems


def _find_cycles(graph: Mapping[str, Sequence[str]]) -> Iterator[list[str]]:
    """Yield a cycle for every back edge of a depth-first walk: linear in the graph's size."""
    done: set[str] = set()
    for start in graph:
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start: 0}
        stack = [iter(graph[start])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                node = path.pop()
                done.add(node)
                del on_path[node]
            elif nxt in on_path:
                yield path[on_path[nxt] :]
            elif nxt not in done and nxt in graph:
                on_path[nxt] = len(path)
                path.append(nxt)
                stack.append(iter(graph[nxt]))
