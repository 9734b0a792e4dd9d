"""Refresh semantics: the scheduler, NO_DATA vs changes, failures, suspension, manual refresh."""

from __future__ import annotations

import json

import pytest
from snowflake.connector.errors import ProgrammingError
from support.stand_in_pipeline import create_orders_pipeline, create_source_and_dynamic_table


@pytest.fixture
def pipeline(sf):
    """orders -> DT totals (1 minute lag) -> DT doubled (DOWNSTREAM)."""
    create_orders_pipeline(sf.cur)
    return sf


def last(sf, name):
    return sf.history(name)[-1]


def test_scheduler_refreshes_once_the_data_is_half_the_target_lag_old(pipeline):
    before = len(pipeline.history("TOTALS"))
    pipeline.run_scheduler()
    assert len(pipeline.history("TOTALS")) == before  # data is fresh
    pipeline.run_scheduler(advance_seconds=29)
    assert len(pipeline.history("TOTALS")) == before  # under half of the 1-minute lag
    pipeline.run_scheduler(advance_seconds=1)
    assert len(pipeline.history("TOTALS")) == before + 1  # refreshed ahead of the lag
    pipeline.run_scheduler()
    assert len(pipeline.history("TOTALS")) == before + 1


def test_unchanged_sources_give_no_data_and_still_advance_the_data_timestamp(pipeline):
    first = last(pipeline, "TOTALS")
    pipeline.run_scheduler(advance_seconds=61)
    row = last(pipeline, "TOTALS")
    assert (row["STATE"], row["REFRESH_ACTION"], row["REFRESH_TRIGGER"]) == (
        "SUCCEEDED",
        "NO_DATA",
        "SCHEDULED",
    )
    assert row["DATA_TIMESTAMP"] > first["DATA_TIMESTAMP"]
    assert pipeline.dynamic_table("TOTALS")["LATEST_DATA_TIMESTAMP"] == row["DATA_TIMESTAMP"]


def test_changed_sources_give_an_incremental_refresh_with_honest_counts(pipeline):
    pipeline.cur.execute("INSERT INTO orders VALUES (3, 30)")
    pipeline.cur.execute("UPDATE orders SET amount = 11 WHERE id = 1")
    pipeline.run_scheduler(advance_seconds=61)
    row = last(pipeline, "TOTALS")
    assert (row["STATE"], row["REFRESH_ACTION"]) == ("SUCCEEDED", "INCREMENTAL")
    stats = json.loads(row["STATISTICS"])
    assert (stats["numInsertedRows"], stats["numDeletedRows"]) == (2, 1)
    assert sorted(pipeline.rows("SELECT * FROM totals")) == [(1, 11), (2, 20), (3, 30)]


def test_downstream_lag_refreshes_only_with_its_consumer(pipeline):
    assert [r["REFRESH_TRIGGER"] for r in pipeline.history("DOUBLED")] == ["CREATION"]
    pipeline.run_scheduler(advance_seconds=3600)
    # DOWNSTREAM with no consumer: never refreshed by the scheduler
    assert [r["REFRESH_TRIGGER"] for r in pipeline.history("DOUBLED")] == ["CREATION"]
    pipeline.cur.execute(
        "CREATE DYNAMIC TABLE consumer TARGET_LAG = '1 minute' WAREHOUSE = wh "
        "AS SELECT sum(amount2) AS total FROM doubled"
    )
    pipeline.cur.execute("INSERT INTO orders VALUES (3, 30)")
    pipeline.run_scheduler(advance_seconds=61)
    assert pipeline.one("SELECT total FROM consumer") == 120
    doubled, totals = last(pipeline, "DOUBLED"), last(pipeline, "TOTALS")
    consumer = last(pipeline, "CONSUMER")
    # upstream first, all at the same data timestamp
    assert doubled["DATA_TIMESTAMP"] == totals["DATA_TIMESTAMP"] == consumer["DATA_TIMESTAMP"]
    assert totals["REFRESH_END_TIME"] <= doubled["REFRESH_START_TIME"]
    assert doubled["REFRESH_END_TIME"] <= consumer["REFRESH_START_TIME"]


