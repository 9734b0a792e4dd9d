"""The shop tenant of the core tests: a source table `orders` and a Dynamic Table `totals` reading
it, in schema S of a database of the test's own; its objects in the stand-in of the test
session, and the resource a tenant uses against that stand-in.

Its declaration file (defs.yaml with a query file), loaded directly and as a component's
attributes, is `SHOP_DATA`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable, Tenant
from dagster_snowflake import SnowflakeResource
from snowflake.connector.errors import ProgrammingError

SHOP_DATA = Path(__file__).resolve().parents[1] / "core" / "data" / "shop"


def totals_query(database: str) -> str:
    return f"SELECT ID, SUM(AMOUNT) AS TOTAL FROM {database}.S.ORDERS GROUP BY ID"


def shop_tenant(database: str, *more: DynamicTable) -> Tenant:
    """orders -> totals (lag 1 minute, INCREMENTAL, warehouse WH) in `database`.S, then `more`.
    totals is declared with the query it is created with (`create_shop_objects`), so
    matches_declaration holds."""
    return Tenant(
        "shop",
        sources=(SourceTable(name="orders", table=f"{database}.S.ORDERS"),),
        dynamic_tables=(
            DynamicTable(
                name="totals",
                table=f"{database}.S.TOTALS",
                target_lag="1 minute",
                warehouse="WH",
                refresh_mode="INCREMENTAL",
                query=totals_query(database),
                deps=["orders"],
            ),
            *more,
        ),
    )


def create_shop_objects(cursor: Any, database: str, orders: str = "(1, 10), (2, 20)") -> None:
    """The shop's objects in the stand-in: `database`, schema S, ORDERS (ID, AMOUNT) holding
    `orders`, and the Dynamic Table TOTALS over it. xfails when the stand-in does not answer the
    sensor's state statement (SHOW ... ->> SELECT ... $1, which real Snowflake answers)."""
    try:
        cursor.execute("SHOW DYNAMIC TABLES IN ACCOUNT ->> SELECT COUNT(*) FROM $1")
    except ProgrammingError as error:
        pytest.xfail(f"the local stand-in does not support SHOW ... ->> SELECT ... $1: {error}")
    for statement in (
        f"CREATE DATABASE {database}",
        f"CREATE SCHEMA {database}.S",
        f"CREATE TABLE {database}.S.ORDERS (ID INT, AMOUNT INT)",
        f"INSERT INTO {database}.S.ORDERS VALUES {orders}",
        f"CREATE DYNAMIC TABLE {database}.S.TOTALS TARGET_LAG = '1 minute' WAREHOUSE = WH "
        f"REFRESH_MODE = INCREMENTAL AS {totals_query(database)}",
    ):
        cursor.execute(statement)


def stand_in_resource(connection_args: dict[str, Any]) -> SnowflakeResource:
    """A tenant's `snowflake` resource against the stand-in at `connection_args` (autocommit:
    else get_connection() sends a COMMIT after a tick's statements)."""
    return SnowflakeResource(
        account="local",
        user="local",
        password="local",
        autocommit=True,
        additional_snowflake_connection_args=connection_args,
    )
