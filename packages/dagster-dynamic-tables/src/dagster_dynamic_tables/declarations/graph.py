"""Graph order of one tenant's declarations: what is created, planned or refreshed first."""

from __future__ import annotations

from dagster_dynamic_tables.declarations.models import (
    Declaration,
    DynamicTable,
    SourceTable,
    Tenant,
    View,
)


def upstream_first(tenant: Tenant) -> list[Declaration]:
    """Sources, then Dynamic Tables and views, each after its own-tenant deps."""
    derived: dict[str, DynamicTable | View] = {
        item.name: item for item in tenant.all() if not isinstance(item, SourceTable)
    }
    ordered: list[Declaration] = list(tenant.sources)
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


def derived_upstream_first(tenant: Tenant) -> list[DynamicTable | View]:
    """Dynamic Tables and views ordered so that every one comes after its own-tenant deps (the
    order `apply` and the stand-in's setup use)."""
    return [item for item in upstream_first(tenant) if not isinstance(item, SourceTable)]
