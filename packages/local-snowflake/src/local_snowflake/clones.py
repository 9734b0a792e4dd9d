"""`CREATE [OR REPLACE] DATABASE [IF NOT EXISTS] <new> CLONE <source> [COMMENT = '...']`.

fakesnow turns any `CREATE DATABASE` into an ATTACH, so a CLONE would silently give an empty
database. Here the new database is a new DuckDB file `<NEW>.db` in the data directory holding a
copy of every schema, table and view of the source (the rows copied: a copy, not Snowflake's
zero-copy clone), and every Dynamic Table of the source becomes a Dynamic Table of the clone, as
Snowflake documents for cloned Dynamic Tables:

- suspended (`SCHEDULING_STATE` reason `CLONED_AUTO_SUSPENDED`), whatever the source's state;
  a DT created later downstream of such a clone is suspended too
  (`UPSTREAM_CLONED_AUTO_SUSPENDED`), until the clone is resumed;
- no refresh history of its own (the source's stays with the source);
- the same definition text and properties (target lag, warehouse, refresh mode, scheduler): a
  query naming a table by its fully qualified name still reads the source database's table, a
  1- or 2-part name reads the clone's;
- its data as it was in the source: it can be queried at once (it is initialized).

Everything is done under the server lock; a failure part-way removes the new file and its
catalog rows, so a clone is made whole or not at all. The clone's comment and creation time are
kept in the catalog (`databases.py`), so `SHOW DATABASES` reports them, across restarts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
from fakesnow import info_schema, macros

from local_snowflake import databases, names
from local_snowflake.catalog import C
from local_snowflake.dynamic_tables import CLONES
from local_snowflake.engine import DynamicTableEngine
from local_snowflake.errors import already_exists, does_not_exist, sql_error, unsupported
from local_snowflake.refresh import STAGE_TABLE
from local_snowflake.statements import Name, normalise_ident, quote_ident

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
CREATE_CLONE = re.compile(
    rf"\s*CREATE\s+(OR\s+REPLACE\s+)?DATABASE\s+(IF\s+NOT\s+EXISTS\s+)?({_IDENT})\s+"
    rf"CLONE\s+({_IDENT})(?:\s+COMMENT\s*=\s*'((?:[^']|'')*)')?\s*;?\s*",
    re.IGNORECASE,
)
CLONE_MENTION = re.compile(
    r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TRANSIENT\s+)?DATABASE\b.*\bCLONE\b",
    re.IGNORECASE | re.DOTALL,
)
"""Any other form (TRANSIENT, AT / BEFORE, other options) is refused, never passed on."""

CLONED_REASON_CODE = "CLONED_AUTO_SUSPENDED"
CLONED_REASON_MESSAGE = "Cloned dynamic tables are suspended when they are created"
UPSTREAM_CLONED_REASON_CODE = "UPSTREAM_CLONED_AUTO_SUSPENDED"
UPSTREAM_CLONED_REASON_MESSAGE = "An upstream dynamic table is a clone that is still suspended"
_INTERNAL_SCHEMAS = ("main", "pg_catalog", "information_schema", "_fs_information_schema")


def clone_statement(engine: DynamicTableEngine, data_dir: Path, sql: str) -> str | None:
    """The status text of a CREATE DATABASE ... CLONE statement, None when sql is not one."""
    match = CREATE_CLONE.fullmatch(sql)
    if match is None:
        if CLONE_MENTION.match(sql):
            raise unsupported("this form of CREATE DATABASE ... CLONE (TRANSIENT, AT, BEFORE, ...)")
        return None
    new, source = normalise_ident(match[3]), normalise_ident(match[4])
    comment = match[5].replace("''", "'") if match[5] is not None else None
    names.check_container(new, "database")
    names.check_container(source, "database", reference=True)
    if databases.attached_path(engine, source) is None:
        raise does_not_exist("Database", source)
    if databases.attached_path(engine, new) is not None:
        if match[2]:
            return f"{new} already exists, statement succeeded."
        if not match[1]:
            raise already_exists(new)
        databases.drop_database(engine, data_dir, quote_ident(new), if_exists=True)
    clone_database(engine, data_dir, source, new)
    databases.record(engine, new, comment, cloned_from=source)
    return f"Database {new} successfully created."


def clone_database(engine: DynamicTableEngine, data_dir: Path, source: str, new: str) -> None:
    """Copy source into a new database file, then its Dynamic Tables into the catalog."""
    path = data_dir / f"{new}.db"
    if path.exists():
        raise sql_error(
            f"Cannot create database {new}: the file {path.name} is already in the data "
            "directory (left by another program?). Move it away and run the statement again.",
            errno=2002,
            sqlstate="42710",
        )
    duck = engine.duck
    duck.execute(f'ATTACH ? AS "{new}"', [str(path)])  # the name is a checked plain identifier
    try:
        duck.execute(info_schema.per_db_creation_sql(new))
        duck.execute(macros.creation_sql(new))
        _copy_objects(engine, source, new)
        _clone_dynamic_tables(engine, source, new)
    except duckdb.Error as e:
        _remove(engine, data_dir, new)
        raise sql_error(
            f"Cannot clone database {source} to {new}: {str(e).splitlines()[0]}",
            errno=2,
            sqlstate="0A000",
        ) from None
    except BaseException:
        _remove(engine, data_dir, new)
        raise


def _copy_objects(engine: DynamicTableEngine, source: str, new: str) -> None:
    """Schemas, tables with their rows, then views (in an order their dependencies allow)."""
    duck = engine.duck
    for (schema,) in duck.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ? "
        "AND NOT list_contains(?, schema_name) ORDER BY schema_name",
        [source, list(_INTERNAL_SCHEMAS)],
    ).fetchall():
        duck.execute(f"CREATE SCHEMA {quote_ident(new)}.{quote_ident(schema)}")
    session = engine.fs.duck_conn.cursor()  # its own cursor: USE changes only it
    try:
        session.execute(f"USE {quote_ident(new)}")
        tables = duck.execute(
            "SELECT schema_name, table_name, sql FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name <> '_fs_information_schema' AND table_name <> ? "
            "ORDER BY schema_name, table_name",
            [source, STAGE_TABLE],
        ).fetchall()
        for schema, table, create in tables:
            session.execute(create)  # `CREATE TABLE S.T(...)`: relative to the new database
            session.execute(
                f"INSERT INTO {Name(new, schema, table).sql()} "
                f"SELECT * FROM {Name(source, schema, table).sql()}"
            )
        views: list[str] = [
            row[0]
            for row in duck.execute(
                "SELECT sql FROM duckdb_views() WHERE database_name = ? AND NOT internal "
                "AND schema_name <> '_fs_information_schema' ORDER BY schema_name, view_name",
                [source],
            ).fetchall()
        ]
        while views:  # a view over another view: create what binds, then the rest again
            waiting: list[str] = []
            for create in views:
                try:
                    session.execute(create)
                except duckdb.CatalogException:
                    waiting.append(create)
            if len(waiting) == len(views):
                session.execute(waiting[0])  # raises the error that stops it
            views = waiting
    finally:
        session.close()


def _clone_dynamic_tables(engine: DynamicTableEngine, source: str, new: str) -> None:
    """The source's Dynamic Tables as the clone's: suspended (CLONED_AUTO_SUSPENDED), the same
    definition, no history; inputs resolved again for the clone (1- and 2-part names now name
    the clone's tables)."""
    now = engine.clock.now()
    rows = engine.duck.execute(
        f"""INSERT INTO {C}.dynamic_tables BY NAME
        SELECT * REPLACE (
            ? AS database_name, ? || '.' || schema_name || '.' || name AS qualified_name,
            'SUSPENDED' AS scheduling_state, ? AS reason_code, ? AS reason_message,
            ?::TIMESTAMPTZ AS last_suspended_on, 0 AS consecutive_failures,
            ?::TIMESTAMPTZ AS created_on)
        FROM {C}.dynamic_tables WHERE database_name = ?
        RETURNING schema_name, name, query_text""",
        [new, new, CLONED_REASON_CODE, CLONED_REASON_MESSAGE, now, now, source],
    ).fetchall()
    for schema, name, query in rows:
        clone = Name(new, schema, name)
        engine.duck.execute(
            f"UPDATE {C}.dynamic_tables SET inputs = ? WHERE qualified_name = ?",
            [json.dumps(engine.inputs(clone, query)), clone.qualified],
        )
        engine.duck.execute(
            f"INSERT INTO {CLONES} VALUES (?, ?, ?)",
            [clone.qualified, Name(source, schema, name).qualified, now],
        )
        engine.tables.new_graph_version(clone.qualified, now)
        engine.tables.record_size(clone, changed=True)  # SHOW's rows and bytes: the cloned data's


def suspend_if_upstream_cloned(engine: DynamicTableEngine, name: Name) -> None:
    """A DT created downstream of a clone that is still suspended (CLONED_AUTO_SUSPENDED, or in
    turn UPSTREAM_CLONED_AUTO_SUSPENDED) is suspended too, as Snowflake documents
    (UPSTREAM_CLONED_AUTO_SUSPENDED); a RESUME of the clone resumes it (dynamic_tables.py)."""
    dt = engine.tables.get(name.qualified)
    if dt is None or not dt.upstream:
        return
    row = engine.duck.execute(
        f"SELECT count(*) FROM {C}.dynamic_tables WHERE list_contains(?, qualified_name) "
        "AND scheduling_state = 'SUSPENDED' AND reason_code IN (?, ?)",
        [dt.upstream, CLONED_REASON_CODE, UPSTREAM_CLONED_REASON_CODE],
    ).fetchone()
    if not row or not row[0]:
        return
    now = engine.clock.now()
    engine.duck.execute(
        f"UPDATE {C}.dynamic_tables SET scheduling_state = 'SUSPENDED', reason_code = ?, "
        "reason_message = ?, last_suspended_on = ? WHERE qualified_name = ?",
        [UPSTREAM_CLONED_REASON_CODE, UPSTREAM_CLONED_REASON_MESSAGE, now, name.qualified],
    )
    engine.tables.new_graph_version(name.qualified, now)


def _remove(engine: DynamicTableEngine, data_dir: Path, new: str) -> None:
    """Undo a clone that failed part-way: its catalog rows, the attached file."""
    for qualified in engine.duck.execute(
        f"SELECT qualified_name FROM {C}.dynamic_tables WHERE database_name = ?", [new]
    ).fetchall():
        engine.duck.execute(f"DELETE FROM {C}.graph_history WHERE qualified_name = ?", qualified)
        engine.duck.execute(f"DELETE FROM {CLONES} WHERE qualified_name = ?", qualified)
    engine.duck.execute(f"DELETE FROM {C}.dynamic_tables WHERE database_name = ?", [new])
    databases.drop_database(engine, data_dir, quote_ident(new), if_exists=True)
