"""Load a tenant's declaration file: YAML -> validated models -> `Tenant`, every problem at once.

Pydantic's errors are rewritten in this package's words (`problems`: YAML path, line, bad value,
what is allowed, the fix); nothing of pydantic's own wording reaches the user.

Nothing here trusts the file: it is read bounded and without blocking (`files`), its YAML is
checked for size, depth and alias expansion before anything walks it (`yamlbounds`), and the
files it names are read only from inside the tenant's `defs/` folder (`sqlfiles`).

Some fields are checked here rather than by the model, for their problems to carry the fix apart
(`_SIDE_FIELDS`): `data_tests` (`data_test_problems.parse_data_tests`: each bad entry reported
down to the bad value, the good ones kept), `automation_condition` (with `scheduler_problem`: only
a `scheduler: DISABLE` table takes one) and a source's `data_tests_cron` / `data_tests_timezone`.
They are taken out of the raw item, the rest validated by the model, and the parsed values put
back on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from pydantic import BaseModel, ValidationError

from dagster_dynamic_tables.declarations.consistency import check_tenant
from dagster_dynamic_tables.declarations.data_test_problems import parse_data_test_entries
from dagster_dynamic_tables.declarations.files import (
    MAX_DECLARATION_FILE_BYTES,
    FileRefusedError,
    defs_root_of,
    read_bounded_file,
)
from dagster_dynamic_tables.declarations.models import (
    SECTIONS,
    DynamicTable,
    FileShell,
    SourceTable,
    Tenant,
    View,
)
from dagster_dynamic_tables.declarations.orchestration import (
    automation_condition_problem,
    data_tests_schedule_problems,
    parse_automation_condition,
    scheduler_problem,
)
from dagster_dynamic_tables.declarations.problems import (
    describe,
    translate_validation_error,
    with_lines,
)
from dagster_dynamic_tables.declarations.sqlfiles import read_query_file, read_seed_file
from dagster_dynamic_tables.declarations.yamlbounds import (
    check_data,
    check_yaml_text,
    oversize_problem,
)
from dagster_dynamic_tables.errors import DeclarationError, DeclarationProblem
from dagster_dynamic_tables.gc_pause import without_gc

_M = TypeVar("_M", bound=BaseModel)
_SIDE_FIELDS = ("data_tests", "automation_condition", "data_tests_cron", "data_tests_timezone")
"""Fields the loader checks itself (see the module docstring), where the model has them."""
_T = TypeVar("_T")
# libyaml's parser when PyYAML has it: about ten times faster on a large tenant.
YAML_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


def load_tenant(path: Path, *, defs_root: Path | None = None) -> Tenant:
    """Read and validate one declaration file; raise `DeclarationError` listing every problem.

    `query_file` and `local_seed_file` are relative to the file's folder and must resolve inside
    `defs_root` (default: the nearest enclosing folder named `defs`, else the file's folder).
    """
    data, lines = load_declaration_yaml(path)
    return build_tenant(data, file=path, base_dir=path.parent, lines=lines, defs_root=defs_root)


def read_declaration_file(path: Path) -> str:
    """The text of a declaration file, read bounded (`MAX_DECLARATION_FILE_BYTES`) and without
    blocking; raise `DeclarationError` for anything but a regular UTF-8 file under the limit."""
    try:
        return read_bounded_file(path, MAX_DECLARATION_FILE_BYTES, "MAX_DECLARATION_FILE_BYTES")
    except FileRefusedError as e:
        problem = (
            oversize_problem()
            if e.too_big
            else DeclarationProblem("", f"the declaration file {e.reason}.", e.fix)
        )
        raise DeclarationError(path, [problem]) from None


def load_declaration_yaml(path: Path) -> tuple[Any, dict[str, int]]:
    """`read_declaration_file` then `parse_declaration_yaml`: the one safe way from a path to
    data and lines."""
    return parse_declaration_yaml(read_declaration_file(path), file=path)


def parse_declaration_yaml(text: str, *, file: Path | str | None) -> tuple[Any, dict[str, int]]:
    """Parse YAML text into data plus the line of every YAML path (`dynamic_tables[1].name`).

    Rejects files over the size limit, nesting too deep or alias bombs (`yamlbounds`) before
    parsing, then empty files, syntax errors, several documents and duplicate keys, with line
    numbers.
    """
    check_yaml_text(text, file=file)
    try:
        node, data = _compose(text, YAML_LOADER)
    except yaml.YAMLError as fast_error:
        try:  # PyYAML's own parser words syntax errors better than libyaml: ask it
            node, data = _compose(text, yaml.SafeLoader)
        except yaml.MarkedYAMLError as e:
            raise DeclarationError(file, [_yaml_problem(e)]) from None
        except yaml.YAMLError as e:
            problem = DeclarationProblem("", f"not valid YAML: {e}.", "fix the YAML syntax")
            raise DeclarationError(file, [problem]) from None
        if node is None:
            raise DeclarationError(
                file, [DeclarationProblem("", f"not valid YAML: {fast_error}.", "fix the syntax")]
            ) from None
    if node is None:
        raise DeclarationError(
            file,
            [
                DeclarationProblem(
                    "",
                    "the file is empty.",
                    "declare at least `tenant: <slug>` and the tenant's sources, "
                    "dynamic_tables and views",
                )
            ],
        )
    lines: dict[str, int] = {}
    problems = list(walk_yaml_node(node, "", lines))
    if problems:
        raise DeclarationError(file, problems)
    return data, lines


def _compose(
    text: str, loader_class: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        with without_gc():
            node = loader.get_single_node()
            data = cast(Any, loader.construct_document(node)) if node is not None else None  # pyright: ignore[reportUnknownMemberType] (PyYAML is untyped)
        return node, data
    finally:
        loader.dispose()  # pyright: ignore[reportUnknownMemberType] (PyYAML is untyped)


def _yaml_problem(error: yaml.MarkedYAMLError) -> DeclarationProblem:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else None
    if error.context == "expected a single document in the stream":
        return DeclarationProblem(
            "",
            "the file holds more than one YAML document (a second one starts here).",
            "keep one document: remove the `---` separator and what follows, or merge them",
            line,
        )
    column = f" at column {mark.column + 1}" if mark is not None else ""
    what = "; ".join(part for part in (error.context, error.problem) if part)
    return DeclarationProblem(
        "", f"not valid YAML{column}: {what}.", "fix the YAML syntax at that place", line
    )


def walk_yaml_node(
    node: yaml.Node, path: str, lines: dict[str, int]
) -> Iterator[DeclarationProblem]:
    """Record in `lines` the line of every YAML path under `node` (`dynamic_tables[1].name`);
    yield a problem for each duplicate key."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        pairs: list[tuple[yaml.Node, yaml.Node]] = node.value  # pyright: ignore[reportUnknownMemberType] (PyYAML nodes are untyped)
        for key_node, value_node in pairs:
            key = str(key_node.value)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType] (PyYAML nodes are untyped)
            child = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in seen:
                yield DeclarationProblem(
                    child,
                    f"duplicate key {key!r} (first given at line {seen[key]}).",
                    "give each key once; YAML would silently keep only the last value",
                    line,
                )
                continue
            seen[key] = line
            lines[child] = line
            yield from walk_yaml_node(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        items: list[yaml.Node] = node.value  # pyright: ignore[reportUnknownMemberType] (PyYAML nodes are untyped)
        for index, item in enumerate(items):
            child = f"{path}[{index}]"
            lines[child] = item.start_mark.line + 1
            yield from walk_yaml_node(item, child, lines)


def build_tenant(
    attributes: Any,
    *,
    file: Path | str | None,
    base_dir: Path | None,
    lines: Mapping[str, int] | None = None,
    problems: Sequence[DeclarationProblem] = (),
    defs_root: Path | None = None,
) -> Tenant:
    """Validate already-parsed declarations (a YAML file's mapping, or a component's
    `attributes:`) into a `Tenant`; raise one `DeclarationError` listing every problem.

    `file` names the source in the message, `base_dir` anchors `query_file` and
    `local_seed_file`, `lines` maps YAML paths (`dynamic_tables[1].target_lag`) to line numbers,
    `problems` are problems found before (duplicate keys, say), reported with the others.
    `query_file` and `local_seed_file` must resolve inside `defs_root`, the tenant's `defs/`
    folder (default: the nearest folder named `defs` enclosing `base_dir`, else `base_dir`).
    `attributes` is checked first for depth and alias expansion (`yamlbounds.check_data`): data
    parsed by someone else may be an alias bomb.
    """
    check_data(attributes, file=file)
    if defs_root is None and base_dir is not None:
        defs_root = defs_root_of(base_dir)
    builder = _TenantBuilder(base_dir, defs_root)
    builder.problems += problems
    tenant = builder.build(attributes)
    if builder.problems or tenant is None:
        raise DeclarationError(file, with_lines(builder.problems, lines or {}))
    return tenant


@dataclass
class _Item:
    path: str
    declaration: SourceTable | DynamicTable | View


class _TenantBuilder:
    def __init__(self, base_dir: Path | None, defs_root: Path | None) -> None:
        self.base_dir = base_dir
        self.defs_root = defs_root
        self.problems: list[DeclarationProblem] = []
        self.test_paths: dict[tuple[str, str], str] = {}
        """The YAML path of each valid data test, by (its table's path, its check name)."""

    def build(self, data: Any) -> Tenant | None:
        if not isinstance(data, Mapping):
            self.problems.append(
                DeclarationProblem(
                    "",
                    "the top level must be a mapping with the keys tenant, local_seed_file, "
                    f"sources, dynamic_tables and views; got {describe(data)}.",
                    "start the file with `tenant: <slug>` and list the objects under sources:, "
                    "dynamic_tables: and views:",
                )
            )
            return None
        attributes = cast("Mapping[str, Any]", data)
        shell = self._validate(FileShell, attributes, "")
        sections: dict[str, list[_Item]] = {}
        declared_names: set[str] = set()
        for section, model in SECTIONS.items():
            raw = attributes.get(section)
            items = cast("list[Any]", raw) if isinstance(raw, list) else []
            sections[section] = []
            for index, item in enumerate(items):
                path = f"{section}[{index}]"
                rest, side = self._side_fields(model, item, path)
                declaration = self._validate_item(model, rest, path)
                if declaration is None:
                    name = _raw_name(item)
                    if name is not None:
                        declared_names.add(name)
                    continue
                if side:
                    declaration = declaration.model_copy(update=side)
                if isinstance(declaration, DynamicTable):
                    problem = scheduler_problem(
                        declaration.scheduler, declaration.automation_condition, path
                    )
                    if problem is not None:
                        self.problems.append(problem)
                if not isinstance(declaration, SourceTable):
                    declaration, problem = read_query_file(
                        declaration, self.base_dir, path, self.defs_root
                    )
                    if problem is not None:
                        self.problems.append(problem)
                sections[section].append(_Item(path, declaration))
        if shell is None:
            return None
        tenant = Tenant(
            slug=shell.tenant,
            sources=tuple(_only(sections["sources"], SourceTable)),
            dynamic_tables=tuple(_only(sections["dynamic_tables"], DynamicTable)),
            views=tuple(_only(sections["views"], View)),
            base_dir=self.base_dir,
            defs_root=self.defs_root,
            local_seed_file=self._seed_file(shell.local_seed_file),
            sensor_interval_seconds=shell.sensor_interval_seconds,
            change_signal=shell.change_signal,
        )
        locations = [item.path for items in sections.values() for item in items]
        self.problems += check_tenant(
            tenant,
            locations=locations,
            declared_names=declared_names - {shell.tenant},
            test_paths=self.test_paths,
        )
        return tenant

    def _side_fields(self, model: type[_M], item: Any, path: str) -> tuple[Any, dict[str, Any]]:
        """`item` without the fields checked here (`_SIDE_FIELDS`), and their parsed values
        (the valid ones); their problems are added."""
        if not isinstance(item, Mapping):
            return item, {}
        raw = cast("Mapping[str, Any]", item)
        taken = {key: raw[key] for key in _SIDE_FIELDS if key in raw and key in model.model_fields}
        if not taken:
            return raw, {}
        rest = {key: value for key, value in raw.items() if key not in taken}
        parsed: dict[str, Any] = {}
        if "data_tests" in taken:
            entries, problems = parse_data_test_entries(taken["data_tests"], f"{path}.data_tests")
            self.problems += problems
            parsed["data_tests"] = [test for _, test in entries]
            for entry_path, test in entries:
                self.test_paths[(path, test.check_name)] = entry_path
        if "automation_condition" in taken:
            value = taken["automation_condition"]
            problem = automation_condition_problem(value, f"{path}.automation_condition")
            if problem is not None:
                self.problems.append(problem)
            elif value is not None:
                parsed["automation_condition"] = parse_automation_condition(value)
        if "data_tests_cron" in taken or "data_tests_timezone" in taken:
            cron, zone = taken.get("data_tests_cron"), taken.get("data_tests_timezone")
            has_tests = bool(parsed.get("data_tests")) or bool(taken.get("data_tests"))
            problems = data_tests_schedule_problems(cron, zone, has_tests=has_tests, path=path)
            self.problems += problems
            if not problems:
                rest.update({k: v for k, v in taken.items() if k.startswith("data_tests_")})
        return rest, parsed

    def _validate(self, model: type[_M], data: Any, path: str) -> _M | None:
        try:
            return model.model_validate(data)
        except ValidationError as e:
            self.problems += translate_validation_error(e, model, path)
            return None

    def _validate_item(self, model: type[_M], data: Any, path: str) -> _M | None:
        """Validate one item; for an invalid one, report its problems and return what is left
        of it (its valid keys, unvalidated), so the cross-checks (duplicates, deps, cycles,
        query files) still see it and every problem is reported at once."""
        try:
            return model.model_validate(data)
        except ValidationError as e:
            self.problems += translate_validation_error(e, model, path)
            if not isinstance(data, Mapping):
                return None
            bad = {error["loc"][0] for error in e.errors() if error["loc"]}
            raw = cast("Mapping[str, Any]", data)
            kept = {k: v for k, v in raw.items() if k in model.model_fields and k not in bad}
            return model.model_construct(**kept)

    def _seed_file(self, value: str | None) -> Path | None:
        if value is None:
            return None
        # Read now, so a bad seed file is a declaration error where every other one is; the
        # stand-in's setup reads it again the same way (sql.local_setup.seed_sql).
        _text, problem = read_seed_file(value, self.base_dir, self.defs_root)
        if problem is not None:
            self.problems.append(problem)
        return (self.base_dir or Path()) / value


def _raw_name(item: Any) -> str | None:
    """The `name` of an item that failed validation, if it has a usable one."""
    name = cast("Mapping[str, Any]", item).get("name") if isinstance(item, Mapping) else None
    return name if isinstance(name, str) else None


def _only(items: Sequence[_Item], kind: type[_T]) -> Iterator[_T]:
    for item in items:
        if isinstance(item.declaration, kind):
            yield item.declaration
