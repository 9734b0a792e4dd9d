"""executemany of an INSERT: array bindings (qmark, numeric) and the connector's multi-row INSERT
(pyformat) are inserted in bulk, in chunks that release the server lock, as one atomic statement.
(Figures: tests/benchmarks/bench_local_snowflake.py --only-bulk.)"""

from __future__ import annotations

import threading
from datetime import date, datetime
from decimal import Decimal

import pytest
from local_snowflake import connect
from snowflake.connector.errors import ProgrammingError

COLUMNS = (
    "id INT, name VARCHAR, amount DOUBLE, price NUMBER(10, 2), day DATE, ts TIMESTAMP_NTZ, "
    "flag BOOLEAN"
)
TRICKY = ["it's", 'say "hi"', "back\\slash", "new\nline", "tab\t", "üñí©ødé ✓", "", "%s", "?"]


def _rows(n: int) -> list[tuple[object, ...]]:
    return [
        (
            i,
            None if i % 7 == 0 else f"{TRICKY[i % len(TRICKY)]} {i}",
            i * 0.5,
            Decimal(i),  # fakesnow decodes a FIXED binding as int: no fraction
            date(2026, 1, 1 + i % 28),
            datetime(2026, 2, 3, 4, 5, i % 60),
            i % 2 == 0,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("paramstyle", "marker"),
    [
        ("qmark", "?, ?, ?, ?, ?, ?, ?"),
        ("numeric", ":1, :2, :3, :4, :5, :6, :7"),
        ("pyformat", "%s, %s, %s, %s, %s, %s, %s"),
    ],
)
def test_executemany_inserts_every_row_with_its_values(
    local_snowflake_connect, database, paramstyle, marker
):
    conn = local_snowflake_connect(database=database, schema="S", paramstyle=paramstyle)
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE t ({COLUMNS})")
    rows = _rows(12_345)  # more than two chunks
    cur.executemany(f"INSERT INTO t VALUES ({marker})", rows)
    assert cur.rowcount == len(rows)
    cur.execute("SELECT id, name, amount, price, day, ts, flag FROM t ORDER BY id")
    assert [tuple(r) for r in cur.fetchall()] == rows


def test_expressions_and_column_lists_are_evaluated_per_row(local_snowflake_connect, database):
    conn = local_snowflake_connect(database=database, schema="S", paramstyle="numeric")
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (a INT, b VARCHAR, c INT DEFAULT 7)")
    cur.executemany(
        "INSERT INTO t (b, a) VALUES (upper(:2), :1 * 10)", [(i, f"x{i}") for i in range(6000)]
    )
    cur.execute("SELECT count(*), sum(a), min(b), max(c) FROM t")
    assert cur.fetchall() == [(6000, sum(range(6000)) * 10, "X0", 7)]


def test_a_failing_row_leaves_nothing_inserted(local_snowflake_connect, database):
    conn = local_snowflake_connect(database=database, schema="S", paramstyle="qmark")
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (a INT NOT NULL)")
    rows: list[tuple[int | None]] = [(i,) for i in range(9000)]
    rows[8500] = (None,)  # in the second chunk
    with pytest.raises(ProgrammingError, match="NOT NULL constraint failed"):
        cur.executemany("INSERT INTO t VALUES (?)", rows)
    cur.execute("SELECT count(*) FROM t")
    assert cur.fetchall() == [(0,)]
    cur.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])  # the session still works
    cur.execute("SELECT count(*) FROM t")
    assert cur.fetchall() == [(2,)]


def test_a_dynamic_table_refuses_executemany(sf, local_snowflake_connect, database):
    sf.cur.execute("CREATE TABLE src (a INT)")
    sf.cur.execute(
        "CREATE DYNAMIC TABLE dt TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT a FROM src"
    )
    for paramstyle, marker in (("qmark", "?"), ("pyformat", "%s")):
        cur = local_snowflake_connect(database=database, schema="S", paramstyle=paramstyle).cursor()
        with pytest.raises(
            ProgrammingError, match="DML operations are not allowed on dynamic table"
        ):
            cur.executemany(f"INSERT INTO dt VALUES ({marker})", [(i,) for i in range(200)])


def test_other_clients_are_served_while_a_large_executemany_runs(local_snowflake_server, database):
    """Another client logs in and queries again and again during the insert (before: the
    insert held the server lock for the whole batch, 310 s for 100,000 rows, and a login
    failed), and never sees part of the batch."""
    host, port = local_snowflake_server.host, local_snowflake_server.port
    rows = [(i, f"name {i}") for i in range(60_000)]
    inserting = threading.Event()
    done = threading.Event()
    served: list[int] = []  # counts seen by the other client while the insert ran

    def other_client() -> None:
        inserting.wait()
        while not done.is_set():
            with connect(host, port, database=database, schema="S") as conn:
                cur = conn.cursor()
                cur.execute("SELECT count(*) FROM t")
                (count,) = cur.fetchall()[0]
                if not done.is_set():
                    served.append(count)

    with connect(host, port, database=database, schema="S", paramstyle="qmark") as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INT, name VARCHAR)")
        other = threading.Thread(target=other_client)
        other.start()
        inserting.set()
        try:
            cur.executemany("INSERT INTO t VALUES (?, ?)", rows)
        finally:
            done.set()
            other.join()
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchall() == [(len(rows),)]
    assert len(served) >= 3, served
    assert set(served) <= {0, len(rows)}  # the batch is one statement: all or nothing
