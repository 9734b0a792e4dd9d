"""What setting up a tenant's objects in the stand-in runs and reports, without the stand-in.

`standin.create_local_objects` runs these against a connection: the CREATE DATABASE / SCHEMA
statements of the tenant's namespaces (`namespace_statements`), the existence query of each object
(`exists_statement`), the CREATE ... IF NOT EXISTS of each Dynamic Table and view from the one DDL
renderer (`create_statement`), and the tenant's seed SQL (`seed_sql`). `LocalSetupReport` is what
it found and did.

This module imports neither `local_snowflake` nor the connector, and the declarations' models
(pydantic) only when used, so importing `standin` stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dagster_dynamic_tables.errors import LocalSetupError

if TYPE_CHECKING:
    from dagster_dynamic_tables.declarations.environments import Environment
    from dagster_dynamic_tables.declarations.models import Declaration, Tenant

_KINDS = (("source table", "source tables"), ("Dynamic Table", "Dynamic Tables"), ("view", "views"))


def _kind(declaration: Declaration) -> int:
    """The index of the declaration's kind in `_KINDS`."""
    from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable

    if isinstance(declaration, SourceTable):
        return 0
    return 1 if isinstance(declaration, DynamicTable) else 2


@dataclass
class LocalSetupReport:
    """What `create_local_objects` found and did for one tenant, object by object.

    `created` and `existing` list the Dynamic Tables and views (qualified names); `seeded`,
    `sources_seeded`, `sources_existing` and `sources_missing` the source tables.
    """

    slug: str
    seed_file: Path | None = None
    seeded: bool = False
    created: list[str] = field(default_factory=lambda: list[str]())
    existing: list[str] = field(default_factory=lambda: list[str]())
    sources_seeded: list[str] = field(default_factory=lambda: list[str]())
    sources_existing: list[str] = field(default_factory=lambda: list[str]())
    sources_missing: list[str] = field(default_factory=lambda: list[str]())
    _kinds: dict[str, int] = field(default_factory=lambda: dict[str, int](), repr=False)

    def note(self, declaration: Declaration, outcome: list[str]) -> None:
        name = str(declaration.qualified_name)
        self._kinds[name] = _kind(declaration)
        outcome.append(name)

    def summary(self) -> str:
        """One line a user can tally against the declarations, e.g. `shop: 4 objects checked:
        2 source tables (from seed.sql, with its rows) and 2 Dynamic Tables created`."""
        seeded_note = ""
        if self.sources_seeded and self.seed_file is not None:
            seeded_note = f" (from {self.seed_file.name}, with its rows)"
        parts: list[str] = []
        if self.sources_seeded or self.created:
            parts.append(f"{self._count(self.sources_seeded, self.created, seeded_note)} created")
        if self.sources_existing or self.existing:
            parts.append(f"{self._count(self.sources_existing, self.existing)} already there")
        if self.sources_missing:
            why = (
                "no local_seed_file is declared"
                if self.seed_file is None
                else f"{self.seed_file.name} runs only when none of them exists"
            )
            parts.append(f"{self._count(self.sources_missing, [])} missing ({why})")
        if not (self.sources_seeded or self.created):
            parts.append("nothing created")
        checked = sum(
            map(
                len,
                (
                    self.sources_seeded,
                    self.sources_existing,
                    self.sources_missing,
                    self.created,
                    self.existing,
                ),
            )
        )
        return f"{self.slug}: {checked} object{'' if checked == 1 else 's'} checked: " + (
            "; ".join(parts)
        )

    def _count(self, sources: list[str], others: list[str], sources_note: str = "") -> str:
        """`2 source tables, 1 Dynamic Table and 1 view`: the names counted by kind."""
        counts = [len(sources), 0, 0]
        for name in others:
            counts[self._kinds[name]] += 1
        words = [_plural(n, kind) for kind, n in enumerate(counts) if n]
        if sources:
            words[0] += sources_note
        if len(words) == 1:
            return words[0]
        return ", ".join(words[:-1]) + " and " + words[-1]


def _plural(count: int, kind: int) -> str:
    one, many = _KINDS[kind]
    return f"{count} {one if count == 1 else many}"


def namespace_statements(tenant: Tenant) -> list[str]:
    """CREATE DATABASE / SCHEMA IF NOT EXISTS for every namespace the tenant declares objects in,
    databases first."""
    databases: dict[str, None] = {}
    schemas: dict[str, None] = {}
    for declaration in tenant.all():
        name = declaration.qualified_name
        databases[f"CREATE DATABASE IF NOT EXISTS {name.database.sql}"] = None
        schemas[f"CREATE SCHEMA IF NOT EXISTS {name.database.sql}.{name.schema.sql}"] = None
    return [*databases, *schemas]


def exists_statement(declaration: Declaration) -> tuple[str, tuple[str, str]]:
    """The query (and its parameters) counting the declared object in its database's
    INFORMATION_SCHEMA: 1 when it exists."""
    from dagster_dynamic_tables.declarations.models import View

    name = declaration.qualified_name
    # Snowflake lists views in both TABLES and VIEWS; the stand-in only in VIEWS.
    listing = "VIEWS" if isinstance(declaration, View) else "TABLES"
    return (
        f"SELECT COUNT(*) FROM {name.database.sql}.INFORMATION_SCHEMA.{listing} "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (name.schema.resolved, name.name.resolved),
    )


def create_statement(declaration: Declaration) -> str:
    """CREATE ... IF NOT EXISTS from the one DDL renderer (`ddl`): the statement
    `dynamic-tables apply` runs against Snowflake, so local and production objects match."""
    from dagster_dynamic_tables.sql.ddl import render_create  # imports pydantic: only when used

    return render_create(declaration, if_not_exists=True)


def seed_sql(tenant: Tenant, environment: Environment | None) -> str | None:
    """The tenant's `local_seed_file` (None: none declared), read as the loader reads it (inside
    the tenant's `defs/` folder, bounded, never blocking: it may have changed since the
    declarations loaded), mapped into `environment` (`sql.environments.rewrite_sql`)."""
    from dagster_dynamic_tables.declarations.files import (
        MAX_SEED_FILE_BYTES,
        FileRefusedError,
        read_bounded_file,
    )
    from dagster_dynamic_tables.declarations.sqlfiles import read_seed_file

    seed_file = tenant.local_seed_file
    if seed_file is None:
        return None
    if tenant.base_dir is None:  # declared in Python, not in a file: no defs/ folder to confine to
        try:
            text = read_bounded_file(seed_file, MAX_SEED_FILE_BYTES, "MAX_SEED_FILE_BYTES")
        except FileRefusedError as e:
            raise LocalSetupError(
                f"Cannot read the local seed file {seed_file}: it {e.reason}. Fix: correct "
                "local_seed_file in the tenant's declarations (it is relative to the YAML file)."
            ) from None
    else:
        value = str(seed_file.relative_to(tenant.base_dir))
        read, problem = read_seed_file(value, tenant.base_dir, tenant.defs_root)
        if read is None:
            detail = problem.render() if problem is not None else "it cannot be read."
            raise LocalSetupError(f"Tenant {tenant.slug!r}'s local seed file is refused: {detail}")
        text = read
    if environment is not None:
        from dagster_dynamic_tables.sql.environments import rewrite_sql

        text = rewrite_sql(text, environment, where=f"local_seed_file {seed_file}")
    return text
