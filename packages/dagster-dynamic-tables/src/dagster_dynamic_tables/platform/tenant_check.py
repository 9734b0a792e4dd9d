"""`tenants check`: what keeps tenants from stepping on each other, one line per finding.

Each line names the tenant, the file and the fix. Checked:

- registration: every tenant under `tenants/` is registered (workspace.yaml, the root
  pyproject's dev group and uv sources, dg.toml, CODEOWNERS, uv.lock, deployment files) and nothing
  stale is; every tenant has an entry in grants.yaml and no entry lacks a tenant;
- declarations: each tenant's `defs.yaml` of the component type (found as Dagster resolves
  `type:`, subclasses and the `dagster_dynamic_tables.definitions.component` path included;
  see `platform.defs_files`)
  loads, names its own slug, and declares objects only in the schemas grants.yaml gives it; the
  same for every object with `snowflake_table` metadata in the loaded code location;
- queries: every table a Dynamic Table's or view's query reads (sqlglot, Snowflake dialect; see
  `sql.lineage`) is among its deps, so the lineage graph shows what Snowflake reads; a query that
  cannot be parsed is a finding too;
- across tenants: no asset key and no Snowflake object is declared by two tenants (Dagster
  silently merges duplicate keys across code locations, picking one by location name: this check
  is what stops it), every dependency names a key some tenant declares, there is no cycle
  through several tenants, and no asset group name is used by two tenants (the global lineage
  page draws one box per group name, across code locations: a shared name mixes the teams);
- data tests: a `relationships` target in another tenant is an asset that tenant declares, with
  the table it declares for it; an `sql` test reads declared objects or objects in the tenant's
  grants (`tenant_data_tests`).

Asset keys and deps come from each code location's definitions (Python assets included), so this
imports every tenant: the one repo command that pays for Dagster (once: the locations load in
forked children, several at once, see `platform.parallel`). This module checks the
registration; `tenant_views` loads what each tenant declares, `tenant_conflicts` checks it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from dagster_dynamic_tables.errors import RegistrationError
from dagster_dynamic_tables.platform.grants import GRANTS_FILE, Grants, load_grants
from dagster_dynamic_tables.platform.parallel import settings_from_env
from dagster_dynamic_tables.platform.registration import (
    CODEOWNERS_FILE,
    DG_FILE,
    PYPROJECT_FILE,
    WORKSPACE_FILE,
    expected_files,
    uv_command,
)
from dagster_dynamic_tables.platform.repo import (
    TenantFolder,
    discover_tenants,
    relative_path,
    slug_problem,
    stray_tenant_folders,
)
from dagster_dynamic_tables.platform.tenant_conflicts import declaration_findings
from dagster_dynamic_tables.platform.tenant_views import load_tenant_views

__all__ = ["SYNC_FIX", "check_tenants"]

SYNC_FIX = "run `uv run dynamic-tables tenants sync`"
_REGISTRATION_FILES = {
    WORKSPACE_FILE: "workspace.yaml (its code locations)",
    PYPROJECT_FILE: "the root pyproject.toml (dev group and [tool.uv.sources])",
    DG_FILE: "dg.toml (the dg workspace's projects)",
    CODEOWNERS_FILE: ".github/CODEOWNERS",
}


def check_tenants(
    root: Path, *, workers: int | None = None, timeout: float | None = None
) -> list[str]:
    """Every finding, one line each (empty when all is well), in the same order whatever the
    number of `workers` loading code locations at once, each within `timeout` seconds (defaults:
    `DYNAMIC_TABLES_WORKERS` / `DYNAMIC_TABLES_LOAD_TIMEOUT`, else the cores available and 180 s;
    see `platform.parallel`)."""
    default_workers, default_timeout = settings_from_env(os.environ)
    workers, timeout = workers or default_workers, timeout or default_timeout
    findings: list[str] = []
    tenants = discover_tenants(root)
    findings += _registration(root, tenants)
    try:
        grants = load_grants(root)
    except RegistrationError as e:
        return [*findings, str(e)]
    findings += _grant_entries(grants, tenants)
    views = load_tenant_views(root, tenants, findings, workers=workers, timeout=timeout)
    return findings + declaration_findings(root, grants, views)


def _registration(root: Path, tenants: Sequence[TenantFolder]) -> list[str]:
    findings: list[str] = []
    for folder in stray_tenant_folders(root):
        where = relative_path(root, folder)
        findings.append(
            f"{where} is under tenants/ but has no pyproject.toml, so it is not a "
            "tenant. Fix: generate tenants with `uv run cookiecutter templates/tenant`, or remove "
            "the folder."
        )
    for tenant in tenants:
        problem = slug_problem(tenant.slug)
        if problem:
            findings.append(f"tenant {tenant.slug!r} (tenants/{tenant.slug}): {problem}.")
    try:
        expected = expected_files(root)
    except (OSError, RegistrationError) as e:
        return [*findings, f"cannot work out the registration files: {e}"]
    slugs = {tenant.slug for tenant in tenants}
    registered = _registered_slugs(root)
    for slug in sorted(slugs - registered):
        findings.append(
            f"tenant {slug!r} (tenants/{slug}) is not registered in workspace.yaml, so "
            f"`dagster dev` does not load it. Fix: {SYNC_FIX}."
        )
    for slug in sorted(registered - slugs):
        findings.append(
            f"workspace.yaml registers tenant {slug!r}, but tenants/{slug} does not exist "
            f"(a stale tenant). Fix: {SYNC_FIX}."
        )
    for relative, text in expected.items():
        path = root / relative
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text or (relative == WORKSPACE_FILE and slugs != registered):
            continue  # equal, or the workspace's missing and stale tenants are named above
        state = "is missing" if current is None else "is out of line with tenants/"
        findings.append(f"{_REGISTRATION_FILES[relative]} {state}. Fix: {SYNC_FIX}.")
    findings += _lock_check(root)
    findings += _deployments(root)
    return findings


def _registered_slugs(root: Path) -> set[str]:
    from dagster_dynamic_tables.errors import WorkspaceError
    from dagster_dynamic_tables.platform.workspace import workspace_modules

    try:
        return {location for location, _module in workspace_modules(root / WORKSPACE_FILE)}
    except WorkspaceError:
        return set()


def _lock_check(root: Path) -> list[str]:
    uv = uv_command()
    if uv is None:
        return []
    result = subprocess.run(
        [uv, "lock", "--check", "--quiet"], cwd=root, capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        return []
    return [f"uv.lock is out of date with the pyproject.toml files. Fix: {SYNC_FIX}."]


def _deployments(root: Path) -> list[str]:
    from dagster_dynamic_tables.platform.deploy.render import check_deployments

    return list(check_deployments(root))


def _grant_entries(grants: Grants, tenants: Sequence[TenantFolder]) -> list[str]:
    slugs = {tenant.slug for tenant in tenants}
    findings = [
        f"tenant {slug!r} (tenants/{slug}) has no entry in {GRANTS_FILE}, so it may declare "
        f"nothing. Fix: the platform team runs `uv run dynamic-tables tenants grant {slug} "
        "--schema DATABASE.SCHEMA --owner @org/team`."
        for slug in sorted(slugs - set(grants.tenants))
    ]
    findings += [
        f"{GRANTS_FILE} has an entry for tenant {slug!r}, but tenants/{slug} does not exist. "
        f"Fix: remove the entry from {GRANTS_FILE}."
        for slug in sorted(set(grants.tenants) - slugs)
    ]
    return findings
