"""`dynamic-tables`: the platform's command line.

dynamic-tables local start [-w workspace.yaml]   start the stand-in, create every tenant's objects
dynamic-tables local status                      is the stand-in running, where
dynamic-tables local stop                        stop it
dynamic-tables tenants sync                      register every tenant under tenants/ (idempotent)
dynamic-tables tenants check                     registration drift, grants, cross-tenant conflicts
dynamic-tables tenants validate [SLUG...] [-w FILE]   Dagster's definitions validate, at once
dynamic-tables tenants grant SLUG --schema DB.SCHEMA [--owner OWNER]   record a tenant's grants
dynamic-tables tenants affected --base REF [--format text|json]   tenants a change touches
dynamic-tables dev SLUG... [-- DAGSTER_DEV_OPTIONS]   dagster dev with these tenants and upstream
dynamic-tables deploy render                     regenerate every deployment file
dynamic-tables plan [--tenant SLUG]              what apply would change (exit 1: changes pending)
dynamic-tables apply [--tenant SLUG] [--yes]     bring Snowflake in line with the declarations
dynamic-tables env create pr_7 --from dev [--tenant SLUG ...]   a branch environment of clones
dynamic-tables env drop pr_7                     drop exactly what env create made for it
dynamic-tables env list                          branch environments, their databases and age

`--environment NAME` (before the command) selects an environment of environments.yaml for every
command, as `DYNAMIC_TABLES_ENVIRONMENT=NAME` does (it sets that variable, so the code locations
and processes a command starts use it too).

Exit statuses (the same for every command, so scripts and CI can tell them apart):

0  ok: nothing pending, no findings
1  `plan`: changes pending; `tenants check`: findings; `tenants validate`: a location failed
2  usage: an unknown command or option (argparse's own status)
3  `local status`: the stand-in is not running (the LSB `status` convention)
4  error: a bad declaration or settings file, Snowflake unreachable, a bad key file, a location
   `local start` could not load; `ERROR:` lines, never a traceback

This module parses the arguments, dispatches and maps errors to statuses; what each command does
and prints is in `platform.commands`, which imports what a command needs when it runs (`local
status` and `tenants sync` must not pay for Dagster and dagster-snowflake).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from dagster_dynamic_tables.errors import DynamicTablesError
from dagster_dynamic_tables.platform import commands
from dagster_dynamic_tables.platform.exits import (
    EXIT_ERROR,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    EXIT_PENDING,
    EXIT_USAGE,
)

__all__ = [
    "EXIT_ERROR",
    "EXIT_NOT_RUNNING",
    "EXIT_OK",
    "EXIT_PENDING",
    "EXIT_USAGE",
    "build_parser",
    "main",
]


def _start(args: argparse.Namespace) -> int:
    return commands.local_start(cast("Path", args.workspace))


def _status(args: argparse.Namespace) -> int:
    del args
    return commands.local_status()


def _stop(args: argparse.Namespace) -> int:
    del args
    return commands.local_stop()


def _sync(args: argparse.Namespace) -> int:
    return commands.sync_tenants(lock=not bool(args.no_lock))


def _check(args: argparse.Namespace) -> int:
    del args
    return commands.check_tenants()


def _validate(args: argparse.Namespace) -> int:
    from dagster_dynamic_tables.platform.repo import find_platform_root
    from dagster_dynamic_tables.platform.validate import validate_locations

    root, workspace = find_platform_root(Path.cwd()), cast("Path | None", args.workspace)
    return validate_locations(root, cast("list[str]", args.slugs), workspace)


def _grant(args: argparse.Namespace) -> int:
    schemas = cast("list[str]", args.schema or [])
    return commands.grant(cast("str", args.slug), schemas, cast("str | None", args.owner))


def _affected(args: argparse.Namespace) -> int:
    return commands.affected(cast("str", args.base), cast("str", args.format))


def _dev(args: argparse.Namespace) -> int:
    passthrough = cast("list[str]", getattr(args, "dagster_args", []))
    return commands.dev(cast("list[str]", args.slugs), passthrough)


def _render(args: argparse.Namespace) -> int:
    del args
    return commands.render_deployments()


def _plan(args: argparse.Namespace) -> int:
    return commands.plan(cast("str | None", args.tenant))


def _apply(args: argparse.Namespace) -> int:
    return commands.apply(cast("str | None", args.tenant), yes=bool(args.yes))


def _env_create(args: argparse.Namespace) -> int:
    tenants = cast("list[str]", args.tenant or [])
    return commands.env_create(cast("str", args.name), cast("str", args.source), tenants)


def _env_drop(args: argparse.Namespace) -> int:
    return commands.env_drop(cast("str", args.name))


def _env_list(args: argparse.Namespace) -> int:
    del args
    return commands.env_list()


def _command(
    actions: Any, name: str, handler: Callable[[argparse.Namespace], int], help: str
) -> argparse.ArgumentParser:
    """The parser of one command under `actions` (a parser's subparsers), run by `handler`."""
    parser = cast("argparse.ArgumentParser", actions.add_parser(name, help=help))
    parser.set_defaults(handler=handler)
    return parser


def _group(commands: Any, name: str, help: str) -> Any:
    """A command group under `commands` (`local`, `tenants`, ...): the subparsers of its actions."""
    group = cast("argparse.ArgumentParser", commands.add_parser(name, help=help))
    return group.add_subparsers(dest="action", required=True)


def _add_local_parser(commands: Any) -> None:
    """`local start | status | stop`."""
    actions = _group(commands, "local", "the embedded Snowflake stand-in")
    start = _command(actions, "start", _start, "start it if needed and create tenants' objects")
    start.add_argument(
        "-w", "--workspace", type=Path, default=Path("workspace.yaml"), help="workspace file"
    )
    _command(actions, "status", _status, "say whether it runs (exit 3 when not)")
    _command(actions, "stop", _stop, "stop it")


def _add_tenants_parser(commands: Any) -> None:
    """`tenants sync | check | validate | grant | affected`."""
    actions = _group(commands, "tenants", "register and check the tenants under tenants/")
    sync = _command(
        actions,
        "sync",
        _sync,
        "bring workspace.yaml, the root pyproject, uv.lock, dg.toml, CODEOWNERS and the "
        "deployment files in line with tenants/ (idempotent)",
    )
    sync.add_argument(
        "--no-lock", action="store_true", help="do not run `uv lock` after changing pyproject.toml"
    )
    _command(
        actions,
        "check",
        _check,
        "report unregistered or stale tenants, conflicts between tenants and objects "
        "outside a tenant's grants (exit 1 when any)",
    )
    validate = _command(
        actions,
        "validate",
        _validate,
        "Dagster's `definitions validate` for each code location of workspace.yaml (or "
        "the named ones), several at once (DYNAMIC_TABLES_WORKERS, default the cores); exit 1 "
        "when one fails",
    )
    validate.add_argument("slugs", nargs="*", metavar="SLUG", help="only these tenants")
    validate.add_argument(
        "-w", "--workspace", type=Path, help="this workspace file's locations (default: the root's)"
    )
    grant = _command(
        actions,
        "grant",
        _grant,
        "record in grants.yaml which schemas a tenant may declare objects in",
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
    affected = _command(
        actions,
        "affected",
        _affected,
        "the tenants a change since --base touches (their folder changed, downstream of "
        "one that did, or every tenant when shared code changed); working tree included",
    )
    affected.add_argument(
        "--base", required=True, metavar="REF", help="the git ref to compare with (origin/main)"
    )
    affected.add_argument("--format", choices=("text", "json"), default="text")


def _add_plan_parsers(commands: Any) -> None:
    """`plan` and `apply`."""
    plan = _command(
        commands,
        "plan",
        _plan,
        "show, per declared object, what apply would do in Snowflake (exit 1 when changes "
        "are pending)",
    )
    plan.add_argument("--tenant", metavar="SLUG", help="only this tenant")
    apply = _command(
        commands,
        "apply",
        _apply,
        "run the plan, upstream first; asks before anything that reinitializes; never "
        "drops an undeclared object",
    )
    apply.add_argument("--tenant", metavar="SLUG", help="only this tenant")
    apply.add_argument(
        "--yes", action="store_true", help="do not ask before changes that reinitialize"
    )


def _add_env_parser(commands: Any) -> None:
    """`env create | drop | list`."""
    actions = _group(
        commands, "env", "branch environments: zero-copy clones of an environment's databases"
    )
    create = _command(
        actions,
        "create",
        _env_create,
        "clone every database the source environment uses (upstream first), re-point the "
        "cloned Dynamic Tables and resume them or leave them for refreshes on demand",
    )
    create.add_argument("name", help="the branch environment, pr_<id> (e.g. pr_7)")
    create.add_argument(
        "--from", dest="source", required=True, metavar="ENV", help="the environment to clone"
    )
    create.add_argument(
        "--tenant",
        action="append",
        metavar="SLUG",
        help="only this tenant's databases (repeatable)",
    )
    drop = _command(
        actions, "drop", _env_drop, "drop exactly the databases env create made for it (idempotent)"
    )
    drop.add_argument("name", help="the branch environment, pr_<id>")
    _command(actions, "list", _env_list, "the branch environments, their databases and age")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynamic-tables", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--environment",
        metavar="NAME",
        help="the environment of environments.yaml to work in (sets DYNAMIC_TABLES_ENVIRONMENT; "
        "default: that variable, else the declarations as written)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_local_parser(commands)
    _add_tenants_parser(commands)
    dev = _command(
        commands,
        "dev",
        _dev,
        "dagster dev with these tenants and the tenants upstream of them (options after "
        "`--` go to dagster dev, e.g. -- -p 3001)",
    )
    dev.add_argument(
        "slugs", nargs="+", metavar="SLUG", help="a tenant (its folder under tenants/)"
    )
    deploy = _group(commands, "deploy", "per-tenant deployment files")
    _command(deploy, "render", _render, "regenerate every tenant's and the shared deployment files")
    _add_plan_parsers(commands)
    _add_env_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    split = given.index("--") if "--" in given else -1
    if split >= 0 and "dev" in given[:split]:  # `[--environment X] dev SLUG... -- <options>`
        given, passthrough = given[:split], given[split + 1 :]
    args = build_parser().parse_args(given)
    if passthrough:
        args.dagster_args = passthrough
    handler = cast("Callable[[argparse.Namespace], int]", args.handler)
    try:
        if args.environment is not None:
            _select_environment(cast("str", args.environment))
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


def _select_environment(name: str) -> None:
    """`--environment NAME`: the same selection as `DYNAMIC_TABLES_ENVIRONMENT=NAME`."""
    import os

    from dagster_dynamic_tables.declarations.environments import (
        ENVIRONMENT_VARIABLE,
        environment_name_problem,
    )
    from dagster_dynamic_tables.errors import EnvironmentsError

    problem = environment_name_problem(name)
    if problem is not None:
        raise EnvironmentsError(f"--environment: {problem}.")
    os.environ[ENVIRONMENT_VARIABLE] = name


if __name__ == "__main__":
    sys.exit(main())
