"""Databases: DROP DATABASE (the database and its objects go; a Dynamic Table reading from it then
fails), CREATE DATABASE of one that exists, comments with IF EXISTS."""

from __future__ import annotations

import pytest
from snowflake.connector.errors import ProgrammingError


def test_drop_database_drops_it_and_a_reading_dynamic_table_fails(sf, local_snowflake_server):
    source = f"{sf.db}_SRC"
    sf.cur.execute(f"CREATE DATABASE {source}")
    sf.cur.execute(f"CREATE SCHEMA {source}.S")
    sf.cur.execute(f"CREATE TABLE {source}.S.T (id INT)")
    sf.cur.execute(
        f"CREATE DYNAMIC TABLE {source}.S.INNER_DT TARGET_LAG = '1 minute' "
        f"WAREHOUSE = wh AS SELECT id FROM {source}.S.T"
    )
    sf.cur.execute(f"USE SCHEMA {sf.db}.S")
    sf.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh "
        f"AS SELECT id FROM {source}.S.T"
    )
    assert sf.one(f"DROP DATABASE {source}") == f"{source} successfully dropped."
    assert source not in [r[1] for r in sf.rows("SHOW DATABASES")]
    assert not (local_snowflake_server.data_dir / f"{source}.db").exists()
    assert [r[1] for r in sf.rows("SHOW DYNAMIC TABLES IN ACCOUNT") if r[2] == source] == []
    with pytest.raises(ProgrammingError, match="does not exist"):
        sf.cur.execute(f"SELECT * FROM {source}.S.T")
    sf.run_scheduler(advance_seconds=61)
    failed = sf.history("DT")[-1]
    assert (failed["STATE"], failed["STATE_CODE"], failed["STATE_MESSAGE"]) == (
        "FAILED",
        "002003",
        f"SQL compilation error:\nObject '{source}.S.T' does not exist or not authorized.",
    )
    assert sf.one(f"DROP DATABASE IF EXISTS {source}") == (
        f"Drop statement executed successfully ({source} already dropped)."
    )
    with pytest.raises(ProgrammingError) as excinfo:
        sf.cur.execute(f"DROP DATABASE {source}")
    assert excinfo.value.msg == (
        f"002003 (42S02): SQL compilation error:\nDatabase '{source}' does not exist or not "
        "authorized."
    )
    sf.cur.execute(f"CREATE DATABASE {source}")  # the name can be used again
    assert sf.one(f"SELECT count(*) FROM {source}.INFORMATION_SCHEMA.TABLES") == 0


def test_create_database_of_one_that_exists_fails_as_on_snowflake(sf):
    name = f"{sf.db}_AGAIN"
    sf.cur.execute(f"CREATE DATABASE {name}")
    sf.cur.execute(f"CREATE SCHEMA {name}.S")
    sf.cur.execute(f"CREATE TABLE {name}.S.T (id INT)")
    with pytest.raises(ProgrammingError) as excinfo:
        sf.cur.execute(f"CREATE DATABASE {name}")
    assert (excinfo.value.errno, excinfo.value.sqlstate) == (2002, "42710")
    assert f"SQL compilation error:\nObject '{name}' already exists." in str(excinfo.value)
    sf.cur.execute(f"CREATE DATABASE IF NOT EXISTS {name}")
    assert sf.rows(f"SELECT COUNT(*) FROM {name}.S.T") == [(0,)]  # kept
    # Snowflake replaces it; the stand-in refuses, saying how, before anything changes.
    with pytest.raises(ProgrammingError, match="DROP DATABASE it first") as excinfo:
        sf.cur.execute(f"CREATE OR REPLACE DATABASE {name} COMMENT = 'new'")
    assert excinfo.value.sqlstate == "0A000"
    assert sf.rows(f"SELECT COUNT(*) FROM {name}.S.T") == [(0,)]


def test_comment_if_exists_on_a_missing_database_is_no_error(sf):
    missing = f"{sf.db}_MISSING"
    ok = "Statement executed successfully."
    assert sf.one(f"COMMENT IF EXISTS ON DATABASE {missing} IS 'x'") == ok
    assert sf.one(f"ALTER DATABASE IF EXISTS {missing} SET COMMENT = 'x'") == ok
    for statement in (
        f"COMMENT ON DATABASE {missing} IS 'x'",
        f"ALTER DATABASE {missing} SET COMMENT = 'x'",
    ):
        with pytest.raises(ProgrammingError, match=f"Database '{missing}' does not exist"):
            sf.cur.execute(statement)
    assert missing not in [r[1] for r in sf.rows("SHOW DATABASES")]
    sf.cur.execute(f"COMMENT IF EXISTS ON DATABASE {sf.db} IS 'kept'")
    assert [r[6] for r in sf.rows("SHOW DATABASES") if r[1] == sf.db] == ["kept"]
