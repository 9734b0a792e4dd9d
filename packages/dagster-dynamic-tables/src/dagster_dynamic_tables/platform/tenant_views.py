"""What each tenant declares, as `tenants check` sees it: its declaration files' objects (found as
Dagster resolves `type:`, see `platform.defs_files`) and its loaded code location's asset keys,
deps, groups and `snowflake_table` metadata (`load_tenant_views`).

Loading a code location imports Dagster, through the tenant's own module: each location loads in
a child forked after the modules every location shares are imported (`platform.parallel`), several
at once, each within a time bound; a location that fails, crashes or runs out of time is a
finding of its tenant, in its place. The declaration files are read here, before the fork, so a
tenant whose location does not load still has its declarations checked.

In a selected environment (`DYNAMIC_TABLES_ENVIRONMENT`, `--environment`) the declarations are
also mapped into it (`sql.environments.in_environment`): a name it cannot map, or a database it
maps onto a declared one, is a finding. The locations load in that environment, so their
`snowflake_table` metadata holds the environment's names; they are read back as the declared
names (`TenantView.declared_names`), which grants.yaml and the other checks speak of."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from dagster_dynamic_tables.declarations.environments import Environment, current_environment
from dagster_dynamic_tables.declarations.identifiers import parse_qualified_name
from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.errors import DeclarationError, DynamicTablesError, EnvironmentsError
from dagster_dynamic_tables.metadata import SNOWFLAKE_TABLE
from dagster_dynamic_tables.platform.defs_files import declaration_documents
from dagster_dynamic_tables.platform.parallel import DEFAULT_TIMEOUT, run_forked
from dagster_dynamic_tables.platform.repo import TenantFolder, relative_path
from dagster_dynamic_tables.sql.environments import check_databases, in_environment

__all__ = [
    "LOCATION_PRELOAD",
    "STUB_METADATA_KEY",
    "DeclaredObject",
    "TenantView",
    "load_tenant_views",
]

STUB_METADATA_KEY = "dagster/auto_created_stub_asset"
LOCATION_PRELOAD = (
    "dagster_dynamic_tables.definitions.location",
    "dagster_dynamic_tables.definitions.component",
    "dagster_dynamic_tables.definitions.tenant",
)
"""What every tenant's `definitions.py` and `defs.yaml` import (Dagster and dagster-snowflake
with them: about 9 s here), imported once before the children fork. By name, at run time: the
platform tooling does not import the Dagster layer (import-linter); this command loads it on
purpose, as the tenants' own modules would."""


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
    declared_names: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    """In a selected environment: each declared object's name there -> its declared name."""
    """Objects of the loaded location with `snowflake_table` metadata: name -> (key, file)."""
    loaded: bool = False


