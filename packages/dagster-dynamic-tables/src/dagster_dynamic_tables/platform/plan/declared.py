"""The declarations `plan` and `apply` work from: every tenant's declaration files (found as
Dagster resolves `type:`, see `platform.defs_files`), upstream tenants first; the objects outside
a tenant's grants, which refuse the tenant (`refused_objects`); and the reads of the queries that
their deps do not name (see `sql.lineage`).

In a selected environment (`DYNAMIC_TABLES_ENVIRONMENT`, `--environment`; see
`declarations.environments`) each file's tenant is mapped into it
(`sql.environments.in_environment`): plan and apply read and write the environment's objects.
Grants and the lineage checks keep working on the names as declared (`DeclaredFile.as_declared`):
grants.yaml names prod schemas, and the environment maps them with everything else."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from dagster_dynamic_tables.declarations.environments import Environment
from dagster_dynamic_tables.declarations.models import Declaration, SourceTable, Tenant
from dagster_dynamic_tables.errors import DynamicTablesError, PlanError
from dagster_dynamic_tables.platform.repo import relative_path

__all__ = [
    "DeclaredFile",
    "declared_everywhere",
    "load_declared_files",
    "load_declared_tenants",
    "read_problems",
    "refused_objects",
]


@dataclass(frozen=True)
class DeclaredFile:
    """One declaration file: the tenant folder holding it (whose grants apply), the file, and
    its validated declarations, mapped into `environment` (None: as declared); `declared` holds
    them as written when the environment maps them."""

    folder: str
    path: Path
    tenant: Tenant
    environment: Environment | None = None
    declared: Tenant | None = None

    @property
    def as_declared(self) -> Tenant:
        """The declarations as written (prod names), whatever the environment."""
        return self.declared if self.declared is not None else self.tenant


def load_declared_files(
    root: Path, slug: str | None = None, environ: Mapping[str, str] | None = None
) -> list[DeclaredFile]:
    """Every tenant's declaration files (of the component type, or a subclass, as Dagster
    resolves `type:`), or one tenant's; a tenant after the tenants whose assets it reads. Each
    tenant is mapped into the environment `environ` selects (default: the process's)."""
    from dagster_dynamic_tables.declarations.environments import current_environment
    from dagster_dynamic_tables.declarations.loader import build_tenant
    from dagster_dynamic_tables.platform.defs_files import declaration_documents
    from dagster_dynamic_tables.platform.repo import discover_tenants
    from dagster_dynamic_tables.sql.environments import check_databases, in_environment

    environment = current_environment(root, os.environ if environ is None else environ)

    folders = discover_tenants(root)
    if slug is not None:
        folders = [folder for folder in folders if folder.slug == slug]
        if not folders:
            known = ", ".join(folder.slug for folder in discover_tenants(root)) or "none"
            raise PlanError(f"no tenant {slug!r} under {root / 'tenants'} (tenants: {known}).")
    files: list[DeclaredFile] = []
    for folder in folders:
        documents, errors = declaration_documents(folder)
        if errors:
            raise errors[0]
        for document in documents:
            tenant = build_tenant(
                document.attributes,
                file=document.path,
                base_dir=document.path.parent,
                lines=document.lines,
            )
            mapped = in_environment(tenant, environment, file=document.path)
            declared = tenant if mapped is not tenant else None
            files.append(DeclaredFile(folder.slug, document.path, mapped, environment, declared))
    check_databases([file.as_declared for file in files], environment)
    order = {
        id(tenant): index
        for index, tenant in enumerate(_tenants_upstream_first([file.tenant for file in files]))
    }
    return sorted(files, key=lambda file: order[id(file.tenant)])


def load_declared_tenants(root: Path, slug: str | None = None) -> list[Tenant]:
    """Every tenant's declarations (see `load_declared_files`), or one tenant's; ordered so that
    a tenant comes after the tenants whose assets it depends on."""
    return [file.tenant for file in load_declared_files(root, slug)]


def _yaml_paths(tenant: Tenant) -> Iterator[tuple[str, Declaration]]:
    for section, items in (
        ("sources", tenant.sources),
        ("dynamic_tables", tenant.dynamic_tables),
        ("views", tenant.views),
    ):
        for index, item in enumerate(items):
            yield f"{section}[{index}]", item


def refused_objects(root: Path, files: list[DeclaredFile]) -> list[tuple[str, str]]:
    """One line per declared object outside the grants of the tenant whose folder declares it
    (grants.yaml at the root; a tenant without an entry may declare nothing), and per file that
    declares under another tenant's slug, as (tenant, line). Plan and apply touch nothing of
    such a tenant."""
    from dagster_dynamic_tables.errors import RegistrationError
    from dagster_dynamic_tables.platform.grants import GRANTS_FILE, load_grants

    try:
        grants = load_grants(root)
    except RegistrationError as e:
        raise PlanError(str(e)) from e
    lines: list[tuple[str, str]] = []
    for file in files:
        rel = relative_path(root, file.path)
        if file.as_declared.slug != file.folder:
            lines.append(
                (
                    file.folder,
                    f"tenant {file.folder!r}: {rel} says `tenant: {file.as_declared.slug}`, but a "
                    "tenant declares objects only under its own slug, within its own grants. "
                    f"Fix: set "
                    f"`tenant: {file.folder}`.",
                )
            )
        entry = grants.tenants.get(file.folder)
        granted = (
            ", ".join(entry.schemas) or "no schema"
            if entry is not None
            else f"none: {GRANTS_FILE} has no entry for it"
        )
        for path, item in _yaml_paths(file.as_declared):
            name = item.qualified_name
            database, schema = name.database.resolved, name.schema.resolved
            if entry is not None and entry.allows(database, schema):
                continue
            lines.append(
                (
                    file.folder,
                    f"tenant {file.folder!r}: {rel} {path} ({item.name}) declares {name.resolved} "
                    f"in schema {database}.{schema}, outside the tenant's grants ({granted}). Fix: "
                    f"declare it in a granted schema, or ask the platform team to extend "
                    f"{GRANTS_FILE} (`uv run dynamic-tables tenants grant {file.folder} --schema "
                    f"{database}.{schema}`).",
                )
            )
    return lines


def read_problems(root: Path, file: DeclaredFile, declared: Mapping[str, str]) -> list[str]:
    """The reads of the file's queries that its deps do not name (see `sql.lineage`)."""
    from dagster_dynamic_tables.errors import RegistrationError
    from dagster_dynamic_tables.platform.grants import load_grants
    from dagster_dynamic_tables.sql.lineage import read_problems

    try:
        entry = load_grants(root).tenants.get(file.folder)
    except RegistrationError:
        entry = None  # refused_objects reports the file
    problems = read_problems(
        file.as_declared,
        declared,
        lambda database, schema: entry is not None and entry.allows(database, schema),
    )
    rel = relative_path(root, file.path)
    return [f"tenant {file.folder!r}: {rel} {problem.render()}" for problem in problems]


def declared_everywhere(root: Path) -> dict[str, str]:
    """Every object any tenant declares (resolved name -> asset key); a tenant whose files do not
    load is left out (its own plan, or `tenants check`, reports it)."""
    from dagster_dynamic_tables.platform.repo import discover_tenants
    from dagster_dynamic_tables.sql.lineage import declared_objects

    declared: dict[str, str] = {}
    for folder in discover_tenants(root):
        try:
            files = load_declared_files(root, folder.slug)
        except DynamicTablesError:
            continue
        for file in files:
            declared.update(declared_objects(file.as_declared))
    return declared


def _tenants_upstream_first(tenants: list[Tenant]) -> list[Tenant]:
    by_slug = {tenant.slug: tenant for tenant in tenants}
    ordered: list[Tenant] = []
    seen: set[str] = set()

    def visit(tenant: Tenant) -> None:
        if tenant.slug in seen:
            return
        seen.add(tenant.slug)
        for declaration in tenant.all():
            if isinstance(declaration, SourceTable):
                continue
            for key in tenant.dep_keys(declaration):
                other = by_slug.get(key[0])
                if other is not None and other is not tenant:
                    visit(other)
        ordered.append(tenant)

    for tenant in tenants:
        visit(tenant)
    return ordered
