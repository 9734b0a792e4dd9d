"""The data directory's DuckDB files under one `FakeSnow`: opened at start (every database file
and the catalog attached, the catalog hidden from SHOW DATABASES, damage checked), access then
confined to the directory, and every file checkpointed at close.

fakesnow's own server keeps one module-level in-memory database (or one file per session); here
the databases are files `<DB>.db` in the data directory, and the Dynamic Table catalog is
`_fs_local_snowflake.db` (catalog.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import snowflake.connector.errors
from fakesnow import info_schema, macros
from fakesnow.instance import FakeSnow
from fakesnow.transforms.show import SQL_CREATE_VIEW_SHOW_DATABASES

from local_snowflake import damage, names
from local_snowflake.catalog import CATALOG_FILE, CATALOG_NAME

logger = logging.getLogger("local_snowflake.server")


def open_data_dir(data_dir: Path) -> FakeSnow:
    """A FakeSnow over the data directory's files (created if missing); refuses a damaged one
    (`DataDirDamagedError`, damage.py). Call `confine` once the engine has attached what it
    needs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    damage.check_catalog_present(data_dir, CATALOG_FILE)
    fs = FakeSnow(db_path=data_dir)
    _hide_catalog(fs.duck_conn)
    _attach_existing_databases(fs.duck_conn, data_dir)
    _attach(fs.duck_conn, data_dir, data_dir / CATALOG_FILE, CATALOG_NAME)
    damage.check_tables_readable(fs.duck_conn, data_dir)
    return fs


def confine(duck: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """No file outside the data directory, no extension install, no Python object scan, for
    any client statement or DT query; clients cannot change the settings back.

    Runs once the engine has attached what it needs. New databases are files in the data
    directory (allowed); fakesnow sets its only global setting (TimeZone) before this."""
    duck.execute("SET allowed_directories = [?]", [f"{data_dir.resolve()}/"])
    duck.execute("SET enable_external_access = false")
    duck.execute("SET lock_configuration = true")


def checkpoint_and_close(duck: duckdb.DuckDBPyConnection) -> None:
    """Checkpoint every attached file, then close the database (the server is stopping)."""
    for database in duck.execute(
        "SELECT database_name FROM duckdb_databases() WHERE NOT internal AND path IS NOT NULL"
    ).fetchall():
        duck.execute(f'CHECKPOINT "{database[0]}"')
    duck.close()


def _hide_catalog(duck: duckdb.DuckDBPyConnection) -> None:
    hidden = SQL_CREATE_VIEW_SHOW_DATABASES.replace(
        "create view if not exists", "create or replace view"
    ).replace("'_fs_global')", f"'_fs_global', '{CATALOG_NAME}')")
    duck.execute(hidden)


def _attach_existing_databases(duck: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """Databases are files named <DB>.db: attach them all, so cross-database queries work
    after a restart even before a session names them."""
    for path in sorted(data_dir.glob("*.db")):
        if path.name == CATALOG_FILE:
            continue
        name = path.stem
        try:
            names.check_container(name, "database")
        except snowflake.connector.errors.ProgrammingError:
            logger.warning("not a database file of local-snowflake, ignored: %s", path)
            continue
        _attach(duck, data_dir, path, name)
        duck.execute(info_schema.per_db_creation_sql(name))
        duck.execute(macros.creation_sql(name))


def _attach(duck: duckdb.DuckDBPyConnection, data_dir: Path, path: Path, name: str) -> None:
    """Attach a file of the data directory (refusing one DuckDB cannot open)."""
    try:
        # the path is bound, the name a checked plain identifier (or the catalog's)
        duck.execute(f'ATTACH IF NOT EXISTS ? AS "{name}"', [str(path)])
    except duckdb.Error as e:
        raise damage.attach_error(data_dir, path, e) from e
