"""Databases beyond what fakesnow does: `DROP DATABASE` (fakesnow passes it to DuckDB, where it is
a syntax error), comments and creation times (`COMMENT ON DATABASE`, `ALTER DATABASE ... SET
COMMENT`, kept in the catalog so that they survive a restart) and `SHOW DATABASES` reporting
them. `CREATE DATABASE ... CLONE` is clones.py.

Each database is a DuckDB file `<DB>.db` in the data directory, attached under its name. Dropping
one detaches it, deletes its files and forgets its Dynamic Tables (their refresh history is kept,
as for `DROP DYNAMIC TABLE`), so the scheduler no longer refreshes them. A Dynamic Table elsewhere
that reads from it then fails its refreshes, as in Snowflake. Snowflake keeps a dropped database
for `UNDROP` during its Time Travel retention; the stand-in does not.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
from fakesnow.transforms.show import SQL_CREATE_VIEW_SHOW_DATABASES

from local_snowflake import names
from local_snowflake.catalog import CATALOG_NAME, C
from local_snowflake.dynamic_tables import CLONES
from local_snowflake.engine import DynamicTableEngine
from local_snowflake.errors import already_exists, does_not_exist, sql_error, unsupported
from local_snowflake.statements import normalise_ident

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
DROP_DATABASE = re.compile(
    rf"\s*DROP\s+DATABASE\s+(IF\s+EXISTS\s+)?({_IDENT})(?:\s+(?:CASCADE|RESTRICT))?\s*;?\s*",
    re.IGNORECASE,
)
CREATE_DATABASE = re.compile(
    rf"\s*CREATE\s+(OR\s+REPLACE\s+)?(?:TRANSIENT\s+)?DATABASE\s+(IF\s+NOT\s+EXISTS\s+)?"
    rf"({_IDENT})(?:\s+COMMENT\s*=\s*'((?:[^']|'')*)')?\s*;?\s*",
    re.IGNORECASE,
)
SET_COMMENT = re.compile(
    rf"\s*(?:COMMENT\s+(IF\s+EXISTS\s+)?ON\s+DATABASE\s+({_IDENT})\s+IS"
    rf"|ALTER\s+DATABASE\s+(IF\s+EXISTS\s+)?({_IDENT})\s+SET\s+COMMENT\s*=)"
    r"\s*'((?:[^']|'')*)'\s*;?\s*",
    re.IGNORECASE,
)

DATABASES = f"{C}.databases"
"""Per database: its creation time (when the stand-in saw it made), comment, clone source.
Databases made before the stand-in kept this (or by a login naming a missing database, which
fakesnow creates) have no row: SHOW DATABASES reports 1970-01-01 for them."""

_TABLES = f"""
CREATE TABLE IF NOT EXISTS {DATABASES} (
    NAME VARCHAR PRIMARY KEY, CREATED_ON TIMESTAMPTZ, COMMENT VARCHAR, CLONED_FROM VARCHAR);
"""


def _replaced(text: str, *pairs: tuple[str, str]) -> str:
    """text with each (old, new) replaced; an old missing means fakesnow's text changed."""
    for old, new in pairs:
        if old not in text:
            raise RuntimeError(f"fakesnow's SHOW DATABASES view changed: no {old!r} in it")
        text = text.replace(old, new)
    return text


# fakesnow's SHOW DATABASES view, with the creation time and comment kept here, ordered by name
# (and the catalog hidden, as database_files does)
_SHOW_DATABASES = _replaced(
    SQL_CREATE_VIEW_SHOW_DATABASES,
    ("create view if not exists", "create or replace view"),
    ("to_timestamp(0)::timestamptz", "coalesce(m.created_on, to_timestamp(0))::timestamptz"),
    # an expression, so that DuckDB names the column as here (not as the table spells it)
    ("    comment,", "    (m.comment || '') AS 'comment',"),
    ("database_name as 'name'", "d.database_name as 'name'"),
    (
        "FROM duckdb_databases",
        f"FROM duckdb_databases() d LEFT JOIN {DATABASES} m "
        "ON upper(m.name) = upper(d.database_name)",
    ),
    (
        "WHERE database_name NOT IN ('memory', '_fs_global')",
        f"WHERE d.database_name NOT IN ('memory', '_fs_global', '{CATALOG_NAME}') "
        "ORDER BY d.database_name",
    ),
)


def install(duck: duckdb.DuckDBPyConnection) -> None:
    """Create this module's catalog tables (if missing) and its SHOW DATABASES view."""
    duck.execute(_TABLES)
    duck.execute(_SHOW_DATABASES)


