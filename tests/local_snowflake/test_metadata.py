"""The metadata table functions: the sensor's exact statements, columns, types and values."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from snowflake.connector.constants import FIELD_ID_TO_NAME
from snowflake.connector.errors import ProgrammingError
from support.sensor_statements import SENSOR_DYNAMIC_TABLES_SQL, SENSOR_HISTORY_SQL


def types(cur):
    return {d.name: FIELD_ID_TO_NAME[d.type_code] for d in cur.description}


@pytest.fixture(scope="module")
def two_databases(local_snowflake_connect_module):
    """ANALYTICS.ECOMMERCE and OTHER_DB.S with a DT each (the names the sensor's SQL uses),
    dropped after the module: a database named ANALYTICS on the session's stand-in would make
    DuckDB refuse later tests' views over `<DB>.ANALYTICS.<T>` (stand-in README)."""
    conn = local_snowflake_connect_module()
    cur = conn.cursor()
    for db, schema in (("ANALYTICS", "ECOMMERCE"), ("OTHER_DB", "S")):
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {db}.{schema}")
        cur.execute(f"CREATE OR REPLACE TABLE {db}.{schema}.src (id INT)")
        cur.execute(f"INSERT INTO {db}.{schema}.src VALUES (1)")
        cur.execute(
            f"CREATE OR REPLACE DYNAMIC TABLE {db}.{schema}.dt TARGET_LAG = '1 minute' "
            f"WAREHOUSE = wh AS SELECT id FROM {db}.{schema}.src"
        )
    cur.execute("INSERT INTO ANALYTICS.ECOMMERCE.src VALUES (2)")
    cur.execute("ALTER DYNAMIC TABLE ANALYTICS.ECOMMERCE.dt REFRESH")
    yield cur
    for db in ("ANALYTICS", "OTHER_DB"):
        cur.execute(f"DROP DATABASE IF EXISTS {db}")


@pytest.fixture(scope="module")
def local_snowflake_connect_module(local_snowflake_server):
    from local_snowflake import connect

    opened = []

    def factory(**kwargs):
        conn = connect(local_snowflake_server.host, local_snowflake_server.port, **kwargs)
        opened.append(conn)
        return conn

    yield factory
    for conn in opened:
        conn.close()


def test_sensor_refresh_history_statement_works_verbatim(two_databases):
    cur = two_databases
    cur.execute(SENSOR_HISTORY_SQL.format(start="2026-11-20 10:00:00.000000+00:00"))
    rows = cur.fetchall()
    names = [r[0] for r in rows]
    assert names.count("ANALYTICS.ECOMMERCE.DT") == 2
    assert names.count("OTHER_DB.S.DT") == 1
    assert [r[5] for r in rows] == sorted(r[5] for r in rows)  # ORDER BY DATA_TIMESTAMP
    assert types(cur) == {
        "QUALIFIED_NAME": "TEXT",
        "STATE": "TEXT",
        "STATE_CODE": "TEXT",
        "STATE_MESSAGE": "TEXT",
        "QUERY_ID": "TEXT",
        "DATA_TIMESTAMP": "TIMESTAMP_LTZ",
        "REFRESH_START_TIME": "TIMESTAMP_LTZ",
        "REFRESH_END_TIME": "TIMESTAMP_LTZ",
        "REFRESH_ACTION": "TEXT",
        "REFRESH_TRIGGER": "TEXT",
        "STATISTICS": "OBJECT",
    }
    latest = next(r for r in reversed(rows) if r[0] == "ANALYTICS.ECOMMERCE.DT")
    _, state, code, message, query_id, data_ts, start, end, action, trigger, stats = latest
    assert (state, code, message, action, trigger) == (
        "SUCCEEDED",
        None,
        None,
        "INCREMENTAL",
        "MANUAL",
    )
    assert query_id
    assert data_ts.utcoffset() == dt.timedelta(0)
    assert data_ts <= start <= end
    assert json.loads(stats)["numInsertedRows"] == 1


def test_sensor_dynamic_tables_statement_works_verbatim(two_databases):
    cur = two_databases
    cur.execute(SENSOR_DYNAMIC_TABLES_SQL)
    (row,) = cur.fetchall()  # scoped to ANALYTICS
    assert row[0] == "ANALYTICS.ECOMMERCE.DT"
    assert row[1:3] == (60, "USER_DEFINED")
    assert json.loads(row[3]) == {
        "state": "ACTIVE",
        "reason_code": None,
        "reason_message": None,
        "suspended_on": None,
    }
    assert isinstance(row[4], dt.datetime)
    assert row[5:8] == ("SUCCEEDED", None, None)
    assert row[11:] == ("INCREMENTAL", "WH")
    assert types(cur)["SCHEDULING_STATE"] == "OBJECT"
    assert types(cur)["LATEST_DATA_TIMESTAMP"] == "TIMESTAMP_LTZ"
    assert types(cur)["TARGET_LAG_SEC"] == "FIXED"


def test_dynamic_tables_returns_snowflake_columns(sf):
    sf.cur.execute("SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())")
    assert [d.name for d in sf.cur.description] == [
        "NAME", "SCHEMA_NAME", "DATABASE_NAME", "QUALIFIED_NAME", "TARGET_LAG_SEC",
        "TARGET_LAG_TYPE", "SCHEDULING_STATE", "MEAN_LAG_SEC", "MAXIMUM_LAG_SEC",
        "TIME_ABOVE_TARGET_LAG_SEC", "TIME_WITHIN_TARGET_LAG_RATIO", "LATEST_DATA_TIMESTAMP",
        "LAST_COMPLETED_REFRESH_STATE", "LAST_COMPLETED_REFRESH_STATE_CODE",
        "LAST_COMPLETED_REFRESH_STATE_MESSAGE", "EXECUTING_REFRESH_QUERY_ID",
        # not in Snowflake's DYNAMIC_TABLES() (SHOW DYNAMIC TABLES has them): see the README
        "TARGET_LAG", "REFRESH_MODE", "REFRESH_MODE_REASON", "WAREHOUSE",
    ]  # fmt: skip


def test_refresh_history_returns_snowflake_columns(sf):
    sf.cur.execute("SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY())")
    assert [d.name for d in sf.cur.description] == [
        "NAME", "SCHEMA_NAME", "DATABASE_NAME", "QUALIFIED_NAME", "STATE", "STATE_CODE",
        "STATE_MESSAGE", "QUERY_ID", "DATA_TIMESTAMP", "REFRESH_START_TIME", "REFRESH_END_TIME",
        "COMPLETION_TARGET", "LAST_COMPLETED_DEPENDENCY", "STATISTICS", "REFRESH_ACTION",
        "REFRESH_TRIGGER", "TARGET_LAG_SEC", "GRAPH_HISTORY_VALID_FROM",
    ]  # fmt: skip


def test_graph_history_gives_inputs_and_versions(sf):
    sf.cur.execute("CREATE TABLE src (id INT)")
    sf.cur.execute("CREATE VIEW v AS SELECT id FROM src")
    sf.cur.execute(
        "CREATE DYNAMIC TABLE a TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT id FROM src"
    )
    sf.cur.execute(
        "CREATE DYNAMIC TABLE b TARGET_LAG = DOWNSTREAM WAREHOUSE = wh "
        "AS SELECT a.id FROM a JOIN v ON a.id = v.id"
    )
    sf.cur.execute("ALTER DYNAMIC TABLE b SET TARGET_LAG = '5 minutes'")
    current = sf.dicts("SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_GRAPH_HISTORY())")
    assert [r["NAME"] for r in current] == ["A", "B"]
    b = current[1]
    assert sorted(json.loads(b["INPUTS"]), key=lambda i: i["name"]) == [
        {"name": f"{sf.db}.S.A", "kind": "DYNAMIC_TABLE"},
        {"name": f"{sf.db}.S.V", "kind": "VIEW"},
    ]
    assert (b["TARGET_LAG_TYPE"], b["TARGET_LAG_SEC"], b["VALID_TO"]) == (
        "USER_DEFINED",
        300,
        None,
    )
    assert "JOIN" in b["QUERY_TEXT"]
    assert json.loads(b["SCHEDULING_STATE"])["state"] == "ACTIVE"
    sf.cur.execute(
        "SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_GRAPH_HISTORY("
        "HISTORY_START => TO_TIMESTAMP_LTZ('2000-01-01 00:00:00+00:00')))"
    )
    versions = [r for r in sf.cur.fetchall() if r[0] == "B"]
    assert len(versions) == 2  # DOWNSTREAM, then 5 minutes
    assert types(sf.cur)["INPUTS"] == "ARRAY"


def test_refresh_history_arguments(sf):
    sf.cur.execute("CREATE TABLE src (id INT)")
    for name in ("ab_one", "ab_two", "other"):
        sf.cur.execute(
            f"CREATE DYNAMIC TABLE {name} TARGET_LAG = '1 minute' WAREHOUSE = wh "
            "AS SELECT id FROM src"
        )
    fn = f"{sf.db}.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY"
    by_prefix = sf.rows(f"SELECT NAME FROM TABLE({fn}(NAME_PREFIX => '{sf.db}.S.AB'))")
    assert sorted(by_prefix) == [("AB_ONE",), ("AB_TWO",)]
    assert sf.rows(f"SELECT NAME FROM TABLE({fn}(NAME => 'other'))") == [("OTHER",)]
    assert len(sf.rows(f"SELECT NAME FROM TABLE({fn}(RESULT_LIMIT => 2))")) == 2
    assert sf.rows(f"SELECT NAME FROM TABLE({fn}(ERROR_ONLY => TRUE))") == []
    future = "TO_TIMESTAMP_LTZ('2999-01-01 00:00:00+00:00')"
    assert sf.rows(f"SELECT NAME FROM TABLE({fn}(DATA_TIMESTAMP_START => {future}))") == []


def test_dynamic_tables_orders_failed_first_and_defaults_to_100_rows(sf):
    sf.cur.execute("CREATE TABLE src (id INT)")
    sf.cur.execute(
        "CREATE DYNAMIC TABLE broken TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT id FROM src"
    )
    for i in range(101):
        sf.cur.execute(
            f"CREATE DYNAMIC TABLE ok_{i:03d} TARGET_LAG = '1 minute' WAREHOUSE = wh "
            "INITIALIZE = ON_SCHEDULE AS SELECT 1 AS x"
        )
    sf.cur.execute("ALTER TABLE src RENAME COLUMN id TO ident")
    with pytest.raises(ProgrammingError, match="refresh FAILED"):
        sf.cur.execute("ALTER DYNAMIC TABLE broken REFRESH")
    rows = sf.rows(
        "SELECT NAME, LAST_COMPLETED_REFRESH_STATE FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())"
    )
    assert len(rows) == 100
    assert rows[0] == ("BROKEN", "FAILED")
    everything = "TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES(RESULT_LIMIT => 10000))"
    assert len(sf.rows(f"SELECT NAME FROM {everything}")) == 102
    connected = (
        "TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES(NAME => 'broken', INCLUDE_CONNECTED => TRUE))"
    )
    assert sf.rows(f"SELECT NAME FROM {connected}") == [("BROKEN",)]


def test_null_timestamps_come_back_as_none_not_1970(sf):
    """fakesnow's server returns NULL timestamps as 1970-01-01; the stand-in returns None."""
    assert sf.one("SELECT CAST(NULL AS TIMESTAMP_LTZ)") is None
    assert sf.one("SELECT CAST(NULL AS TIMESTAMP_NTZ)") is None
    sf.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT 1 AS x"
    )
    # an EXECUTING refresh has no end time: write one straight into the catalog
    sf.cur.execute(
        "INSERT INTO _fs_local_snowflake.main.refresh_history "
        f"SELECT 999999999, DATABASE_NAME, SCHEMA_NAME, NAME, QUALIFIED_NAME, 'EXECUTING', NULL, "
        "NULL, 'executing-query', DATA_TIMESTAMP, REFRESH_START_TIME, NULL, NULL, NULL, '{}', "
        "NULL, 'SCHEDULED', TARGET_LAG_SEC, GRAPH_HISTORY_VALID_FROM "
        f"FROM _fs_local_snowflake.main.refresh_history WHERE QUALIFIED_NAME = '{sf.db}.S.DT'"
    )
    executing = [r for r in sf.history("DT") if r["STATE"] == "EXECUTING"]
    assert len(executing) == 1
    assert executing[0]["REFRESH_END_TIME"] is None
    assert executing[0]["REFRESH_START_TIME"] is not None
    assert sf.dynamic_table("DT")["EXECUTING_REFRESH_QUERY_ID"] == "executing-query"


