"""grants.yaml: the platform team's record of which schemas each tenant may declare objects in,
and who owns each tenant's folder; and the rule every declaration keeps to it.

It lives outside the tenants' folders (CODEOWNERS gives it to the platform team), so a tenant's
change cannot widen its own scope. `plan`, `apply` and `tenants check` read it from the repository
root (`load_grants`); a code location reads it too (`check_tenant_grants`, from the component):
from `DYNAMIC_TABLES_GRANTS_FILE` (a deployed image, which has no repository root; its Dockerfile
sets it) or the repository root found from the tenant's folder. A tenant declaring an object
outside its grants, or declaring under another tenant's slug, then fails to load, naming each
object and the fix. Without either file (a tenant folder outside a platform repository) nothing is
checked. Writing the file (`tenants grant`) is `platform.grants`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from dagster_dynamic_tables.declarations.environments import TENANTS_DIR, repository_root
from dagster_dynamic_tables.declarations.files import (
    MAX_DECLARATION_FILE_BYTES,
    FileRefusedError,
    read_bounded_file,
)
from dagster_dynamic_tables.declarations.identifiers import parse_identifier
from dagster_dynamic_tables.declarations.models import Declaration, Tenant
from dagster_dynamic_tables.declarations.yamlbounds import check_yaml_text
from dagster_dynamic_tables.errors import DeclarationError, DeclarationProblem, RegistrationError

__all__ = [
    "DEFAULT_PLATFORM_OWNER",
    "GRANTS_FILE",
    "GRANTS_FILE_VARIABLE",
    "TENANT_VARIABLE",
    "Grants",
    "Refusal",
    "TenantGrants",
    "check_tenant_grants",
    "declared_objects",
    "grants_refusals",
    "load_grants",
    "read_grants",
    "split_grant",
]

GRANTS_FILE = "grants.yaml"
GRANTS_FILE_VARIABLE = "DYNAMIC_TABLES_GRANTS_FILE"
"""Explicit path of grants.yaml (deployed images, which have no repository root)."""
TENANT_VARIABLE = "DYNAMIC_TABLES_TENANT"
"""The tenant an image was built for (its Dockerfile sets it): the slug its declarations must
use, where no `tenants/<slug>/` folder says it."""
DEFAULT_PLATFORM_OWNER = "@data-platform"


@dataclass(frozen=True)
class TenantGrants:
    """One tenant's entry of grants.yaml."""

    owner: str
    schemas: tuple[str, ...]

    def allows(self, database: str, schema: str) -> bool:
        """Whether the resolved (case-normalised) database and schema are granted."""
        for entry in self.schemas:
            granted_db, granted_schema = split_grant(entry)
            if granted_db == database and granted_schema in ("*", schema):
                return True
        return False


@dataclass(frozen=True)
class Grants:
    platform_owner: str = DEFAULT_PLATFORM_OWNER
    tenants: Mapping[str, TenantGrants] = field(default_factory=lambda: dict[str, TenantGrants]())


def split_grant(entry: str) -> tuple[str, str]:
    """`DB.SCHEMA` or `DB.*` -> the resolved database and schema names (`*` kept)."""
    database, schema = _split_two(entry)
    if database is None or schema is None:
        raise RegistrationError(
            f"{GRANTS_FILE}: {entry!r} is not a schema grant. Fix: write DATABASE.SCHEMA or "
            "DATABASE.* (e.g. ECOMMERCE.ANALYTICS)."
        )
    try:
        resolved_db = parse_identifier(database).resolved
        resolved_schema = "*" if schema == "*" else parse_identifier(schema).resolved
    except ValueError as e:
        raise RegistrationError(f"{GRANTS_FILE}: {entry!r}: {e}.") from e
    return resolved_db, resolved_schema


def _split_two(entry: str) -> tuple[str | None, str | None]:
    """Split `A.B` at the one dot outside double quotes; (None, None) unless there is one."""
    in_quotes = False
    dots: list[int] = []
    for index, char in enumerate(entry):
        if char == '"':
            in_quotes = not in_quotes
        elif char == "." and not in_quotes:
            dots.append(index)
    if len(dots) != 1 or not 0 < dots[0] < len(entry) - 1:
        return None, None
    return entry[: dots[0]], entry[dots[0] + 1 :]


def load_grants(root: Path) -> Grants:
    """The repository's grants.yaml (no file: no tenant has grants)."""
    path = root / GRANTS_FILE
    return read_grants(path) if path.exists() else Grants()


