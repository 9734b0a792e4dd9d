"""`tenants check`: what keeps tenants from stepping on each other, one line per finding.

Each line names the tenant, the file and the fix. Checked:

- registration: every tenant under `tenants/` is registered (workspace.yaml, the root
  pyproject's dev group and uv sources, dg.toml, CODEOWNERS, uv.lock, deployment files) and nothing
  stale is; every tenant has an entry in grants.yaml and no entry lacks a tenant;
- declarations: each tenant's `defs.yaml` of the component type (found as Dagster resolves
  `type:`, subclasses and the `dagster_dynamic_tables.definitions.component` path included;
  see `defs_files`)
  loads, names its own slug, and declares objects only in the schemas grants.yaml gives it; the
  same for every object with `snowflake_table` metadata in the loaded code location;
- queries: every table a Dynamic Table's or view's query reads (sqlglot, Snowflake dialect; see
  `sqlreads`) is among its deps, so the lineage graph shows what Snowflake reads; a query that
  cannot be parsed is a finding too;
- across tenants: no asset key and no Snowflake object is declared by two tenants (Dagster
  silently merges duplicate keys across code locations, picking one by location name: this check
  is what stops it), every dependency names a key some tenant declares, there is no cycle
  through several tenants, and no asset group name is used by two tenants (the global lineage
  page draws one box per group name, across code locations: a shared name mixes the teams).

Asset keys and deps come from each code location's definitions (Python assets included), so this
imports every tenant: the one repo command that pays for Dagster.
"""

from __future__ import annotations

import functools
import importlib
import subprocess
import warnings
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from dagster_dynamic_tables.declarations.identifiers import parse_qualified_name
from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.errors import DeclarationError
from dagster_dynamic_tables.metadata import SNOWFLAKE_TABLE
from dagster_dynamic_tables.platform.defs_files import declaration_documents
from dagster_dynamic_tables.platform.registration import (
    CODEOWNERS_FILE,
    DG_FILE,
    GRANTS_FILE,
    PYPROJECT_FILE,
    WORKSPACE_FILE,
    Grants,
    RegistrationError,
    TenantGrants,
    expected_files,
    load_grants,
    uv_command,
)
from dagster_dynamic_tables.platform.repo import (
    TenantFolder,
    discover_tenants,
    slug_problem,
    stray_tenant_folders,
)

STUB_METADATA_KEY = "dagster/auto_created_stub_asset"
SYNC_FIX = "run `uv run dynamic-tables tenants sync`"
_REGISTRATION_FILES = {
    WORKSPACE_FILE: "workspace.yaml (its code locations)",
    PYPROJECT_FILE: "the root pyproject.toml (dev group and [tool.uv.sources])",
    DG_FILE: "dg.toml (the dg workspace's projects)",
    CODEOWNERS_FILE: ".github/CODEOWNERS",
}


@dataclass(frozen=True)
class DeclaredObject:
    """A Snowflake object a tenant declares in YAML."""

    slug: str
    file: Path
    key: tuple[str, ...]
    qualified_name: str
    database: str
    schema: str


@dataclass
class TenantView:
    """What one tenant declares: its YAML objects and its code location's asset keys."""

    folder: TenantFolder
    objects: list[DeclaredObject] = field(default_factory=lambda: list[DeclaredObject]())
    keys: dict[tuple[str, ...], str] = field(default_factory=lambda: dict[tuple[str, ...], str]())
    """Asset key -> the file that declares it."""
    deps: dict[tuple[str, ...], set[tuple[str, ...]]] = field(
        default_factory=lambda: dict[tuple[str, ...], set[tuple[str, ...]]]()
    )
    groups: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    """Asset group name -> the first file that puts an asset in it."""
    declarations: list[tuple[Path, Tenant]] = field(
        default_factory=lambda: list[tuple[Path, Tenant]]()
    )
    """Each declaration file and its validated declarations."""
    located: dict[str, tuple[tuple[str, ...], str]] = field(
        default_factory=lambda: dict[str, tuple[tuple[str, ...], str]]()
    )
    """Objects of the loaded location with `snowflake_table` metadata: name -> (key, file)."""
    loaded: bool = False


