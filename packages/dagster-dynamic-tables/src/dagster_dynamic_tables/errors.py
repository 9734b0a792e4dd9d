"""The package's exceptions, all of them: one base class (`DynamicTablesError`), a declaration error
that lists every problem, and one class per kind of failure the subpackages raise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


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


class SnowflakeDeadlineError(DynamicTablesError):
    """Snowflake did not answer a platform read within its deadline; `phase` says where it was."""

    def __init__(self, phase: str, seconds: float) -> None:
        self.phase = phase
        self.seconds = seconds
        super().__init__(f"no answer from Snowflake within {seconds:g} s while {phase}")


class LocalSetupError(DynamicTablesError):
    """The stand-in could not be started, or a tenant's local objects could not be created."""


class PrivateKeyError(SnowflakeSettingsError):
    """The private key file cannot be used: says which file, why, and how to fix it."""


class QueryReadError(DynamicTablesError, ValueError):
    """The query cannot be read: not SQL sqlglot parses, not one SELECT, or a table named at run
    time. The message says which."""


class RepoError(DynamicTablesError):
    """The command does not run inside the platform repository, or a tenant folder is unusable."""


class RegistrationError(DynamicTablesError):
    """grants.yaml or the root pyproject.toml cannot be read or written."""


class DeployError(DynamicTablesError):
    """The repository cannot be rendered: bad settings, a bad tenant folder, a broken uv.lock."""


class PlanError(DynamicTablesError):
    """Plan or apply could not do its job (declarations, connection, a failed statement)."""


class WorkspaceError(DynamicTablesError):
    """workspace.yaml is missing or malformed."""


class GitError(DynamicTablesError):
    """git cannot answer what a change touches: a base ref that does not exist, no common
    ancestor, not a git repository, git missing or too slow."""


class EnvironmentsError(DynamicTablesError):
    """environments.yaml cannot be read or maps something unsafe, the selected environment is
    unknown, or a declared name has no mapping in it: names the file, the field, the value and
    the fix."""


class ParallelSettingsError(DynamicTablesError):
    """DYNAMIC_TABLES_WORKERS or DYNAMIC_TABLES_LOAD_TIMEOUT is not a positive number: names the
    variable, the value and the fix."""


class FileRefusedError(DynamicTablesError):
    """A file that is not read: `reason` says why (no content), `fix` what to do."""

    def __init__(self, reason: str, fix: str, *, too_big: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix
        self.too_big = too_big


class FailedRefresh(Protocol):
    """What `ManualRefreshError` tells of a refresh (`sql.manual_refresh.ManualRefresh`)."""

    @property
    def qualified_name(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def state_code(self) -> str | None: ...
    @property
    def state_message(self) -> str | None: ...
    @property
    def query_id(self) -> str | None: ...


class ManualRefreshError(DynamicTablesError):
    """A manual refresh (`ALTER DYNAMIC TABLE ... REFRESH`) did not succeed: Snowflake's state,
    code and message (`refresh`, a `sql.manual_refresh.ManualRefresh`), and the fix."""

    def __init__(self, refresh: FailedRefresh, fix: str) -> None:
        self.refresh = refresh
        self.fix = fix
        code = f" (code {refresh.state_code})" if refresh.state_code else ""
        message = refresh.state_message or "Snowflake gave no message"
        super().__init__(
            f"The manual refresh of {refresh.qualified_name} is {refresh.state}{code}: "
            f"{message.rstrip('.')}. Fix: {fix}."
        )
