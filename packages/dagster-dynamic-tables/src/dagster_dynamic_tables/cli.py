"""`dynamic-tables`: the platform's command line.

dynamic-tables local start [-w workspace.yaml]   start the stand-in, create every tenant's objects
dynamic-tables local status                      is the stand-in running, where
dynamic-tables local stop                        stop it
dynamic-tables tenants sync                      register every tenant under tenants/ (idempotent)
dynamic-tables tenants check                     registration drift, grants, cross-tenant conflicts
dynamic-tables tenants grant SLUG --schema DB.SCHEMA [--owner OWNER]   record a tenant's grants
dynamic-tables deploy render                     regenerate every deployment file
dynamic-tables plan [--tenant SLUG]              what apply would change (exit 1: changes pending)
dynamic-tables apply [--tenant SLUG] [--yes]     bring Snowflake in line with the declarations

Exit statuses (the same for every command, so scripts and CI can tell them apart):

0  ok: nothing pending, no findings
1  `plan`: changes pending; `tenants check`: findings
2  usage: an unknown command or option (argparse's own status)
3  `local status`: the stand-in is not running (the LSB `status` convention)
4  error: a bad declaration or settings file, Snowflake unreachable, a bad key file, a location
   `local start` could not load; `ERROR:` lines, never a traceback

Each command imports what it needs when it runs: `local status` and `tenants sync` must not pay
for Dagster and dagster-snowflake (about 10 s to import here), which only `local start` (it loads
the code locations) and `tenants check` (it reads their asset graphs) need.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from dagster_dynamic_tables.errors import DynamicTablesError

if TYPE_CHECKING:  # at run time imported where used: PyYAML would double `local status` time
    from dagster_dynamic_tables.platform.workspace import WorkspaceError, workspace_modules

__all__ = [
    "EXIT_ERROR",
    "EXIT_NOT_RUNNING",
    "EXIT_OK",
    "EXIT_PENDING",
    "EXIT_USAGE",
    "WorkspaceError",
    "build_parser",
    "main",
    "workspace_modules",
]

EXIT_OK = 0
EXIT_PENDING = 1
"""`plan`: changes pending; `tenants check`: findings (CI gates on it)."""
EXIT_USAGE = 2
"""argparse's status for an unknown command or option."""
EXIT_NOT_RUNNING = 3
"""`local status`: the stand-in is not running."""
EXIT_ERROR = 4
"""An expected error (declarations, settings, Snowflake unreachable): distinct from 1, which CI
reads as "changes pending"."""


