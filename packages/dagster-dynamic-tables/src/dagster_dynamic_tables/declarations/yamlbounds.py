"""Bounded YAML: size, nesting depth and alias expansion are checked before anything walks it.

An 11-line "alias bomb" (each anchor a list of nine aliases of the one before) is 9^9 nodes once
expanded: PyYAML composes it in microseconds (an alias is the same node again), but every walk
over the result (line numbers, template rendering, pydantic) visits it expanded, and runs for
minutes or exhausts memory. Deep nesting breaks the recursive composers and walkers instead:
1,000 levels raise RecursionError, 50,000 levels crash libyaml's C composer, and the parsers
themselves slow down with the depth. So declaration text goes through `check_yaml_text` first:
it streams the parser's events (the parser keeps a stack, it does not recurse), and stops at the
first level past `MAX_YAML_DEPTH`, or once the document expanded would hold more than
`MAX_YAML_NODES` nodes; an alias to a node it sits in (a recursive structure) is refused too.
`check_data` applies the same bounds to data parsed elsewhere (Dagster's own parser hands a
component its attributes as shared, possibly recursive, Python objects), without recursion.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from dagster_dynamic_tables.declarations.files import MAX_DECLARATION_FILE_BYTES, describe_bytes
from dagster_dynamic_tables.errors import DeclarationError, DeclarationProblem

__all__ = [
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "check_data",
    "check_yaml_text",
    "oversize_problem",
]

MAX_YAML_DEPTH = 64
"""Deepest nesting of mappings and lists (a declaration file needs 6 levels)."""
MAX_YAML_NODES = 500_000
"""Most nodes a document may hold with its aliases expanded (1,000 Dynamic Tables: ~30,000)."""

# libyaml's parser when PyYAML has it: about ten times faster on a large tenant.
_PARSER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)
_DEPTH_FIX = (
    f"declarations nest a few levels; keep every file under {MAX_YAML_DEPTH} levels of "
    "mappings and lists (MAX_YAML_DEPTH)"
)
_NODES_FIX = (
    "write the values out instead of aliases of aliases (&anchor / *anchor), or split the "
    f"file; a document may hold {MAX_YAML_NODES:,} values with its aliases expanded "
    "(MAX_YAML_NODES)"
)


def check_yaml_text(text: str, *, file: Path | str | None) -> None:
    """Raise `DeclarationError` when `text` is over the size limit, nests deeper than
    `MAX_YAML_DEPTH` or expands (through aliases) past `MAX_YAML_NODES` nodes.

    Syntax errors are left to the parser that follows, which words them with their line."""
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_DECLARATION_FILE_BYTES:
        raise DeclarationError(file, [oversize_problem()])
    problem = _scan(text)
    if problem is not None:
        raise DeclarationError(file, [problem])


def oversize_problem() -> DeclarationProblem:
    """A declaration file over `MAX_DECLARATION_FILE_BYTES`."""
    limit = describe_bytes(MAX_DECLARATION_FILE_BYTES)
    return DeclarationProblem(
        "",
        f"the file is larger than {limit}, the limit for declaration files "
        "(MAX_DECLARATION_FILE_BYTES).",
        f"keep it under {limit}: move long queries to query_file, or split the declarations "
        "into several components",
    )


def _scan(text: str) -> DeclarationProblem | None:
    # Every node adds to `total` once, aliases their anchor's expanded size: a collection's
    # expanded size is the growth of `total` between its start and its end.
    frames: list[tuple[int, str | None]] = []  # (total before it, anchor) per open collection
    sizes: dict[str, int] = {}  # expanded size of each anchored node, once closed
    total = 0
    try:
        events = cast("Iterator[Any]", yaml.parse(text, Loader=_PARSER))  # pyright: ignore[reportUnknownMemberType] (PyYAML is untyped)
        for event in events:
            kind = cast("type[object]", type(event))
            if kind is yaml.ScalarEvent:
                total += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                frames.append((total, event.anchor))
                total += 1
                if len(frames) > MAX_YAML_DEPTH:
                    return DeclarationProblem(
                        "",
                        f"mappings and lists nest deeper than {MAX_YAML_DEPTH} levels here "
                        "(MAX_YAML_DEPTH).",
                        _DEPTH_FIX,
                        _line(event),
                    )
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                before, anchor = frames.pop()
                if anchor is not None:
                    sizes[anchor] = total - before
            elif kind is yaml.AliasEvent:
                anchor = cast("str", event.anchor)
                if anchor not in sizes:
                    if any(frame[1] == anchor for frame in frames):
                        return DeclarationProblem(
                            "",
                            f"the alias *{anchor} refers to a node that contains it, a "
                            "structure without end.",
                            f"remove the alias *{anchor} from inside &{anchor}",
                            _line(event),
                        )
                    continue  # an unknown alias: the composer reports it
                total += sizes[anchor]
            else:
                continue
            if total > MAX_YAML_NODES:
                return DeclarationProblem(
                    "",
                    f"aliases expand the document past {MAX_YAML_NODES:,} values here "
                    "(MAX_YAML_NODES): a YAML alias bomb?",
                    _NODES_FIX,
                    _line(event),
                )
    except yaml.YAMLError:
        return None  # a syntax error: the parser that follows reports it, with its line
    return None


def _line(event: Any) -> int:
    return cast("int", event.start_mark.line) + 1


def check_data(data: Any, *, file: Path | str | None) -> None:
    """The same bounds for already-parsed data (mappings, lists, scalars), walked without
    recursion: raise `DeclarationError` when it nests deeper than `MAX_YAML_DEPTH`, holds
    more than `MAX_YAML_NODES` values counting shared ones each time, or contains itself."""
    expanded: dict[int, int] = {}  # id -> expanded size, for containers already counted
    open_ids: set[int] = set()
    stack: list[tuple[Any, list[Any] | None]] = [(data, None)]
    sizes: list[int] = []
    while stack:
        value, children = stack.pop()
        if children is None:
            items = _children(value)
            if items is None:
                sizes.append(1)
                continue
            key = id(value)
            if key in expanded:
                sizes.append(expanded[key])
                continue
            if key in open_ids:
                raise DeclarationError(
                    file,
                    [
                        DeclarationProblem(
                            "",
                            "a mapping or list contains itself (a recursive YAML alias), a "
                            "structure without end.",
                            "remove the alias that points into its own anchor",
                        )
                    ],
                )
            if len(open_ids) >= MAX_YAML_DEPTH:
                raise DeclarationError(
                    file,
                    [
                        DeclarationProblem(
                            "",
                            f"mappings and lists nest deeper than {MAX_YAML_DEPTH} levels "
                            "(MAX_YAML_DEPTH).",
                            _DEPTH_FIX,
                        )
                    ],
                )
            open_ids.add(key)
            stack.append((value, items))
            stack.extend((child, None) for child in reversed(items))
            sizes.append(-1)  # marks where this container's children's sizes start
            continue
        # All children done: fold their sizes into the container's.
        total = 1
        while sizes[-1] != -1:
            total += sizes.pop()
        sizes[-1] = total
        expanded[id(value)] = total
        open_ids.discard(id(value))
        if total > MAX_YAML_NODES:
            raise DeclarationError(
                file,
                [
                    DeclarationProblem(
                        "",
                        f"aliases expand the document past {MAX_YAML_NODES:,} values "
                        "(MAX_YAML_NODES): a YAML alias bomb?",
                        _NODES_FIX,
                    )
                ],
            )


def _children(value: Any) -> list[Any] | None:
    if isinstance(value, Mapping):
        mapping = cast("Mapping[Any, Any]", value)
        return [*mapping.keys(), *mapping.values()]
    if isinstance(value, list | tuple):
        return list(cast("list[Any]", value))
    return None
