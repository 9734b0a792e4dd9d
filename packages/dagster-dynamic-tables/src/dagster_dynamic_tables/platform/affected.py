"""`tenants affected`: which tenants a change touches, so that CI validates and tests only those.

The rules, applied to every path the change touches (`platform.git_changes`; a rename touches its
old and its new path):

- `tenants/<slug>/...`: tenant `<slug>` changed. When `tenants/<slug>/` is no longer a tenant (the
  folder, or its pyproject.toml, is gone) it is reported as *removed*: nothing to validate.
- Paths that no code location reads (`NO_TENANT_PATTERNS`: Markdown at the root or under docs/,
  the tests of the core except `tests/support/`, CODEOWNERS, .gitignore) affect no tenant; the
  core's tests run on every change anyway.
- Anything else is shared code (packages/, templates/, the root pyproject.toml and uv.lock,
  grants.yaml, environments.yaml, deploy/, workspace.yaml, dg.toml, dagster.yaml, .ci/,
  .github/workflows/, and any file nobody listed yet): every tenant is affected.

Then every tenant downstream of a changed or removed tenant is affected too, transitively: a tenant
reads another when its declarations name one of the other's assets (a Dynamic Table's or view's
`deps`, a data test's `relationships` target). The declarations are read as `plan` reads them
(`platform.plan.declared.load_declared_files`), without importing Dagster. A tenant whose
declarations do not load cannot tell what it reads: it is counted as affected whenever any tenant
changed. A Python asset's deps on another tenant are not read (that takes importing its code
location): name cross-tenant reads in the YAML declarations, as `tenants check` already asks.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster_dynamic_tables.errors import DynamicTablesError
from dagster_dynamic_tables.platform.git_changes import changed_files
from dagster_dynamic_tables.platform.repo import TENANTS_DIR, TenantFolder, discover_tenants

__all__ = [
    "NO_TENANT_PATTERNS",
    "Affected",
    "TenantGraph",
    "affected_tenants",
    "read_tenant_graph",
]

NO_TENANT_PATTERNS = (
    "*.md",  # at the root only: fnmatch's * crosses '/', so the check below keeps it to the root
    "docs/*",
    "tests/*",
    ".github/CODEOWNERS",
    ".gitignore",
    "LICENSE",
)
"""Paths outside tenants/ that no code location reads (`tests/support/` is shared: tenants'
tests may import it)."""


def _no_tenant(path: str) -> bool:
    if path.startswith("tests/support/"):
        return False
    if "/" not in path and fnmatch.fnmatch(path, "*.md"):
        return True
    return any(fnmatch.fnmatch(path, pattern) for pattern in NO_TENANT_PATTERNS if "/" in pattern)


def _tenant_of(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) >= 3 and parts[0] == TENANTS_DIR:
        return parts[1]
    return None


@dataclass(frozen=True)
class TenantGraph:
    """Which tenants each tenant's declarations read, from the files on disk."""

    upstream: Mapping[str, frozenset[str]]
    """Tenant -> the other tenants whose assets its declarations name."""
    unreadable: Mapping[str, str]
    """Tenant -> why its declarations could not be read (its upstream is unknown)."""

    def downstream(self, changed: Iterable[str]) -> dict[str, str]:
        """Every tenant reading a tenant of `changed`, transitively: slug -> the tenant it reads
        (the first found, for the message)."""
        found: dict[str, str] = {}
        frontier = list(changed)
        seen = set(frontier)
        while frontier:
            current = frontier.pop(0)
            for slug in sorted(self.upstream):
                if current in self.upstream[slug] and slug not in seen:
                    seen.add(slug)
                    found[slug] = current
                    frontier.append(slug)
        return found

    def with_upstream(self, slugs: Iterable[str]) -> list[str]:
        """`slugs` and every tenant they read, transitively, sorted (only tenants that exist)."""
        found: set[str] = set()
        frontier = list(slugs)
        while frontier:
            current = frontier.pop()
            if current in found or current not in self.upstream:
                continue
            found.add(current)
            frontier.extend(self.upstream[current])
        return sorted(found)


def _upstream_slugs(slug: str, tenant: Any) -> set[str]:
    from dagster_dynamic_tables.declarations.models import SourceTable

    keys: list[list[str]] = []
    for declaration in tenant.all():
        if not isinstance(declaration, SourceTable):
            keys += tenant.dep_keys(declaration)
        for test in getattr(declaration, "data_tests", ()):
            if test.relationships is not None:
                keys.append(list(test.relationships.to_key(tenant.slug)))
    return {key[0] for key in keys if len(key) > 1 and key[0] != slug}


