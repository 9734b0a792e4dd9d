"""Dynamic Table DDL and SHOW, through the real connector against a real server."""

from __future__ import annotations

import pytest
from snowflake.connector.errors import ProgrammingError
from support.stand_in_pipeline import create_orders


@pytest.fixture
def orders(sf):
    create_orders(sf.cur)
    return sf


@pytest.mark.parametrize(
    ("name", "clauses"),
    [
        ("dt", "TARGET_LAG = '1 minute' WAREHOUSE = wh"),
        ("s.dt", "WAREHOUSE = wh TARGET_LAG = '2 hours' REFRESH_MODE = FULL"),
        ("{db}.s.dt", "TARGET_LAG = DOWNSTREAM WAREHOUSE = wh INITIALIZE = ON_CREATE"),
        ('"Mixed"', "TARGET_LAG = '90 seconds' REFRESH_MODE = INCREMENTAL WAREHOUSE = wh"),
    ],
    ids=["one-part", "two-part-full", "three-part-downstream", "quoted-incremental"],
)
def test_create_dynamic_table_creates_a_refreshed_table(orders, name, clauses):
    name = name.format(db=orders.db)
    status = orders.one(f"CREATE DYNAMIC TABLE {name} {clauses} AS SELECT id FROM orders")
    shown = name.split(".")[-1].strip('"') if '"' in name else name.split(".")[-1].upper()
    assert status == f"Dynamic table {shown} successfully created."
    assert sorted(orders.rows(f"SELECT * FROM {name}")) == [(1,), (2,)]
    (row,) = orders.history(name.split(".")[-1])  # NAME => '...' follows identifier rules
    assert (row["STATE"], row["REFRESH_ACTION"], row["REFRESH_TRIGGER"]) == (
        "SUCCEEDED",
        "REINITIALIZE",
        "CREATION",
    )


def test_create_on_schedule_leaves_the_table_unrefreshed_until_the_scheduler_runs(orders):
    orders.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh INITIALIZE = ON_SCHEDULE "
        "AS SELECT id FROM orders"
    )
    assert orders.history("DT") == []
    assert orders.dynamic_table("DT")["LATEST_DATA_TIMESTAMP"] is None
    orders.run_scheduler()
    assert len(orders.rows("SELECT * FROM dt")) == 2
    assert [r["REFRESH_TRIGGER"] for r in orders.history("DT")] == ["SCHEDULED"]


def test_create_twice_fails_unless_or_replace_or_if_not_exists(orders):
    create = "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT 1 AS x"
    orders.cur.execute(create)
    with pytest.raises(ProgrammingError, match="Object 'DT' already exists"):
        orders.cur.execute(create)
    exists = create.replace("TABLE dt", "TABLE IF NOT EXISTS dt")
    assert orders.one(exists) == "DT already exists, statement succeeded."
    replace = create.replace("CREATE", "CREATE OR REPLACE").replace("1 AS x", "2 AS y")
    assert orders.one(replace) == "Dynamic table DT successfully created."
    assert orders.rows("SELECT y FROM dt") == [(2,)]


@pytest.mark.parametrize(
    ("mode", "query", "resolved"),
    [
        ("AUTO", "SELECT id FROM orders", "INCREMENTAL"),
        ("AUTO", "SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM orders", "FULL"),
        ("FULL", "SELECT id FROM orders", "FULL"),
        ("INCREMENTAL", "SELECT id FROM orders", "INCREMENTAL"),
    ],
    ids=["auto-simple", "auto-window", "full", "incremental"],
)
def test_refresh_mode_auto_resolves_and_is_reported(orders, mode, query, resolved):
    orders.cur.execute(
        f"CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh REFRESH_MODE = {mode} "
        f"AS {query}"
    )
    assert orders.dynamic_table("DT")["REFRESH_MODE"] == resolved
    (shown,) = orders.dicts("SHOW DYNAMIC TABLES LIKE 'DT'")
    assert shown["refresh_mode"] == resolved


