"""The small pipelines the stand-in's own tests build, written once: `orders` with two rows and
the `orders -> totals (1 minute) -> doubled (DOWNSTREAM)` Dynamic Tables over it, or a one-row
`src` under one Dynamic Table. Each takes the clauses its tests vary; the SQL is the same text."""

from __future__ import annotations

from snowflake.connector.cursor import SnowflakeCursor

ORDERS_COLUMNS = "id INT, amount INT"
TOTALS = "TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT id, amount FROM orders"
DOUBLED = "TARGET_LAG = DOWNSTREAM WAREHOUSE = wh AS SELECT id, amount * 2 AS amount2 FROM totals"


def create_orders(cur: SnowflakeCursor, columns: str = ORDERS_COLUMNS) -> None:
    """The table `orders` (`columns`) holding (1, 10) and (2, 20)."""
    cur.execute(f"CREATE TABLE orders ({columns})")
    cur.execute("INSERT INTO orders VALUES (1, 10), (2, 20)")


def create_orders_pipeline(
    cur: SnowflakeCursor,
    orders_columns: str = ORDERS_COLUMNS,
    totals: str = TOTALS,
    doubled: str | None = DOUBLED,
) -> None:
    """`orders` (`create_orders`), the Dynamic Table `totals` over it and, unless `doubled` is
    None, the Dynamic Table `doubled` over `totals`: `CREATE DYNAMIC TABLE <name> <clauses>`."""
    create_orders(cur, orders_columns)
    cur.execute(f"CREATE DYNAMIC TABLE totals {totals}")
    if doubled is not None:
        cur.execute(f"CREATE DYNAMIC TABLE doubled {doubled}")


def create_source_and_dynamic_table(
    cur: SnowflakeCursor, dynamic_table: str = "dt TARGET_LAG = '1 minute' WAREHOUSE = wh"
) -> None:
    """The table `src (id INT)` holding 1, and `CREATE DYNAMIC TABLE <dynamic_table> AS SELECT
    id FROM src` (name and clauses)."""
    cur.execute("CREATE TABLE src (id INT)")
    cur.execute("INSERT INTO src VALUES (1)")
    cur.execute(f"CREATE DYNAMIC TABLE {dynamic_table} AS SELECT id FROM src")
