"""Reading environments.yaml: bounded safe YAML, then every name checked before it reaches SQL.

Environment names are lowercase identifiers (not starting with the branch prefix `pr_`); mapped
names are unquoted Snowflake identifiers (no quotes, `;`, spaces); no two declared databases map
onto one database; no database maps onto itself, onto a declared (prod) database, or onto one that
another environment uses; suffixes differ and are not a branch environment's (`_PR_...`). Each
refusal names the file, the YAML path, its line, the value and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from dagster_dynamic_tables.declarations.environments import (
    BRANCH_PREFIX,
    ClonedDynamicTables,
    Environment,
    Environments,
    environment_name_problem,
    is_branch_name,
)
from dagster_dynamic_tables.declarations.files import (
    MAX_DECLARATION_FILE_BYTES,
    FileRefusedError,
    read_bounded_file,
)
from dagster_dynamic_tables.declarations.loader import parse_declaration_yaml
from dagster_dynamic_tables.errors import DeclarationError, EnvironmentsError

__all__ = ["read_environments"]

_CLONED_CHOICES: tuple[ClonedDynamicTables, ...] = ("resume", "refresh_on_demand")
_UNQUOTED = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_SUFFIX = re.compile(r"[A-Za-z0-9_]+")
_ENV_KEYS = ("suffix", "databases", "warehouses", "role", "description")
_BRANCH_KEYS = ("base", "cloned_dynamic_tables")


def read_environments(path: Path) -> Environments:
    """Read and check environments.yaml (bounded, safe YAML); raise `EnvironmentsError`
    naming the file, the field, the value and the fix."""
    try:
        text = read_bounded_file(path, MAX_DECLARATION_FILE_BYTES, "MAX_DECLARATION_FILE_BYTES")
    except FileRefusedError as e:
        raise EnvironmentsError(f"{path} {e.reason}. Fix: {e.fix}.") from None
    try:
        data, lines = parse_declaration_yaml(text, file=path)
    except DeclarationError as e:
        raise EnvironmentsError(str(e)) from e
    return _Reader(path, lines).read(data)


class _Reader:
    def __init__(self, file: Path, lines: Mapping[str, int]) -> None:
        self.file = file
        self.lines = lines

    def fail(self, where: str, message: str, fix: str) -> EnvironmentsError:
        line = self.lines.get(where)
        at = f" (line {line})" if line is not None else ""
        return EnvironmentsError(f"{self.file}: {where}{at}: {message} Fix: {fix}.")

    def mapping(self, value: Any, where: str, what: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(where, f"must be a mapping of {what}; got {value!r:.60}.", what)
        return cast("Mapping[str, Any]", value)

    def read(self, data: Any) -> Environments:
        top = self.mapping(data, "", "environments: and branches:")
        unknown = sorted(set(map(str, top)) - {"environments", "branches"})
        if unknown:
            raise self.fail(
                unknown[0], "unknown key.", "the file holds environments: and branches: only"
            )
        listed = self.mapping(top.get("environments"), "environments", "name: settings")
        if not listed:
            raise self.fail(
                "environments",
                "no environment is listed.",
                "list at least `prod: {}` (the declarations as written)",
            )
        branches = self.mapping(top.get("branches"), "branches", "settings")
        cloned = self.cloned(branches)
        environments = {
            str(name): self.environment(str(name), settings, cloned)
            for name, settings in listed.items()
        }
        self.check_overlaps(environments)
        base = self.branch_base(branches, environments)
        return Environments(self.file, environments, base, cloned)

    def environment(self, name: str, settings: Any, cloned: ClonedDynamicTables) -> Environment:
        where = f"environments.{name}"
        problem = environment_name_problem(name)
        if problem is not None:
            raise self.fail(where, problem + ".", "rename the environment")
        if is_branch_name(name):
            raise self.fail(
                where,
                f"names starting with {BRANCH_PREFIX} are branch environments, made by "
                "`dynamic-tables env create`, not listed.",
                "choose another name",
            )
        values = self.mapping(settings, where, "suffix, databases, warehouses, role")
        for key in values:
            if key not in _ENV_KEYS:
                raise self.fail(f"{where}.{key}", "unknown key.", f"use {', '.join(_ENV_KEYS)}")
        suffix = values.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or not _SUFFIX.fullmatch(suffix)):
            raise self.fail(
                f"{where}.suffix",
                f"{suffix!r:.60} is not a database name suffix.",
                "use letters, digits and '_' only, e.g. _DEV",
            )
        databases = self.names(values.get("databases"), f"{where}.databases", "database")
        self.check_databases(where, databases)
        role = values.get("role")
        if role is not None:
            role = self.identifier(role, f"{where}.role", "role")
        return Environment(
            name=name,
            suffix=suffix.upper() if isinstance(suffix, str) else None,
            databases=databases,
            warehouses=self.names(values.get("warehouses"), f"{where}.warehouses", "warehouse"),
            role=role,
            cloned_dynamic_tables=cloned,
            file=self.file,
        )

    def identifier(self, value: Any, where: str, what: str) -> str:
        if not isinstance(value, str) or not _UNQUOTED.fullmatch(value) or len(value) > 255:
            raise self.fail(
                where,
                f"{value!r:.60} is not an unquoted Snowflake {what} name.",
                "use letters, digits, '_' and '$', starting with a letter or '_' (no quotes, "
                "spaces or ';')",
            )
        return value.upper()

    def names(self, value: Any, where: str, what: str) -> dict[str, str]:
        """A `declared: mapped` map of names, both resolved (upper case)."""
        result: dict[str, str] = {}
        for declared, mapped in self.mapping(value, where, f"declared {what}: its name").items():
            key = self.identifier(declared, f"{where}.{declared}", what)
            result[key] = self.identifier(mapped, f"{where}.{declared}", what)
        return result

    def check_databases(self, where: str, databases: Mapping[str, str]) -> None:
        onto: dict[str, str] = {}
        for declared, mapped in databases.items():
            if mapped == declared:
                raise self.fail(
                    f"{where}.databases.{declared}",
                    f"maps {declared} onto itself, the declared (prod) database.",
                    "map it to a database of this environment, or remove the environment's "
                    "mapping to use the declarations as written",
                )
            if mapped in databases:
                raise self.fail(
                    f"{where}.databases.{declared}",
                    f"maps {declared} onto {mapped}, which is a declared database itself.",
                    "map it to a database of its own",
                )
            if mapped in onto:
                raise self.fail(
                    f"{where}.databases.{declared}",
                    f"maps {declared} onto {mapped}, as {onto[mapped]} is: two declared "
                    "databases would share one.",
                    "map each declared database to a database of its own",
                )
            onto[mapped] = declared

    def check_overlaps(self, environments: Mapping[str, Environment]) -> None:
        declared = {name for env in environments.values() for name in env.databases}
        suffixes: dict[str, str] = {}
        used: dict[str, str] = {}
        for env in environments.values():
            where = f"environments.{env.name}"
            if env.suffix is not None:
                if env.suffix.startswith("_" + BRANCH_PREFIX.upper()):
                    raise self.fail(
                        f"{where}.suffix",
                        f"{env.suffix} is the suffix of branch environments "
                        f"({BRANCH_PREFIX}<id> uses _{BRANCH_PREFIX.upper()}<ID>).",
                        "choose another suffix",
                    )
                if env.suffix in suffixes:
                    raise self.fail(
                        f"{where}.suffix",
                        f"{env.suffix} is the suffix of {suffixes[env.suffix]!r} too: both "
                        "environments would use the same databases.",
                        "give each environment its own suffix",
                    )
                suffixes[env.suffix] = env.name
            for source, mapped in env.databases.items():
                if mapped in declared:
                    raise self.fail(
                        f"{where}.databases.{source}",
                        f"maps {source} onto {mapped}, a declared (prod) database.",
                        "map it to a database of this environment",
                    )
                if mapped in used and used[mapped] != env.name:
                    raise self.fail(
                        f"{where}.databases.{source}",
                        f"maps {source} onto {mapped}, which environment {used[mapped]!r} uses.",
                        "give each environment databases of its own",
                    )
                used[mapped] = env.name
        for env in environments.values():
            suffix = env.suffix
            if suffix is None:
                continue
            for source in declared:
                owner = used.get(source + suffix)
                if owner is not None and owner != env.name:
                    raise self.fail(
                        f"environments.{env.name}.suffix",
                        f"maps {source} onto {source + suffix}, which environment {owner!r} uses.",
                        "give each environment databases of its own",
                    )

    def cloned(self, branches: Mapping[str, Any]) -> ClonedDynamicTables:
        for key in branches:
            if key not in _BRANCH_KEYS:
                raise self.fail(f"branches.{key}", "unknown key.", f"use {', '.join(_BRANCH_KEYS)}")
        value = branches.get("cloned_dynamic_tables", "refresh_on_demand")
        if value not in _CLONED_CHOICES:
            raise self.fail(
                "branches.cloned_dynamic_tables",
                f"{value!r:.60} is not a choice.",
                "use resume or refresh_on_demand",
            )
        return value

    def branch_base(
        self, branches: Mapping[str, Any], environments: Mapping[str, Environment]
    ) -> str | None:
        if not branches:
            return None
        base = branches.get("base")
        if not isinstance(base, str) or base not in environments:
            raise self.fail(
                "branches.base",
                f"{base!r:.60} is not a listed environment.",
                f"name one of {', '.join(environments)}",
            )
        return base
