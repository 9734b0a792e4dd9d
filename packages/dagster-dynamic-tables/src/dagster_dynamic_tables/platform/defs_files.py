"""A tenant's declaration files, found the way Dagster finds and loads them.

Dagster loads, in every folder under a project's `defs/`, the first of `defs.yaml`, `defs.yml`
and `component.yaml`, and resolves its `type:` as an import path: `package.module.Class`
(`.module.Class` is relative to the folder's own module), the class it names, subclasses
included. `plan`, `apply` and `tenants check` must see exactly the components the code
location builds: matching the `type:` text would miss
`dagster_dynamic_tables.definitions.component.DynamicTablesComponent` or a tenant's own
subclass, whose objects the location loads and watches all the same.

The two spellings of this package's class are known without an import; Dagster's own types are
never ours; anything else is imported (as the code location would) and checked with
`issubclass`, which costs the import of Dagster.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from dagster_dynamic_tables.errors import DeclarationError, DeclarationProblem
from dagster_dynamic_tables.platform.repo import TenantFolder

__all__ = ["DEFS_FILES", "OWN_TYPES", "DefsDocument", "declaration_documents", "defs_files"]

DEFS_FILES = ("defs.yaml", "defs.yml", "component.yaml")
"""Dagster's order of precedence: only the first that exists in a folder is loaded."""
COMPONENT_CLASS_PATH = "dagster_dynamic_tables.definitions.component.DynamicTablesComponent"
"""Where `DynamicTablesComponent` is defined (a test keeps it true)."""
OWN_TYPES = frozenset({"dagster_dynamic_tables.DynamicTablesComponent", COMPONENT_CLASS_PATH})


@dataclass(frozen=True)
class DefsDocument:
    """One declaration file of this package's component type (or a subclass)."""

    path: Path
    type: str
    attributes: Any
    lines: dict[str, int] = field(default_factory=lambda: dict[str, int]())
    """Line of each YAML path under `attributes:` (`dynamic_tables[1].name`)."""


def defs_files(folder: TenantFolder) -> Iterator[Path]:
    """The YAML file Dagster loads in each folder under the tenant's `defs/`, sorted."""
    base = folder.defs_dir
    if not base.is_dir():
        return
    folders = [base, *sorted(path for path in base.rglob("*") if path.is_dir())]
    for directory in folders:
        found = next(
            (directory / name for name in DEFS_FILES if (directory / name).is_file()), None
        )
        if found is not None:
            yield found


def _full_type(type_str: str, folder: TenantFolder, path: Path) -> str:
    """`.module.Class` -> `<slug>.defs.<folders>.module.Class`, as Dagster resolves it."""
    if not type_str.startswith("."):
        return type_str
    relative = path.parent.relative_to(folder.defs_dir).parts
    return ".".join([folder.slug, "defs", *relative]) + type_str


def is_own_type(type_str: str) -> bool:
    """Whether the (absolute) import path names DynamicTablesComponent or a subclass of it.

    Raises `ImportError` / `AttributeError` when the path names nothing importable."""
    if type_str in OWN_TYPES:
        return True
    module_name, _, attribute = type_str.rpartition(".")
    if not module_name or module_name == "dagster" or module_name.startswith("dagster."):
        return False  # Dagster's own components never subclass ours
    target: Any = getattr(importlib.import_module(module_name), attribute)
    # By the classes' import paths: the platform tooling never imports the Dagster layer itself
    # (import-linter); the tenant's module, imported above, has loaded the component already.
    return isinstance(target, type) and any(
        f"{base.__module__}.{base.__qualname__}" == COMPONENT_CLASS_PATH for base in target.__mro__
    )


def declaration_documents(
    folder: TenantFolder,
) -> tuple[list[DefsDocument], list[DeclarationError]]:
    """The tenant's declaration files of this package's component type (subclasses included),
    and an error per file whose YAML or `type:` cannot be read."""
    from dagster_dynamic_tables.declarations.loader import load_declaration_yaml

    documents: list[DefsDocument] = []
    problems: list[DeclarationError] = []
    for path in defs_files(folder):
        try:
            data, lines = load_declaration_yaml(path)  # bounded, never blocking (a FIFO)
        except (OSError, UnicodeDecodeError) as e:
            problem = DeclarationProblem("", f"cannot be read: {e}.", "check the file")
            problems.append(DeclarationError(path, [problem]))
            continue
        except DeclarationError as e:
            problems.append(e)
            continue
        if not isinstance(data, dict):
            continue  # Dagster reports it when the location loads
        mapping = cast("dict[str, Any]", data)
        type_value = mapping.get("type")
        if not isinstance(type_value, str):
            continue
        full = _full_type(type_value, folder, path)
        try:
            ours = is_own_type(full)
        except Exception as e:  # an import path that does not import: Dagster fails on it too
            problem = DeclarationProblem(
                "type",
                f"{type_value!r} cannot be resolved ({type(e).__name__}: {e}).",
                "name the component class by its import path, e.g. "
                "dagster_dynamic_tables.DynamicTablesComponent",
                lines.get("type"),
            )
            problems.append(DeclarationError(path, [problem]))
            continue
        if ours:
            prefix = "attributes."
            shifted = {k[len(prefix) :]: v for k, v in lines.items() if k.startswith(prefix)}
            documents.append(DefsDocument(path, type_value, mapping.get("attributes"), shifted))
    return documents, problems
