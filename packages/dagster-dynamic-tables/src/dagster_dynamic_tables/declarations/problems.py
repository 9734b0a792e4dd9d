"""Declaration problems in this package's words: pydantic's validation errors translated (YAML
path, bad value, what is allowed, the fix), and the line of each problem in the file.

Nothing of pydantic's own wording reaches the user. No YAML here: the Python builders
(`definitions.specs`) translate their errors through `translate_validation_error` too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from dagster_dynamic_tables.declarations.models import (
    FILE_SHELL_SCALARS,
    SECTIONS,
    FileShell,
    TenantDeclarations,
)
from dagster_dynamic_tables.errors import DeclarationProblem

_PARENT = re.compile(r"(?:\.[^.\[\]]+|\[\d+\])$")


def translate_validation_error(
    error: ValidationError, model: type[BaseModel], path: str
) -> list[DeclarationProblem]:
    """Pydantic's errors for `model` (validated at YAML path `path`) in this package's words."""
    return [_translate(details, model, path) for details in error.errors()]


def _translate(error: ErrorDetails, model: type[BaseModel], base: str) -> DeclarationProblem:
    loc = error["loc"]
    path = _join(base, loc)
    field = loc[0] if loc and isinstance(loc[0], str) else None
    kind = error["type"]
    value = error["input"]
    if kind == "extra_forbidden":
        return _unknown_key(path, str(loc[-1]), model)
    if kind == "missing":
        key = str(loc[-1])
        return DeclarationProblem(
            path,
            f"required key {key!r} is missing.",
            f"add `{key}: {_example(model, key) or '...'}` ({_description(model, key)})",
        )
    if kind == "literal_error":
        allowed = _literal_values(error)
        close = _case_match(value, allowed)
        return DeclarationProblem(
            path,
            f"{_show(value)} is not allowed; allowed: {', '.join(allowed)}.",
            f"write {close}" if close else f"use one of {', '.join(allowed)}",
        )
    if kind == "value_error":
        ctx = error.get("ctx") or {}
        text = str(ctx.get("error", error["msg"])).rstrip(".")
        return DeclarationProblem(path, f"{text}.", "")
    if kind in _EXPECTED:
        return DeclarationProblem(
            path,
            f"expected {_EXPECTED[kind]}, got {describe(value)}.",
            _type_fix(kind, model, field, loc),
        )
    return DeclarationProblem(path, f"{error['msg']} (got {describe(value)}).", "")


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "a boolean",
    "list_type": "a list",
    "model_type": "a mapping",
    "dict_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _type_fix(kind: str, model: type[BaseModel], field: str | None, loc: tuple[Any, ...]) -> str:
    if kind == "list_type":
        return f"write a YAML list, e.g. `{loc[-1]}: [a, b]` ({_description(model, field)})"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"write a mapping with the keys {', '.join(model.model_fields)}"
    if kind == "bool_type":
        return f"write true or false without quotes ({_description(model, field)})"
    if kind == "int_type":
        example = _example(model, field) if field is not None else None
        shown = f", e.g. `{field}: {example}`" if example else ""
        return f"write a whole number without quotes{shown} ({_description(model, field)})"
    example = _example(model, field) if field is not None and len(loc) == 1 else None
    shown = f", e.g. `{field}: {example}`" if example else f" ({_description(model, field)})"
    return f"write a string{shown}; quote a value that YAML reads as a number, boolean or null"


RENAMED_KEYS = {
    "immutable_where": (
        "frozen_where",
        "Snowflake renamed IMMUTABLE WHERE to FROZEN WHERE; the declarations use the new name only",
    ),
}
"""Keys under an old Snowflake name: the new name, and why."""


def _unknown_key(path: str, key: str, model: type[BaseModel]) -> DeclarationProblem:
    allowed = list(model.model_fields)
    renamed = RENAMED_KEYS.get(key.lower())
    if renamed is not None and renamed[0] in allowed:
        return DeclarationProblem(
            path,
            f"unknown key {key!r}; allowed keys: {', '.join(allowed)}.",
            f"write {renamed[0]!r} instead ({renamed[1]})",
        )
    close = difflib.get_close_matches(key.lower().replace("-", "_"), allowed, n=1, cutoff=0.6)
    owners = [
        section
        for section, other in SECTIONS.items()
        if other is not model and key in other.model_fields
    ]
    if close:
        fix = f"did you mean {close[0]!r}?"
    elif owners and model in SECTIONS.values():
        fix = (
            f"{key!r} belongs to {' and '.join(owners)} items: remove it, or declare the "
            f"object under {owners[0]}"
        )
    else:
        fix = "remove it or use one of the allowed keys"
    return DeclarationProblem(
        path, f"unknown key {key!r}; allowed keys: {', '.join(allowed)}.", fix
    )


def _field(model: type[BaseModel], field: str | None) -> FieldInfo | None:
    if field is None:
        return None
    if model is FileShell and field in FILE_SHELL_SCALARS:
        model = TenantDeclarations  # the shell's scalars are documented on the real model
    return model.model_fields.get(field)


def _description(model: type[BaseModel], field: str | None) -> str:
    info = _field(model, field)
    description = info.description if info is not None else None
    return (description or "see the package README").rstrip(".")


def _example(model: type[BaseModel], field: str | None) -> str | None:
    info = _field(model, field)
    examples = info.examples if info is not None else None
    return str(examples[0]) if examples else None


def _literal_values(error: ErrorDetails) -> list[str]:
    expected = str((error.get("ctx") or {}).get("expected", ""))
    return re.findall(r"'([^']*)'", expected)


def _case_match(value: Any, allowed: Sequence[str]) -> str | None:
    if not isinstance(value, str):
        return None
    for option in allowed:
        if option.replace(" ", "_").upper() == value.strip().replace(" ", "_").upper():
            return option
    return None


def _join(base: str, loc: tuple[int | str, ...]) -> str:
    path = base
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def describe(value: Any) -> str:
    """`an integer (60)`: the YAML type and the value, for messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def with_lines(
    problems: Sequence[DeclarationProblem], lines: Mapping[str, int]
) -> list[DeclarationProblem]:
    """`problems` with the line of their YAML path (else of its nearest parent that has one),
    in file order, file-wide problems last."""
    located: list[DeclarationProblem] = []
    for problem in problems:
        line = problem.line
        path = problem.path
        while line is None and path:
            line = lines.get(path)
            parent = _PARENT.sub("", path)
            path = parent if parent != path else ""
        located.append(
            DeclarationProblem(problem.path, problem.message, problem.fix, line)
            if line != problem.line
            else problem
        )
    # Read top to bottom: problems in file order, those without a line (file-wide) last.
    return sorted(located, key=lambda p: (p.line is None, p.line or 0))
