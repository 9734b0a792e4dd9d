"""CREATE DATABASE ... CLONE: schemas, tables, views and Dynamic Tables with their data; cloned
Dynamic Tables suspended (CLONED_AUTO_SUSPENDED) without history, their definition kept; comments
and SHOW DATABASES; DROP DATABASE of a clone; all of it across a restart."""

from __future__ import annotations

import json

import pytest
from local_snowflake import connect
from snowflake.connector.errors import ProgrammingError
from support.own_server import own_server
from support.stand_in_cursor import Sf


def _source(sf: Sf, db: str) -> None:
    """db: raw table, a view, two DTs (one reading the other), the second by a 3-part name."""
    sf.cur.execute(f"CREATE DATABASE {db}")
    sf.cur.execute(f"CREATE SCHEMA {db}.RAW")
    sf.cur.execute(f"CREATE SCHEMA {db}.MART")
    sf.cur.execute(f"CREATE TABLE {db}.RAW.ORDERS (id INT, amount INT)")
    sf.cur.execute(f"INSERT INTO {db}.RAW.ORDERS VALUES (1, 10), (2, 20)")
    sf.cur.execute(f"CREATE VIEW {db}.RAW.BIG AS SELECT id FROM {db}.RAW.ORDERS WHERE amount > 15")
    sf.cur.execute(f"USE SCHEMA {db}.MART")
    sf.cur.execute(
        "CREATE DYNAMIC TABLE TOTALS TARGET_LAG = '1 minute' WAREHOUSE = wh "
        "AS SELECT sum(amount) AS total FROM RAW.ORDERS"
    )
    sf.cur.execute(
        f"CREATE DYNAMIC TABLE {db}.MART.DOUBLED TARGET_LAG = '1 minute' WAREHOUSE = wh "
        f"AS SELECT total * 2 AS doubled FROM {db}.MART.TOTALS"
    )


def _scheduling(sf: Sf, db: str, name: str) -> dict[str, str]:
    state = sf.one(
        f"SELECT SCHEDULING_STATE FROM TABLE({db}.INFORMATION_SCHEMA.DYNAMIC_TABLES("
        f"NAME => '{db}.MART.{name}'))"
    )
    return json.loads(state)


def test_clone_copies_objects_and_data_and_suspends_dynamic_tables(sf: Sf):
    src, new = f"{sf.db}_SRC", f"{sf.db}_NEW"
    _source(sf, src)
    status = sf.one(f"CREATE DATABASE {new} CLONE {src} COMMENT = 'made by a test'")
    assert status == f"Database {new} successfully created."
    assert sf.rows(f"SELECT * FROM {new}.RAW.ORDERS ORDER BY id") == [(1, 10), (2, 20)]
    assert sf.rows(f"SELECT * FROM {new}.RAW.BIG") == [(2,)]
    assert sf.one(f"SELECT total FROM {new}.MART.TOTALS") == 30  # initialized: its data
    shown = {r[1]: r for r in sf.rows(f"SHOW DYNAMIC TABLES IN DATABASE {new}")}
    assert sorted(shown) == ["DOUBLED", "TOTALS"]
    assert {r[15] for r in shown.values()} == {"SUSPENDED"}
    assert {r[17] for r in shown.values()} == {"true"}  # is_clone
    assert shown["TOTALS"][5] == 1  # rows: the cloned data's
    assert {r[17] for r in sf.rows(f"SHOW DYNAMIC TABLES IN DATABASE {src}")} == {"false"}
    # the definition as written: the 3-part name still names the source database
    assert f"FROM {src}.MART.TOTALS" in shown["DOUBLED"][13]
    for name in ("TOTALS", "DOUBLED"):
        state = _scheduling(sf, new, name)
        assert (state["state"], state["reason_code"]) == ("SUSPENDED", "CLONED_AUTO_SUSPENDED")
        assert (
            sf.rows(
                f"SELECT * FROM TABLE({new}.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
                f"NAME => '{new}.MART.{name}'))"
            )
            == []
        )
    graph = sf.dicts(
        f"SELECT NAME, INPUTS, SCHEDULING_STATE FROM TABLE({new}.INFORMATION_SCHEMA."
        "DYNAMIC_TABLE_GRAPH_HISTORY())"
    )
    inputs = {g["NAME"]: [i["name"] for i in json.loads(g["INPUTS"])] for g in graph}
    assert inputs == {"TOTALS": [f"{new}.RAW.ORDERS"], "DOUBLED": [f"{src}.MART.TOTALS"]}
    assert {json.loads(g["SCHEDULING_STATE"])["reason_code"] for g in graph} == {
        "CLONED_AUTO_SUSPENDED"
    }
    # the source is untouched and still scheduled
    assert _scheduling(sf, src, "TOTALS")["state"] == "ACTIVE"
    databases = {r[1]: r for r in sf.rows("SHOW DATABASES")}
    assert databases[new][6] == "made by a test"
    assert databases[new][0] > databases[src][0]  # its own creation time (src: unknown, 1970)


