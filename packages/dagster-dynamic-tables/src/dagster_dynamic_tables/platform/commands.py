"""What each `dynamic-tables` command does and prints, and the exit status it returns (`cli`
parses the arguments and maps errors to statuses; the statuses themselves are in `exits`).

Each command imports what it needs when it runs: `local status` and `tenants sync` must not pay
for Dagster and dagster-snowflake (about 10 s to import here), nor for PyYAML or pydantic, which
only `local start` (it loads the code locations) and `tenants check` (it reads their asset graphs)
need.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from dagster_dynamic_tables.errors import DynamicTablesError
from dagster_dynamic_tables.platform.exits import (
    EXIT_ERROR,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    EXIT_PENDING,
)

__all__ = [
    "affected",
    "apply",
    "check_tenants",
    "dev",
    "env_create",
    "env_drop",
    "env_list",
    "grant",
    "local_start",
    "local_status",
    "local_stop",
    "plan",
    "render_deployments",
    "sync_tenants",
]


def local_start(workspace: Path) -> int:
    """`local start`: start the stand-in, load every code location of `workspace`, create every
    registered tenant's objects; every broken location and tenant is reported, not just the
    first."""
    from dagster_dynamic_tables.platform.workspace import workspace_modules
    from dagster_dynamic_tables.standin import (
        connect_stand_in,
        create_local_objects,
        local_stand_in_location,
        registered_environment,
        registered_tenants,
        start_stand_in,
    )

    modules = workspace_modules(workspace)  # a broken workspace stops us before anything starts
    data_dir, port = local_stand_in_location(os.environ, workspace.parent)
    info = start_stand_in(data_dir, port)
    print(
        f"local Snowflake stand-in: running on {info.host}:{info.port} (pid {info.pid}), "
        f"data in {info.data_dir}, log {info.log_file}"
    )
    failed = 0
    for location, module in modules:
        try:
            importlib.import_module(module)  # builds the location's definitions
        except Exception as e:  # report every broken location, not just the first
            print(f"ERROR: code location {location!r} ({module}) failed to load: {e}")
            failed += 1
    selected = [registered_environment(tenant.slug) for tenant in registered_tenants()]
    names = sorted({environment.name for environment in selected if environment is not None})
    if names:
        print(f"environment: {', '.join(names)} (objects under its names)")
    with connect_stand_in(info) as conn:
        for tenant in registered_tenants():
            try:
                environment = registered_environment(tenant.slug)
                report = create_local_objects(
                    conn, tenant, lock_dir=data_dir, environment=environment
                )
                print(report.summary())
            except DynamicTablesError as e:
                print(f"ERROR: {e}")
                failed += 1
    return EXIT_ERROR if failed else EXIT_OK


def local_status() -> int:
    """`local status`: whether the stand-in runs (`EXIT_NOT_RUNNING` when not)."""
    from dagster_dynamic_tables.standin import local_stand_in_location, stand_in_status

    data_dir, port = local_stand_in_location(os.environ, Path.cwd())
    info = stand_in_status(data_dir)
    if info is None:
        print(f"local Snowflake stand-in: not running (data dir {data_dir}, port {port})")
        return EXIT_NOT_RUNNING
    print(
        f"local Snowflake stand-in: running on {info.host}:{info.port} (pid {info.pid}), "
        f"data in {info.data_dir}"
    )
    return EXIT_OK


def local_stop() -> int:
    """`local stop`: stop the stand-in if it runs."""
    from dagster_dynamic_tables.standin import local_stand_in_location, stop_stand_in

    data_dir, _port = local_stand_in_location(os.environ, Path.cwd())
    stopped = stop_stand_in(data_dir)
    print(
        "local Snowflake stand-in: stopped" if stopped else "local Snowflake stand-in: not running"
    )
    return EXIT_OK


def _root() -> Path:
    from dagster_dynamic_tables.platform.repo import find_platform_root

    return find_platform_root(Path.cwd())


def sync_tenants(*, lock: bool) -> int:
    """`tenants sync`: register every tenant under tenants/ (`lock`: run `uv lock` after changing
    pyproject.toml)."""
    from dagster_dynamic_tables.platform.registration import sync_tenants as sync

    for line in sync(_root(), lock=lock).lines():
        print(line)
    return EXIT_OK


def check_tenants() -> int:
    """`tenants check`: one `ERROR:` line per finding (`EXIT_PENDING` when any)."""
    import warnings

    from dagster_dynamic_tables.platform.tenant_check import check_tenants as check

    root = _root()
    with warnings.catch_warnings():
        # Dagster 1.13.27 itself (a BetaWarning), once per location loaded: after
        # `load_from_defs_folder` merges definitions, `get_asset_checks_defs_by_key` re-wraps the
        # checks with a beta parameter (the pytest config filters the same warning). Nothing the
        # user can act on. Matched by its message: the platform tooling does not import Dagster.
        warnings.filterwarnings(
            "ignore", message="Parameter `execution_type` of function `AssetsDefinition.__init__`"
        )
        findings = check(root)
    for finding in findings:
        print(f"ERROR: {finding}")
    if findings:
        count = len(findings)
        print(f"tenants check: {count} problem{'s' if count != 1 else ''} found")
        return EXIT_PENDING
    print("tenants check: every tenant is registered, within its grants and free of conflicts")
    return EXIT_OK


def grant(slug: str, schemas: list[str], owner: str | None) -> int:
    """`tenants grant SLUG --schema DB.SCHEMA [--owner OWNER]`: record the tenant's grants."""
    from dagster_dynamic_tables.platform.grants import record_grants

    changed = record_grants(_root(), slug, schemas, owner=owner)
    print(f"grants.yaml: {'updated' if changed else 'unchanged'} for tenant {slug!r}")
    return EXIT_OK