def __getattr__(name: str) -> Any:
    """`WorkspaceError` and `workspace_modules`, re-exported on first use (they import PyYAML)."""
    if name in {"WorkspaceError", "workspace_modules"}:
        return getattr(importlib.import_module("dagster_dynamic_tables.platform.workspace"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _start(args: argparse.Namespace) -> int:
    from dagster_dynamic_tables.platform.workspace import workspace_modules
    from dagster_dynamic_tables.standin import (
        connect_stand_in,
        create_local_objects,
        local_stand_in_location,
        registered_tenants,
        start_stand_in,
    )

    workspace = cast("Path", args.workspace)
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
    with connect_stand_in(info) as conn:
        for tenant in registered_tenants():
            try:
                print(create_local_objects(conn, tenant, lock_dir=data_dir).summary())
            except DynamicTablesError as e:
                print(f"ERROR: {e}")
                failed += 1
    return EXIT_ERROR if failed else EXIT_OK


def _status(args: argparse.Namespace) -> int:
    del args
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
    return 0


def _stop(args: argparse.Namespace) -> int:
    del args
    from dagster_dynamic_tables.standin import local_stand_in_location, stop_stand_in

    data_dir, _port = local_stand_in_location(os.environ, Path.cwd())
    stopped = stop_stand_in(data_dir)
    print(
        "local Snowflake stand-in: stopped" if stopped else "local Snowflake stand-in: not running"
    )
    return 0


def _sync(args: argparse.Namespace) -> int:
    from dagster_dynamic_tables.platform.registration import sync_tenants
    from dagster_dynamic_tables.platform.repo import find_platform_root

    report = sync_tenants(find_platform_root(Path.cwd()), lock=not bool(args.no_lock))
    for line in report.lines():
        print(line)
    return 0


def _check(args: argparse.Namespace) -> int:
    del args
    import warnings

    from dagster import BetaWarning

    from dagster_dynamic_tables.platform.repo import find_platform_root
    from dagster_dynamic_tables.platform.tenant_check import check_tenants

    root = find_platform_root(Path.cwd())
    with warnings.catch_warnings():
        # Dagster 1.13.27 itself, once per location loaded: after `load_from_defs_folder` merges
        # definitions, `get_asset_checks_defs_by_key` re-wraps the checks with a beta parameter
        # (the pytest config filters the same warning). Nothing the user can act on.
        warnings.filterwarnings(
            "ignore",
            message="Parameter `execution_type` of function `AssetsDefinition.__init__`",
            category=BetaWarning,
        )
        findings = check_tenants(root)
    for finding in findings:
        print(f"ERROR: {finding}")
    if findings:
        count = len(findings)
        print(f"tenants check: {count} problem{'s' if count != 1 else ''} found")
        return 1
    print("tenants check: every tenant is registered, within its grants and free of conflicts")
    return 0


def _grant(args: argparse.Namespace) -> int:
    from dagster_dynamic_tables.platform.registration import record_grants
    from dagster_dynamic_tables.platform.repo import find_platform_root

    root = find_platform_root(Path.cwd())
    schemas = cast("list[str]", args.schema or [])
    changed = record_grants(root, cast("str", args.slug), schemas, owner=args.owner)
    print(f"grants.yaml: {'updated' if changed else 'unchanged'} for tenant {args.slug!r}")
    return 0


def _render(args: argparse.Namespace) -> int:
    del args
    from dagster_dynamic_tables.platform.deploy.render import render_deployments
    from dagster_dynamic_tables.platform.repo import find_platform_root

    root = find_platform_root(Path.cwd())
    written = render_deployments(root)
    for path in written:
        print(f"wrote {path.relative_to(root)}")
    print(f"deploy render: {len(written)} file{'s' if len(written) != 1 else ''} changed")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from dagster_dynamic_tables.platform.plan.apply import run_plan
    from dagster_dynamic_tables.platform.repo import find_platform_root

    return run_plan(find_platform_root(Path.cwd()), cast("str | None", args.tenant), sys.stdout)


def _apply(args: argparse.Namespace) -> int:
    from dagster_dynamic_tables.platform.plan.apply import confirm_on_terminal, run_apply
    from dagster_dynamic_tables.platform.repo import find_platform_root

    root = find_platform_root(Path.cwd())
    tenant = cast("str | None", args.tenant)
    return run_apply(root, tenant, bool(args.yes), sys.stdout, confirm_on_terminal)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynamic-tables", description=(__doc__ or "").split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the embedded Snowflake stand-in")
    actions = local.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="start it if needed and create tenants' objects")
    start.add_argument(
        "-w", "--workspace", type=Path, default=Path("workspace.yaml"), help="workspace file"
    )
    start.set_defaults(handler=_start)
    actions.add_parser("status", help="say whether it runs (exit 3 when not)").set_defaults(
        handler=_status
    )
    actions.add_parser("stop", help="stop it").set_defaults(handler=_stop)

    tenants = commands.add_parser("tenants", help="register and check the tenants under tenants/")
    tenant_actions = tenants.add_subparsers(dest="action", required=True)
    sync = tenant_actions.add_parser(
        "sync",
        help="bring workspace.yaml, the root pyproject, uv.lock, dg.toml, CODEOWNERS and the "
        "deployment files in line with tenants/ (idempotent)",
    )
    sync.add_argument(
        "--no-lock", action="store_true", help="do not run `uv lock` after changing pyproject.toml"
    )
    sync.set_defaults(handler=_sync)
    tenant_actions.add_parser(
        "check",
        help="report unregistered or stale tenants, conflicts between tenants and objects "
        "outside a tenant's grants (exit 1 when any)",
    ).set_defaults(handler=_check)
    grant = tenant_actions.add_parser(
        "grant", help="record in grants.yaml which schemas a tenant may declare objects in"
    )
    grant.add_argument("slug", help="the tenant's slug (its folder under tenants/)")
    grant.add_argument(
        "--schema",
        action="append",
        metavar="DATABASE.SCHEMA",
        help="a schema the tenant may declare objects in (repeatable; DATABASE.* for a whole "
        "database)",
    )
    grant.add_argument("--owner", help="the tenant's owner for CODEOWNERS (@org/team, e-mail)")
    grant.set_defaults(handler=_grant)

    deploy = commands.add_parser("deploy", help="per-tenant deployment files")
    deploy_actions = deploy.add_subparsers(dest="action", required=True)
    deploy_actions.add_parser(
        "render", help="regenerate every tenant's and the shared deployment files"
    ).set_defaults(handler=_render)

    plan = commands.add_parser(
        "plan",
        help="show, per declared object, what apply would do in Snowflake (exit 1 when changes "
        "are pending)",
    )
    plan.add_argument("--tenant", metavar="SLUG", help="only this tenant")
    plan.set_defaults(handler=_plan)
    apply = commands.add_parser(
        "apply",
        help="run the plan, upstream first; asks before anything that reinitializes; never "
        "drops an undeclared object",
    )
    apply.add_argument("--tenant", metavar="SLUG", help="only this tenant")
    apply.add_argument(
        "--yes", action="store_true", help="do not ask before changes that reinitialize"
    )
    apply.set_defaults(handler=_apply)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = cast("Callable[[argparse.Namespace], int]", args.handler)
    try:
        return handler(args)
    except DynamicTablesError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:
        # The stand-in's and the connector's errors (Snowflake unreachable, a statement refused),
        # matched by module so that commands which do not use them do not import them. Their
        # messages name the account and user, never a secret.
        from dagster_dynamic_tables.standin import is_stand_in_error

        if is_stand_in_error(e) or type(e).__module__.startswith("snowflake.connector"):
            print(f"ERROR: {e}", file=sys.stderr)
            return EXIT_ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())
