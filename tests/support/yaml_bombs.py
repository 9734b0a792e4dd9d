"""YAML that expands without bound if a loader lets it: the alias bomb the declaration loaders
must refuse (tests, and the YAML bounds benchmark)."""

from __future__ import annotations


def alias_bomb(indent: str = "") -> str:
    """Nine anchored lists, each of nine aliases of the one before (9 lines, 9^9 values once
    expanded); every line starts with `indent`."""
    lines = [f"{indent}a: &a [" + ", ".join(['"x"'] * 9) + "]"]
    for before, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{indent}{name}: &{name} [" + ", ".join([f"*{before}"] * 9) + "]")
    return "\n".join(lines) + "\n"