def test_timestamp_ltz_is_reported_as_ltz(sf):
    """fakesnow reports TIMESTAMP_LTZ as TIMESTAMP_TZ; the stand-in reports LTZ."""
    value = sf.one("SELECT TO_TIMESTAMP_LTZ('2026-01-02 03:04:05+00:00') AS ts")
    assert types(sf.cur) == {"TS": "TIMESTAMP_LTZ"}
    assert value == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


CORE_STATE_SQL = """SHOW DYNAMIC TABLES IN DATABASE "ANALYTICS"
->> SELECT d.QUALIFIED_NAME, d.TARGET_LAG_SEC, d.SCHEDULING_STATE, d.LATEST_DATA_TIMESTAMP, s."refresh_mode" AS REFRESH_MODE, s."warehouse" AS WAREHOUSE, s."target_lag" AS TARGET_LAG
FROM TABLE("ANALYTICS".INFORMATION_SCHEMA.DYNAMIC_TABLES(RESULT_LIMIT => 10000)) d
LEFT JOIN $1 s ON s."database_name" = d.DATABASE_NAME AND s."schema_name" = d.SCHEMA_NAME AND s."name" = d.NAME
WHERE d.DATABASE_NAME = 'ANALYTICS'"""  # noqa: E501 -- the statement verbatim, as clients send it


