"""Put the new tenant in tenants/ and register it, last, once every file is generated.

Runs with the generated folder as working directory. Inside the platform repository:

1. generated at the repository root (`uv run cookiecutter templates/tenant`, output dir `.`): move
   the folder into tenants/, so the root gets nothing; with `-o tenants` it is there already;
2. record the tenant's grants and owner in grants.yaml (`dynamic-tables tenants grant`): the
   database and schema answers;
3. `dynamic-tables tenants sync`: workspace.yaml, the root pyproject.toml and uv.lock, dg.toml,
   CODEOWNERS and the deployment files.

If a step fails, every file it may have touched is put back as it was, the tenant folder is
removed, and the hook exits 1 with one `ERROR:` line: nothing is half-registered. Outside the
repository (template tests bake into temporary folders; `cruft update` renders into one) it does
nothing. Standard library only.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

# Rendered by cookiecutter before the hook runs: the answers as JSON (tojson escapes quotes).
ANSWERS: dict[str, str] = json.loads(r"""{{ cookiecutter | tojson }}""")
# Files `tenants grant` and `tenants sync` write outside the tenant folder.
ROOT_FILES = ("grants.yaml", "workspace.yaml", "pyproject.toml", "uv.lock", "dg.toml")
ROOT_DIRS = (".github", "deploy")


def platform_root(start: Path) -> Path | None:
    """The repository holding tenants/ and a uv workspace pyproject.toml, above `start`."""
    for folder in start.resolve().parents:
        pyproject = folder / "pyproject.toml"
        if not ((folder / "tenants").is_dir() and pyproject.is_file()):
            continue
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if "workspace" in data.get("tool", {}).get("uv", {}):
            return folder
    return None


def dynamic_tables_command(root: Path) -> list[str] | None:
    """How to run the platform's CLI: this Python if it has the core (`uv run cookiecutter`),
    else the repository's environment through uv."""
    if importlib.util.find_spec("dagster_dynamic_tables") is not None:
        return [sys.executable, "-m", "dagster_dynamic_tables.cli"]
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is not None:
        return [uv, "run", "--directory", str(root), "dynamic-tables"]
    return None


class Snapshot:
    """The root files registration may change, to put back if it fails."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[Path, bytes | None] = {}
        paths = [root / name for name in ROOT_FILES]
        for folder in ROOT_DIRS:
            paths += [p for p in (root / folder).rglob("*") if p.is_file()]
        for path in paths:
            self.files[path] = path.read_bytes() if path.is_file() else None
        self.dirs = {folder: (root / folder).exists() for folder in ROOT_DIRS}

    def restore(self) -> None:
        for folder in ROOT_DIRS:  # files a failed run added, and folders it created
            if not self.dirs[folder]:
                shutil.rmtree(self.root / folder, ignore_errors=True)
                continue
            for path in (self.root / folder).rglob("*"):
                if path.is_file() and path not in self.files:
                    path.unlink()
        for path, content in self.files.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)


def run(command: list[str], root: Path) -> None:
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise RuntimeError(detail[-1] if detail else f"exit status {result.returncode}")


def register(root: Path, slug: str, cli: list[str]) -> None:
    schema = f"{ANSWERS['snowflake_database']}.{ANSWERS['snowflake_schema']}"
    run([*cli, "tenants", "grant", slug, "--schema", schema, "--owner", ANSWERS["owner"]], root)
    run([*cli, "tenants", "sync"], root)


def main() -> int:
    generated = Path.cwd().resolve()
    slug = ANSWERS["tenant_slug"]
    root = platform_root(generated)
    if root is None:
        print(f"Generated {generated}; not inside the platform repository: nothing registered.")
        return 0
    target = root / "tenants" / slug
    if generated not in (target, root / slug):
        print(
            f"Generated {generated}, outside tenants/: nothing registered. Fix: generate from the "
            "repository root (`uv run cookiecutter templates/tenant`) or with `-o tenants`."
        )
        return 0
    cli = dynamic_tables_command(root)
    if cli is None:
        print(
            f"ERROR: cannot register tenant {slug!r}: neither the platform's Python packages nor "
            "uv were found. Fix: run `uv run cookiecutter templates/tenant` from the repository "
            "root.",
            file=sys.stderr,
        )
        return 1
    snapshot = Snapshot(root)
    moved = generated != target
    if moved:
        shutil.move(str(generated), str(target))
        os.chdir(target)
    try:
        register(root, slug, cli)
    except (RuntimeError, OSError) as e:
        snapshot.restore()
        shutil.rmtree(target, ignore_errors=True)
        if moved:
            generated.mkdir()  # cookiecutter removes the folder it generated: leave it one
        print(
            f"ERROR: tenant {slug!r} was not registered, and nothing was kept: {e}. Fix what it "
            "says, then run the template again.",
            file=sys.stderr,
        )
        return 1
    print(
        f"Tenant {slug!r} is ready in tenants/{slug}. Next: `uv run dagster dev -w workspace.yaml` "
        f"shows it; its tests run with `uv run pytest tenants/{slug}`."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
