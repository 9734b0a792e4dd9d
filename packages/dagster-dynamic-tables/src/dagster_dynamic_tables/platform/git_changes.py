"""The files a change touches, as git tells them (for `tenants affected`).

A change is everything between the merge base of the base ref and HEAD, *plus the working tree*:
`git diff --name-status -M <merge base>` compares the merge base with the files on disk, so
commits on the branch, staged and unstaged edits all count, and `git ls-files --others
--exclude-standard` adds the untracked files (git-ignored ones do not count). On a clean clone, as
in CI, that is exactly the branch's commits; on a developer's machine it is what they are about
to push. Renames are detected (`-M`): both the old and the new path are changed.

Every git call ends within `GIT_TIMEOUT_SECONDS`; a base that does not exist, no common ancestor
(a shallow clone), a folder outside git or git missing is a `GitError` that says how to fix it.
Only the standard library.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from dagster_dynamic_tables.errors import GitError

__all__ = ["GIT_TIMEOUT_SECONDS", "ChangedFile", "ChangedFiles", "changed_files"]

GIT_TIMEOUT_SECONDS = 60.0
"""Each git command's limit: local reads of a repository, seconds even for a large one."""


@dataclass(frozen=True)
class ChangedFile:
    """One changed path, relative to the platform root (`/`-separated, as git writes it).

    `status` is git's letter (A, M, D, R, C, T, U) or `?` for an untracked file; `old_path` is
    the path before a rename or copy."""

    status: str
    path: str
    old_path: str | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the change touches: a rename touches its old and its new path."""
        return (self.path,) if self.old_path is None else (self.old_path, self.path)


@dataclass(frozen=True)
class ChangedFiles:
    """What changed since `merge_base`, the merge base of `base` and HEAD."""

    base: str
    merge_base: str
    files: tuple[ChangedFile, ...]


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            errors="surrogateescape",
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError as e:
        raise GitError(
            "git is not installed (or not on PATH): `tenants affected` reads the change from "
            "git. Fix: install git."
        ) from e
    except subprocess.TimeoutExpired as e:
        raise GitError(
            f"`git {' '.join(args)}` did not answer within {GIT_TIMEOUT_SECONDS:g} s in {root}. "
            "Fix: check the repository (`git status`), then run the command again."
        ) from e


def _first_line(result: subprocess.CompletedProcess[str]) -> str:
    text = (result.stderr or result.stdout).strip()
    return text.splitlines()[0] if text else f"exit status {result.returncode}"


def _fetch_hint(base: str) -> str:
    remote, _, branch = base.partition("/")
    if branch and remote in {"origin", "upstream"}:
        return f"`git fetch {remote} {branch}`"
    return f"`git fetch origin {base}` (or name a ref that exists: `git branch -a` lists them)"


def _resolve_base(root: Path, base: str) -> str:
    if not base or base.startswith("-"):
        raise GitError(
            f"--base {base!r} is not a git ref. Fix: name a branch or commit, e.g. "
            "--base origin/main."
        )
    result = _git(
        root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{base}^{{commit}}"
    )
    if result.returncode != 0:
        raise GitError(
            f"base {base!r} is not a commit of the git repository at {root}. Fix: fetch it, "
            f"e.g. {_fetch_hint(base)}; in GitHub Actions check out with `fetch-depth: 0`."
        )
    return result.stdout.strip()


def _parse_name_status(output: str) -> list[ChangedFile]:
    """`git diff --name-status -z` output: `STATUS\\0PATH\\0`, two paths for R and C."""
    fields = output.split("\0")
    files: list[ChangedFile] = []
    index = 0
    while index < len(fields) and fields[index]:
        status = fields[index][0]
        if status in "RC":
            files.append(ChangedFile(status, fields[index + 2], old_path=fields[index + 1]))
            index += 3
        else:
            files.append(ChangedFile(status, fields[index + 1]))
            index += 2
    return files


def changed_files(root: Path, base: str) -> ChangedFiles:
    """The files changed since the merge base of `base` and HEAD, working tree included (see the
    module docstring), relative to `root`."""
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise GitError(
            f"{root} is not in a git working tree ({_first_line(inside)}). Fix: run the command "
            "in a clone of the platform repository."
        )
    commit = _resolve_base(root, base)
    merged = _git(root, "merge-base", commit, "HEAD")
    if merged.returncode != 0:
        raise GitError(
            f"base {base!r} and HEAD have no common ancestor ({_first_line(merged)}): a shallow "
            "clone, or an unrelated history. Fix: `git fetch --unshallow` (GitHub Actions: "
            "`fetch-depth: 0`), or name the branch this one started from."
        )
    merge_base = merged.stdout.strip()
    diff = _git(
        root, "diff", "--name-status", "-z", "-M", "--relative", "--no-ext-diff", merge_base, "--"
    )
    if diff.returncode != 0:
        raise GitError(f"`git diff {merge_base}` failed in {root}: {_first_line(diff)}")
    files = _parse_name_status(diff.stdout)
    untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard")
    if untracked.returncode != 0:
        raise GitError(f"`git ls-files --others` failed in {root}: {_first_line(untracked)}")
    files += [ChangedFile("?", path) for path in untracked.stdout.split("\0") if path]
    return ChangedFiles(base, merge_base, tuple(files))