def read_grants(path: Path) -> Grants:
    """Read grants.yaml at `path` (bounded, safe YAML); raise `RegistrationError` naming the
    file, the field and the fix."""
    try:
        text = read_bounded_file(path, MAX_DECLARATION_FILE_BYTES, "MAX_DECLARATION_FILE_BYTES")
        check_yaml_text(text, file=path)
        data: Any = yaml.safe_load(text) or {}
    except FileRefusedError as e:
        raise RegistrationError(f"Cannot read {path}: {e.reason}. Fix: {e.fix}.") from None
    except DeclarationError as e:
        raise RegistrationError(f"Cannot read {path}: {e}") from None
    except yaml.YAMLError as e:
        raise RegistrationError(f"Cannot read {path}: {e}. Fix: correct the file.") from e
    if not isinstance(data, dict):
        raise RegistrationError(f"{path}: expected a mapping with 'tenants:'.")
    raw = cast("dict[str, Any]", data)
    tenants: dict[str, TenantGrants] = {}
    entries: Any = raw.get("tenants") or {}
    if not isinstance(entries, dict):
        raise RegistrationError(f"{path}: 'tenants' must map each slug to owner and schemas.")
    for slug, entry in cast("dict[str, Any]", entries).items():
        fields = cast("dict[str, Any]", entry) if isinstance(entry, dict) else {}
        schemas: Any = fields.get("schemas") or []
        owner: Any = fields.get("owner") or ""
        if not isinstance(schemas, list) or not all(
            isinstance(s, str) for s in cast("list[Any]", schemas)
        ):
            raise RegistrationError(
                f"{path}: tenants.{slug}.schemas must be a list of DATABASE.SCHEMA strings."
            )
        for schema in cast("list[str]", schemas):
            split_grant(schema)  # reject malformed entries when read, naming them
        tenants[str(slug)] = TenantGrants(str(owner), tuple(cast("list[str]", schemas)))
    platform_owner = str(raw.get("platform_owner") or DEFAULT_PLATFORM_OWNER)
    return Grants(platform_owner, tenants)


def declared_objects(tenant: Tenant) -> Iterator[tuple[str, Declaration]]:
    """Every object a tenant declares, with its YAML path (`dynamic_tables[1]`)."""
    for section, items in (
        ("sources", tenant.sources),
        ("dynamic_tables", tenant.dynamic_tables),
        ("views", tenant.views),
    ):
        for index, item in enumerate(items):
            yield f"{section}[{index}]", item


@dataclass(frozen=True)
class Refusal:
    """One thing a tenant's declarations may not do under grants.yaml: an object outside its
    grants (`path` and `name` say which), or declaring under another tenant's slug (no path)."""

    message: str
    fix: str
    path: str | None = None
    name: str | None = None


def grants_refusals(tenant: Tenant, folder: str, grants: Grants) -> list[Refusal]:
    """What a declaration in tenant `folder`'s folder may not declare: another tenant's slug,
    and every object outside the folder's grants (no entry: nothing is granted)."""
    refusals: list[Refusal] = []
    if tenant.slug != folder:
        refusals.append(
            Refusal(
                f"says `tenant: {tenant.slug}`, but a tenant declares objects only under its "
                "own slug, within its own grants",
                f"set `tenant: {folder}`",
            )
        )
    entry = grants.tenants.get(folder)
    granted = (
        ", ".join(entry.schemas) or "no schema"
        if entry is not None
        else f"none: {GRANTS_FILE} has no entry for it"
    )
    for path, item in declared_objects(tenant):
        name = item.qualified_name
        database, schema = name.database.resolved, name.schema.resolved
        if entry is not None and entry.allows(database, schema):
            continue
        refusals.append(
            Refusal(
                f"declares {name.resolved} in schema {database}.{schema}, outside the tenant's "
                f"grants ({granted})",
                "declare it in a granted schema, or ask the platform team to extend "
                f"{GRANTS_FILE} (`uv run dynamic-tables tenants grant {folder} --schema "
                f"{database}.{schema}`)",
                path,
                item.name,
            )
        )
    return refusals


def check_tenant_grants(
    tenant: Tenant,
    start: Path,
    environ: Mapping[str, str],
    *,
    file: Path | str | None,
    lines: Mapping[str, int] | None = None,
) -> None:
    """Raise `DeclarationError` when the tenant declared at `start` (its defs folder) breaks
    the platform's grants (see the module docstring); nothing when no grants file is found."""
    explicit = environ.get(GRANTS_FILE_VARIABLE, "")
    root = repository_root(start)
    if explicit:
        path: Path | None = Path(explicit)
    else:
        path = root / GRANTS_FILE if root is not None else None
    if path is None or not path.is_file():
        if explicit:
            raise RegistrationError(
                f"{GRANTS_FILE_VARIABLE}={explicit} names no file. Fix: point it at the "
                f"platform's {GRANTS_FILE} (the image's Dockerfile copies it)."
            )
        return
    folder = environ.get(TENANT_VARIABLE, "") or _tenant_folder(start, root) or tenant.slug
    refusals = grants_refusals(tenant, folder, read_grants(path))
    if refusals:
        lines = lines or {}
        raise DeclarationError(
            file,
            [
                DeclarationProblem(
                    refusal.path or "tenant",
                    f"{refusal.name} {refusal.message}." if refusal.name else f"{refusal.message}.",
                    refusal.fix,
                    lines.get(f"{refusal.path}.table" if refusal.path else "tenant"),
                )
                for refusal in refusals
            ],
        )


def _tenant_folder(start: Path, root: Path | None) -> str | None:
    """The slug of the repository's `tenants/<slug>/` folder that holds `start` (None outside
    one, or outside a repository: a folder a tenant named `tenants` proves nothing)."""
    if root is None:
        return None
    folder = start.absolute()
    for candidate in (folder, *folder.parents):
        if candidate.parent == root / TENANTS_DIR:
            return candidate.name
    return None
