"""The platform repository as repo commands see it: its root, its tenants, the slug rule.

A tenant is a folder `tenants/<slug>/` holding a `pyproject.toml`; its code location is the module
`<slug>.definitions` in `tenants/<slug>/src/<slug>/`, its location name is `<slug>`. Only the
standard library: `tenants sync` and the template's hooks must stay fast.

The slug rule is written twice on purpose: here, and in the template's answer check
(`templates/tenant/tenant_answers.py`), which may only use the standard library and cookiecutter's
own dependencies (it runs before the tenant exists, possibly outside this repository's
environment). A test keeps the two equal.
"""

from __future__ import annotations

import keyword
import re
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from dagster_dynamic_tables.errors import RepoError

TENANTS_DIR = "tenants"
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_SLUG_LENGTH = 40
# Top-level names a tenant's package must not shadow: the repo's own folders, the platform's
# packages and the libraries every code location imports. The standard library is added below.
RESERVED_SLUGS = frozenset(
    {
        "packages",
        "tenants",
        "templates",
        "tests",
        "deploy",
        "dagster",
        "dagster_dynamic_tables",
        "dagster_snowflake",
        "dagster_webserver",
        "dagster_dg_cli",
        "local_snowflake",
        "snowflake",
        "fakesnow",
        "duckdb",
        "pydantic",
        "yaml",
        "sqlglot",
        "pytest",
        "cookiecutter",
    }
)


def show(value: str) -> str:
    """A value as messages quote it: whole when short, else its start and its length."""
    if len(value) <= 60:
        return repr(value)
    return f"{value[:40]!r}... ({len(value)} characters)"


def unknown_names(given: Iterable[str], known: Iterable[str]) -> tuple[list[str], list[str]]:
    """The names of `given` (tenants, code locations) that are not among `known`, in the order
    given, and the known ones sorted: what a message refusing them lists."""
    names = set(known)
    return [name for name in given if name not in names], sorted(names)


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot name a tenant, or None when it can."""
    if not SLUG_PATTERN.match(slug):
        return (
            f"tenant_slug {show(slug)} is not a lowercase Python identifier: use lowercase "
            "letters, digits and '_', starting with a letter (e.g. growth, data_science)"
        )
    if len(slug) > MAX_SLUG_LENGTH:
        return (
            f"tenant_slug {show(slug)} is {len(slug)} characters long: use at most "
            f"{MAX_SLUG_LENGTH} (it names a Python package, environment variables and a "
            "Kubernetes deployment)"
        )
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return f"tenant_slug {show(slug)} is a Python keyword: choose another name"
    if slug in RESERVED_SLUGS or slug in sys.stdlib_module_names:
        return (
            f"tenant_slug {show(slug)} is reserved (a folder of this repository, a package the "
            "platform imports or a standard-library module): choose another name, e.g. "
            f"{slug}_team"
        )
    return None


@dataclass(frozen=True)
class TenantFolder:
    """One tenant's folder: `tenants/<slug>/`."""

    slug: str
    path: Path

    @property
    def package_name(self) -> str:
        """The distribution name in the tenant's pyproject.toml."""
        data = tomllib.loads((self.path / "pyproject.toml").read_text(encoding="utf-8"))
        name = as_table(data.get("project")).get("name")
        return str(name) if name else self.slug

    @property
    def module(self) -> str:
        return f"{self.slug}.definitions"

    @property
    def defs_dir(self) -> Path:
        return self.path / "src" / self.slug / "defs"


def as_table(value: Any) -> dict[str, Any]:
    """`value` if it is a TOML table (or YAML mapping), else an empty one."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def relative_path(root: Path, path: Path) -> str:
    """`path` relative to the repository root `root` for messages, as given when outside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def write_atomically(path: Path, text: str) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def find_platform_root(start: Path) -> Path:
    """The nearest folder at or above `start` with a `tenants/` folder and a `pyproject.toml`
    declaring the uv workspace."""
    for folder in (start.resolve(), *start.resolve().parents):
        pyproject = folder / "pyproject.toml"
        if (folder / TENANTS_DIR).is_dir() and pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if "workspace" in as_table(as_table(data.get("tool")).get("uv")):
                return folder
    raise RepoError(
        f"{start.resolve()} is not inside the platform repository (no folder above it holds "
        "tenants/ and a pyproject.toml with [tool.uv.workspace]). Fix: run the command from "
        "the repository root."
    )


def discover_tenants(root: Path) -> list[TenantFolder]:
    """Every `tenants/<slug>/` with a pyproject.toml, sorted by slug. Folders without one (a
    half-removed tenant, a stray folder) are not tenants; `tenants check` names them."""
    base = root / TENANTS_DIR
    if not base.is_dir():
        return []
    found = [
        TenantFolder(path.name, path)
        for path in base.iterdir()
        if path.is_dir() and (path / "pyproject.toml").is_file()
    ]
    return sorted(found, key=lambda tenant: tenant.slug)


def stray_tenant_folders(root: Path) -> list[Path]:
    """Folders under tenants/ that are not tenants (no pyproject.toml), except hidden ones."""
    base = root / TENANTS_DIR
    if not base.is_dir():
        return []
    return sorted(
        path
        for path in base.iterdir()
        if path.is_dir()
        and not path.name.startswith((".", "_"))
        and not (path / "pyproject.toml").is_file()
    )
