"""Tenants' objects in the embedded Snowflake stand-in (`local_snowflake`).

`ensure_local_stand_in` is what a tenant's `snowflake` resource calls before its first connection
when no Snowflake account is configured: start the stand-in if needed, then create the tenant's
source tables (with seed rows), Dynamic Tables and views, idempotently. Nothing here runs against a
real Snowflake account.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import local_snowflake
from snowflake.connector.errors import Error as SnowflakeError

from dagster_dynamic_tables.declarations import (
    Declaration,
    DynamicTable,
    SourceTable,
    Tenant,
    View,
)
from dagster_dynamic_tables.errors import DynamicTablesError
from dagster_dynamic_tables.identifiers import quote_identifier as quote

_tenants: dict[str, Tenant] = {}
_ready: set[tuple[str, int, str]] = set()
_lock = threading.Lock()


class LocalSetupError(DynamicTablesError):
    """The stand-in could not be started, or a tenant's local objects could not be created."""


@dataclass
class LocalSetupReport:
    """What `create_local_objects` did for one tenant."""

    slug: str
    seeded: bool = False
    created: list[str] = field(default_factory=lambda: list[str]())
    existing: list[str] = field(default_factory=lambda: list[str]())

    def summary(self) -> str:
        seed = "seed rows inserted" if self.seeded else "seed not needed"
        return (
            f"{self.slug}: {seed}, {len(self.created)} objects created, "
            f"{len(self.existing)} already there"
        )


def register_local_tenant(tenant: Tenant) -> None:
    """Remember a tenant's declarations in this process, for its first local connection."""
    _tenants[tenant.slug] = tenant


def registered_tenants() -> list[Tenant]:
    return [_tenants[slug] for slug in sorted(_tenants)]


def ensure_local_stand_in(data_dir: Path, port: int, slug: str) -> None:
    """Start the stand-in if needed and create `slug`'s local objects, once per process."""
    key = (str(data_dir), port, slug)
    if key in _ready:
        return
    with _lock:
        if key in _ready:
            return
        try:
            info = local_snowflake.ensure_server(data_dir, port)
        except local_snowflake.LocalSnowflakeError as e:
            raise LocalSetupError(
                f"The local Snowflake stand-in for tenant {slug!r} did not start: {e}"
            ) from e
        tenant = _tenants.get(slug)
        if tenant is not None:
            with local_snowflake.connect(host=info.host, port=info.port) as conn:
                create_local_objects(conn, tenant, lock_dir=data_dir)
        _ready.add(key)


@contextmanager
def _file_lock(lock_dir: Path | None) -> Iterator[None]:
    """Serialise local setup across processes (code servers, daemon, run workers)."""
    if lock_dir is None:
        yield
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / "setup.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def create_local_objects(
    conn: Any, tenant: Tenant, *, lock_dir: Path | None = None
) -> LocalSetupReport:
    """Create the tenant's databases, schemas, seeded sources, Dynamic Tables and views.

    The seed file runs only when none of the declared source tables exists yet, so seed rows are
    never inserted twice; Dynamic Tables and views are created with IF NOT EXISTS, upstream first.
    """
    report = LocalSetupReport(tenant.slug)
    with _file_lock(lock_dir):
        cursor = conn.cursor()
        try:
            for statement in _namespace_statements(tenant):
                cursor.execute(statement)
            missing = [s for s in tenant.sources if not _exists(cursor, s)]
            if tenant.local_seed_file is not None and len(missing) == len(tenant.sources):
                _run_seed(conn, tenant.local_seed_file)
                report.seeded = True
            for declaration in _upstream_first(tenant):
                name = str(declaration.qualified_name)
                if _exists(cursor, declaration):
                    report.existing.append(name)
                    continue
                cursor.execute(_create_statement(declaration))
                report.created.append(name)
        except SnowflakeError as e:
            raise LocalSetupError(
                f"Could not create tenant {tenant.slug!r}'s objects in the local Snowflake "
                f"stand-in: {e}"
            ) from e
        finally:
            cursor.close()
    return report


def _namespace_statements(tenant: Tenant) -> list[str]:
    databases: dict[str, None] = {}
    schemas: dict[str, None] = {}
    for declaration in tenant.all():
        name = declaration.qualified_name
        databases[f"CREATE DATABASE IF NOT EXISTS {name.database.sql}"] = None
        schemas[f"CREATE SCHEMA IF NOT EXISTS {name.database.sql}.{name.schema.sql}"] = None
    return [*databases, *schemas]


def _exists(cursor: Any, declaration: Declaration) -> bool:
    name = declaration.qualified_name
    # Snowflake lists views in both TABLES and VIEWS; the stand-in only in VIEWS.
    listing = "VIEWS" if isinstance(declaration, View) else "TABLES"
    cursor.execute(
        f"SELECT COUNT(*) FROM {name.database.sql}.INFORMATION_SCHEMA.{listing} "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (name.schema.resolved, name.name.resolved),
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def _run_seed(conn: Any, seed_file: Path) -> None:
    try:
        text = seed_file.read_text(encoding="utf-8")
    except OSError as e:
        raise LocalSetupError(
            f"Cannot read the local seed file {seed_file}: {e.strerror or e}. Fix: correct "
            "local_seed_file in the tenant's declarations (it is relative to the YAML file)."
        ) from e
    try:
        for _cursor in conn.execute_string(text):
            pass
    except SnowflakeError as e:
        raise LocalSetupError(
            f"The local seed file {seed_file} failed: {e}. Fix: correct the SQL in the file; "
            "nothing was seeded if its first statement failed (the stand-in has no transactions "
            "across statements, so drop what a partial run created)."
        ) from e


def _upstream_first(tenant: Tenant) -> list[Declaration]:
    """Dynamic Tables and views ordered so that every one comes after its own-tenant deps."""
    derived: dict[str, DynamicTable | View] = {
        item.name: item for item in tenant.all() if not isinstance(item, SourceTable)
    }
    ordered: list[Declaration] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done or name not in derived:
            return
        done.add(name)
        for path in tenant.dep_keys(derived[name]):
            if path[0] == tenant.slug:
                visit(path[-1])
        ordered.append(derived[name])

    for name in derived:
        visit(name)
    return ordered


def _create_statement(declaration: Declaration) -> str:
    name = declaration.qualified_name.sql
    query = getattr(declaration, "query", None)
    if isinstance(declaration, DynamicTable):
        return (
            f"CREATE DYNAMIC TABLE IF NOT EXISTS {name} "
            f"TARGET_LAG = {declaration.lag.sql} "
            f"WAREHOUSE = {quote(declaration.warehouse)} "
            f"REFRESH_MODE = {declaration.refresh_mode} "
            f"INITIALIZE = {declaration.initialize} "
            f"AS {query}"
        )
    return f"CREATE VIEW IF NOT EXISTS {name} AS {query}"
