"""Hostile and unusual names: each works, or fails with a Snowflake-style error; none runs a
statement of its own (fakesnow formats database and schema names into DuckDB SQL)."""

from __future__ import annotations

import pytest
from local_snowflake import connect
from snowflake.connector.errors import DatabaseError, ProgrammingError

CONTAINER_RULE = (
    "(database and schema names here are letters, digits, _ and $, starting with a letter or _)"
)
OBJECT_RULE = "(names here may not contain ' or control characters)"


def unsupported(what):
    return (
        f"000002 (0A000): SQL compilation error:\nUnsupported feature '{what}': "
        "not supported by local-snowflake (the embedded Snowflake stand-in)."
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            """CREATE DATABASE "AN'ALYTICS\"""",
            unsupported(f'database name "AN\'ALYTICS" {CONTAINER_RULE}'),
        ),
        (
            """CREATE SCHEMA "S'X\"""",
            unsupported(f'schema name "S\'X" {CONTAINER_RULE}'),
        ),
        ('CREATE SCHEMA "a b"', unsupported(f'schema name "a b" {CONTAINER_RULE}')),
        ('USE DATABASE "x;y"', unsupported(f'database name "x;y" {CONTAINER_RULE}')),
        ('USE SCHEMA "a.b"', unsupported(f'schema name "a.b" {CONTAINER_RULE}')),
        ('DROP DATABASE "ORDER"', unsupported(f'database name "ORDER" {CONTAINER_RULE}')),
        (
            "CREATE DATABASE main",
            unsupported('database name "MAIN" (reserved by DuckDB or local-snowflake)'),
        ),
        (
            "CREATE SCHEMA _fs_local_snowflake.x",
            unsupported(
                'database name "_FS_LOCAL_SNOWFLAKE" (reserved by DuckDB or local-snowflake)'
            ),
        ),
        (
            """SELECT * FROM "x'y".S.T""",
            unsupported(f'database name "x\'y" {CONTAINER_RULE}'),
        ),
        ("""CREATE TABLE "T'1" (id INT)""", unsupported(f'name "T\'1" {OBJECT_RULE}')),
        ('CREATE TABLE "T\x7f" (id INT)', unsupported(f'name "T\\x7f" {OBJECT_RULE}')),
        ('CREATE TABLE "T\u0085" (id INT)', unsupported(f'name "T\\x85" {OBJECT_RULE}')),
        (
            """CREATE DYNAMIC TABLE "D'T" TARGET_LAG = '1 minute' WAREHOUSE = wh """
            "AS SELECT 1 AS x",
            unsupported(f'name "D\'T" {OBJECT_RULE}'),
        ),
        (
            """CREATE DYNAMIC TABLE "X Y".S.D TARGET_LAG = '1 minute' WAREHOUSE = wh """
            "AS SELECT 1 AS x",
            unsupported(f'database name "X Y" {CONTAINER_RULE}'),
        ),
        (
            """CREATE DYNAMIC TABLE d TARGET_LAG = '1 minute' WAREHOUSE = wh """
            """AS SELECT 1 AS "it's\"""",
            unsupported(f'name "it\'s" {OBJECT_RULE}'),
        ),
    ],
    ids=[
        "database-quote",
        "schema-quote",
        "schema-space",
        "use-database-semicolon",
        "use-schema-dot",
        "database-keyword",
        "database-reserved",
        "schema-in-reserved-database",
        "query-database",
        "table-quote",
        "table-del",
        "table-nel",
        "dynamic-table-quote",
        "dynamic-table-database-space",
        "dynamic-table-column-quote",
    ],
)
def test_names_fakesnow_cannot_take_get_a_snowflake_style_error(sf, sql, message):
    with pytest.raises(ProgrammingError) as excinfo:
        sf.cur.execute(sql)
    assert excinfo.value.msg == message
    assert (excinfo.value.errno, excinfo.value.sqlstate) == (2, "0A000")


def test_a_crafted_database_name_attaches_no_file(sf, local_snowflake_server, tmp_path):
    evil = tmp_path / "evil.db"
    name = f"X.db' AS X; ATTACH '{evil}' AS EVIL; --"
    with pytest.raises(ProgrammingError, match="Unsupported feature 'database name"):
        sf.cur.execute(f'CREATE DATABASE "{name}"')
    with pytest.raises(DatabaseError, match="Unsupported feature 'database name"):
        connect(local_snowflake_server.host, local_snowflake_server.port, database=f'"{name}"')
    assert not evil.exists()
    assert "EVIL" not in [r[1] for r in sf.rows("SHOW DATABASES")]


def test_a_login_with_a_database_fakesnow_cannot_take_is_refused(local_snowflake_server):
    with pytest.raises(DatabaseError) as excinfo:
        connect(local_snowflake_server.host, local_snowflake_server.port, database='"AN\'ALYTICS"')
    assert excinfo.value.errno == 390201
    assert excinfo.value.msg == (
        f"390201 (08001): Failed to connect to DB: 127.0.0.1:{local_snowflake_server.port}. "
        + unsupported(f'database name "AN\'ALYTICS" {CONTAINER_RULE}').split(": ", 1)[1]
    )


def test_other_quoted_names_work(sf):
    table = '"my ""odd"" table ü.x"'
    sf.cur.execute(f'CREATE TABLE {table} ("a column" INT, "b col" INT)')
    sf.cur.execute(f"INSERT INTO {table} VALUES (1, 2)")
    sf.cur.execute(
        f'CREATE DYNAMIC TABLE "dt ""q""" TARGET_LAG = \'1 minute\' WAREHOUSE = "my wh" '
        f'AS SELECT "a column" + "b col" AS "sum!" FROM {table}'
    )
    assert sf.rows('SELECT "sum!" FROM "dt ""q"""') == [(3,)]
    history = sf.rows(
        f"SELECT NAME, STATE FROM TABLE({sf.db}.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
        'NAME => \'"dt ""q"""\'))'
    )
    assert history == [('dt "q"', "SUCCEEDED")]
    sf.cur.execute("CREATE SCHEMA my_schema$2")
    assert sf.one("SELECT current_schema()") == "MY_SCHEMA$2"


def test_a_request_runs_one_statement(sf):
    for sql in ("SELECT 1; SELECT 2", "CREATE TABLE t (i INT); DROP TABLE t"):
        with pytest.raises(ProgrammingError) as excinfo:
            sf.cur.execute(sql)
        assert excinfo.value.msg == (
            "000008 (0A000): Actual statement count 2 did not match the desired statement count 1."
        )
    assert sf.one("SELECT 'a;b' AS x;") == "a;b"
    with pytest.raises(ProgrammingError, match="001003"):  # not Snowflake SQL: a syntax error
        sf.cur.execute("SELECT 1; ATTACH ':memory:' AS evil")
    assert "EVIL" not in [r[1] for r in sf.rows("SHOW DATABASES")]