def test_alter_suspend_resume_set(orders):
    orders.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT id FROM orders"
    )
    assert orders.one("ALTER DYNAMIC TABLE dt SUSPEND") == "Statement executed successfully."
    state = orders.dynamic_table("DT")["SCHEDULING_STATE"]
    assert '"state":"SUSPENDED"' in state
    assert orders.dicts("SHOW DYNAMIC TABLES")[0]["scheduling_state"] == "SUSPENDED"
    orders.cur.execute("ALTER DYNAMIC TABLE dt RESUME")
    assert '"state":"ACTIVE"' in orders.dynamic_table("DT")["SCHEDULING_STATE"]
    orders.cur.execute("ALTER DYNAMIC TABLE dt SET TARGET_LAG = '2 hours'")
    orders.cur.execute("ALTER DYNAMIC TABLE dt SET WAREHOUSE = other_wh")
    dt = orders.dynamic_table("DT")
    assert (dt["TARGET_LAG_SEC"], dt["TARGET_LAG_TYPE"], dt["WAREHOUSE"]) == (
        7200,
        "USER_DEFINED",
        "OTHER_WH",
    )
    orders.cur.execute("ALTER DYNAMIC TABLE dt SET TARGET_LAG = DOWNSTREAM")
    dt = orders.dynamic_table("DT")
    assert (dt["TARGET_LAG_SEC"], dt["TARGET_LAG_TYPE"]) == (None, "DOWNSTREAM")
    shown = orders.dicts("SHOW DYNAMIC TABLES")[0]
    assert (shown["target_lag"], shown["warehouse"]) == ("DOWNSTREAM", "OTHER_WH")


def test_drop_dynamic_table(orders):
    orders.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT id FROM orders"
    )
    assert orders.one("DROP DYNAMIC TABLE dt") == "DT successfully dropped."
    assert orders.rows("SHOW DYNAMIC TABLES") == []
    with pytest.raises(ProgrammingError, match="does not exist"):
        orders.cur.execute("SELECT * FROM dt")
    with pytest.raises(ProgrammingError, match=r"Dynamic table '.*\.S\.DT' does not exist"):
        orders.cur.execute("DROP DYNAMIC TABLE dt")
    orders.cur.execute("DROP DYNAMIC TABLE IF EXISTS dt")


def test_show_dynamic_tables_columns_like_and_scope(orders):
    for name in ("product_a", "product_b", "other"):
        orders.cur.execute(
            f"CREATE DYNAMIC TABLE {name} TARGET_LAG = '1 minute' WAREHOUSE = wh "
            "AS SELECT id FROM orders"
        )
    shown = orders.dicts("SHOW DYNAMIC TABLES LIKE 'product_%' IN SCHEMA S")
    assert [r["name"] for r in shown] == ["PRODUCT_A", "PRODUCT_B"]
    assert list(shown[0]) == [
        "created_on", "name", "database_name", "schema_name", "cluster_by", "rows", "bytes",
        "owner", "target_lag", "refresh_mode", "refresh_mode_reason", "warehouse", "comment",
        "text", "automatic_clustering", "scheduling_state", "last_suspended_on", "is_clone",
        "is_replica", "is_iceberg", "data_timestamp", "owner_role_type",
    ]  # fmt: skip
    assert shown[0]["target_lag"] == "1 minute"
    assert shown[0]["warehouse"] == "WH"
    assert shown[0]["scheduling_state"] == "RUNNING"
    assert shown[0]["data_timestamp"] is not None
    assert len(orders.rows(f"SHOW DYNAMIC TABLES IN DATABASE {orders.db}")) == 3
    assert orders.rows("SHOW DYNAMIC TABLES IN SCHEMA nothing_here") == []


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UNDROP DYNAMIC TABLE dt", "Unsupported feature 'UNDROP DYNAMIC TABLE DT'"),
        ("ALTER DYNAMIC TABLE dt RENAME TO dt2", "Unsupported feature 'ALTER DYNAMIC TABLE ..."),
        (
            "CREATE TRANSIENT DYNAMIC TABLE x TARGET_LAG = '1 minute' WAREHOUSE = w AS SELECT 1",
            "Unsupported feature 'CREATE TRANSIENT DYNAMIC TABLE'",
        ),
        (
            "CREATE DYNAMIC TABLE x TARGET_LAG = '1 minute' WAREHOUSE = w COPY GRANTS "
            "AS SELECT 1 AS a",
            "Unsupported feature",
        ),
        (
            "CREATE DYNAMIC TABLE x TARGET_LAG = '10 seconds' WAREHOUSE = w AS SELECT 1",
            "the minimum target lag is 1 minute",
        ),
        (
            "CREATE DYNAMIC TABLE x WAREHOUSE = w AS SELECT 1",
            r"Missing option\(s\): \[TARGET_LAG\]",
        ),
        (
            "SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES(COLOR => 'red'))",
            "invalid argument COLOR for function DYNAMIC_TABLES: not supported by local-snowflake",
        ),
        (
            "SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
            "RESULT_LIMIT => 20000))",
            r"invalid value \[20000\] for parameter 'RESULT_LIMIT'",
        ),
    ],
    ids=[
        "undrop",
        "rename",
        "transient",
        "copy-grants",
        "lag-too-small",
        "no-lag",
        "unknown-argument",
        "limit-too-big",
    ],
)
def test_unsupported_or_invalid_statements_fail_with_a_message(orders, sql, message):
    orders.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT id FROM orders"
    )
    with pytest.raises(ProgrammingError, match=message):
        orders.cur.execute(sql)


