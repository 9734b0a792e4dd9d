"""Environments: how the declared Snowflake names map in dev, staging, a pull request's clone.

Tenants declare their objects with fixed names (`ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE`) and
never name an environment. The platform team's `environments.yaml`, at the repository root, lists
the environments; each maps the declared databases to its own (`suffix: _DEV`, or an explicit
`databases:` map, which wins over the suffix), and may map warehouses (`warehouses:`) and the role
(`role:`). Unset, the selection means the declarations as written, and no file is needed.

Selection, in this order: `DYNAMIC_TABLES_ENVIRONMENT=<name>` (the CLI's `--environment` sets
it); else a Dagster+ branch deployment (`DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT=1`) selects the branch
environment `pr_<DAGSTER_CLOUD_PULL_REQUEST_ID>`; else nothing.

A branch environment (`pr_7`) is not listed: its databases are the declared ones with the suffix
`_PR_7` (zero-copy clones made by `dynamic-tables env create`), its warehouses and role those of
the file's `branches.base` environment.

The file is the platform's, not a tenant's: it is found through `DYNAMIC_TABLES_ENVIRONMENTS_FILE`
or at the repository root (the folder holding `workspace.yaml`), never in a tenant's folder. It is
read bounded and checked before any name in it reaches SQL: environment names are lowercase
identifiers, mapped names unquoted Snowflake identifiers (no quotes, `;` or spaces), no two
declared databases map onto one database, no database maps onto a declared (prod) one or onto a
database another environment uses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dagster_dynamic_tables.declarations.identifiers import (
    parse_identifier,
    parse_qualified_name,
)
from dagster_dynamic_tables.errors import EnvironmentsError

__all__ = [
    "BRANCH_DEPLOYMENT_VARIABLE",
    "BRANCH_PREFIX",
    "ENVIRONMENTS_FILE",
    "ENVIRONMENTS_FILE_VARIABLE",
    "ENVIRONMENT_VARIABLE",
    "PULL_REQUEST_VARIABLE",
    "ClonedDynamicTables",
    "Environment",
    "Environments",
    "current_environment",
    "environment_name_problem",
    "find_environments_file",
    "is_branch_name",
    "load_environments",
    "selected_environment_name",
]

ENVIRONMENT_VARIABLE = "DYNAMIC_TABLES_ENVIRONMENT"
"""Selects the environment by name; unset means the declarations as written."""
ENVIRONMENTS_FILE = "environments.yaml"
"""The platform team's file at the repository root (CODEOWNERS: platform)."""
ENVIRONMENTS_FILE_VARIABLE = "DYNAMIC_TABLES_ENVIRONMENTS_FILE"
"""Explicit path of the file (deployed images, which have no repository root)."""
BRANCH_DEPLOYMENT_VARIABLE = "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT"
"""Set to `1` by Dagster+ in a branch deployment."""
PULL_REQUEST_VARIABLE = "DAGSTER_CLOUD_PULL_REQUEST_ID"
"""The pull request's number, set by Dagster+ in a branch deployment."""
BRANCH_PREFIX = "pr_"
"""Branch environments are named `pr_<id>`; listed environments may not start with it."""
WORKSPACE_FILE = "workspace.yaml"
TENANTS_DIR = "tenants"
MAX_NAME_LENGTH = 40

ClonedDynamicTables = Literal["resume", "refresh_on_demand"]
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_BRANCH = re.compile(re.escape(BRANCH_PREFIX) + r"[a-z0-9][a-z0-9_]*")


