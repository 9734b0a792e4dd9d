"""A tenant's image environment without Docker.

`build_isolated_env` does what `tenants/<slug>/Dockerfile` does, without a container engine: it
takes the build context the way BuildKit would (the repository root filtered by
`tenants/<slug>/Dockerfile.dockerignore`), then walks the builder stage in order: a RUN's bind
mounts are put in place for that command only, COPY copies from the context, and each `uv sync`
line runs as written (same flags, the stage's ENV) with UV_PROJECT_ENVIRONMENT pointing at a
fresh directory outside the repository's `.venv`. What it runs is read from the generated
Dockerfile, so a change there is a change here.

Used by tests/deployments and by `tests/benchmarks/bench_deploy.py`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from support.environment import clean_env, uv
from support.repo import REPO_ROOT

# --- .dockerignore, as BuildKit reads it ------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str
    regex: re.Pattern[str]
    negated: bool


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def parse_dockerignore(text: str) -> list[IgnoreRule]:
    rules: list[IgnoreRule] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        rules.append(IgnoreRule(pattern, _pattern_regex(pattern), negated))
    return rules


def is_ignored(path: str, rules: list[IgnoreRule]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for rule in rules:
        if any(rule.regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not rule.negated
    return ignored


def build_context(repo_root: Path, rules: list[IgnoreRule]) -> list[str]:
    """Files of the build context (relative POSIX paths), the repo root filtered by `rules`."""
    reincluded = [rule.pattern for rule in rules if rule.negated]
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(repo_root):
        base = Path(dirpath).relative_to(repo_root).as_posix()
        base = "" if base == "." else base + "/"
        keep: list[str] = []
        for name in sorted(dirnames):
            rel = base + name
            # An ignored folder is only entered when a '!' pattern may re-include inside it.
            if not is_ignored(rel, rules) or any(p.startswith(rel + "/") for p in reincluded):
                keep.append(name)
        dirnames[:] = keep
        files += [base + name for name in sorted(filenames) if not is_ignored(base + name, rules)]
    return files


# --- the Dockerfile's builder stage -----------------------------------------------------------


@dataclass
class Step:
    kind: str  # "RUN" | "COPY" | "ENV"
    args: str
    binds: list[tuple[str, str]] = field(default_factory=list)


def builder_steps(dockerfile: str) -> list[Step]:
    """ENV, RUN and COPY instructions of the first stage, continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in dockerfile.splitlines():
        if raw.lstrip().startswith("#") and not pending:
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    steps: list[Step] = []
    stages = 0
    for line in lines:
        instruction, _, args = line.strip().partition(" ")
        if instruction == "FROM":
            stages += 1
            if stages > 1:
                break
        elif instruction in ("RUN", "COPY", "ENV"):
            binds = re.findall(r"--mount=type=bind,source=([^,\s]+),target=([^,\s]+)", args)
            args = re.sub(r"--mount=\S+\s*", "", args).strip()
            steps.append(Step(instruction, args, binds))
    return steps


def _copy_from_context(context: Path, files: list[str], source: str, dest: Path) -> None:
    source = source.rstrip("/")
    chosen = [f for f in files if f == source or f.startswith(source + "/")]
    if not chosen:
        raise AssertionError(f"COPY {source}: nothing in the build context (dockerignore?)")
    for rel in chosen:
        target = dest / Path(rel).name if rel == source else dest / rel[len(source) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(context / rel, target)


def build_isolated_env(slug: str, workdir: Path, repo_root: Path = REPO_ROOT) -> Path:
    """Run `tenants/<slug>/Dockerfile`'s builder stage into `workdir/venv`; return that path."""
    dockerfile = (repo_root / "tenants" / slug / "Dockerfile").read_text()
    ignore = (repo_root / "tenants" / slug / "Dockerfile.dockerignore").read_text()
    files = build_context(repo_root, parse_dockerignore(ignore))
    app, venv = workdir / "app", workdir / "venv"
    app.mkdir(parents=True)
    uv_path = uv()
    env = clean_env(UV_PROJECT_ENVIRONMENT=str(venv))
    for step in builder_steps(dockerfile):
        if step.kind == "ENV":
            env |= dict(pair.split("=", 1) for pair in shlex.split(step.args))
        elif step.kind == "COPY":
            *sources, dest = shlex.split(step.args)
            for source in sources:
                _copy_from_context(repo_root, files, source, app / dest)
        elif "uv " in step.args:
            mounted = [app / target for _, target in step.binds if not (app / target).exists()]
            for source, target in step.binds:
                _copy_from_context(repo_root, files, source, (app / target).parent)
            command = shlex.split(step.args)
            assert command[0] == "uv", f"unexpected RUN in the builder stage: {step.args}"
            result = subprocess.run(
                [uv_path, *command[1:]],
                cwd=app,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert result.returncode == 0, f"{step.args}\n{result.stdout}\n{result.stderr}"
            for path in mounted:  # bind mounts exist for that RUN only
                path.unlink()
    return venv