def test_cloned_dynamic_table_refreshes_from_the_clone_once_asked(sf: Sf):
    src, new = f"{sf.db}_SRC", f"{sf.db}_NEW"
    _source(sf, src)
    sf.cur.execute(f"CREATE DATABASE {new} CLONE {src}")
    sf.cur.execute(f"INSERT INTO {new}.RAW.ORDERS VALUES (3, 100)")
    # suspended: the scheduler leaves it alone
    assert sf.one(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER('{new}')") == (
        "0 dynamic tables refreshed"
    )
    sf.cur.execute(f"ALTER DYNAMIC TABLE {new}.MART.TOTALS REFRESH")
    assert sf.one(f"SELECT total FROM {new}.MART.TOTALS") == 130
    assert sf.one(f"SELECT total FROM {src}.MART.TOTALS") == 30
    history = sf.dicts(
        f"SELECT STATE, REFRESH_TRIGGER FROM TABLE({new}.INFORMATION_SCHEMA."
        f"DYNAMIC_TABLE_REFRESH_HISTORY(NAME => '{new}.MART.TOTALS'))"
    )
    assert history == [{"STATE": "SUCCEEDED", "REFRESH_TRIGGER": "MANUAL"}]
    sf.cur.execute(f"ALTER DYNAMIC TABLE {new}.MART.TOTALS RESUME")
    assert _scheduling(sf, new, "TOTALS")["state"] == "ACTIVE"
    # made again, it is no clone any more
    sf.cur.execute(
        f"CREATE OR REPLACE DYNAMIC TABLE {new}.MART.TOTALS TARGET_LAG = '1 minute' "
        f"WAREHOUSE = wh AS SELECT sum(amount) + 1 AS total FROM {new}.RAW.ORDERS"
    )
    assert sf.rows(f"SHOW DYNAMIC TABLES LIKE 'TOTALS' IN DATABASE {new}")[0][17] == "false"


def test_clone_refusals(sf: Sf):
    src = f"{sf.db}_SRC"
    _source(sf, src)
    with pytest.raises(ProgrammingError, match=f"Database '{sf.db}_NONE' does not exist"):
        sf.cur.execute(f"CREATE DATABASE {sf.db}_X CLONE {sf.db}_NONE")
    with pytest.raises(ProgrammingError, match=f"Object '{src}' already exists"):
        sf.cur.execute(f"CREATE DATABASE {src} CLONE {sf.db}")
    assert sf.one(f"CREATE DATABASE IF NOT EXISTS {src} CLONE {sf.db}") == (
        f"{src} already exists, statement succeeded."
    )
    with pytest.raises(ProgrammingError, match="Unsupported feature 'this form of CREATE DATABASE"):
        sf.cur.execute(f"CREATE DATABASE {sf.db}_X CLONE {src} AT (OFFSET => -60)")
    with pytest.raises(ProgrammingError, match="Unsupported feature 'database name"):
        sf.cur.execute(f'CREATE DATABASE "A;B" CLONE {src}')
    assert f"{sf.db}_X" not in [r[1] for r in sf.rows("SHOW DATABASES")]


def test_comment_on_database_and_drop_of_a_clone(sf: Sf, local_snowflake_server):
    src, new = f"{sf.db}_SRC", f"{sf.db}_NEW"
    _source(sf, src)
    sf.cur.execute(f"CREATE DATABASE {new} CLONE {src}")
    sf.cur.execute(f"COMMENT ON DATABASE {new} IS 'it''s mine'")
    assert {r[1]: r[6] for r in sf.rows("SHOW DATABASES")}[new] == "it's mine"
    sf.cur.execute(f"ALTER DATABASE {new} SET COMMENT = 'changed'")
    assert {r[1]: r[6] for r in sf.rows("SHOW DATABASES")}[new] == "changed"
    assert sf.one(f"DROP DATABASE {new}") == f"{new} successfully dropped."
    assert new not in [r[1] for r in sf.rows("SHOW DATABASES")]
    assert [r for r in sf.rows("SHOW DYNAMIC TABLES IN ACCOUNT") if r[2] == new] == []
    assert not (local_snowflake_server.data_dir / f"{new}.db").exists()
    # the name can be cloned again: no history, no comment of the dropped one
    sf.cur.execute(f"CREATE OR REPLACE DATABASE {new} CLONE {src}")
    assert {r[1]: r[6] for r in sf.rows("SHOW DATABASES")}[new] is None
    assert sf.one(f"SELECT total FROM {new}.MART.TOTALS") == 30


