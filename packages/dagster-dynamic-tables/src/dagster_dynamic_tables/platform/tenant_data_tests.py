"""What `tenants check` finds in the tenants' data tests, across tenants (a tenant's own load
checks its own `relationships` targets: `declarations.consistency`).

- `relationships` to another tenant's asset: the key must be one some tenant declares, and its
  `table:` the Snowflake object that tenant declares for it (the code location tests against
  `table:`, knowing no other tenant's declarations).
- Reads across tenants are allowed as a Dynamic Table's deps are: another tenant's declared
  object may be read (a relationships parent, or a table an `sql` test reads); an object nobody
  declares may be read only inside the tenant's grants (as `sql.lineage.read_problems` says for
  queries).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dagster_dynamic_tables.declarations.data_tests import DataTest
from dagster_dynamic_tables.declarations.identifiers import parse_qualified_name
from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable, Tenant
from dagster_dynamic_tables.errors import QueryReadError
from dagster_dynamic_tables.platform.grants import GRANTS_FILE, Grants, TenantGrants
from dagster_dynamic_tables.platform.repo import relative_path
from dagster_dynamic_tables.platform.tenant_views import TenantView

__all__ = ["data_test_findings"]


def _tests(tenant: Tenant) -> Iterator[tuple[str, SourceTable | DynamicTable, DataTest]]:
    sections: tuple[tuple[str, Sequence[SourceTable | DynamicTable]], ...] = (
        ("sources", tenant.sources),
        ("dynamic_tables", tenant.dynamic_tables),
    )
    for section, items in sections:
        for index, item in enumerate(items):
            for test in item.data_tests:
                yield f"{section}[{index}].data_tests ({test.check_name})", item, test


@dataclass(frozen=True)
class _Known:
    """What every tenant declares, as the data tests of one tenant are checked against it."""

    tables: Mapping[tuple[str, ...], str]
    """Declared object's asset key -> its resolved qualified name."""
    keys: frozenset[tuple[str, ...]]
    unloaded: frozenset[str]
    """Tenants whose code location did not load: their keys are unknown."""


def data_test_findings(root: Path, grants: Grants, views: Sequence[TenantView]) -> list[str]:
    """Every finding about the tenants' data tests across tenants, one line each."""
    tables = {obj.key: obj.qualified_name for view in views for obj in view.objects}
    known = _Known(
        tables,
        frozenset({key for view in views for key in view.keys} | set(tables)),
        frozenset(view.folder.slug for view in views if not view.loaded),
    )
    findings: list[str] = []
    for view in views:
        entry = grants.tenants.get(view.folder.slug)
        for path, tenant in view.declarations:
            where = f"tenant {view.folder.slug!r}: {relative_path(root, path)}"
            for test_path, item, test in _tests(tenant):
                problem = _relationships_problem(tenant, test, known)
                if problem is not None:
                    findings.append(f"{where} {test_path}: {problem}")
                findings += [
                    f"{where} {test_path}: {problem}"
                    for problem in _sql_problems(item, test, set(tables.values()), entry)
                ]
    return findings


def _relationships_problem(tenant: Tenant, test: DataTest, known: _Known) -> str | None:
    relationships = test.relationships
    if relationships is None or relationships.own_target(tenant.slug) is not None:
        return None  # the tenant's own load checks its own targets
    key = tuple(relationships.to_key(tenant.slug))
    shown = "/".join(key)
    if key not in known.keys:
        if key[0] in known.unloaded:
            return None
        return (
            f"relationships to {shown}, which no tenant declares. Fix: name an asset some tenant "
            "declares, by its full key (e.g. ecommerce/customers)."
        )
    target = known.tables.get(key)
    given = relationships.table
    if target is None or given is None or parse_qualified_name(given).resolved == target:
        return None
    return (
        f"relationships table {given} is not the table tenant {key[0]!r} declares for {shown} "
        f"({target}), so the test would read another table. Fix: write `table: {target}`."
    )


def _sql_problems(
    item: SourceTable | DynamicTable,
    test: DataTest,
    declared: Collection[str],
    entry: TenantGrants | None,
) -> list[str]:
    if test.sql is None:
        return []
    own = item.qualified_name
    try:
        reads = _reads(test.sql, own.database.resolved, own.schema.resolved)
    except QueryReadError as e:
        return [
            f"the sql test cannot be checked for what it reads: {str(e).rstrip('.')}. Fix: write "
            "it as one plain SELECT naming its tables."
        ]
    problems: list[str] = []
    for database, schema, name in sorted(reads):
        qualified = f"{database}.{schema}.{name}"
        if qualified in declared or (entry is not None and entry.allows(database, schema)):
            continue  # another tenant's declared object is read as a dep across tenants is
        problems.append(
            f"the sql test reads {qualified}, which no tenant declares and which is outside the "
            f"tenant's grants (schema {database}.{schema}). Fix: read the owning tenant's "
            f"declared object, or ask the platform team to extend {GRANTS_FILE}."
        )
    return problems


def _reads(query: str, database: str, schema: str) -> frozenset[tuple[str, str, str]]:
    from dagster_dynamic_tables.sql.lineage import tables_read  # sqlglot: repository tooling

    return tables_read(query, database, schema)