def check_tenants(root: Path) -> list[str]:
    """Every finding, one line each (empty when all is well)."""
    findings: list[str] = []
    tenants = discover_tenants(root)
    findings += _registration(root, tenants)
    try:
        grants = load_grants(root)
    except RegistrationError as e:
        return [*findings, str(e)]
    findings += _grant_entries(grants, tenants)
    views = [_load(root, folder, findings) for folder in tenants]
    findings += _outside_grants(root, grants, views)
    findings += _undeclared_reads(root, grants, views)
    findings += _duplicate_objects(root, views)
    findings += _duplicate_keys(root, views)
    findings += _unknown_deps(root, views)
    findings += _cycles(root, views)
    findings += _shared_groups(views)
    return findings


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _registration(root: Path, tenants: Sequence[TenantFolder]) -> list[str]:
    findings: list[str] = []
    for folder in stray_tenant_folders(root):
        findings.append(
            f"{_rel(root, folder)} is under tenants/ but has no pyproject.toml, so it is not a "
            "tenant. Fix: generate tenants with `uv run cookiecutter templates/tenant`, or remove "
            "the folder."
        )
    for tenant in tenants:
        problem = slug_problem(tenant.slug)
        if problem:
            findings.append(f"tenant {tenant.slug!r} (tenants/{tenant.slug}): {problem}.")
    try:
        expected = expected_files(root)
    except (OSError, RegistrationError) as e:
        return [*findings, f"cannot work out the registration files: {e}"]
    slugs = {tenant.slug for tenant in tenants}
    registered = _registered_slugs(root)
    for slug in sorted(slugs - registered):
        findings.append(
            f"tenant {slug!r} (tenants/{slug}) is not registered in workspace.yaml, so "
            f"`dagster dev` does not load it. Fix: {SYNC_FIX}."
        )
    for slug in sorted(registered - slugs):
        findings.append(
            f"workspace.yaml registers tenant {slug!r}, but tenants/{slug} does not exist "
            f"(a stale tenant). Fix: {SYNC_FIX}."
        )
    for relative, text in expected.items():
        path = root / relative
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text or (relative == WORKSPACE_FILE and slugs != registered):
            continue  # equal, or the workspace's missing and stale tenants are named above
        state = "is missing" if current is None else "is out of line with tenants/"
        findings.append(f"{_REGISTRATION_FILES[relative]} {state}. Fix: {SYNC_FIX}.")
    findings += _lock_check(root)
    findings += _deployments(root)
    return findings


def _registered_slugs(root: Path) -> set[str]:
    from dagster_dynamic_tables.errors import WorkspaceError
    from dagster_dynamic_tables.platform.workspace import workspace_modules

    try:
        return {location for location, _module in workspace_modules(root / WORKSPACE_FILE)}
    except WorkspaceError:
        return set()


