"""`dynamic-tables`: the platform's command line.

dynamic-tables local start [-w workspace.yaml]   start the stand-in, create every tenant's objects
dynamic-tables local status                      is the stand-in running, where
dynamic-tables local stop                        stop it
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import local_snowflake
import yaml

from dagster_dynamic_tables.errors import DynamicTablesError
from dagster_dynamic_tables.local import create_local_objects, registered_tenants
from dagster_dynamic_tables.resources import local_stand_in_location


class WorkspaceError(DynamicTablesError):
    """workspace.yaml is missing or malformed."""


def workspace_modules(path: Path) -> list[tuple[str, str]]:
    """(location name, module name) of every `python_module` entry of a workspace file."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise WorkspaceError(
            f"Cannot read {path}: {e.strerror or e}. Fix: run from the repository root or pass "
            "--workspace PATH."
        ) from e
    except yaml.YAMLError as e:
        raise WorkspaceError(f"{path} is not valid YAML: {e}") from e
    entries: Any = cast("dict[str, Any]", data).get("load_from") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise WorkspaceError(f"{path}: expected a top-level 'load_from' list of code locations.")
    modules: list[tuple[str, str]] = []
    for index, entry in enumerate(cast("list[Any]", entries)):
        spec: Any = (
            cast("dict[str, Any]", entry).get("python_module") if isinstance(entry, dict) else None
        )
        if spec is None:
            continue  # grpc_server and other entries are deployed elsewhere
        if isinstance(spec, str):
            modules.append((spec, spec))
            continue
        fields = cast("dict[str, Any]", spec) if isinstance(spec, dict) else {}
        module: Any = fields.get("module_name")
        if not isinstance(module, str):
            raise WorkspaceError(
                f"{path}: load_from[{index}].python_module needs a module_name string."
            )
        modules.append((str(fields.get("location_name", module)), module))
    return modules


def _start(workspace: Path) -> int:
    modules = workspace_modules(workspace)  # a broken workspace stops us before anything starts
    data_dir, port = local_stand_in_location(os.environ, workspace.parent)
    info = local_snowflake.ensure_server(data_dir, port)
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
    with local_snowflake.connect(host=info.host, port=info.port) as conn:
        for tenant in registered_tenants():
            try:
                print(create_local_objects(conn, tenant, lock_dir=data_dir).summary())
            except DynamicTablesError as e:
                print(f"ERROR: {e}")
                failed += 1
    return 1 if failed else 0


def _status() -> int:
    data_dir, port = local_stand_in_location(os.environ, Path.cwd())
    info = local_snowflake.server_status(data_dir)
    if info is None:
        print(f"local Snowflake stand-in: not running (data dir {data_dir}, port {port})")
        return 3
    print(
        f"local Snowflake stand-in: running on {info.host}:{info.port} (pid {info.pid}), "
        f"data in {info.data_dir}"
    )
    return 0


def _stop() -> int:
    data_dir, _port = local_stand_in_location(os.environ, Path.cwd())
    stopped = local_snowflake.stop_server(data_dir)
    print(
        "local Snowflake stand-in: stopped" if stopped else "local Snowflake stand-in: not running"
    )
    return 0


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
    actions.add_parser("status", help="say whether it runs (exit 3 when not)")
    actions.add_parser("stop", help="stop it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.action == "start":
            return _start(cast("Path", args.workspace))
        if args.action == "status":
            return _status()
        return _stop()
    except (DynamicTablesError, local_snowflake.LocalSnowflakeError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