def load_tenant_views(
    root: Path,
    folders: Sequence[TenantFolder],
    findings: list[str],
    *,
    workers: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[TenantView]:
    """Each tenant's declarations and code location, in the folders' order; what does not load is
    added to `findings`, tenant after tenant, as one by one (whatever the number of `workers`)."""
    own: list[list[str]] = [[] for _ in folders]
    environment = current_environment(root)
    views = [_declared_view(root, folder, own[i], environment) for i, folder in enumerate(folders)]
    if environment is not None:
        try:
            check_databases(
                [tenant for view in views for _path, tenant in view.declarations], environment
            )
        except EnvironmentsError as e:
            findings.append(str(e))
    outcomes = run_forked(
        views,
        lambda view: _location_in_child(root, view),
        workers=workers,
        timeout=timeout,
        preload=LOCATION_PRELOAD,
    )
    for view, outcome, lines in zip(views, outcomes, own, strict=True):
        if outcome.failure is None:
            lines += _apply_location(view, outcome.value)
        else:
            module = view.folder.module
            lines.append(
                f"tenant {view.folder.slug!r}: loading code location {module} "
                f"{outcome.failure}. Fix: run `uv run dagster definitions validate -m {module}` "
                "and correct what it reports."
            )
        findings += lines
    return views


def _declared_view(
    root: Path, folder: TenantFolder, findings: list[str], environment: Environment | None
) -> TenantView:
    """The tenant's declaration files; what does not load (or map into `environment`) is added
    to `findings`."""
    view = TenantView(folder)
    documents, errors = declaration_documents(folder)
    for error in errors:
        problems = "; ".join(problem.render() for problem in error.problems)
        file = relative_path(root, Path(error.file)) if error.file is not None else folder.slug
        findings.append(f"tenant {folder.slug!r}: {file} does not load: {problems}")
    for document in documents:
        path = document.path
        file = relative_path(root, path)
        try:
            tenant = build_tenant(
                document.attributes, file=path, base_dir=path.parent, lines=document.lines
            )
        except DeclarationError as e:
            problems = "; ".join(problem.render() for problem in e.problems)
            findings.append(f"tenant {folder.slug!r}: {file} does not load: {problems}")
            continue
        if tenant.slug != folder.slug:
            findings.append(
                f"tenant {folder.slug!r}: {file} says `tenant: {tenant.slug}`, so its "
                f"asset keys would not start with {folder.slug!r}. Fix: set `tenant: "
                f"{folder.slug}`."
            )
        view.declarations.append((path, tenant))
        _map_names(view, path, tenant, environment, findings)
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
            view.keys[key] = file
    return view


def _map_names(
    view: TenantView,
    path: Path,
    tenant: Tenant,
    environment: Environment | None,
    findings: list[str],
) -> None:
    """Record each object's name in `environment` (its declared name when None); a name the
    environment cannot map is a finding of the tenant."""
    try:
        mapped = in_environment(tenant, environment, file=path)
    except EnvironmentsError as e:
        findings.append(f"tenant {view.folder.slug!r}: {e}")
        return
    for declared, there in zip(tenant.all(), mapped.all(), strict=True):
        view.declared_names[there.qualified_name.resolved] = declared.qualified_name.resolved


def _location_in_child(root: Path, view: TenantView) -> dict[str, Any]:
    """`_load_location` in a forked child: what it adds to the view, and its findings, as JSON."""
    findings: list[str] = []
    _load_location(root, view, findings)
    return {
        "loaded": view.loaded,
        "keys": [[list(key), file] for key, file in view.keys.items()],
        "deps": [[list(key), sorted(map(list, deps))] for key, deps in view.deps.items()],
        "groups": [[group, file] for group, file in view.groups.items()],
        "located": [[name, list(key), file] for name, (key, file) in view.located.items()],
        "findings": findings,
    }


def _apply_location(view: TenantView, data: Any) -> list[str]:
    """The child's result into the parent's view (the inverse of `_location_in_child`)."""
    view.loaded = bool(data["loaded"])
    view.keys = {tuple(key): file for key, file in data["keys"]}
    view.deps = {tuple(key): {tuple(dep) for dep in deps} for key, deps in data["deps"]}
    view.groups = {str(group): str(file) for group, file in data["groups"]}
    view.located = {name: (tuple(key), file) for name, key, file in data["located"]}
    return list(data["findings"])


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
        shown = _own_cause(e)
        first = str(shown).strip().splitlines()[0] if str(shown).strip() else type(e).__name__
        findings.append(
            f"tenant {folder.slug!r}: code location {folder.module} does not load: {first}. "
            f"Fix: run `uv run dagster definitions validate -m {folder.module}` and correct "
            "what it reports."
        )
        return
    view.loaded = True
    default_file = relative_path(root, folder.path / "src" / folder.slug / "definitions.py")
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
            table = _declared_name(view, table)
            view.located.setdefault(table, (key, view.keys[key]))
        if key[0] != folder.slug:
            findings.append(
                f"tenant {folder.slug!r}: asset key {'/'.join(key)} ({view.keys[key]}) does not "
                f"start with {folder.slug!r}. Fix: prefix every key the tenant owns with its slug "
                f"({folder.slug}/{key[-1]})."
            )


def _own_cause(error: BaseException) -> BaseException:
    """The package's own error behind Dagster's wrapping ("Error while loading component
    snowflake[0]:"), which says what to fix; else `error`."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, DynamicTablesError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return error


def _declared_name(view: TenantView, table: str) -> str:
    """The declared name of a location's `snowflake_table` (mapped by the environment)."""
    try:
        resolved = parse_qualified_name(table).resolved
    except ValueError:
        return table
    return view.declared_names.get(resolved, table)


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
        return relative_path(root, Path(source)) if source else None
    return None
