"""Writing grants.yaml: `record_grants` (`dynamic-tables tenants grant`) adds to it at onboarding;
nothing else writes it. The file's model, reading it and the rule declarations keep to it are
`declarations.grants` (a code location checks its tenant against it too).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dagster_dynamic_tables.declarations.grants import (
    GRANTS_FILE,
    Grants,
    TenantGrants,
    load_grants,
    split_grant,
)
from dagster_dynamic_tables.errors import RegistrationError
from dagster_dynamic_tables.platform.repo import slug_problem, write_atomically

__all__ = ["record_grants", "render_grants"]
_GRANTS_HEADER = """\
# Which Snowflake schemas each tenant may declare objects in (sources, Dynamic Tables, views),
# and who owns the tenant's folder. Owned by the platform team (see .github/CODEOWNERS): a
# tenant's own change cannot widen its scope. Set at onboarding from the template's answers;
# widen or narrow it here, then run `uv run dynamic-tables tenants check`.
#   schemas: DATABASE.SCHEMA, or DATABASE.* for every schema of a database (Snowflake names:
#   unquoted parts are case-insensitive, "Quoted" ones keep their case).
"""


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
