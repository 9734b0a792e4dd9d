"""What each tenant declares, as `tenants check` sees it: its declaration files' objects (found as
Dagster resolves `type:`, see `platform.defs_files`) and its loaded code location's asset keys,
deps, groups and `snowflake_table` metadata (`load_tenant_view`). Loading a code location imports
Dagster, through the tenant's own module."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.errors import DeclarationError
from dagster_dynamic_tables.metadata import SNOWFLAKE_TABLE
from dagster_dynamic_tables.platform.defs_files import declaration_documents
from dagster_dynamic_tables.platform.repo import TenantFolder, relative_path

__all__ = ["STUB_METADATA_KEY", "DeclaredObject", "TenantView", "load_tenant_view"]

STUB_METADATA_KEY = "dagster/auto_created_stub_asset"


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


def load_tenant_view(root: Path, folder: TenantFolder, findings: list[str]) -> TenantView:
    """The tenant's declarations and code location; what does not load is added to `findings`."""
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
        return relative_path(root, Path(source)) if source else None
    return None
