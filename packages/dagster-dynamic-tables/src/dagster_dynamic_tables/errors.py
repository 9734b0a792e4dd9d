"""The package's exceptions: one base class, and a declaration error that lists every problem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class DynamicTablesError(Exception):
    """Base class of every error this package raises on purpose."""


@dataclass(frozen=True)
class DeclarationProblem:
    """One mistake in a declaration file.

    `path` is the YAML path (`dynamic_tables[1].target_lag`), `message` says what is wrong, with
    the bad value and what is allowed, `fix` says what to change, and `line` is the 1-based line
    of the YAML file where the value sits, when known.
    """

    path: str
    message: str
    fix: str = ""
    line: int | None = None

    def render(self) -> str:
        where = self.path
        if self.line is not None:
            where = f"{where} (line {self.line})" if where else f"line {self.line}"
        text = f"{where}: {self.message}" if where else self.message
        if not self.fix:
            return text
        return f"{text} Fix: {self.fix}" + ("" if self.fix[-1] in ".?!" else ".")


class DeclarationError(DynamicTablesError):
    """Every problem found in one declaration file, reported at once."""

    def __init__(self, file: Path | str | None, problems: Sequence[DeclarationProblem]) -> None:
        self.file = file
        self.problems = tuple(problems)
        where = f" in {file}" if file is not None else ""
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''}{where}:"
        lines = [header, *(f"  - {problem.render()}" for problem in self.problems)]
        super().__init__("\n".join(lines))


class SnowflakeSettingsError(DynamicTablesError):
    """The environment's Snowflake settings are incomplete or contradictory."""