def test_manual_refresh_is_synchronous_and_refreshes_upstream_first(pipeline):
    pipeline.cur.execute("INSERT INTO orders VALUES (3, 30)")
    assert pipeline.one("ALTER DYNAMIC TABLE doubled REFRESH") == "Statement executed successfully."
    assert sorted(pipeline.rows("SELECT amount2 FROM doubled")) == [(20,), (40,), (60,)]
    assert last(pipeline, "TOTALS")["REFRESH_TRIGGER"] == "MANUAL"
    assert last(pipeline, "DOUBLED")["REFRESH_TRIGGER"] == "MANUAL"
    assert last(pipeline, "DOUBLED")["REFRESH_ACTION"] == "INCREMENTAL"


def test_failing_refresh_is_failed_and_its_consumer_upstream_failed(pipeline):
    pipeline.cur.execute("ALTER TABLE orders DROP COLUMN amount")
    summary = pipeline.run_scheduler(advance_seconds=61)
    assert f"{pipeline.db}.S.TOTALS=FAILED" in summary
    failed = last(pipeline, "TOTALS")
    assert failed["STATE"] == "FAILED"
    assert failed["STATE_CODE"] == "000904"
    assert "AMOUNT" in failed["STATE_MESSAGE"].upper()
    assert failed["REFRESH_ACTION"] is None
    with pytest.raises(ProgrammingError, match="refresh UPSTREAM_FAILED"):
        pipeline.cur.execute("ALTER DYNAMIC TABLE doubled REFRESH")
    downstream = last(pipeline, "DOUBLED")
    assert (downstream["STATE"], downstream["STATE_MESSAGE"]) == (
        "UPSTREAM_FAILED",
        f"Skipped refreshing because input DT '{pipeline.db}.S.TOTALS' failed.",
    )
    dt = pipeline.dynamic_table("TOTALS")
    assert dt["LAST_COMPLETED_REFRESH_STATE"] == "FAILED"
    assert dt["LAST_COMPLETED_REFRESH_STATE_CODE"] == "000904"
    # the table keeps its last good data
    assert sorted(pipeline.rows("SELECT * FROM totals")) == [(1, 10), (2, 20)]


def test_five_failed_scheduled_refreshes_suspend_and_resume_restarts(pipeline):
    pipeline.cur.execute("ALTER TABLE orders RENAME COLUMN amount TO amt")
    for _ in range(5):
        pipeline.run_scheduler(advance_seconds=61)
    failures = [r["STATE"] for r in pipeline.history("TOTALS")]
    assert failures[-5:] == ["FAILED"] * 5
    state = json.loads(pipeline.dynamic_table("TOTALS")["SCHEDULING_STATE"])
    assert state["state"] == "SUSPENDED"
    assert state["reason_code"] == "SUSPENDED_DUE_TO_ERRORS"
    assert state["reason_message"] == "The DT was suspended due to 5 consecutive refresh errors"
    pipeline.run_scheduler(advance_seconds=61)
    assert len(pipeline.history("TOTALS")) == len(failures)  # suspended: not refreshed

    pipeline.cur.execute("ALTER TABLE orders RENAME COLUMN amt TO amount")
    pipeline.cur.execute("ALTER DYNAMIC TABLE totals RESUME")
    assert json.loads(pipeline.dynamic_table("TOTALS")["SCHEDULING_STATE"])["state"] == "ACTIVE"
    pipeline.run_scheduler(advance_seconds=61)
    assert last(pipeline, "TOTALS")["STATE"] == "SUCCEEDED"


def test_lag_metrics(pipeline):
    pipeline.run_scheduler(advance_seconds=120)
    dt = pipeline.dynamic_table("TOTALS")
    assert dt["TARGET_LAG_SEC"] == 60
    assert dt["MAXIMUM_LAG_SEC"] >= 120
    assert dt["TIME_ABOVE_TARGET_LAG_SEC"] >= 60
    assert 0 < dt["TIME_WITHIN_TARGET_LAG_RATIO"] < 1
    assert dt["MEAN_LAG_SEC"] > 0


def test_suspend_and_resume_cascade_downstream(pipeline):
    pipeline.cur.execute("ALTER DYNAMIC TABLE totals SUSPEND")
    totals = json.loads(pipeline.dynamic_table("TOTALS")["SCHEDULING_STATE"])
    doubled = json.loads(pipeline.dynamic_table("DOUBLED")["SCHEDULING_STATE"])
    assert (totals["state"], totals["reason_code"]) == ("SUSPENDED", "USER_SUSPENDED")
    assert (doubled["state"], doubled["reason_code"]) == ("SUSPENDED", "UPSTREAM_SUSPENDED")
    assert pipeline.run_scheduler(advance_seconds=61) == "0 dynamic tables refreshed"
    pipeline.cur.execute("ALTER DYNAMIC TABLE totals RESUME")
    for name in ("TOTALS", "DOUBLED"):
        assert json.loads(pipeline.dynamic_table(name)["SCHEDULING_STATE"])["state"] == "ACTIVE"