def test_create_with_a_bad_query_fails_and_records_nothing(orders):
    with pytest.raises(ProgrammingError, match="NOPE"):
        orders.cur.execute(
            "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT * FROM nope"
        )
    assert orders.rows("SHOW DYNAMIC TABLES") == []


@pytest.mark.parametrize(
    ("warehouse", "shown"),
    [("wh", "WH"), ('"my_wh"', "my_wh")],
    ids=["unquoted", "quoted"],
)
def test_warehouse_follows_identifier_rules(orders, warehouse, shown):
    orders.cur.execute(
        f"CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = {warehouse} AS SELECT 1 AS x"
    )
    assert orders.dicts("SHOW DYNAMIC TABLES")[0]["warehouse"] == shown
    assert orders.dynamic_table("DT")["WAREHOUSE"] == shown


def test_describe_dynamic_table_lists_its_columns(orders):
    orders.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT id FROM orders"
    )
    assert [r[0] for r in orders.rows("DESCRIBE DYNAMIC TABLE dt")] == ["ID"]
    with pytest.raises(ProgrammingError, match=r"Dynamic table '.*\.S\.ORDERS' does not exist"):
        orders.cur.execute("DESC DYNAMIC TABLE orders")


@pytest.mark.parametrize(
    "dml",
    [
        "INSERT INTO dt VALUES (3)",
        "INSERT INTO dt (id) SELECT id FROM orders",
        "UPDATE dt SET id = 0",
        "DELETE FROM dt",
        "TRUNCATE TABLE dt",
        "MERGE INTO dt USING orders o ON dt.id = o.id WHEN MATCHED THEN DELETE",
    ],
    ids=["insert", "insert-select", "update", "delete", "truncate", "merge"],
)
def test_dml_on_a_dynamic_table_is_refused(sf, dml):
    sf.cur.execute("CREATE TABLE orders (id INT)")
    sf.cur.execute("INSERT INTO orders VALUES (1), (2)")
    sf.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT id FROM orders"
    )
    with pytest.raises(ProgrammingError) as excinfo:
        sf.cur.execute(dml)
    assert excinfo.value.msg == (
        "000002 (0A000): SQL compilation error:\nDML operations are not allowed on dynamic "
        f"table '{sf.db}.S.DT': its rows are the result of its query."
    )
    assert sorted(sf.rows("SELECT id FROM dt")) == [(1,), (2,)]
    sf.cur.execute("INSERT INTO orders SELECT id + 10 FROM dt")  # reading it is fine


def test_reading_a_dynamic_table_before_its_first_refresh_fails(sf):
    sf.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh "
        "INITIALIZE = ON_SCHEDULE AS SELECT 1 AS x"
    )
    for query in ("SELECT * FROM dt", f"SELECT count(*) FROM {sf.db}.S.DT"):
        with pytest.raises(ProgrammingError) as excinfo:
            sf.cur.execute(query)
        assert excinfo.value.msg == (
            f"091000 (22000): Dynamic Table '{sf.db}.S.DT' is not initialized. Please run a "
            "manual refresh or wait for a scheduled refresh before querying."
        )
    assert sf.rows("DESCRIBE DYNAMIC TABLE dt")[0][0] == "X"  # its columns are known
    sf.run_scheduler(advance_seconds=1)
    assert sf.rows("SELECT * FROM dt") == [(1,)]


def test_create_without_a_warehouse_is_refused(sf):
    with pytest.raises(ProgrammingError) as excinfo:
        sf.cur.execute("CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' AS SELECT 1 AS x")
    assert excinfo.value.msg == (
        "001003 (42601): SQL compilation error:\nMissing option(s): [WAREHOUSE]"
    )


@pytest.mark.parametrize(
    "expression", ["current_timestamp()", "random()", "current_date()"], ids=str
)
def test_incremental_over_a_non_deterministic_function_is_refused(sf, expression):
    with pytest.raises(ProgrammingError) as excinfo:
        sf.cur.execute(
            "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh "
            f"REFRESH_MODE = INCREMENTAL AS SELECT {expression} AS x"
        )
    assert excinfo.value.msg == (
        "000002 (0A000): SQL compilation error:\nDynamic table cannot be created with "
        "REFRESH_MODE = INCREMENTAL: the query uses non-deterministic functions, which cannot be "
        "refreshed incrementally. Use REFRESH_MODE = FULL or AUTO."
    )
    sf.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh "
        f"REFRESH_MODE = AUTO AS SELECT {expression} AS x"
    )
    assert sf.rows("SHOW DYNAMIC TABLES")[0][9] == "FULL"  # refresh_mode