def test_pipe_operator_joins_show_into_dynamic_tables(two_databases):
    """The core's state statement: SHOW ... ->> SELECT ... LEFT JOIN $1, as one statement."""
    cur = two_databases
    cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")
    (before,) = cur.fetchone() or (0,)
    cur.execute(CORE_STATE_SQL)
    (row,) = cur.fetchall()
    assert row[0] == "ANALYTICS.ECOMMERCE.DT"
    assert row[4:] == ("INCREMENTAL", "WH", "1 minute")
    assert types(cur)["LATEST_DATA_TIMESTAMP"] == "TIMESTAMP_LTZ"
    assert types(cur)["SCHEDULING_STATE"] == "OBJECT"
    cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")
    assert cur.fetchone() == (before + 2,)  # the piped statement counts once


def test_history_start_can_be_an_expression(two_databases):
    cur = two_databases
    cur.execute(
        "SELECT QUALIFIED_NAME FROM TABLE(ANALYTICS.INFORMATION_SCHEMA."
        "DYNAMIC_TABLE_REFRESH_HISTORY(NAME_PREFIX => 'ANALYTICS.ECOMMERCE', "
        "DATA_TIMESTAMP_START => DATEADD('day', -7, CURRENT_TIMESTAMP()), RESULT_LIMIT => 10000))"
    )
    assert len(cur.fetchall()) == 2


