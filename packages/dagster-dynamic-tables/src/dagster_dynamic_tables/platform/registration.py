"""Tenant registration: keep the repository's shared files in line with `tenants/`.

`sync_tenants` (`uv run dynamic-tables tenants sync`, run last by the template's post-gen hook)
writes, from the tenant folders and `grants.yaml` alone:

- `workspace.yaml`: one `python_module` code location per tenant;
- the root `pyproject.toml`: each tenant in the `dev` dependency group and in `[tool.uv.sources]`
  as a workspace member (so the root environment can import every code location), then
  `uv lock`;
- `dg.toml`: the root dg workspace's project list (`dg list projects`, `dg check yaml`);
- `.github/CODEOWNERS`: the platform team owns everything, each tenant's owner its folder;
- the deployment files (`dagster_dynamic_tables.platform.deploy.render`).

Every file is rendered whole from that input, so a second run writes nothing. `grants.yaml` (see
`platform.grants`) is the platform team's record of which schemas each tenant may declare objects
in; sync only reads it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import tomlkit
import tomlkit.exceptions
from tomlkit.items import Array, Table

from dagster_dynamic_tables.errors import RegistrationError
from dagster_dynamic_tables.platform.grants import Grants, load_grants
from dagster_dynamic_tables.platform.repo import (
    TenantFolder,
    as_table,
    discover_tenants,
    slug_problem,
    write_atomically,
)
from dagster_dynamic_tables.platform.workspace import render_workspace

CODEOWNERS_FILE = ".github/CODEOWNERS"
DG_FILE = "dg.toml"
WORKSPACE_FILE = "workspace.yaml"
PYPROJECT_FILE = "pyproject.toml"
_TENANTS_COMMENT = "Tenants (`tenants sync`): every code location must import from the root env"


def render_dg_toml(slugs: Sequence[str]) -> str:
    lines = [
        "# The root dg workspace (`dg list projects`; `dg check yaml` and `dg list defs` take one",
        "# project: `--target-path tenants/<slug>`), kept in line with tenants/ by",
        "# `uv run dynamic-tables tenants sync`: do not edit by hand.",
        'directory_type = "workspace"',
        "",
        "[workspace]",
    ]
    for slug in sorted(slugs):
        lines += ["", "[[workspace.projects]]", f'path = "tenants/{slug}"']
    return "\n".join(lines) + "\n"


def render_codeowners(grants: Grants, slugs: Sequence[str]) -> str:
    lines = [
        "# Generated from grants.yaml by `uv run dynamic-tables tenants sync`: do not edit.",
        "# The platform team owns everything not listed below, grants.yaml and environments.yaml",
        "# included, so that a tenant's change cannot widen its own grants or remap an",
        "# environment's databases; each tenant's owner owns its folder.",
        f"*  {grants.platform_owner}",
    ]
    for slug in sorted(slugs):
        entry = grants.tenants.get(slug)
        owner = entry.owner if entry is not None and entry.owner else grants.platform_owner
        lines.append(f"/tenants/{slug}/  {owner}")
    return "\n".join(lines) + "\n"


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _requirement_name(requirement: str) -> str:
    for index, char in enumerate(requirement):
        if not (char.isalnum() or char in "-_."):
            return requirement[:index]
    return requirement


def render_pyproject(text: str, tenants: Sequence[TenantFolder], member_names: set[str]) -> str:
    """The root pyproject.toml with exactly `tenants` in the dev group and the uv sources.

    Tenant entries are those with a workspace source that is not one of `member_names` (the
    packages under packages/): stale tenants are dropped, current ones added, sorted, after the
    other dev dependencies.
    """
    document = tomlkit.parse(text)
    tool = cast("Table", document.setdefault("tool", tomlkit.table()))
    uv = cast("Table", tool.setdefault("uv", tomlkit.table()))
    sources = cast("Table", uv.setdefault("sources", tomlkit.table()))
    workspace_sources = {
        _normalise(name)
        for name, value in sources.unwrap().items()
        if as_table(value).get("workspace")
    }
    keep = {_normalise(name) for name in member_names}
    tenant_names = {_normalise(t.package_name): t.package_name for t in tenants}
    for name in [str(n) for n in sources]:
        key = _normalise(name)
        if key in workspace_sources and key not in keep and key not in tenant_names:
            del sources[name]
    for tenant in tenants:
        if tenant.package_name not in sources:
            sources[tenant.package_name] = tomlkit.parse("s = { workspace = true }")["s"]

    tenant_keys = set(tenant_names)
    text = tomlkit.dumps(document)
    return _with_dev_group(
        text, workspace_sources | tenant_keys, keep, sorted(tenant_names.values())
    )


_ITEM_LINE = re.compile(r'^\s*"(?P<item>[^"]+)"\s*,?\s*(?P<comment>#.*)?$')


def _with_dev_group(text: str, tenant_like: set[str], keep: set[str], names: list[str]) -> str:
    """`text` with the dev group's tenant lines replaced by `names`, after the other lines.

    Edited as text, line by line, so the other entries keep their comments and layout.
    """
    document = tomlkit.parse(text)
    groups = cast("Table", document.setdefault("dependency-groups", tomlkit.table()))
    if "dev" not in groups:
        groups["dev"] = tomlkit.array()
        text = tomlkit.dumps(document)
        groups = cast("Table", tomlkit.parse(text)["dependency-groups"])
    old = cast("Array", groups["dev"]).as_string()
    if text.count(old) != 1:
        raise RegistrationError(
            f"{PYPROJECT_FILE}: cannot find the dev dependency group's list exactly once. Fix: "
            "write it as `dev = [` with one entry per line, then run `tenants sync` again."
        )
    lines = old.strip().removeprefix("[").removesuffix("]").splitlines()
    kept: list[str] = []
    for line in lines:
        if line.strip() in ("", ",") or _TENANTS_COMMENT in line:
            continue  # blank lines and commas are rewritten below
        match = _ITEM_LINE.match(line)
        item = match.group("item") if match else None
        name = _normalise(_requirement_name(item)) if item else None
        if name is not None and name in tenant_like and name not in keep:
            continue  # a tenant: re-added below, or gone
        if match and item is not None:  # normalise the comma, keep the comment
            comment = f"  {match.group('comment')}" if match.group("comment") else ""
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(f'{indent}"{item}",{comment}')
        else:
            kept.append(line.rstrip())
    if names:
        kept.append(f"    # {_TENANTS_COMMENT}.")
        kept += [f'    "{name}",' for name in names]
    new = "[\n" + "\n".join(kept) + "\n]"
    result = text.replace(old, new)
    try:
        tomlkit.parse(result)
    except tomlkit.exceptions.ParseError as e:
        raise RegistrationError(
            f"{PYPROJECT_FILE}: the dev dependency group could not be rewritten ({e}). Fix: "
            'write one entry per line (`"name",`), then run `tenants sync` again.'
        ) from e
    return result


def member_package_names(root: Path) -> set[str]:
    """Names of the workspace members under packages/ (never treated as tenants)."""
    names: set[str] = set()
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        document = tomlkit.parse(pyproject.read_text(encoding="utf-8")).unwrap()
        name = as_table(document.get("project")).get("name")
        if name:
            names.add(str(name))
    return names


def expected_files(root: Path) -> dict[str, str]:
    """What `sync_tenants` writes, by path relative to the root (uv.lock and deployment files
    aside)."""
    tenants = discover_tenants(root)
    slugs = [tenant.slug for tenant in tenants]
    grants = load_grants(root)
    pyproject = (root / PYPROJECT_FILE).read_text(encoding="utf-8")
    return {
        WORKSPACE_FILE: render_workspace(slugs),
        PYPROJECT_FILE: render_pyproject(pyproject, tenants, member_package_names(root)),
        DG_FILE: render_dg_toml(slugs),
        CODEOWNERS_FILE: render_codeowners(grants, slugs),
    }


@dataclass
class SyncReport:
    tenants: list[str]
    changed: list[str] = field(default_factory=lambda: list[str]())
    notes: list[str] = field(default_factory=lambda: list[str]())

    def lines(self) -> list[str]:
        listed = ", ".join(self.tenants) or "none"
        out = [f"tenants: {listed}"]
        out += [f"updated {path}" for path in self.changed]
        out += self.notes
        if not self.changed:
            out.append("tenants sync: everything already in line with tenants/")
        return out


def sync_tenants(root: Path, *, lock: bool = True) -> SyncReport:
    """Bring the registration files, uv.lock and the deployment files in line with tenants/."""
    tenants = discover_tenants(root)
    for tenant in tenants:
        problem = slug_problem(tenant.slug)
        if problem:
            raise RegistrationError(
                f"tenants/{tenant.slug}: {problem}. Fix: rename the folder (and its package)."
            )
    report = SyncReport([tenant.slug for tenant in tenants])
    for relative, text in expected_files(root).items():
        path = root / relative
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            write_atomically(path, text)
            report.changed.append(relative)
    if lock:
        _lock(root, report)
    _render_deployments(root, report)
    return report


def uv_command() -> str | None:
    """The uv that runs us (`uv run` sets $UV), else the one on PATH."""
    return os.environ.get("UV") or shutil.which("uv")


def _lock(root: Path, report: SyncReport) -> None:
    uv = uv_command()
    lock_file = root / "uv.lock"
    if uv is None:
        report.notes.append(
            "WARNING: uv not found, uv.lock not updated. Fix: run `uv lock` at the repository root."
        )
        return
    before = lock_file.read_bytes() if lock_file.exists() else b""
    result = subprocess.run(
        [uv, "lock", "--quiet"], cwd=root, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RegistrationError(
            f"`uv lock` failed after registering the tenants: {result.stderr.strip()}. Fix: "
            "correct the tenant's pyproject.toml (its dependencies), then run "
            "`uv run dynamic-tables tenants sync` again."
        )
    if (lock_file.read_bytes() if lock_file.exists() else b"") != before:
        report.changed.append("uv.lock")


def _render_deployments(root: Path, report: SyncReport) -> None:
    from dagster_dynamic_tables.platform.deploy.render import render_deployments

    for path in render_deployments(root):
        report.changed.append(str(path.relative_to(root)))
