"""Damage detection at start: a data directory the server cannot serve is refused, naming the file
and how to recover, instead of a server that answers while every statement fails.

Checked by `database_files.open_data_dir`, before the server answers:
- the catalog (`_fs_local_snowflake.db`) is missing while database files exist: the Dynamic
  Tables' definitions and history are gone, and every DT would be served as a plain table;
- a file is not a DuckDB database, or DuckDB cannot open it (truncated, checksum mismatch);
- every table of the catalog and of every database reads in full (DuckDB opens a file lazily: a
  file truncated after its header attaches, and then every statement on it fails).

The server then exits with status 3 and the message (an `ERROR:` line in server.log), which
`ensure_server` repeats.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from local_snowflake.errors import DataDirDamagedError

EXIT_DAMAGED = 3


def check_catalog_present(data_dir: Path, catalog_file: str) -> None:
    """Refuse database files without the catalog that holds their Dynamic Tables."""
    if (data_dir / catalog_file).exists():
        return
    databases = sorted(p.name for p in data_dir.glob("*.db") if p.name != catalog_file)
    if databases:
        raise DataDirDamagedError(
            data_dir,
            f"the Dynamic Table catalog {catalog_file} is missing while database files exist "
            f"({', '.join(databases)}): their Dynamic Tables would be served as plain tables",
        )


def attach_error(data_dir: Path, path: Path, error: duckdb.Error) -> DataDirDamagedError:
    return DataDirDamagedError(data_dir, f"{path.name} cannot be opened ({_first_line(error)})")


def check_tables_readable(duck: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """Read every column of every table of every attached file once (a hash of each value)."""
    files = duck.execute(
        "SELECT database_name, path FROM duckdb_databases() WHERE NOT internal "
        "AND path IS NOT NULL ORDER BY database_name"
    ).fetchall()
    for database, path in files:
        tables = duck.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
            "ORDER BY schema_name, table_name",
            [database],
        ).fetchall()
        for schema, table in tables:
            name = ".".join(
                '"' + part.replace('"', '""') + '"' for part in (database, schema, table)
            )
            try:
                duck.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {name}").fetchall()
            except duckdb.Error as e:
                raise DataDirDamagedError(
                    data_dir,
                    f"{Path(path).name}: table {schema}.{table} cannot be read ({_first_line(e)})",
                ) from e


def _first_line(error: Exception) -> str:
    return str(error).strip().split("\n", 1)[0]