def test_pipe_after_an_unsupported_statement_fails(sf):
    with pytest.raises(ProgrammingError, match="Unsupported feature '->> after SHOW TABLES'"):
        sf.cur.execute("SHOW TABLES ->> SELECT * FROM $1")


def test_get_ddl_of_a_dynamic_table_returns_its_create_statement(sf):
    sf.cur.execute("CREATE TABLE src (id INT)")
    sf.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT id FROM src"
    )
    sf.cur.execute(f"SELECT GET_DDL('DYNAMIC_TABLE', '{sf.db}.S.DT')")
    assert sf.cur.fetchall() == [
        (
            "create or replace DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh "
            "AS SELECT id FROM src;",
        )
    ]
    assert sf.cur.description[0].name == f"GET_DDL('DYNAMIC_TABLE', '{sf.db}.S.DT')"
    with pytest.raises(ProgrammingError, match=re.escape(f"'{sf.db}.S.NOPE' does not exist")):
        sf.cur.execute("SELECT GET_DDL('DYNAMIC_TABLE', 'nope')")
    with pytest.raises(ProgrammingError) as excinfo:
        sf.cur.execute("SELECT upper(GET_DDL('DYNAMIC_TABLE', 'dt'))")
    assert (excinfo.value.errno, excinfo.value.sqlstate) == (2, "0A000")