@dataclass(frozen=True)
class Environment:
    """One environment: how each declared name maps in it. Maps nothing when it has no suffix,
    no `databases:`, no `warehouses:` and no role (`prod` in the shipped file)."""

    name: str
    is_branch: bool = False
    suffix: str | None = None
    databases: Mapping[str, str] = field(default_factory=dict[str, str], hash=False)
    """Declared database (as Snowflake resolves it, upper case) -> this environment's."""
    warehouses: Mapping[str, str] = field(default_factory=dict[str, str], hash=False)
    """Declared warehouse (resolved) -> this environment's; unlisted ones stay as declared."""
    role: str | None = None
    """Role override; None = the role the connection is configured with."""
    cloned_dynamic_tables: ClonedDynamicTables = "refresh_on_demand"
    file: Path | None = None
    """The environments.yaml this environment comes from (for messages)."""

    @property
    def maps_nothing(self) -> bool:
        """True when every name stays as declared."""
        return not (self.suffix or self.databases or self.warehouses or self.role)

    @property
    def maps_databases(self) -> bool:
        return bool(self.suffix or self.databases)

    def database(self, declared: str) -> str:
        """The environment's database for the declared one (identifier text as written): from
        `databases:`, else the declared name plus the suffix; raise `EnvironmentsError` when the
        environment has an explicit map without this database and no suffix."""
        if not self.maps_databases:
            return declared
        identifier = parse_identifier(declared)
        mapped = self.databases.get(identifier.resolved)
        if mapped is not None:
            return mapped
        if self.suffix is None:
            known = ", ".join(sorted(self.databases))
            raise EnvironmentsError(
                f"environment {self.name!r} ({self._where()}) does not map the database "
                f"{declared}: its databases: lists {known} and it has no suffix. Fix: add "
                f"{identifier.resolved} to environments.{self.name}.databases, or give the "
                "environment a suffix."
            )
        if identifier.quoted:
            name = identifier.resolved + self.suffix
            return '"' + name.replace('"', '""') + '"'
        return parse_identifier(identifier.resolved + self.suffix).text

    def table(self, qualified: str) -> str:
        """`DB.SCHEMA.NAME` with the database mapped (schema and name as written)."""
        name = parse_qualified_name(qualified)
        if not self.maps_databases:
            return qualified
        return f"{self.database(name.database.text)}.{name.schema.text}.{name.name.text}"

    def warehouse(self, declared: str) -> str:
        """The environment's warehouse for the declared one (unlisted: as declared)."""
        if not self.warehouses:
            return declared
        return self.warehouses.get(parse_identifier(declared).resolved, declared)

    def _where(self) -> str:
        return str(self.file) if self.file is not None else ENVIRONMENTS_FILE


@dataclass(frozen=True)
class Environments:
    """The parsed environments.yaml."""

    file: Path
    environments: Mapping[str, Environment]
    branch_base: str | None = None
    """The listed environment whose warehouses and role branch environments use; None when the
    file has no `branches:` section (then no branch environment exists)."""
    cloned_dynamic_tables: ClonedDynamicTables = "refresh_on_demand"

    def names(self) -> list[str]:
        """The listed environments, in the file's order."""
        return list(self.environments)

    def get(self, name: str) -> Environment:
        """A listed environment, or the branch environment `pr_<id>`; raise `EnvironmentsError`
        naming the known environments otherwise."""
        listed = self.environments.get(name)
        if listed is not None:
            return listed
        problem = environment_name_problem(name)
        if problem is None and is_branch_name(name):
            if self.branch_base is None:
                raise EnvironmentsError(
                    f"{name!r} names a branch environment, but {self.file} has no branches: "
                    "section. Fix: add `branches: {base: <environment>, cloned_dynamic_tables: "
                    "resume|refresh_on_demand}` to it."
                )
            base = self.environments[self.branch_base]
            return Environment(
                name=name,
                is_branch=True,
                suffix="_" + name.upper(),
                warehouses=base.warehouses,
                role=base.role,
                cloned_dynamic_tables=self.cloned_dynamic_tables,
                file=self.file,
            )
        known = ", ".join(self.names()) or "none"
        raise EnvironmentsError(
            f"unknown environment {name[:60]!r}: {self.file} lists {known}, and branch "
            f"environments are named {BRANCH_PREFIX}<id> (e.g. {BRANCH_PREFIX}7)."
            + (f" {problem}." if problem else "")
            + f" Fix: set {ENVIRONMENT_VARIABLE} (or --environment) to one of them."
        )


def is_branch_name(name: str) -> bool:
    """True for a branch environment's name (`pr_<id>`)."""
    return _BRANCH.fullmatch(name) is not None


