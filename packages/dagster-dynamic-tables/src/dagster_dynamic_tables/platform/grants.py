"""grants.yaml: the platform team's record of which schemas each tenant may declare objects in,
and who owns each tenant's folder.

It lives outside the tenants' folders (and CODEOWNERS gives it to the platform team), so a
tenant's change cannot widen its own scope. `record_grants` (`dynamic-tables tenants grant`) adds
to it at onboarding; nothing else writes it. `plan`, `apply` and `tenants check` read it
(`load_grants`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from dagster_dynamic_tables.declarations.identifiers import parse_identifier
from dagster_dynamic_tables.errors import RegistrationError
from dagster_dynamic_tables.platform.repo import as_table, slug_problem, write_atomically

__all__ = [
    "DEFAULT_PLATFORM_OWNER",
    "GRANTS_FILE",
    "Grants",
    "TenantGrants",
    "load_grants",
    "record_grants",
    "render_grants",
    "split_grant",
]

GRANTS_FILE = "grants.yaml"
DEFAULT_PLATFORM_OWNER = "@data-platform"
_GRANTS_HEADER = """\
# Which Snowflake schemas each tenant may declare objects in (sources, Dynamic Tables, views),
# and who owns the tenant's folder. Owned by the platform team (see .github/CODEOWNERS): a
# tenant's own change cannot widen its scope. Set at onboarding from the template's answers;
# widen or narrow it here, then run `uv run dynamic-tables tenants check`.
#   schemas: DATABASE.SCHEMA, or DATABASE.* for every schema of a database (Snowflake names:
#   unquoted parts are case-insensitive, "Quoted" ones keep their case).
"""


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
    path = root / GRANTS_FILE
    if not path.exists():
        return Grants()
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise RegistrationError(f"Cannot read {path}: {e}. Fix: correct the file.") from e
    if not isinstance(data, dict):
        raise RegistrationError(f"{path}: expected a mapping with 'tenants:'.")
    raw = cast("dict[str, Any]", data)
    tenants: dict[str, TenantGrants] = {}
    entries: Any = raw.get("tenants") or {}
    if not isinstance(entries, dict):
        raise RegistrationError(f"{path}: 'tenants' must map each slug to owner and schemas.")
    for slug, entry in cast("dict[str, Any]", entries).items():
        fields = as_table(entry)
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


def render_grants(grants: Grants) -> str:
    body: dict[str, Any] = {
        "platform_owner": grants.platform_owner,
        "tenants": {
            slug: {"owner": entry.owner, "schemas": list(entry.schemas)}
            for slug, entry in sorted(grants.tenants.items())
        },
    }
    return _GRANTS_HEADER + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)


def record_grants(root: Path, slug: str, schemas: Sequence[str], *, owner: str | None) -> bool:
    """Add `schemas` (and set `owner`) to `slug`'s entry in grants.yaml; True if it changed."""
    problem = slug_problem(slug)
    if problem:
        raise RegistrationError(problem + ".")
    for schema in schemas:
        split_grant(schema)
    grants = load_grants(root)
    old = grants.tenants.get(slug, TenantGrants("", ()))
    merged = tuple(dict.fromkeys([*old.schemas, *schemas]))
    entry = TenantGrants(owner or old.owner, merged)
    if entry == old and slug in grants.tenants:
        return False
    tenants = dict(grants.tenants)
    tenants[slug] = entry
    write_atomically(root / GRANTS_FILE, render_grants(Grants(grants.platform_owner, tenants)))
    return True
