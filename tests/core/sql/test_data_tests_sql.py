"""Data tests as SQL: the rendered failing-rows queries (golden strings), and running them with
the real connector against the embedded stand-in: counts, samples and refusals."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from dagster_dynamic_tables.declarations.data_tests import (
    AcceptedValues,
    DataTest,
    NotNull,
    Relationships,
    RowCountRange,
    Unique,
    name_data_tests,
)
from dagster_dynamic_tables.declarations.identifiers import parse_qualified_name
from dagster_dynamic_tables.sql.data_tests import (
    MAX_SAMPLE_BYTES,
    MAX_VALUE_CHARS,
    SAMPLE_ROWS,
    PlannedDataTest,
    build_data_test_statement,
    failing_rows_sql,
    json_safe,
    parse_data_test_rows,
    refused_outcome,
    run_data_test,
)
from snowflake.connector.errors import ProgrammingError

TABLE = parse_qualified_name('SHOP.S."Orders"')
PARENT = parse_qualified_name("SHOP.S.CUSTOMERS")


def planned(test: DataTest, table: str | None = None, parent: str | None = None) -> PlannedDataTest:
    (named,) = name_data_tests([test])
    return PlannedDataTest(
        asset_key=("shop", "orders"),
        test=named,
        table=parse_qualified_name(table) if table else TABLE,
        parent=parse_qualified_name(parent) if parent else None,
    )


GOLDEN = [
    (
        "not_null",
        DataTest(not_null=NotNull(column="order_id")),
        'SELECT "ORDER_ID" FROM "SHOP"."S"."Orders" WHERE "ORDER_ID" IS NULL',
    ),
    (
        "unique",
        DataTest(unique=Unique(columns=["a", '"b"'])),
        'SELECT "A", "b", COUNT(*) AS "N_ROWS" FROM "SHOP"."S"."Orders" WHERE "A" IS NOT NULL '
        'AND "b" IS NOT NULL GROUP BY "A", "b" HAVING COUNT(*) > 1',
    ),
    (
        "accepted_values",
        DataTest(accepted_values=AcceptedValues(column="status", values=["it's", "a\\b"])),
        'SELECT "STATUS" FROM "SHOP"."S"."Orders" WHERE "STATUS" IS NOT NULL AND "STATUS" NOT IN '
        "('it''s', 'a\\\\b')",
    ),
    (
        "accepted_values of numbers and booleans",
        DataTest(accepted_values=AcceptedValues(column="n", values=[1, 2.5, True])),
        'SELECT "N" FROM "SHOP"."S"."Orders" WHERE "N" IS NOT NULL AND "N" NOT IN (1, 2.5, TRUE)',
    ),
    (
        "relationships",
        DataTest(relationships=Relationships(column="customer_id", to="customers", field="id")),
        'SELECT child."CUSTOMER_ID" FROM "SHOP"."S"."Orders" AS child WHERE child."CUSTOMER_ID" '
        'IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "SHOP"."S"."CUSTOMERS" AS parent WHERE '
        'parent."ID" = child."CUSTOMER_ID")',
    ),
    (
        "row_count",
        DataTest(row_count=RowCountRange(min=1, max=10)),
        'SELECT "ROW_COUNT" FROM (SELECT COUNT(*) AS "ROW_COUNT" FROM "SHOP"."S"."Orders") WHERE '
        '"ROW_COUNT" < 1 OR "ROW_COUNT" > 10',
    ),
    (
        "row_count max only",
        DataTest(row_count=RowCountRange(max=0)),
        'SELECT "ROW_COUNT" FROM (SELECT COUNT(*) AS "ROW_COUNT" FROM "SHOP"."S"."Orders") WHERE '
        '"ROW_COUNT" > 0',
    ),
    (
        "sql",
        DataTest(sql="  select * from t where a like 'x%';  "),
        "select * from t where a like 'x%'",
    ),
]


@pytest.mark.parametrize(("test", "sql"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_failing_rows_sql_is_rendered_from_quoted_identifiers(test, sql):
    parent = "SHOP.S.CUSTOMERS" if test.relationships else None
    assert failing_rows_sql(planned(test, parent=parent)) == sql


def test_one_statement_returns_the_count_and_a_sample():
    statement = build_data_test_statement(planned(DataTest(not_null=NotNull(column="a"))))
    assert statement.text == (
        'SELECT COUNT(*) OVER () AS "DAGSTER_FAILING_ROWS", failing.*\n'
        'FROM (\nSELECT "A" FROM "SHOP"."S"."Orders" WHERE "A" IS NULL\n) AS failing\nLIMIT 5'
    )
    assert statement.params == {}  # nothing bound: a user's '%' stays a '%'


def test_a_relationships_test_needs_its_parent_table():
    test = DataTest(relationships=Relationships(column="c", to="customers", field="id"))
    with pytest.raises(ValueError, match="needs its parent table"):
        planned(test)


def test_an_unnamed_test_cannot_be_planned():
    with pytest.raises(ValueError, match="pass the tests through name_data_tests"):
        PlannedDataTest(("a",), DataTest(sql="select 1"), TABLE)


# Outcomes from rows and errors ------------------------------------------------------------------


def test_no_row_means_no_failing_row():
    outcome = parse_data_test_rows("q", [])
    assert (outcome.failing_rows, outcome.sample, outcome.passed) == (0, (), True)


def test_values_are_json_safe_and_cut():
    long = "x" * 500
    assert json_safe(long) == ("x" * (MAX_VALUE_CHARS - 3) + "...", True)
    assert json_safe(Decimal("2.00")) == (2, False)
    assert json_safe(Decimal("1.50")) == ("1.50", False)
    assert json_safe(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == ("2026-01-02T03:04:00+00:00", False)
    assert json_safe(date(2026, 1, 2)) == ("2026-01-02", False)
    assert json_safe(b"\x00\x01") == ("AAE=", False)
    assert json_safe(float("nan")) == ("nan", False)
    assert json_safe(None) == (None, False)


def test_the_sample_is_bounded_in_bytes():
    rows = [{"DAGSTER_FAILING_ROWS": 9, "V": "y" * 150, "W": "z" * 150, "X": "w" * 150}] * 9
    outcome = parse_data_test_rows("q", rows)
    assert outcome.failing_rows == 9
    assert outcome.sample_truncated
    assert 0 < len(outcome.sample) < 9
    assert len(json.dumps(list(outcome.sample)).encode()) <= MAX_SAMPLE_BYTES


def test_an_invalid_identifier_names_the_column():
    error = ProgrammingError(
        msg="SQL compilation error: error line 1 at position 7\ninvalid identifier '\"EMAIL\"'",
        errno=904,
        sqlstate="42000",
    )
    outcome = refused_outcome("q", error)
    assert (outcome.error_code, outcome.invalid_identifier, outcome.passed) == (
        "000904",
        "EMAIL",
        False,
    )
    assert outcome.failing_rows is None


# Against the stand-in, with the real connector -----------------------------------------------

_databases = itertools.count()


@pytest.fixture
def shop(local_snowflake_connect) -> tuple[str, Any]:
    """A fresh database: ORDERS breaking each kind of test once, CUSTOMERS its parent."""
    name = f"DATA_TESTS_{next(_databases)}"
    connection = local_snowflake_connect()
    cursor = connection.cursor()
    for sql in (
        f"CREATE DATABASE {name}",
        f"CREATE SCHEMA {name}.S",
        f"CREATE TABLE {name}.S.CUSTOMERS (ID INT)",
        f"INSERT INTO {name}.S.CUSTOMERS VALUES (1), (2)",
        f"CREATE TABLE {name}.S.ORDERS (ID INT, STATUS VARCHAR, CUSTOMER_ID INT, NOTE VARCHAR)",
        f"INSERT INTO {name}.S.ORDERS VALUES (1, 'open', 1, 'a'), (2, 'shipped', 2, 'b'), "
        f"(2, 'lost', 9, '{'n' * 300}'), (NULL, NULL, NULL, 'c')",
    ):
        cursor.execute(sql)
    return name, connection


def outcome_of(shop: tuple[str, Any], test: DataTest) -> Any:
    name, connection = shop
    parent = f"{name}.S.CUSTOMERS" if test.relationships else None
    return run_data_test(connection, planned(test, f"{name}.S.ORDERS", parent))


RUNS = [
    ("not_null", DataTest(not_null=NotNull(column="id")), 1, [{"ID": None}]),
    ("not_null passes", DataTest(not_null=NotNull(column="note")), 0, []),
    ("unique", DataTest(unique=Unique(column="id")), 1, [{"ID": 2, "N_ROWS": 2}]),
    ("unique of a pair passes", DataTest(unique=Unique(columns=["id", "status"])), 0, []),
    (
        "accepted_values",
        DataTest(accepted_values=AcceptedValues(column="status", values=["open", "shipped"])),
        1,
        [{"STATUS": "lost"}],
    ),
    (
        "relationships",
        DataTest(relationships=Relationships(column="customer_id", to="customers", field="id")),
        1,
        [{"CUSTOMER_ID": 9}],
    ),
    ("row_count", DataTest(row_count=RowCountRange(max=3)), 1, [{"ROW_COUNT": 4}]),
    ("row_count passes", DataTest(row_count=RowCountRange(min=1, max=4)), 0, []),
    (
        "sql",
        DataTest(sql="select ID, STATUS from ORDERS where STATUS like 'l%' or STATUS is null"),
        2,
        [{"ID": 2, "STATUS": "lost"}, {"ID": None, "STATUS": None}],
    ),
]


@pytest.mark.parametrize(
    ("test", "failing", "sample"), [r[1:] for r in RUNS], ids=[r[0] for r in RUNS]
)
def test_each_kind_counts_and_samples_its_failing_rows(shop, test, failing, sample):
    name, _connection = shop
    if test.sql is not None:
        test = DataTest(sql=test.sql.replace("ORDERS", f"{name}.S.ORDERS"))
    outcome = outcome_of(shop, test)
    assert outcome.error_code is None, outcome.error_message
    assert outcome.failing_rows == failing
    assert sorted(map(str, outcome.sample)) == sorted(map(str, sample))
    assert outcome.passed == (failing == 0)


def test_the_sample_keeps_at_most_five_rows_and_cuts_long_values(shop):
    name, _connection = shop
    tables = f"{name}.S.ORDERS o, {name}.S.CUSTOMERS c, {name}.S.ORDERS b"
    test = DataTest(sql=f"select o.NOTE from {tables}")  # 4 x 2 x 4 rows
    outcome = outcome_of(shop, test)
    assert outcome.failing_rows == 32
    assert len(outcome.sample) == SAMPLE_ROWS
    assert all(len(str(row["NOTE"])) <= MAX_VALUE_CHARS for row in outcome.sample)


def test_an_unknown_column_is_an_outcome_naming_it(shop):
    outcome = outcome_of(shop, DataTest(not_null=NotNull(column="email")))
    assert not outcome.passed
    assert outcome.failing_rows is None
    assert outcome.error_code is not None
    assert "EMAIL" in (outcome.error_message or "")


def test_an_unknown_column_is_snowflakes_000904_on_the_stand_in(shop):
    outcome = outcome_of(shop, DataTest(not_null=NotNull(column="email")))
    assert (outcome.error_code, outcome.invalid_identifier) == ("000904", "EMAIL")


def test_a_missing_table_is_an_outcome(shop):
    name, connection = shop
    test = planned(DataTest(not_null=NotNull(column="id")), f"{name}.S.NOPE")
    outcome = run_data_test(connection, test)
    assert outcome.error_code == "002003"
    assert not outcome.passed