@pytest.mark.parametrize(
    ("query", "dropped", "identifier"),
    [
        ("SELECT id, amount FROM src", "amount", "AMOUNT"),
        ("SELECT sum(amount) AS total FROM src", "amount", "AMOUNT"),
        ("SELECT s.id, s.amount FROM src s", "amount", "S.AMOUNT"),
        ("SELECT s.id FROM src s JOIN other o ON s.other_id = o.id", "other_id", "S.OTHER_ID"),
        ("SELECT id FROM src WHERE amount > 0", "amount", "AMOUNT"),
    ],
    ids=["column", "aggregate", "qualified", "join-key", "where"],
)
def test_a_dropped_source_column_fails_with_invalid_identifier(sf, query, dropped, identifier):
    sf.cur.execute("CREATE TABLE src (id INT, other_id INT, amount INT)")
    sf.cur.execute("CREATE TABLE other (id INT)")
    sf.cur.execute(f"CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS {query}")
    sf.cur.execute(f"ALTER TABLE src DROP COLUMN {dropped}")
    sf.run_scheduler(advance_seconds=61)
    failed = last(sf, "DT")
    assert (failed["STATE"], failed["STATE_CODE"], failed["STATE_MESSAGE"]) == (
        "FAILED",
        "000904",
        f"SQL compilation error:\ninvalid identifier '{identifier}'",
    )


def test_automatic_suspension_suspends_the_dependent_tables_too(pipeline):
    pipeline.cur.execute(
        "CREATE DYNAMIC TABLE tripled TARGET_LAG = '1 minute' WAREHOUSE = wh "
        "AS SELECT amount2 * 3 AS amount6 FROM doubled"
    )
    pipeline.cur.execute("ALTER TABLE orders RENAME COLUMN amount TO amt")
    for _ in range(5):
        pipeline.run_scheduler(advance_seconds=61)
    states = {
        name: json.loads(pipeline.dynamic_table(name)["SCHEDULING_STATE"])
        for name in ("TOTALS", "DOUBLED", "TRIPLED")
    }
    assert {name: (s["state"], s["reason_code"]) for name, s in states.items()} == {
        "TOTALS": ("SUSPENDED", "SUSPENDED_DUE_TO_ERRORS"),
        "DOUBLED": ("SUSPENDED", "UPSTREAM_SUSPENDED"),
        "TRIPLED": ("SUSPENDED", "UPSTREAM_SUSPENDED"),
    }
    # a dependent table cannot be resumed before its upstream table
    with pytest.raises(ProgrammingError) as excinfo:
        pipeline.cur.execute("ALTER DYNAMIC TABLE tripled RESUME")
    assert excinfo.value.msg == (
        f"091000 (22000): Cannot resume dynamic table '{pipeline.db}.S.TRIPLED': its upstream "
        f"dynamic table '{pipeline.db}.S.DOUBLED' is suspended. Resume '{pipeline.db}.S.DOUBLED' "
        "first."
    )
    # resuming the failed table resumes the tables it had suspended, two levels down too
    pipeline.cur.execute("ALTER TABLE orders RENAME COLUMN amt TO amount")
    pipeline.cur.execute("ALTER DYNAMIC TABLE totals RESUME")
    for name in ("TOTALS", "DOUBLED", "TRIPLED"):
        assert json.loads(pipeline.dynamic_table(name)["SCHEDULING_STATE"])["state"] == "ACTIVE"


def test_resume_leaves_a_table_suspended_by_its_user_suspended(pipeline):
    pipeline.cur.execute("ALTER DYNAMIC TABLE doubled SUSPEND")
    pipeline.cur.execute("ALTER DYNAMIC TABLE totals SUSPEND")
    pipeline.cur.execute("ALTER DYNAMIC TABLE totals RESUME")
    doubled = json.loads(pipeline.dynamic_table("DOUBLED")["SCHEDULING_STATE"])
    assert (doubled["state"], doubled["reason_code"]) == ("SUSPENDED", "USER_SUSPENDED")