def _read_tenant(root: Path, folder: TenantFolder) -> set[str]:
    from dagster_dynamic_tables.platform.plan.declared import load_declared_files

    upstream: set[str] = set()
    for file in load_declared_files(root, folder.slug):
        upstream |= _upstream_slugs(folder.slug, file.tenant)
    return upstream


def read_tenant_graph(root: Path) -> TenantGraph:
    """Every tenant's upstream tenants, read from its declaration files."""
    upstream: dict[str, frozenset[str]] = {}
    unreadable: dict[str, str] = {}
    for folder in discover_tenants(root):
        try:
            upstream[folder.slug] = frozenset(_read_tenant(root, folder))
        except (DynamicTablesError, OSError, ValueError) as e:
            upstream[folder.slug] = frozenset()
            unreadable[folder.slug] = " ".join(str(e).split()) or type(e).__name__
    return TenantGraph(upstream, unreadable)


@dataclass
class Affected:
    """The tenants a change touches (`tenants`, sorted), each with the reason (`reasons`)."""

    base: str
    merge_base: str
    tenants: list[str] = field(default_factory=lambda: list[str]())
    reasons: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    removed: list[str] = field(default_factory=lambda: list[str]())
    """Tenant folders the change deletes (or renames away): reported, not validated."""
    all_tenants: bool = False
    """Shared code changed: every tenant is affected."""
    shared_changes: list[str] = field(default_factory=lambda: list[str]())
    changed_files: int = 0

    def to_json(self) -> dict[str, Any]:
        """The `--format json` document (its keys are a contract for CI scripts)."""
        return {
            "base": self.base,
            "merge_base": self.merge_base,
            "all": self.all_tenants,
            "tenants": self.tenants,
            "removed": self.removed,
            "reasons": self.reasons,
            "shared_changes": self.shared_changes,
            "changed_files": self.changed_files,
        }

    def lines(self) -> list[str]:
        """The `--format text` report."""
        since = f"since {self.base} (merge base {self.merge_base[:12]}, working tree included)"
        if self.all_tenants:
            shown = ", ".join(self.shared_changes[:5])
            more = len(self.shared_changes) - 5
            shown += f" and {more} more" if more > 0 else ""
            head = f"every tenant ({len(self.tenants)}) is affected {since}: shared code changed: "
            lines = [head + shown]
        elif self.tenants:
            lines = [f"{len(self.tenants)} tenant(s) affected {since}:"]
            lines += [f"  {slug}: {self.reasons[slug]}" for slug in self.tenants]
        else:
            lines = [f"no tenant affected {since} ({self.changed_files} file(s) changed)"]
        lines += [
            f"removed: {slug} (its folder is gone: nothing to validate)" for slug in self.removed
        ]
        return lines


def affected_tenants(root: Path, base: str) -> Affected:
    """Which tenants the change since the merge base of `base` and HEAD touches (module
    docstring)."""
    changes = changed_files(root, base)
    existing = [folder.slug for folder in discover_tenants(root)]
    result = Affected(base, changes.merge_base, changed_files=len(changes.files))
    touched: set[str] = set()
    for change in changes.files:
        for path in change.paths:
            slug = _tenant_of(path)
            if slug is not None:
                touched.add(slug)
            elif not path.startswith(f"{TENANTS_DIR}/") and not _no_tenant(path):
                result.shared_changes.append(path)
    result.shared_changes = sorted(set(result.shared_changes))
    result.removed = sorted(slug for slug in touched if slug not in existing)
    if result.shared_changes:
        result.all_tenants = True
        result.tenants = existing
        result.reasons = dict.fromkeys(existing, "shared code changed")
        return result
    changed = sorted(slug for slug in touched if slug in existing)
    reasons = dict.fromkeys(changed, "its folder changed")
    graph = read_tenant_graph(root)
    for slug, reads in graph.downstream([*changed, *result.removed]).items():
        reasons.setdefault(slug, f"downstream of {reads}")
    if changed or result.removed:
        for slug, why in sorted(graph.unreadable.items()):
            reasons.setdefault(
                slug, f"its declarations do not load ({why}): what it reads is unknown"
            )
    result.reasons = dict(sorted(reasons.items()))
    result.tenants = sorted(reasons)
    return result
