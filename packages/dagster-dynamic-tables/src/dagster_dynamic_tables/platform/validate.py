"""`tenants validate [SLUG...]`: Dagster's own `definitions validate`, one code location at a
time, several at once.

`dagster definitions validate -w workspace.yaml` starts one code server per location, one after
the other, and each fresh process imports Dagster and dagster-snowflake again (about 10 s a
location here: 170 s for 20 tenants). This command runs the same `dagster` entry point with
`definitions validate -w <a workspace of that one location>` in a child forked after those
imports (`platform.parallel`): Dagster loads the one location in the child's own process, checks
it and logs its verdict as it always does; the children run as many at once as there are cores
(`DYNAMIC_TABLES_WORKERS`), each within `DYNAMIC_TABLES_LOAD_TIMEOUT` seconds. Each location's
log is printed whole, in workspace order, then one summary line. The first location validates
alone: it creates the instance's storage (`DAGSTER_HOME`), which several processes creating it at
once would race on.

What it does not do: Dagster's workspace-wide check of partition mappings between assets of
different locations (each child sees one location; the tenants declare no partitions today).
`dagster definitions validate -w workspace.yaml` still does it, and stays the contract's command.
Only `python_module` entries are validated (as `local start` loads them).
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from dagster_dynamic_tables.errors import WorkspaceError
from dagster_dynamic_tables.platform.parallel import Outcome, run_forked, settings_from_env
from dagster_dynamic_tables.platform.registration import WORKSPACE_FILE
from dagster_dynamic_tables.platform.repo import unknown_names
from dagster_dynamic_tables.platform.tenant_views import LOCATION_PRELOAD
from dagster_dynamic_tables.platform.workspace import workspace_modules

__all__ = ["validate_locations"]


@dataclass(frozen=True)
class _Location:
    name: str
    module: str
    workspace: Path
    """A workspace file of this one location."""
    log: Path
    """Where the child writes what Dagster prints."""


def validate_locations(root: Path, names: Sequence[str] = (), workspace: Path | None = None) -> int:
    """Validate every `python_module` location of `workspace` (default: the root's
    workspace.yaml), or only `names`; print each one's log in workspace order and a summary; 0
    when all passed, else 1."""
    workers, timeout = settings_from_env(os.environ)
    dagster = _dagster_entry_point()
    path = workspace or root / WORKSPACE_FILE
    modules = _selected(path, workspace_modules(path), names)
    with tempfile.TemporaryDirectory(prefix="dynamic_tables_validate_") as tmp:
        locations = [_write_location(Path(tmp), name, module) for name, module in modules]

        def run(batch: list[_Location]) -> list[Outcome[_Location]]:
            return run_forked(
                batch,
                lambda location: _validate_in_child(dagster, location),
                workers=workers,
                timeout=timeout,
                preload=(*LOCATION_PRELOAD, dagster.module),
            )

        # First alone (see the module docstring; SQLite: "table runs already exists").
        outcomes = run(locations[:1]) + run(locations[1:])
        failed: list[str] = []
        for outcome in outcomes:
            location = outcome.item
            sys.stdout.write(location.log.read_text(encoding="utf-8", errors="replace"))
            if outcome.failure is not None:
                print(
                    f"ERROR: code location {location.name!r} ({location.module}): validation "
                    f"{outcome.failure}."
                )
            if outcome.failure is not None or outcome.value != 0:
                failed.append(location.name)
    if failed:
        print(
            f"tenants validate: {len(failed)} of {len(locations)} code locations failed: "
            f"{', '.join(failed)}"
        )
        return 1
    count = len(locations)
    print(f"tenants validate: {count} code location{'s' if count != 1 else ''} passed")
    return 0


def _dagster_entry_point() -> EntryPoint:
    """The `dagster` command's entry point (what `uv run dagster` runs)."""
    found = entry_points(group="console_scripts", name="dagster")
    if not found:
        raise WorkspaceError(
            "The `dagster` command is not installed in this environment. Fix: run `uv sync`."
        )
    return next(iter(found))


def _selected(
    path: Path, modules: list[tuple[str, str]], names: Sequence[str]
) -> list[tuple[str, str]]:
    if not names:
        return modules
    unknown, known = unknown_names(names, (name for name, _module in modules))
    if unknown:
        raise WorkspaceError(
            f"{path.name} has no code location {', '.join(map(repr, unknown))} (it has "
            f"{', '.join(known) or 'none'}). Fix: name registered tenants, or run "
            "`uv run dynamic-tables tenants sync` after adding one."
        )
    return [(name, module) for name, module in modules if name in set(names)]


def _write_location(tmp: Path, name: str, module: str) -> _Location:
    workspace = tmp / f"{name}.yaml"
    workspace.write_text(
        "load_from:\n"
        "  - python_module:\n"
        f"      module_name: {module}\n"
        f"      location_name: {name}\n",
        encoding="utf-8",
    )
    log = tmp / f"{name}.log"
    log.touch()
    return _Location(name, module, workspace, log)


def _validate_in_child(dagster: EntryPoint, location: _Location) -> int:
    """`dagster definitions validate -w <location's workspace>`, its output into the log; its
    exit status."""
    fd = os.open(location.log, os.O_WRONLY | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # Python's streams onto those descriptors, whatever they were (a test's capture, say).
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.argv = ["dagster", "definitions", "validate", "-w", str(location.workspace)]
    warnings.simplefilter("default")  # as the `dagster` command shows them, whatever the caller's
    try:
        dagster.load()()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0
