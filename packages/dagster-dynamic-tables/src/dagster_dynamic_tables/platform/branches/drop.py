"""`dynamic-tables env drop <name>` and `env list`.

`env drop pr_7` drops exactly the databases whose comment says `env create` made them for
`pr_7` (`markers`), newest first, and nothing else: a database without that comment is never
dropped, and neither is one a listed environment uses (prod's declared databases, dev's, ...),
whatever its comment says; one such database refuses the whole drop, before any DROP. It is
idempotent: with nothing left to drop it says so and succeeds (a closed pull request's workflow
may run twice). `DROP DATABASE IF EXISTS` keeps two concurrent drops from failing each other.

`env list` shows every branch environment found by those comments: its databases, what it was
cloned from, and its age.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from dagster_dynamic_tables.declarations.environments import ENVIRONMENT_VARIABLE
from dagster_dynamic_tables.errors import EnvironmentsError
from dagster_dynamic_tables.platform.branches.markers import (
    BranchDatabase,
    age_text,
    protected_databases,
    read_databases,
)
from dagster_dynamic_tables.platform.branches.scope import (
    check_branch_name,
    load_environments_file,
    open_connection,
)
from dagster_dynamic_tables.platform.plan.declared import load_declared_files

__all__ = ["DROP_TIMEOUT", "drop_branch", "list_branches"]

DROP_TIMEOUT = 300
"""Seconds after which one DROP DATABASE is cancelled."""


def _branch_databases(conn: Any, cursor: Any) -> list[BranchDatabase]:
    from dagster_dynamic_tables.sql.settings import (
        READ_STATEMENT_TIMEOUT,
        bounded_reads,
        statement_timeout,
    )

    with bounded_reads(conn, request_seconds=READ_STATEMENT_TIMEOUT):
        existing = read_databases(cursor, statement_timeout())
    return [branch for db in existing.values() if (branch := db.branch) is not None]


def drop_branch(root: Path, name: str, environ: Mapping[str, str], out: TextIO) -> int:
    """`env drop`: see the module. 0 when nothing of `name` is left."""
    check_branch_name(name, "drop")
    environments = load_environments_file(root, environ)
    branch = environments.get(name)  # a branch environment needs the file's branches: section
    plain = {k: v for k, v in environ.items() if k != ENVIRONMENT_VARIABLE}
    files = load_declared_files(root, None, plain)
    protected = protected_databases(environments, [f.as_declared for f in files])
    with open_connection(files, root, environ, branch) as (conn, target):
        cursor = conn.cursor()
        mine = [b for b in _branch_databases(conn, cursor) if b.environment == name]
        refused = [b.name for b in mine if b.name in protected or b.name.upper() in protected]
        if refused:
            raise EnvironmentsError(
                f"env drop {name}: refused, nothing dropped: {', '.join(refused)} "
                f"{'is' if len(refused) == 1 else 'are'} used by a listed environment in "
                f"{environments.file} (prod's declared databases, dev's, ...), though the "
                f"comment says env create made {'it' if len(refused) == 1 else 'them'} for "
                f"{name}. Fix: check who changed the comment; drop it by hand if it really goes."
            )
        if not mine:
            out.write(f"env drop {name} ({target.description}): nothing to drop\n")
            return 0
        out.write(f"env drop {name} ({target.description}): {len(mine)} databases\n")
        newest_first = sorted(mine, key=_created, reverse=True)
        for branch in newest_first:
            cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(branch.name)}", timeout=DROP_TIMEOUT)
            out.write(
                f"  dropped  {branch.name} (clone of {branch.source} from "
                f"{branch.source_environment}, made {age_text(branch.created_on)} ago)\n"
            )
    return 0


def list_branches(root: Path, environ: Mapping[str, str], out: TextIO) -> int:
    """`env list`: one line per branch environment, then its databases."""
    plain = {k: v for k, v in environ.items() if k != ENVIRONMENT_VARIABLE}
    files = load_declared_files(root, None, plain)
    with open_connection(files, root, environ) as (conn, target):
        branches = _branch_databases(conn, conn.cursor())
    by_environment: dict[str, list[BranchDatabase]] = defaultdict(list)
    for branch in branches:
        by_environment[branch.environment].append(branch)
    out.write(f"branch environments ({target.description}): {len(by_environment) or 'none'}\n")
    now = datetime.now(UTC)
    for environment, databases in sorted(by_environment.items()):
        oldest = min(databases, key=_created)
        sources = sorted({d.source_environment for d in databases})
        out.write(
            f"{environment}  from {', '.join(sources)}  age {age_text(oldest.created_on, now)}  "
            f"{len(databases)} database{'s' if len(databases) != 1 else ''}\n"
        )
        for database in sorted(databases, key=lambda d: d.name):
            created = (
                database.created_on.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
                if database.created_on is not None
                else "unknown"
            )
            out.write(f"  {database.name}  clone of {database.source}  created {created}\n")
    return 0


def _created(branch: BranchDatabase) -> datetime:
    return branch.created_on or datetime.min.replace(tzinfo=UTC)


def _quoted(name: str) -> str:
    """SHOW DATABASES reports names as stored: quote them as such."""
    return '"' + name.replace('"', '""') + '"'