def test_clone_survives_a_restart(tmp_path):
    with own_server(tmp_path) as (info, _process), connect(info.host, info.port) as conn:
        sf = Sf(conn.cursor(), "KEEP")
        _source(sf, "KEEP")
        sf.cur.execute("CREATE DATABASE KEEP_CLONE CLONE KEEP COMMENT = 'kept'")
    with own_server(tmp_path) as (info, _process), connect(info.host, info.port) as conn:
        sf = Sf(conn.cursor(), "KEEP_CLONE")
        assert sf.one("SELECT total FROM KEEP_CLONE.MART.TOTALS") == 30
        assert {r[1]: r[6] for r in sf.rows("SHOW DATABASES")}["KEEP_CLONE"] == "kept"
        state = _scheduling(sf, "KEEP_CLONE", "TOTALS")
        assert state["reason_code"] == "CLONED_AUTO_SUSPENDED"
        sf.cur.execute("ALTER DYNAMIC TABLE KEEP_CLONE.MART.TOTALS RESUME")
        sf.cur.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(120)")
        summary = sf.one("SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER('KEEP_CLONE')")
        assert "KEEP_CLONE.MART.TOTALS=SUCCEEDED" in summary


def test_dynamic_table_created_downstream_of_a_suspended_clone_is_suspended(sf: Sf):
    src, new = f"{sf.db}_SRC", f"{sf.db}_NEW"
    _source(sf, src)
    sf.cur.execute(f"CREATE DATABASE {new} CLONE {src}")
    sf.cur.execute(
        f"CREATE DYNAMIC TABLE {new}.MART.TRIPLED TARGET_LAG = '1 minute' WAREHOUSE = wh "
        f"AS SELECT total * 3 AS tripled FROM {new}.MART.TOTALS"
    )
    state = _scheduling(sf, new, "TRIPLED")
    assert (state["state"], state["reason_code"]) == ("SUSPENDED", "UPSTREAM_CLONED_AUTO_SUSPENDED")
    sf.cur.execute(f"ALTER DYNAMIC TABLE {new}.MART.TOTALS RESUME")  # resumes it too
    assert _scheduling(sf, new, "TRIPLED")["state"] == "ACTIVE"
    # one created over an active DT is not suspended
    sf.cur.execute(
        f"CREATE DYNAMIC TABLE {new}.MART.QUADRUPLED TARGET_LAG = '1 minute' WAREHOUSE = wh "
        f"AS SELECT total * 4 AS q FROM {new}.MART.TOTALS"
    )
    assert _scheduling(sf, new, "QUADRUPLED")["state"] == "ACTIVE"


def test_show_databases_has_snowflakes_columns_sorted_without_the_catalog(sf: Sf):
    sf.cur.execute("SHOW DATABASES")
    assert [d.name for d in sf.cur.description] == [
        "created_on", "name", "is_default", "is_current", "origin", "owner", "comment",
        "options", "retention_time", "kind", "budget", "owner_role_type", "object_visibility",
    ]  # fmt: skip
    names = [r[1] for r in sf.cur.fetchall()]
    assert names == sorted(names)
    assert sf.db in names
    assert not [n for n in names if n.lower() in ("_fs_local_snowflake", "_fs_global", "memory")]


def test_create_database_keeps_its_creation_time_and_comment(sf: Sf):
    made = f"{sf.db}_MADE"
    sf.cur.execute(f"CREATE DATABASE {made} COMMENT = 'plain'")
    sf.cur.execute(f"CREATE DATABASE IF NOT EXISTS {made}")  # exists: keeps both
    row = {r[1]: r for r in sf.rows("SHOW DATABASES")}[made]
    assert row[6] == "plain"
    assert row[0].year > 2000
    clock = sf.one("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(0)")
    assert row[0].isoformat() <= clock
