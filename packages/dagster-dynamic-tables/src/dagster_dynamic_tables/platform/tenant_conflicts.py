"""What `tenants check` finds in what the tenants declare (see `tenant_views`): objects outside a
tenant's grants, reads its deps do not name, and conflicts across tenants (an object or asset key
declared twice, a dep nobody declares, a cycle through several tenants, a shared group name),
and in their data tests (`tenant_data_tests`: relationships targets and reads across tenants)."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from dagster_dynamic_tables.declarations.identifiers import parse_qualified_name
from dagster_dynamic_tables.platform.grants import GRANTS_FILE, Grants, TenantGrants
from dagster_dynamic_tables.platform.repo import relative_path
from dagster_dynamic_tables.platform.tenant_data_tests import data_test_findings
from dagster_dynamic_tables.platform.tenant_views import DeclaredObject, TenantView

__all__ = ["declaration_findings"]


def declaration_findings(root: Path, grants: Grants, views: Sequence[TenantView]) -> list[str]:
    """Every finding about what the tenants declare, one line each."""
    findings = _outside_grants(root, grants, views)
    findings += _undeclared_reads(root, grants, views)
    findings += _duplicate_objects(root, views)
    findings += _duplicate_keys(views)
    findings += _unknown_deps(views)
    findings += _cycles(views)
    findings += _shared_groups(views)
    findings += data_test_findings(root, grants, views)
    return findings


def _grants_fix(slug: str, database: str, schema: str) -> str:
    return (
        f"Fix: declare it in a granted schema, or ask the platform team to extend {GRANTS_FILE} "
        f"(`uv run dynamic-tables tenants grant {slug} --schema {database}.{schema}`); plan and "
        "apply refuse the tenant until then."
    )


def _outside_grants(root: Path, grants: Grants, views: Sequence[TenantView]) -> list[str]:
    findings: list[str] = []
    for view in views:
        entry = grants.tenants.get(view.folder.slug)
        if entry is None:
            continue  # reported once, as a missing entry
        granted = ", ".join(entry.schemas) or "nothing"
        declared = {obj.qualified_name for obj in view.objects}
        for obj in view.objects:
            if not entry.allows(obj.database, obj.schema):
                file = relative_path(root, obj.file)
                findings.append(
                    f"tenant {obj.slug!r}: {file} declares {obj.qualified_name} "
                    f"in schema {obj.database}.{obj.schema}, outside its grants ({granted}). "
                    + _grants_fix(obj.slug, obj.database, obj.schema)
                )
        for table, (key, file) in sorted(view.located.items()):
            try:
                name = parse_qualified_name(table)
            except ValueError:
                continue  # the declaration's own validation names it
            database, schema = name.database.resolved, name.schema.resolved
            if name.resolved in declared or entry.allows(database, schema):
                continue
            findings.append(
                f"tenant {view.folder.slug!r}: asset {'/'.join(key)} ({file}) of its code "
                f"location names Snowflake object {name.resolved} in schema {database}.{schema}, "
                f"outside its grants ({granted}). "
                + _grants_fix(view.folder.slug, database, schema)
            )
    return findings


def _undeclared_reads(root: Path, grants: Grants, views: Sequence[TenantView]) -> list[str]:
    """Tables the queries read that their deps do not name (see `sql.lineage`)."""
    from dagster_dynamic_tables.sql.lineage import read_problems

    declared = {obj.qualified_name: "/".join(obj.key) for view in views for obj in view.objects}
    findings: list[str] = []
    for view in views:
        entry = grants.tenants.get(view.folder.slug)
        for path, tenant in view.declarations:
            problems = read_problems(
                tenant,
                declared,
                functools.partial(_allows, entry),
            )
            findings += [
                f"tenant {view.folder.slug!r}: {relative_path(root, path)} {problem.render()}"
                for problem in problems
            ]
    return findings


def _allows(entry: TenantGrants | None, database: str, schema: str) -> bool:
    return entry is not None and entry.allows(database, schema)


def _shared_groups(views: Sequence[TenantView]) -> list[str]:
    """Asset group names used by more than one tenant."""
    users: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for view in views:
        for group, file in view.groups.items():
            users[group].append((view.folder.slug, file))
    findings: list[str] = []
    for group, used in sorted(users.items()):
        if len(used) < 2:
            continue
        where = ", ".join(f"{slug} ({file})" for slug, file in used)
        owner = next((slug for slug, _file in used if group.startswith(f"{slug}_")), None)
        base = group.removeprefix(f"{owner}_") if owner else group
        renames = ", ".join(f"{slug}_{base} in {slug}" for slug, _file in used if slug != owner)
        keep = f"keep {group!r} in {owner} and rename it " if owner else "rename it "
        findings.append(
            f"asset group {group!r} is used by {len(used)} tenants: {where}. Dagster's global "
            "lineage draws one box per group name across code locations, so it mixes their "
            f"assets. Fix: every tenant's group names start with its slug: {keep}({renames}), "
            "with `group:` in defs.yaml or `group_name=` in Python assets."
        )
    return findings


def _duplicate_objects(root: Path, views: Sequence[TenantView]) -> list[str]:
    owners: dict[str, list[DeclaredObject]] = defaultdict(list)
    for view in views:
        for obj in view.objects:
            owners[obj.qualified_name].append(obj)
    findings: list[str] = []
    for name, objects in sorted(owners.items()):
        slugs = sorted({obj.slug for obj in objects})
        if len(slugs) < 2:
            continue
        where = ", ".join(f"{obj.slug} ({relative_path(root, obj.file)})" for obj in objects)
        findings.append(
            f"Snowflake object {name} is declared by {len(slugs)} tenants: {where}. Fix: keep it "
            f"in the tenant that owns it; the others name it in deps by its full key "
            f"({slugs[0]}/<name>)."
        )
    return findings


def _duplicate_keys(views: Sequence[TenantView]) -> list[str]:
    owners: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
    for view in views:
        for key, file in view.keys.items():
            owners[key].append((view.folder.slug, file))
    findings: list[str] = []
    for key, declared in sorted(owners.items()):
        if len({slug for slug, _file in declared}) < 2:
            continue
        where = ", ".join(f"{slug} ({file})" for slug, file in declared)
        findings.append(
            f"asset key {'/'.join(key)} is declared by several tenants: {where}. Dagster would "
            f"silently keep one of them. Fix: only tenant {key[0]!r} declares it; the others "
            "depend on it by its full key."
        )
    return findings


def _all_keys(views: Sequence[TenantView]) -> dict[tuple[str, ...], str]:
    return {key: view.folder.slug for view in views for key in view.keys}


def _unknown_deps(views: Sequence[TenantView]) -> list[str]:
    known = _all_keys(views)
    unloaded = {view.folder.slug for view in views if not view.loaded}
    findings: list[str] = []
    for view in views:
        for key, deps in sorted(view.deps.items()):
            for dep in sorted(deps):
                if dep in known or dep[0] in unloaded:
                    continue
                findings.append(
                    f"tenant {view.folder.slug!r}: {'/'.join(key)} ({view.keys[key]}) depends on "
                    f"{'/'.join(dep)}, which no tenant declares. Fix: correct the dep (another "
                    "tenant's asset is named by its full key, e.g. "
                    "ecommerce/daily_revenue_rollup), or declare the asset in its tenant."
                )
    return findings


def _cycles(views: Sequence[TenantView]) -> list[str]:
    """Cycles through more than one tenant (a tenant's own cycles fail its own load)."""
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = defaultdict(set)
    for view in views:
        for key, deps in view.deps.items():
            graph[key] |= deps
    findings: list[str] = []
    for component in _strongly_connected(graph):
        slugs = sorted({key[0] for key in component})
        if len(component) < 2 or len(slugs) < 2:
            continue
        path = " -> ".join("/".join(key) for key in sorted(component))
        findings.append(
            f"a dependency cycle runs through tenants {', '.join(slugs)}: {path}. Fix: break the "
            "cycle in one tenant's deps (no asset may, through other tenants, depend on itself)."
        )
    return findings


def _strongly_connected(
    graph: Mapping[tuple[str, ...], set[tuple[str, ...]]],
) -> list[list[tuple[str, ...]]]:
    """Tarjan's strongly connected components, iteratively (long chains do not recurse)."""
    index: dict[tuple[str, ...], int] = {}
    low: dict[tuple[str, ...], int] = {}
    on_stack: set[tuple[str, ...]] = set()
    stack: list[tuple[str, ...]] = []
    components: list[list[tuple[str, ...]]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[tuple[str, ...], Iterator[tuple[str, ...]]]] = []
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work.append((start, iter(sorted(graph.get(start, ())))))
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[tuple[str, ...]] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components