def attached_path(engine: DynamicTableEngine, name: str) -> str | None:
    """The file of an attached database (None when no database has that name)."""
    row = engine.duck.execute(
        "SELECT coalesce(path, '') FROM duckdb_databases() "
        "WHERE NOT internal AND upper(database_name) = ?",
        [name.upper()],
    ).fetchone()
    return None if row is None else str(row[0])


def record(
    engine: DynamicTableEngine, name: str, comment: str | None, *, cloned_from: str | None
) -> None:
    """Remember a database made now (its comment, what it was cloned from)."""
    engine.duck.execute(f"DELETE FROM {DATABASES} WHERE upper(name) = ?", [name.upper()])
    engine.duck.execute(
        f"INSERT INTO {DATABASES} VALUES (?, ?, ?, ?)",
        [name, engine.clock.now(), comment, cloned_from],
    )


def note_created(engine: DynamicTableEngine, sql: str) -> None:
    """Before fakesnow runs a plain `CREATE DATABASE` (it makes the database and keeps neither
    time nor comment): remember when it was made, and its comment, unless it exists already. Of
    one that exists, `CREATE DATABASE` fails as on Snowflake (002002, already exists); `CREATE OR
    REPLACE DATABASE` is refused as unsupported (fakesnow cannot replace an attached database:
    `DROP DATABASE` first), before anything changes."""
    match = CREATE_DATABASE.fullmatch(sql)
    if match is None:
        return
    or_replace, if_not_exists, ident, comment_text = match.groups()
    name = normalise_ident(ident)
    names.check_container(name, "database")
    exists = attached_path(engine, name) is not None
    if exists and not or_replace:
        if if_not_exists:
            return
        raise already_exists(name)
    if exists:
        raise unsupported(
            f"CREATE OR REPLACE DATABASE of an existing database ({name}): DROP DATABASE it first"
        )
    comment = comment_text.replace("''", "'") if comment_text is not None else None
    record(engine, name, comment, cloned_from=None)


def set_comment(engine: DynamicTableEngine, sql: str) -> str | None:
    """The status of `COMMENT [IF EXISTS] ON DATABASE d IS '...'` / `ALTER DATABASE [IF EXISTS] d
    SET COMMENT = '...'`, None when sql is neither (IF EXISTS: a missing database is no error)."""
    match = SET_COMMENT.fullmatch(sql)
    if match is None:
        return None
    if_exists = match[1] or match[3]
    name = normalise_ident(match[2] or match[4])
    names.check_container(name, "database")
    if attached_path(engine, name) is None:
        if if_exists:
            return "Statement executed successfully."
        raise does_not_exist("Database", name)
    comment = match[5].replace("''", "'")
    updated = engine.duck.execute(
        f"UPDATE {DATABASES} SET comment = ? WHERE upper(name) = ? RETURNING name",
        [comment, name.upper()],
    ).fetchall()
    if not updated:
        engine.duck.execute(f"INSERT INTO {DATABASES} VALUES (?, NULL, ?, NULL)", [name, comment])
    return "Statement executed successfully."


def drop_database(engine: DynamicTableEngine, data_dir: Path, text: str, if_exists: bool) -> str:
    """Drop the database named by text (an identifier as written); returns the status text."""
    name = normalise_ident(text)
    names.check_container(name, "database")
    path = attached_path(engine, name)
    if path is None:
        if if_exists:
            return f"Drop statement executed successfully ({name} already dropped)."
        raise does_not_exist("Database", name)
    for qualified in engine.tables.all_names():
        dt = engine.tables.get(qualified)
        if dt is not None and dt.name.database.upper() == name.upper():
            engine.tables.forget(dt.name)
            engine.duck.execute(f"DELETE FROM {CLONES} WHERE qualified_name = ?", [qualified])
    engine.close_sessions(name)
    try:
        engine.duck.execute(f"DETACH DATABASE {name}")  # a checked plain identifier
    except duckdb.Error as e:
        raise sql_error(
            f"Cannot drop database {name}: {str(e).splitlines()[0]}", errno=2003, sqlstate="55006"
        ) from None
    engine.duck.execute(f"DELETE FROM {DATABASES} WHERE upper(name) = ?", [name.upper()])
    if path:
        for file in (Path(path), Path(f"{path}.wal")):
            if file.resolve().parent == data_dir.resolve():
                file.unlink(missing_ok=True)
    return f"{name} successfully dropped."