def test_scheduling_state_keys_are_lower_case_as_in_snowflake(sf):
    sf.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT 1 AS x"
    )
    sf.cur.execute("ALTER DYNAMIC TABLE dt SUSPEND")
    state = json.loads(sf.dynamic_table("DT")["SCHEDULING_STATE"])
    assert set(state) == {"state", "reason_code", "reason_message", "suspended_on"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+0000", state["suspended_on"])
    (graph,) = sf.dicts(
        "SELECT SCHEDULING_STATE FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_GRAPH_HISTORY())"
    )
    assert json.loads(graph["SCHEDULING_STATE"]) == {
        "state": "SUSPENDED",
        "reason_code": "USER_SUSPENDED",
        "reason_message": "User suspended",
    }


def test_name_prefix_is_case_insensitive_and_a_plain_prefix(sf):
    """Snowflake: NAME_PREFIX "is case-insensitive"; the tables whose names start with it."""
    sf.cur.execute(f"CREATE SCHEMA {sf.db}.S2")
    sf.cur.execute(f"USE SCHEMA {sf.db}.S")
    for name in ('"Mixed"', f"{sf.db}.S2.OTHER"):
        sf.cur.execute(
            f"CREATE DYNAMIC TABLE {name} TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT 1 AS x"
        )
    fn = f"{sf.db}.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY"
    assert sf.rows(f"SELECT NAME FROM TABLE({fn}(NAME_PREFIX => '{sf.db.lower()}.s.mix'))") == [
        ("Mixed",)
    ]
    assert sorted(sf.rows(f"SELECT NAME FROM TABLE({fn}(NAME_PREFIX => '{sf.db}.S'))")) == [
        ("Mixed",),
        ("OTHER",),
    ]


def test_show_pages_with_limit_from_and_filters_with_starts_with(two_databases):
    """The sensor's first statement, `SHOW ... IN DATABASE <db> LIMIT 10000 [FROM '<name>']`,
    and STARTS WITH (case-sensitive), as Snowflake documents them."""
    cur = two_databases
    cur.execute("CREATE OR REPLACE DYNAMIC TABLE ANALYTICS.ECOMMERCE.dt2 TARGET_LAG = '1 minute' "
                "WAREHOUSE = wh AS SELECT id FROM ANALYTICS.ECOMMERCE.src")  # fmt: skip

    def names(sql):
        cur.execute(sql)
        columns = [d.name for d in cur.description]
        return [row[columns.index("name")] for row in cur.fetchall()]

    assert names('SHOW DYNAMIC TABLES IN DATABASE "ANALYTICS" LIMIT 10000') == ["DT", "DT2"]
    assert names('SHOW DYNAMIC TABLES IN DATABASE "ANALYTICS" LIMIT 1') == ["DT"]
    assert names("SHOW DYNAMIC TABLES IN DATABASE ANALYTICS LIMIT 1 FROM 'DT'") == ["DT2"]
    assert names("SHOW DYNAMIC TABLES IN DATABASE ANALYTICS STARTS WITH 'DT2'") == ["DT2"]
    assert names("SHOW DYNAMIC TABLES IN DATABASE ANALYTICS STARTS WITH 'dt'") == []
    with pytest.raises(ProgrammingError, match="LIMIT 10001"):
        cur.execute("SHOW DYNAMIC TABLES IN DATABASE ANALYTICS LIMIT 10001")
    cur.execute("DROP DYNAMIC TABLE ANALYTICS.ECOMMERCE.dt2")
