"""The refresh history's STATISTICS as the stand-in fills them (rows from the refresh itself,
times measured, partitions as its documented deviation), and SHOW COLUMNS (fakesnow's, with
Snowflake's columns) over Dynamic Tables and plain tables."""

from __future__ import annotations

import json

import pytest
from support.stand_in_pipeline import create_orders_pipeline

KEYS = {
    "numInsertedRows",
    "numDeletedRows",
    "numCopiedRows",
    "numAddedPartitions",
    "numRemovedPartitions",
    "queuedTimeMs",
    "compilationTimeMs",
    "executionTimeMs",
}


@pytest.fixture
def pipeline(sf):
    """orders -> DT totals (1 minute lag) -> DT doubled (DOWNSTREAM)."""
    create_orders_pipeline(sf.cur, orders_columns="id INT NOT NULL COMMENT 'the order', amount INT")
    return sf


def statistics(sf, name: str, index: int = -1) -> dict[str, int]:
    stats = json.loads(sf.history(name)[index]["STATISTICS"])
    assert set(stats) == KEYS
    assert all(isinstance(value, int) and value >= 0 for value in stats.values())
    return stats


def _rows(stats: dict[str, int]) -> tuple[int, ...]:
    return (
        stats["numInsertedRows"],
        stats["numDeletedRows"],
        stats["numCopiedRows"],
        stats["numAddedPartitions"],
        stats["numRemovedPartitions"],
    )


def test_creation_inserts_every_row_into_one_new_partition(pipeline):
    assert pipeline.history("TOTALS")[0]["REFRESH_TRIGGER"] == "CREATION"
    assert _rows(statistics(pipeline, "TOTALS", 0)) == (2, 0, 0, 1, 0)


def test_a_change_counts_inserted_deleted_and_copied_rows(pipeline):
    pipeline.cur.execute("INSERT INTO orders VALUES (3, 30)")
    pipeline.cur.execute("UPDATE orders SET amount = 11 WHERE id = 1")
    pipeline.run_scheduler(advance_seconds=61)
    # (1, 11) and (3, 30) in, (1, 10) out, (2, 20) rewritten unchanged; the table (one unit
    # here) replaced.
    assert _rows(statistics(pipeline, "TOTALS")) == (2, 1, 1, 1, 1)


def test_no_data_writes_nothing(pipeline):
    pipeline.run_scheduler(advance_seconds=61)
    assert pipeline.history("TOTALS")[-1]["REFRESH_ACTION"] == "NO_DATA"
    assert _rows(statistics(pipeline, "TOTALS")) == (0, 0, 0, 0, 0)


def test_a_refresh_waits_for_its_upstream_refresh_as_queued_time(pipeline):
    pipeline.cur.execute("INSERT INTO orders VALUES (3, 30)")
    pipeline.cur.execute("ALTER DYNAMIC TABLE doubled REFRESH")  # totals first, then doubled
    upstream = statistics(pipeline, "TOTALS")
    own = statistics(pipeline, "DOUBLED")
    took = upstream["compilationTimeMs"] + upstream["executionTimeMs"]
    assert own["queuedTimeMs"] >= took - 2  # (each figure rounded to the millisecond)
    assert upstream["executionTimeMs"] > 0  # a real refresh takes time to run


def test_show_columns_answers_with_snowflakes_columns(pipeline):
    rows = pipeline.dicts(f"SHOW COLUMNS IN TABLE {pipeline.db}.S.TOTALS")
    assert [r["column_name"] for r in rows] == ["ID", "AMOUNT"]
    assert set(rows[0]) >= {
        "table_name",
        "schema_name",
        "column_name",
        "data_type",
        "null?",
        "default",
        "kind",
        "expression",
        "comment",
        "database_name",
        "autoincrement",
    }
    assert (rows[0]["table_name"], rows[0]["schema_name"], rows[0]["database_name"]) == (
        "TOTALS",
        "S",
        pipeline.db,
    )
    assert json.loads(rows[0]["data_type"])["type"] == "FIXED"
    assert rows[0]["kind"] == "COLUMN"

    source = pipeline.dicts(f"SHOW COLUMNS IN TABLE {pipeline.db}.S.ORDERS")
    # A documented deviation: fakesnow does not keep column comments (Snowflake: 'the order').
    assert [(r["column_name"], r["null?"], r["comment"]) for r in source] == [
        ("ID", "false", ""),
        ("AMOUNT", "true", ""),
    ]
    schema = pipeline.dicts(f"SHOW COLUMNS IN SCHEMA {pipeline.db}.S")
    assert {r["table_name"] for r in schema} == {"ORDERS", "TOTALS", "DOUBLED"}
    database = pipeline.dicts(f"SHOW COLUMNS IN DATABASE {pipeline.db}")
    assert len(database) == len(schema)