def environment_name_problem(name: str) -> str | None:
    """Why `name` cannot name an environment, or None."""
    if not _NAME.fullmatch(name):
        return (
            f"{name[:60]!r} is not an environment name: use lowercase letters, digits and '_', "
            "starting with a letter"
        )
    if len(name) > MAX_NAME_LENGTH:
        return f"{name[:60]!r} is {len(name)} characters long: use at most {MAX_NAME_LENGTH}"
    return None


def load_environments(path: Path) -> Environments:
    """Read and check environments.yaml (bounded, safe YAML); raise `EnvironmentsError`
    naming the file, the field, the value and the fix (`environments_yaml`)."""
    # Imported here: environments_yaml builds this module's classes.
    from dagster_dynamic_tables.declarations.environments_yaml import read_environments

    return read_environments(path)


def selected_environment_name(environ: Mapping[str, str]) -> str | None:
    """`DYNAMIC_TABLES_ENVIRONMENT`; else `pr_<id>` in a Dagster+ branch deployment; else None.
    Raise `EnvironmentsError` for a malformed value."""
    value = environ.get(ENVIRONMENT_VARIABLE, "")
    if value:
        problem = environment_name_problem(value)
        if problem is not None:
            raise EnvironmentsError(
                f"{ENVIRONMENT_VARIABLE}: {problem}. Fix: set it to an environment listed in "
                f"{ENVIRONMENTS_FILE}, or unset it to use the declarations as written."
            )
        return value
    if environ.get(BRANCH_DEPLOYMENT_VARIABLE, "") != "1":
        return None
    pull_request = environ.get(PULL_REQUEST_VARIABLE, "")
    if not pull_request.isascii() or not pull_request.isdigit():
        raise EnvironmentsError(
            f"{BRANCH_DEPLOYMENT_VARIABLE}=1 (a Dagster+ branch deployment) but "
            f"{PULL_REQUEST_VARIABLE} is {pull_request[:40]!r}, not a pull request number: the "
            f"branch environment {BRANCH_PREFIX}<id> cannot be chosen. Fix: set "
            f"{ENVIRONMENT_VARIABLE} to the environment this deployment should use."
        )
    return f"{BRANCH_PREFIX}{int(pull_request)}"


def find_environments_file(start: Path, environ: Mapping[str, str]) -> Path | None:
    """`DYNAMIC_TABLES_ENVIRONMENTS_FILE`, else `environments.yaml` in the repository root (the
    first folder holding `workspace.yaml`, walking up from `start`); None when neither exists.
    A tenant's own folder is never searched: the file is the platform team's."""
    explicit = environ.get(ENVIRONMENTS_FILE_VARIABLE, "")
    if explicit:
        return Path(explicit)
    folder = start.absolute()
    for candidate in (folder, *folder.parents):
        if (candidate / WORKSPACE_FILE).is_file() and not _in_tenants_folder(candidate):
            found = candidate / ENVIRONMENTS_FILE
            return found if found.is_file() else None
    return None


def _in_tenants_folder(folder: Path) -> bool:
    """True inside a platform repository's `tenants/` folder: a workspace.yaml a tenant put in
    its own folder does not make it the root (its environments.yaml would remap its names)."""
    return any(
        parent.name == TENANTS_DIR and (parent.parent / WORKSPACE_FILE).is_file()
        for parent in folder.parents
    )


def current_environment(start: Path, environ: Mapping[str, str] = os.environ) -> Environment | None:
    """The selected environment (None: the declarations as written), read from the file found
    from `start`; raise `EnvironmentsError` when it cannot be."""
    name = selected_environment_name(environ)
    if name is None:
        return None
    path = find_environments_file(start, environ)
    if path is None:
        raise EnvironmentsError(
            f"{ENVIRONMENT_VARIABLE} selects environment {name!r}, but no {ENVIRONMENTS_FILE} "
            f"was found: searched the repository root (the folder holding {WORKSPACE_FILE}) "
            f"above {start.absolute()}. Fix: set {ENVIRONMENTS_FILE_VARIABLE} to the "
            f"file's path, or unset {ENVIRONMENT_VARIABLE} to use the declarations as written."
        )
    return load_environments(path).get(name)
