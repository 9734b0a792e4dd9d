"""What every `env` command needs before its first statement: the names checked, environments.yaml
read, the declarations loaded (mapped into the branch environment), and one bounded connection.

Every name a command is given is checked here, before any connection is opened: a hostile name
(`pr_7; DROP`, quotes, spaces) never reaches Snowflake. The connection follows the tenants'
rules (`plan.connect.connect_tenant`: `SNOWFLAKE_*`, overridable per tenant with `<SLUG>_`, the
local stand-in when no account is configured) with the first tenant in upstream order: in CI
that is the shared `SNOWFLAKE_*` settings (the workflow's secrets).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster_dynamic_tables.declarations.environments import (
    ENVIRONMENT_VARIABLE,
    ENVIRONMENTS_FILE,
    Environment,
    Environments,
    environment_name_problem,
    find_environments_file,
    is_branch_name,
    load_environments,
)
from dagster_dynamic_tables.errors import EnvironmentsError, PlanError
from dagster_dynamic_tables.platform.plan.connect import Target, connect_tenant
from dagster_dynamic_tables.platform.plan.declared import DeclaredFile, load_declared_files
from dagster_dynamic_tables.platform.repo import unknown_names

__all__ = [
    "Scope",
    "check_branch_name",
    "check_slugs",
    "load_scope",
    "open_connection",
    "with_upstream",
]


@dataclass(frozen=True)
class Scope:
    """The environments file, the branch environment, and every tenant's declarations mapped
    into it (upstream first)."""

    environments: Environments
    branch: Environment
    files: list[DeclaredFile]


def check_branch_name(name: str, command: str) -> None:
    """Refuse anything but a branch environment's name (`pr_<id>`), before any statement."""
    problem = environment_name_problem(name)
    if problem is not None:
        raise EnvironmentsError(
            f"env {command}: {problem}. Nothing was sent to Snowflake. Fix: name a branch "
            "environment pr_<id>, e.g. pr_7."
        )
    if not is_branch_name(name):
        raise EnvironmentsError(
            f"env {command}: {name!r} is not a branch environment: env {command} works on "
            "branch environments only, named pr_<id> (e.g. pr_7); listed environments (prod, "
            f"dev, ...) are made by apply and never dropped. Nothing was sent to Snowflake."
        )


def check_slugs(slugs: Sequence[str], files: Sequence[DeclaredFile]) -> None:
    """Refuse a --tenant that names no tenant."""
    unknown, known = unknown_names(slugs, (file.folder for file in files))
    if unknown:
        raise PlanError(
            f"no tenant {', '.join(repr(s[:60]) for s in unknown)} (tenants: "
            f"{', '.join(known) or 'none'}). Nothing was sent to Snowflake. Fix: pass a tenant's "
            "slug (its folder under tenants/) to --tenant."
        )


def with_upstream(files: Sequence[DeclaredFile], slugs: Sequence[str]) -> list[DeclaredFile]:
    """The files of the tenants `slugs` and of every tenant they read from (their Dynamic Tables
    and views name its assets in deps), in the files' order (upstream first); all files when
    `slugs` is empty. A branch database of a named tenant reads its upstream tenants' branch
    databases once re-pointed, so those are cloned too."""
    if not slugs:
        return list(files)
    wanted = set(slugs)
    for file in reversed(files):  # downstream first: a tenant adds the ones it reads
        if file.folder not in wanted:
            continue
        tenant = file.tenant
        for declaration in (*tenant.dynamic_tables, *tenant.views):
            wanted.update(key[0] for key in tenant.dep_keys(declaration))
    return [file for file in files if file.folder in wanted]


def load_environments_file(root: Path, environ: Mapping[str, str]) -> Environments:
    path = find_environments_file(root, environ)
    if path is None:
        raise EnvironmentsError(
            f"no {ENVIRONMENTS_FILE} at the repository root {root}: branch environments are "
            f"defined by its branches: section. Fix: add the file (see the README)."
        )
    return load_environments(path)


def load_scope(root: Path, name: str, environ: Mapping[str, str]) -> Scope:
    """environments.yaml and the declarations mapped into the branch environment `name`."""
    environments = load_environments_file(root, environ)
    branch = environments.get(name)
    selected = {**environ, ENVIRONMENT_VARIABLE: name}
    files = load_declared_files(root, None, selected)
    if not files:
        raise PlanError(f"no declared tenants under {root / 'tenants'}: nothing to clone.")
    return Scope(environments, branch, files)


@contextmanager
def open_connection(
    files: Sequence[DeclaredFile],
    root: Path,
    environ: Mapping[str, str],
    environment: Environment | None = None,
) -> Iterator[tuple[Any, Target]]:
    """A connection with the settings of the first tenant (upstream first), as `environment`
    sees them (its role and warehouses, as apply in it connects); see the module."""
    from dagster_dynamic_tables.sql.environments import environment_settings

    plain = {k: v for k, v in environ.items() if k != ENVIRONMENT_VARIABLE}
    settings = environment_settings(environment, files[0].tenant.slug, plain)
    with connect_tenant(files[0].tenant, root, settings) as (conn, target):
        yield conn, target