def test_create_or_replace_with_other_columns_reinitializes(pipeline):
    pipeline.cur.execute(
        "CREATE OR REPLACE DYNAMIC TABLE totals TARGET_LAG = '1 minute' WAREHOUSE = wh "
        "AS SELECT id, amount, amount * 10 AS amount10 FROM orders"
    )
    created = last(pipeline, "TOTALS")
    assert (created["REFRESH_TRIGGER"], created["REFRESH_ACTION"]) == ("CREATION", "REINITIALIZE")
    pipeline.cur.execute(
        "CREATE OR REPLACE DYNAMIC TABLE totals TARGET_LAG = '1 minute' WAREHOUSE = wh "
        "INITIALIZE = ON_SCHEDULE AS SELECT id FROM orders"
    )
    pipeline.run_scheduler(advance_seconds=1)
    first = last(pipeline, "TOTALS")
    assert (first["REFRESH_TRIGGER"], first["REFRESH_ACTION"]) == ("SCHEDULED", "REINITIALIZE")


def test_scheduler_disable_refreshes_only_when_asked(sf):
    # Snowflake: a table created with SCHEDULER = DISABLE is left out of the refreshes its target
    # lag would schedule; ALTER DYNAMIC TABLE ... REFRESH still refreshes it.
    create_source_and_dynamic_table(
        sf.cur, "manual TARGET_LAG = '1 minute' WAREHOUSE = wh SCHEDULER = DISABLE"
    )
    created = len(sf.history("MANUAL"))  # the creation refresh (INITIALIZE = ON_CREATE)
    sf.run_scheduler(advance_seconds=300)
    assert len(sf.history("MANUAL")) == created
    sf.cur.execute("ALTER DYNAMIC TABLE manual REFRESH")
    assert last(sf, "MANUAL")["REFRESH_TRIGGER"] == "MANUAL"
    # CREATE OR ALTER ... SCHEDULER = ENABLE puts it back on its target lag.
    sf.cur.execute(
        "CREATE OR ALTER DYNAMIC TABLE manual TARGET_LAG = '1 minute' WAREHOUSE = wh "
        "SCHEDULER = ENABLE AS SELECT id FROM src"
    )
    sf.run_scheduler(advance_seconds=61)
    assert last(sf, "MANUAL")["REFRESH_TRIGGER"] == "SCHEDULED"
    with pytest.raises(ProgrammingError, match=r"invalid value \[SOMETIMES\] for SCHEDULER"):
        sf.cur.execute(
            "CREATE DYNAMIC TABLE other TARGET_LAG = '1 minute' WAREHOUSE = wh "
            "SCHEDULER = SOMETIMES AS SELECT id FROM src"
        )


def test_refreshes_of_a_consumer_do_not_cascade_into_a_scheduler_disable_table(sf):
    # Snowflake: a SCHEDULER = DISABLE table refreshes only when asked itself; its consumers'
    # refreshes (scheduled or manual) read the data it has (the platform orders manual ones).
    create_source_and_dynamic_table(
        sf.cur, "held TARGET_LAG = DOWNSTREAM WAREHOUSE = wh SCHEDULER = DISABLE"
    )
    sf.cur.execute(
        "CREATE DYNAMIC TABLE consumer TARGET_LAG = '1 minute' WAREHOUSE = wh "
        "AS SELECT id FROM held"
    )
    created = len(sf.history("HELD"))
    sf.cur.execute("INSERT INTO src VALUES (2)")
    sf.run_scheduler(advance_seconds=120)
    sf.cur.execute("ALTER DYNAMIC TABLE consumer REFRESH")
    assert len(sf.history("HELD")) == created
    assert sf.rows("SELECT count(*) FROM consumer") == [(1,)]
    sf.cur.execute("ALTER DYNAMIC TABLE held REFRESH")
    sf.cur.execute("ALTER DYNAMIC TABLE consumer REFRESH")
    assert sf.rows("SELECT count(*) FROM consumer") == [(2,)]


def test_a_catalog_from_before_scheduler_was_kept_gets_the_column(tmp_path):
    import duckdb
    from local_snowflake.catalog import CATALOG_NAME, create_catalog

    conn = duckdb.connect()
    create_catalog(conn, tmp_path)
    table = f"{CATALOG_NAME}.dynamic_tables"
    conn.execute(f"ALTER TABLE {table} DROP COLUMN SCHEDULER")  # as an older stand-in made it
    create_catalog(conn, tmp_path)
    columns = [row[0] for row in conn.execute(f"DESCRIBE {table}").fetchall()]
    assert columns[-1] == "SCHEDULER"
    conn.close()