def render_deployments() -> int:
    """`deploy render`: regenerate every deployment file, naming those that changed."""
    from dagster_dynamic_tables.platform.deploy.render import render_deployments as render

    root = _root()
    written = render(root)
    for path in written:
        print(f"wrote {path.relative_to(root)}")
    print(f"deploy render: {len(written)} file{'s' if len(written) != 1 else ''} changed")
    return EXIT_OK


def plan(tenant: str | None) -> int:
    """`plan [--tenant SLUG]` (see `plan.run.run_plan`)."""
    from dagster_dynamic_tables.platform.plan.run import run_plan

    return run_plan(_root(), tenant, sys.stdout)


def apply(tenant: str | None, *, yes: bool) -> int:
    """`apply [--tenant SLUG] [--yes]` (see `plan.run.run_apply`)."""
    from dagster_dynamic_tables.platform.plan.apply import confirm_on_terminal
    from dagster_dynamic_tables.platform.plan.run import run_apply

    return run_apply(_root(), tenant, yes, sys.stdout, confirm_on_terminal)


def affected(base: str, output_format: str) -> int:
    """`tenants affected --base REF [--format text|json]` (see `platform.affected`)."""
    import json

    from dagster_dynamic_tables.platform.affected import affected_tenants

    result = affected_tenants(_root(), base)
    if output_format == "json":
        print(json.dumps(result.to_json(), indent=2))
    else:
        for line in result.lines():
            print(line)
    return EXIT_OK


def dev(slugs: list[str], dagster_args: list[str]) -> int:
    """`dev SLUG... [-- dagster dev options]` (see `platform.dev`): never returns when
    `dagster dev` starts."""
    from dagster_dynamic_tables.platform.dev import run_dev

    return run_dev(_root(), slugs, dagster_args)


def env_create(name: str, source: str, tenants: list[str]) -> int:
    """`env create NAME --from ENV [--tenant SLUG ...]` (see `branches.create`)."""
    from dagster_dynamic_tables.platform.branches.create import create_branch

    return create_branch(_root(), name, source, tenants, os.environ, sys.stdout)


def env_drop(name: str) -> int:
    """`env drop NAME` (see `branches.drop`)."""
    from dagster_dynamic_tables.platform.branches.drop import drop_branch

    return drop_branch(_root(), name, os.environ, sys.stdout)


def env_list() -> int:
    """`env list` (see `branches.drop`)."""
    from dagster_dynamic_tables.platform.branches.drop import list_branches

    return list_branches(_root(), os.environ, sys.stdout)
