"""Checks across one tenant's declarations: duplicate names and tables, unknown deps, cycles.

The models (`models`, with the types of `fields`) validate one field at a time; these checks need
the whole tenant and report every problem they find, each with its YAML path and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping, Sequence

from dagster_dynamic_tables.declarations.fields import check_asset_name
from dagster_dynamic_tables.declarations.models import Declaration, SourceTable, Tenant
from dagster_dynamic_tables.errors import DeclarationProblem


def check_tenant(
    tenant: Tenant,
    *,
    locations: Sequence[str] | None = None,
    declared_names: Collection[str] = (),
) -> list[DeclarationProblem]:
    """Cross-declaration checks: slug, duplicate names, tables and deps, unknown deps, cycles.

    `locations` gives the YAML path of each declaration in `tenant.all()` order (by default
    `sources[i]`, `dynamic_tables[i]`, `views[i]`); `declared_names` are names of declarations that
    failed their own validation, so that deps on them are not reported as unknown too.
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
    return problems


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
