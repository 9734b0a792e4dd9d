"""What `env create` writes on each database it makes, and reading it back.

Each database `env create` clones gets a comment (`COMMENT = '...'` in the CLONE statement):

    dynamic-tables env pr_7 from dev: clone of ECOMMERCE_DEV

`env drop` drops exactly the databases whose comment names its environment, `env list` groups
them by environment, with their age from `SHOW DATABASES`' `created_on` (the clone's creation
time). `SHOW DATABASES` needs no warehouse. Databases without such a comment are never touched.

`protected_databases` are the databases a listed environment uses (prod's are the declared
names): `env drop` refuses to drop any of them, whatever its comment says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dagster_dynamic_tables.declarations.environments import Environments
from dagster_dynamic_tables.declarations.identifiers import parse_identifier
from dagster_dynamic_tables.declarations.models import Tenant

__all__ = [
    "MARKER_PREFIX",
    "BranchDatabase",
    "ExistingDatabase",
    "age_text",
    "declared_databases",
    "marker",
    "protected_databases",
    "read_databases",
]

MARKER_PREFIX = "dynamic-tables env "
_MARKER = re.compile(
    re.escape(MARKER_PREFIX) + r"([a-z][a-z0-9_]*) from ([a-z][a-z0-9_]*): clone of (\S+)"
)


@dataclass(frozen=True)
class ExistingDatabase:
    """One row of SHOW DATABASES: name (as Snowflake reports it), comment, creation time."""

    name: str
    comment: str | None
    created_on: datetime | None

    @property
    def branch(self) -> BranchDatabase | None:
        """What `env create` recorded on it, None when it did not make it."""
        match = _MARKER.fullmatch((self.comment or "").strip())
        if match is None:
            return None
        return BranchDatabase(self.name, match[1], match[2], match[3], self.created_on)


@dataclass(frozen=True)
class BranchDatabase:
    """A database `env create` made: for environment `environment`, cloned from `source` of
    environment `source_environment`."""

    name: str
    environment: str
    source_environment: str
    source: str
    created_on: datetime | None


def marker(environment: str, source_environment: str, source: str) -> str:
    """The comment `env create` puts on a database it makes."""
    return f"{MARKER_PREFIX}{environment} from {source_environment}: clone of {source}"


def read_databases(cursor: Any, timeout: int | None) -> dict[str, ExistingDatabase]:
    """Every database of the account (`SHOW DATABASES`), by name as Snowflake reports it."""
    cursor.execute("SHOW DATABASES", timeout=timeout)
    columns = [str(d[0]).lower() for d in cursor.description or ()]
    found: dict[str, ExistingDatabase] = {}
    for row in cursor.fetchall():
        values = dict(zip(columns, row, strict=False))
        name = str(values.get("name") or "")
        comment = values.get("comment")
        created = values.get("created_on")
        found[name.upper()] = ExistingDatabase(
            name,
            None if comment is None else str(comment),
            created if isinstance(created, datetime) else None,
        )
    return found


def declared_databases(tenants: Iterable[Tenant]) -> list[str]:
    """The databases the tenants declare objects in (as written), in the tenants' order."""
    seen: dict[str, str] = {}
    for tenant in tenants:
        for declaration in (*tenant.sources, *tenant.dynamic_tables, *tenant.views):
            database = declaration.qualified_name.database
            seen.setdefault(database.resolved, database.text)
    return list(seen.values())


def protected_databases(environments: Environments, tenants: Iterable[Tenant]) -> set[str]:
    """Every database a listed environment maps a declared database to (resolved names)."""
    declared = declared_databases(tenants)
    protected: set[str] = set()
    for name in environments.names():
        environment = environments.get(name)
        for database in declared:
            protected.add(parse_identifier(environment.database(database)).resolved)
    return protected


def age_text(created_on: datetime | None, now: datetime | None = None) -> str:
    """`3d 4h`, `2h 5m`, `7m`: how long ago created_on was (`unknown` without it)."""
    if created_on is None:
        return "unknown"
    seconds = max(0, int(((now or datetime.now(UTC)) - created_on).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"
