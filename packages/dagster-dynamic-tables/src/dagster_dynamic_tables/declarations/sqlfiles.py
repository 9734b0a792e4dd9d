"""The SQL files a declaration names: a DT's or view's `query_file`, the tenant's
`local_seed_file`.

Both are read through `files.read_tenant_file` (relative to the declaration file's folder,
confined to the tenant's `defs/` folder, bounded, never blocking); a file that cannot be read is a
`DeclarationProblem` naming the field, reported with the declaration's other problems.
"""

from __future__ import annotations

from pathlib import Path

from dagster_dynamic_tables.declarations.files import (
    MAX_QUERY_FILE_BYTES,
    MAX_SEED_FILE_BYTES,
    read_tenant_file,
)
from dagster_dynamic_tables.declarations.models import DynamicTable, View
from dagster_dynamic_tables.errors import DeclarationProblem


def read_query_file(
    item: DynamicTable | View, base_dir: Path | None, path: str, defs_root: Path | None = None
) -> tuple[DynamicTable | View, DeclarationProblem | None]:
    """Read `item.query_file` (relative to `base_dir`, inside `defs_root`) into `item.query`.

    `path` is the item's YAML path, used in the problem reported when the file is refused (see
    `files.read_tenant_file`) or empty. An item without `query_file` comes back as it is.
    """
    if item.query_file is None:
        return item, None
    text, problem = read_tenant_file(
        item.query_file,
        field=f"{path}.query_file",
        base_dir=base_dir,
        defs_root=defs_root,
        limit=MAX_QUERY_FILE_BYTES,
        limit_name="MAX_QUERY_FILE_BYTES",
        missing_fix="give a path relative to the YAML file, or inline the SELECT as query",
    )
    if text is None:
        return item, problem
    query = text.strip().rstrip(";").strip()
    if not query:
        return item, DeclarationProblem(
            f"{path}.query_file",
            f"{item.query_file!r} ({(base_dir or Path()) / item.query_file}) is empty.",
            "put the SELECT that defines the object in the file",
        )
    return item.model_copy(update={"query": query}), None


def read_seed_file(
    value: str, base_dir: Path | None, defs_root: Path | None
) -> tuple[str | None, DeclarationProblem | None]:
    """The text of `local_seed_file` (relative to `base_dir`, inside `defs_root`), or why not."""
    return read_tenant_file(
        value,
        field="local_seed_file",
        base_dir=base_dir,
        defs_root=defs_root,
        limit=MAX_SEED_FILE_BYTES,
        limit_name="MAX_SEED_FILE_BYTES",
        missing_fix="give the path of the seed SQL relative to the YAML file, or remove the key",
    )
