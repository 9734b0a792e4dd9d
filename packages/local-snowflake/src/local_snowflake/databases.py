"""`DROP DATABASE`, which fakesnow passes to DuckDB (where it is a syntax error).

Each database is a DuckDB file `<DB>.db` in the data directory, attached under its name. Dropping
one detaches it, deletes its files and forgets its Dynamic Tables (their refresh history is kept,
as for `DROP DYNAMIC TABLE`). A Dynamic Table elsewhere that reads from it then fails its
refreshes, as in Snowflake. Snowflake keeps a dropped database for `UNDROP` during its Time
Travel retention; the stand-in does not.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from local_snowflake import names
from local_snowflake.engine import DynamicTableEngine
from local_snowflake.errors import does_not_exist, sql_error
from local_snowflake.statements import normalise_ident

DROP_DATABASE = re.compile(
    r'\s*DROP\s+DATABASE\s+(IF\s+EXISTS\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
    r"(?:\s+(?:CASCADE|RESTRICT))?\s*;?\s*",
    re.IGNORECASE,
)


def drop_database(engine: DynamicTableEngine, data_dir: Path, text: str, if_exists: bool) -> str:
    """Drop the database named by text (an identifier as written); returns the status text."""
    name = normalise_ident(text)
    names.check_container(name, "database")
    attached = engine.duck.execute(
        "SELECT path FROM duckdb_databases() WHERE NOT internal AND upper(database_name) = ?",
        [name.upper()],
    ).fetchone()
    if attached is None:
        if if_exists:
            return f"Drop statement executed successfully ({name} already dropped)."
        raise does_not_exist("Database", name)
    for qualified in engine.tables.all_names():
        dt = engine.tables.get(qualified)
        if dt is not None and dt.name.database.upper() == name.upper():
            engine.tables.forget(dt.name)
    engine.close_sessions(name)
    try:
        engine.duck.execute(f"DETACH DATABASE {name}")  # a checked plain identifier
    except duckdb.Error as e:
        raise sql_error(
            f"Cannot drop database {name}: {str(e).splitlines()[0]}", errno=2003, sqlstate="55006"
        ) from None
    if attached[0]:
        for path in (Path(attached[0]), Path(f"{attached[0]}.wal")):
            if path.resolve().parent == data_dir.resolve():
                path.unlink(missing_ok=True)
    return f"{name} successfully dropped."
