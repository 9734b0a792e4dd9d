"""`workspace.yaml`: the code locations Dagster loads, one per tenant.

`workspace_modules` reads one (for `dynamic-tables local start`); `render_workspace` writes the
file `tenants sync` keeps in line with `tenants/`. Only the standard library and PyYAML: repo
commands must not pay for importing Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import yaml

from dagster_dynamic_tables.errors import WorkspaceError

WORKSPACE_HEADER = (
    "# One code location per tenant, kept in line with tenants/ by\n"
    "# `uv run dynamic-tables tenants sync` (the template runs it): do not edit by hand.\n"
)


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


def render_workspace(slugs: Sequence[str]) -> str:
    """The development workspace: one `python_module` location per tenant, sorted."""
    lines = [WORKSPACE_HEADER.rstrip("\n"), "load_from:"]
    for slug in sorted(slugs):
        lines += [
            "  - python_module:",
            f"      module_name: {slug}.definitions",
            f"      location_name: {slug}",
        ]
    if not slugs:
        lines[-1] = "load_from: []"
    return "\n".join(lines) + "\n"


def render_generated_workspace(slugs: Sequence[str], header: str) -> str:
    """A workspace of some tenants only, generated outside git (`dev`, the CI's validation on a
    branch): `header` (comment lines) says who wrote it and why, instead of WORKSPACE_HEADER."""
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    return comments + render_workspace(slugs).removeprefix(WORKSPACE_HEADER)