def _lock_check(root: Path) -> list[str]:
    uv = uv_command()
    if uv is None:
        return []
    result = subprocess.run(
        [uv, "lock", "--check", "--quiet"], cwd=root, capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        return []
    return [f"uv.lock is out of date with the pyproject.toml files. Fix: {SYNC_FIX}."]


def _deployments(root: Path) -> list[str]:
    from dagster_dynamic_tables.platform.deploy.render import check_deployments

    return list(check_deployments(root))


def _grant_entries(grants: Grants, tenants: Sequence[TenantFolder]) -> list[str]:
    slugs = {tenant.slug for tenant in tenants}
    findings = [
        f"tenant {slug!r} (tenants/{slug}) has no entry in {GRANTS_FILE}, so it may declare "
        f"nothing. Fix: the platform team runs `uv run dynamic-tables tenants grant {slug} "
        "--schema DATABASE.SCHEMA --owner @org/team`."
        for slug in sorted(slugs - set(grants.tenants))
    ]
    findings += [
        f"{GRANTS_FILE} has an entry for tenant {slug!r}, but tenants/{slug} does not exist. "
        f"Fix: remove the entry from {GRANTS_FILE}."
        for slug in sorted(set(grants.tenants) - slugs)
    ]
    return findings


def _load(root: Path, folder: TenantFolder, findings: list[str]) -> TenantView:
    view = TenantView(folder)
    documents, errors = declaration_documents(folder)
    for error in errors:
        problems = "; ".join(problem.render() for problem in error.problems)
        file = _rel(root, Path(error.file)) if error.file is not None else folder.slug
        findings.append(f"tenant {folder.slug!r}: {file} does not load: {problems}")
    for document in documents:
        path = document.path
        try:
            tenant = build_tenant(
                document.attributes, file=path, base_dir=path.parent, lines=document.lines
            )
        except DeclarationError as e:
            problems = "; ".join(problem.render() for problem in e.problems)
            findings.append(f"tenant {folder.slug!r}: {_rel(root, path)} does not load: {problems}")
            continue
        if tenant.slug != folder.slug:
            findings.append(
                f"tenant {folder.slug!r}: {_rel(root, path)} says `tenant: {tenant.slug}`, so its "
                f"asset keys would not start with {folder.slug!r}. Fix: set `tenant: "
                f"{folder.slug}`."
            )
        view.declarations.append((path, tenant))
        for declaration in tenant.all():
            name = declaration.qualified_name
            key = tuple(tenant.key_path(declaration))
            view.objects.append(
                DeclaredObject(
                    folder.slug,
                    path,
                    key,
                    name.resolved,
                    name.database.resolved,
                    name.schema.resolved,
                )
            )
            view.keys[key] = _rel(root, path)
    _load_location(root, view, findings)
    return view


def _load_location(root: Path, view: TenantView, findings: list[str]) -> None:
    """Every asset key and dep of the tenant's code location (Python assets included)."""
    folder = view.folder
    try:
        with warnings.catch_warnings():  # Dagster's preview/beta notices are not findings
            warnings.simplefilter("ignore")
            module = importlib.import_module(folder.module)
        defs: Any = module.defs
        specs: Sequence[Any] = defs.resolve_all_asset_specs()
    except Exception as e:  # a tenant that does not load is a finding, not a crash
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        findings.append(
            f"tenant {folder.slug!r}: code location {folder.module} does not load: {first}. "
            f"Fix: run `uv run dagster definitions validate -m {folder.module}` and correct "
            "what it reports."
        )
        return
    view.loaded = True
    default_file = _rel(root, folder.path / "src" / folder.slug / "definitions.py")
    for spec in specs:
        if STUB_METADATA_KEY in spec.metadata:
            continue  # a dep on another location's asset, which Dagster stands in for
        key = tuple(cast("Sequence[str]", spec.key.path))
        view.keys.setdefault(key, _source_file(root, defs, key) or default_file)
        view.deps[key] = {tuple(cast("Sequence[str]", dep.asset_key.path)) for dep in spec.deps}
        if spec.group_name:
            view.groups.setdefault(str(spec.group_name), view.keys[key])
        table = spec.metadata.get(SNOWFLAKE_TABLE)
        if isinstance(table, str):
            view.located.setdefault(table, (key, view.keys[key]))
        if key[0] != folder.slug:
            findings.append(
                f"tenant {folder.slug!r}: asset key {'/'.join(key)} ({view.keys[key]}) does not "
                f"start with {folder.slug!r}. Fix: prefix every key the tenant owns with its slug "
                f"({folder.slug}/{key[-1]})."
            )


def _source_file(root: Path, defs: Any, key: tuple[str, ...]) -> str | None:
    """The Python file of a decorated asset's function, when there is one."""
    import inspect

    for assets_def in cast("Sequence[Any]", getattr(defs, "assets", None) or ()):
        keys = getattr(assets_def, "keys", None)
        if not keys or key not in {tuple(k.path) for k in keys}:
            continue
        try:
            function = assets_def.op.compute_fn.decorated_fn
            source = inspect.getsourcefile(function)
        except (AttributeError, TypeError):
            return None
        return _rel(root, Path(source)) if source else None
    return None


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
                findings.append(
                    f"tenant {obj.slug!r}: {_rel(root, obj.file)} declares {obj.qualified_name} "
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
    """Tables the queries read that their deps do not name (see `sqlreads`)."""
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
                f"tenant {view.folder.slug!r}: {_rel(root, path)} {problem.render()}"
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
        where = ", ".join(f"{obj.slug} ({_rel(root, obj.file)})" for obj in objects)
        findings.append(
            f"Snowflake object {name} is declared by {len(slugs)} tenants: {where}. Fix: keep it "
            f"in the tenant that owns it; the others name it in deps by its full key "
            f"({slugs[0]}/<name>)."
        )
    return findings


def _duplicate_keys(root: Path, views: Sequence[TenantView]) -> list[str]:
    del root
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


def _unknown_deps(root: Path, views: Sequence[TenantView]) -> list[str]:
    del root
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


def _cycles(root: Path, views: Sequence[TenantView]) -> list[str]:
    """Cycles through more than one tenant (a tenant's own cycles fail its own load)."""
    del root
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
