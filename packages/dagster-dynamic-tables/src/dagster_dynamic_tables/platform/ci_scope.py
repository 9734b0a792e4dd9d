"""What `.ci/run` validates and tests: every tenant on main, only the affected ones on a branch.

`python -m dagster_dynamic_tables.platform.ci_scope DIR` decides and writes into DIR what
`.ci/run` runs (so the decision is tested here, not in bash):

- `pytest_args`: the arguments of `uv run pytest`, NUL-separated; empty for the full suite (the
  README's test command, `uv run pytest`, exactly).
- `validate_workspace`: the workspace file `dagster definitions validate -w` gets:
  `workspace.yaml` for the full set, `DIR/workspace.yaml` (the affected tenants' locations) on a
  branch, empty when no tenant is affected.
- `tenants`: the affected tenants, space-separated (empty for the full set).
- `unaffected`: the tenants left out, space-separated (the `CI_UNAFFECTED_TENANTS` that
  `tests/conftest.py` reads to leave out the core's tests parametrized by those tenants, and the
  whole-workspace validation that the validate step replaces).

The full set runs when any of these holds (the first that does is printed):
`CI_FULL=1`; the branch is main (`CI_MAIN_BRANCH`, default `main`); HEAD is detached and no CI
variable names a branch; the base is unavailable (not fetched, a shallow clone); shared code
changed (see `platform.affected`). The branch is `CI_BRANCH`, else GitHub's `GITHUB_HEAD_REF`
(pull requests), else `GITHUB_REF_NAME` (pushes), else `git rev-parse --abbrev-ref HEAD`. The base
is `CI_BASE_REF`, else `origin/$GITHUB_BASE_REF` (pull requests), else `origin/<main>`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dagster_dynamic_tables.errors import GitError
from dagster_dynamic_tables.platform.affected import affected_tenants
from dagster_dynamic_tables.platform.git_changes import GIT_TIMEOUT_SECONDS
from dagster_dynamic_tables.platform.repo import discover_tenants, write_atomically
from dagster_dynamic_tables.platform.workspace import render_generated_workspace

__all__ = ["CiScope", "ci_scope", "main", "write_scope"]


@dataclass(frozen=True)
class CiScope:
    """The full set (`full`), or the tenants to validate and test (`tenants`); `why` says which
    rule chose."""

    full: bool
    why: str
    tenants: list[str] = field(default_factory=lambda: list[str]())
    unaffected: list[str] = field(default_factory=lambda: list[str]())


def _current_branch(root: Path, env: Mapping[str, str]) -> str:
    for name in ("CI_BRANCH", "GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        if env.get(name):
            return env[name]
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "HEAD"
    return result.stdout.strip() if result.returncode == 0 else "HEAD"


def ci_scope(root: Path, env: Mapping[str, str]) -> CiScope:
    """Which tenants CI validates and tests here (see the module docstring)."""
    main_branch = env.get("CI_MAIN_BRANCH") or "main"
    if env.get("CI_FULL") == "1":
        return CiScope(True, "CI_FULL=1")
    branch = _current_branch(root, env)
    if branch == main_branch:
        return CiScope(True, f"on {main_branch}")
    if branch == "HEAD":
        return CiScope(True, "detached HEAD and no CI_BRANCH: no branch to compare")
    base = env.get("CI_BASE_REF") or (
        f"origin/{env['GITHUB_BASE_REF']}"
        if env.get("GITHUB_BASE_REF")
        else f"origin/{main_branch}"
    )
    try:
        affected = affected_tenants(root, base)
    except GitError as e:
        return CiScope(True, f"branch {branch}, but the base is unavailable: {e}")
    if affected.all_tenants:
        shown = ", ".join(affected.shared_changes[:3])
        more = len(affected.shared_changes) - 3
        shown += f" and {more} more" if more > 0 else ""
        return CiScope(True, f"branch {branch}: shared code changed since {base} ({shown})")
    everyone = [folder.slug for folder in discover_tenants(root)]
    described = "; ".join(f"{slug}: {why}" for slug, why in affected.reasons.items())
    why = f"branch {branch}, compared with {base}: " + (described or "no tenant affected")
    unaffected = [slug for slug in everyone if slug not in affected.tenants]
    if not unaffected:
        return CiScope(True, f"{why} (every tenant)")
    return CiScope(False, why, affected.tenants, unaffected)


def write_scope(root: Path, scope: CiScope, out: Path) -> None:
    """The files `.ci/run` reads (module docstring) in folder `out`."""
    if scope.full:
        args: list[str] = []
        workspace = "workspace.yaml"
    else:
        tests = [f"tenants/{slug}/tests" for slug in scope.tenants]
        args = ["tests", *(path for path in tests if (root / path).is_dir())]
        workspace = str(out / "workspace.yaml") if scope.tenants else ""
        if scope.tenants:
            header = f"Generated by .ci/run (platform.ci_scope): {scope.why}"
            write_atomically(
                out / "workspace.yaml", render_generated_workspace(scope.tenants, header)
            )
    write_atomically(out / "pytest_args", "".join(f"{arg}\0" for arg in args))
    write_atomically(out / "validate_workspace", workspace)
    write_atomically(out / "tenants", " ".join(scope.tenants))
    write_atomically(out / "unaffected", " ".join(scope.unaffected))


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """`python -m dagster_dynamic_tables.platform.ci_scope DIR`, from the repository root."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m dagster_dynamic_tables.platform.ci_scope DIR", file=sys.stderr)
        return 2
    root = Path.cwd()
    scope = ci_scope(root, os.environ if env is None else env)
    write_scope(root, scope, Path(args[0]))
    if scope.full:
        print(f"CI scope: every tenant, the whole suite ({scope.why})")
    else:
        shown = ", ".join(scope.tenants) or "none"
        print(f"CI scope: tenants {shown}; the core's tests and theirs ({scope.why})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
