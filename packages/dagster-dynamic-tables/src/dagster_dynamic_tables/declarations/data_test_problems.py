"""`data_tests:` as read from YAML: the entries validated into `data_tests.DataTest`s, named, and
every problem reported at once in this package's words.

`parse_data_tests(raw, path)` is the loader's entry point: `raw` is the value of a declaration's
`data_tests:` key, `path` its YAML path (`dynamic_tables[0].data_tests`). Each problem carries the
path down to the bad value (`dynamic_tables[0].data_tests[1].accepted_values.values`), the value,
what is allowed (an unknown key lists the allowed keys of the mapping it sits in) and the fix. A
bad entry is left out of the tests; a check name used twice on the table is reported at its second
use. Pydantic's own wording never reaches the user.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import cast

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from dagster_dynamic_tables.declarations.data_tests import EXAMPLES, KIND_MODELS, DataTest
from dagster_dynamic_tables.declarations.problems import describe
from dagster_dynamic_tables.errors import DeclarationProblem


def parse_data_tests(raw: object, path: str) -> tuple[list[DataTest], list[DeclarationProblem]]:
    """Validate a raw `data_tests:` value found at YAML path `path`.

    Returns the valid tests, named (`name_data_tests`), and every problem: a bad entry is left
    out of the tests and reported; a name used twice is reported on its second use.
    """
    entries, problems = parse_data_test_entries(raw, path)
    return [test for _, test in entries], problems


def parse_data_test_entries(
    raw: object, path: str
) -> tuple[list[tuple[str, DataTest]], list[DeclarationProblem]]:
    """`parse_data_tests`, each valid test with the YAML path of its entry
    (`dynamic_tables[0].data_tests[2]`): what cross-checks name when they find a problem."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], [
            DeclarationProblem(
                path,
                f"expected a list of data tests, got {describe(raw)}.",
                f"write a YAML list, one test per entry: `- {EXAMPLES['not_null']}`",
            )
        ]
    problems: list[DeclarationProblem] = []
    named: list[tuple[str, DataTest]] = []
    for index, item in enumerate(cast("list[object]", raw)):
        item_path = f"{path}[{index}]"
        try:
            test = DataTest.model_validate(item)
        except ValidationError as error:
            problems += [_translate(details, item_path) for details in error.errors()]
            continue
        if test.name is None:
            test = test.model_copy(update={"name": test.default_name(index)})
        else:
            item_path += ".name"  # a duplicate given name is reported at the name
        named.append((item_path, test))
    entries = [(item_path.removesuffix(".name"), test) for item_path, test in named]
    return entries, problems + _duplicate_names(named)


def _duplicate_names(named: Sequence[tuple[str, DataTest]]) -> list[DeclarationProblem]:
    first: dict[str, str] = {}
    problems: list[DeclarationProblem] = []
    for item_path, test in named:
        name = test.check_name
        if name in first:
            problems.append(
                DeclarationProblem(
                    item_path,
                    f"the check name {name!r} is already used by {first[name]}.",
                    "give this test its own `name:` (check names are unique per table)",
                )
            )
        else:
            first[name] = item_path.removesuffix(".name")
    return problems


# --- pydantic errors in this package's words ---------------------------------------------------

_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "bool_type": "a boolean (true or false)",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
}


def _translate(error: ErrorDetails, base: str) -> DeclarationProblem:
    loc: tuple[int | str, ...] = tuple(error["loc"])
    last = str(loc[-1]) if loc else ""
    path = base + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    model: type[BaseModel] = DataTest
    if len(loc) > 1 and isinstance(loc[0], str) and loc[0] in KIND_MODELS:
        model = KIND_MODELS[loc[0]]
    kind = error["type"]
    value = error["input"]
    if kind == "extra_forbidden":
        return _unknown_key(path, last, model)
    if kind == "missing":
        return DeclarationProblem(
            path, f"required key {last!r} is missing.", f"add `{last}: {_example(model, last)}`"
        )
    if kind == "literal_error":
        close = str(value).strip().lower() if isinstance(value, str) else ""
        fix = f"write {close}" if close in ("warn", "error") else "use warn or error"
        return DeclarationProblem(path, f"{value!r} is not allowed; allowed: warn, error.", fix)
    if kind == "value_error":
        text = str((error.get("ctx") or {}).get("error", error["msg"])).rstrip(".")
        return DeclarationProblem(path, f"{text}.", "")
    if kind == "too_short":
        return DeclarationProblem(
            path,
            "the list is empty.",
            f"list at least one value, e.g. `values: {_example(model, 'values')}`",
        )
    if kind in _EXPECTED:
        return DeclarationProblem(
            path,
            f"expected {_EXPECTED[kind]}, got {describe(value)}.",
            _type_fix(kind, loc, model),
        )
    return DeclarationProblem(path, f"{error['msg']} (got {describe(value)}).", "")


def _type_fix(kind: str, loc: tuple[int | str, ...], model: type[BaseModel]) -> str:
    if not loc:
        return f"write each test as a mapping, e.g. `- {EXAMPLES['not_null']}`"
    key = str(loc[0])
    if len(loc) == 1 and key in EXAMPLES:
        return f"write `{EXAMPLES[key]}`"
    if kind == "bool_type":
        return "write true or false without quotes"
    if kind == "int_type":
        return "write a whole number without quotes"
    field = next(str(part) for part in reversed(loc) if isinstance(part, str))
    return f"write `{field}: {_example(model, field)}`"


def _unknown_key(path: str, key: str, model: type[BaseModel]) -> DeclarationProblem:
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key.lower().replace("-", "_"), allowed, n=1, cutoff=0.6)
    fix = f"did you mean {close[0]!r}?" if close else "remove it or use one of the allowed keys"
    return DeclarationProblem(
        path, f"unknown key {key!r}; allowed keys: {', '.join(allowed)}.", fix
    )


def _example(model: type[BaseModel], field: str) -> str:
    info = model.model_fields.get(field)
    examples = info.examples if info is not None else None
    if not examples:
        return "..."
    example = examples[0]
    if isinstance(example, list):
        return "[" + ", ".join(str(item) for item in cast("list[object]", example)) + "]"
    return str(example)
