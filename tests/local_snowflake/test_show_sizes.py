"""SHOW DYNAMIC TABLES `rows` and `bytes`: what a refresh wrote, unchanged by a NO_DATA refresh
(the freshness sensor tells data-changing refreshes from NO_DATA ones by them, without a
warehouse). `bytes` is the sum of the UTF-8 lengths of every non-NULL value as text (a
documented deviation from Snowflake's compressed size)."""

from __future__ import annotations

from datetime import datetime

import pytest
from support.stand_in_pipeline import create_orders_pipeline


def sizes(sf, name: str = "TOTALS") -> tuple[int, int, datetime]:
    """(rows, bytes, data_timestamp) of one DT, as SHOW reports them."""
    (row,) = [r for r in sf.dicts(f"SHOW DYNAMIC TABLES IN SCHEMA {sf.db}.S") if r["name"] == name]
    return row["rows"], row["bytes"], row["data_timestamp"]


@pytest.fixture
def totals(sf):
    """orders -> DT totals (1 minute lag, INCREMENTAL, a NULL column)."""
    create_orders_pipeline(
        sf.cur,
        totals="TARGET_LAG = '1 minute' WAREHOUSE = wh REFRESH_MODE = INCREMENTAL "
        "AS SELECT id, amount, NULL::VARCHAR AS note FROM orders",
        doubled=None,
    )
    return sf


def test_show_reports_the_rows_and_bytes_the_creation_wrote(totals):
    rows, size, _ = sizes(totals)
    assert (rows, size) == (2, len("1") + len("10") + len("2") + len("20"))  # NULLs count 0


def test_no_data_refreshes_leave_rows_and_bytes_while_the_data_timestamp_moves(totals):
    rows, size, stamp = sizes(totals)
    for _ in range(3):
        totals.run_scheduler(advance_seconds=61)
        assert totals.history("TOTALS")[-1]["REFRESH_ACTION"] == "NO_DATA"
        now_rows, now_size, now_stamp = sizes(totals)
        assert (now_rows, now_size) == (rows, size)
        assert now_stamp > stamp
        stamp = now_stamp


def test_a_data_changing_refresh_changes_them(totals):
    totals.cur.execute("INSERT INTO orders VALUES (3, 300)")
    totals.run_scheduler(advance_seconds=61)
    assert totals.history("TOTALS")[-1]["REFRESH_ACTION"] == "INCREMENTAL"
    assert sizes(totals)[:2] == (3, 6 + len("3") + len("300"))
    totals.cur.execute("DELETE FROM orders WHERE id = 3")
    totals.run_scheduler(advance_seconds=61)
    assert sizes(totals)[:2] == (2, 6)


def test_an_update_to_values_of_the_same_width_changes_neither(totals):
    """The case SHOW cannot tell from NO_DATA: same rows, same bytes (in Snowflake too, bytes
    can stay the same). The sensor's periodic full read catches it."""
    totals.cur.execute("UPDATE orders SET amount = 19 WHERE id = 1")
    totals.run_scheduler(advance_seconds=61)
    last = totals.history("TOTALS")[-1]
    assert (last["STATE"], last["REFRESH_ACTION"]) == ("SUCCEEDED", "INCREMENTAL")
    assert sizes(totals)[:2] == (2, 6)


def test_a_table_not_refreshed_yet_is_empty_and_a_recreated_one_starts_afresh(totals):
    totals.cur.execute(
        "CREATE OR REPLACE DYNAMIC TABLE totals TARGET_LAG = '1 minute' WAREHOUSE = wh "
        "INITIALIZE = ON_SCHEDULE AS SELECT id, amount FROM orders"
    )
    assert sizes(totals)[:2] == (0, 0)
    totals.run_scheduler(advance_seconds=61)
    assert sizes(totals)[:2] == (2, 6)
