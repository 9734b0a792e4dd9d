"""Data test declarations: every kind, the defaults, and every bad input with its full message."""

from __future__ import annotations

import pytest
import yaml
from dagster_dynamic_tables.declarations.data_test_problems import parse_data_tests
from dagster_dynamic_tables.declarations.data_tests import (
    AcceptedValues,
    DataTest,
    NotNull,
    Relationships,
    RowCountRange,
    Unique,
    name_data_tests,
)

PATH = "dynamic_tables[0].data_tests"


def parse(text: str) -> tuple[list[DataTest], list[str]]:
    tests, problems = parse_data_tests(yaml.safe_load(text), PATH)
    return tests, [problem.render() for problem in problems]


def test_every_kind_with_its_defaults():
    tests, problems = parse(
        """
        - not_null: {column: order_id}
        - unique: {column: order_id}
        - unique: {columns: [customer_id, '"Order Date"']}
        - accepted_values: {column: status, values: [open, 1, 2.5, true]}
        - relationships: {column: customer_id, to: ecommerce/customers, field: id}
        - relationships: {column: region_id, to: [geo, regions], field: id}
        - row_count: {min: 1, max: 10}
        - row_count: {max: 0}
          name: empty
        - sql: "select * from DB.S.T where amount < 0;"
          severity: warn
          blocking: true
        """
    )
    assert problems == []
    assert [(t.check_name, t.kind, t.severity, t.blocking) for t in tests] == [
        ("not_null_order_id", "not_null", "error", False),
        ("unique_order_id", "unique", "error", False),
        ("unique_customer_id_order_date", "unique", "error", False),
        ("accepted_values_status", "accepted_values", "error", False),
        ("relationships_customer_id", "relationships", "error", False),
        ("relationships_region_id", "relationships", "error", False),
        ("row_count", "row_count", "error", False),
        ("empty", "row_count", "error", False),
        ("sql_8", "sql", "warn", True),
    ]
    assert tests[2].unique == Unique(columns=["customer_id", '"Order Date"'])
    assert [c.resolved for c in tests[2].columns] == ["CUSTOMER_ID", "Order Date"]
    expected_values = AcceptedValues(column="status", values=["open", 1, 2.5, True])
    assert tests[3].accepted_values == expected_values
    assert tests[4].relationships is not None
    assert tests[4].relationships.to_key("shop") == ["ecommerce", "customers"]
    assert tests[5].relationships == Relationships(column="region_id", to="geo/regions", field="id")
    assert tests[6].row_count == RowCountRange(min=1, max=10)


def test_a_short_relationships_target_is_the_tenants_own_asset():
    test = DataTest(relationships=Relationships(column="c", to="customers", field="id"))
    assert test.relationships is not None
    assert test.relationships.to_key("shop") == ["shop", "customers"]


def test_python_built_tests_get_default_names_and_keep_given_ones():
    tests = name_data_tests(
        [
            DataTest(not_null=NotNull(column="ID")),
            DataTest(sql="select 1", name="mine"),
            DataTest(sql="with x as (select 1) select * from x"),
        ]
    )
    assert [t.check_name for t in tests] == ["not_null_id", "mine", "sql_2"]


def test_a_test_without_name_has_no_check_name_yet():
    with pytest.raises(ValueError, match="pass the list to name_data_tests"):
        _ = DataTest(row_count=RowCountRange(min=1)).check_name


def test_no_data_tests_is_no_test():
    assert parse_data_tests(None, PATH) == ([], [])
    assert parse_data_tests([], PATH) == ([], [])


F = "dynamic_tables[0].data_tests[0]"
KINDS = "not_null, unique, accepted_values, relationships, row_count, sql"
BAD = [
    (
        "not a list",
        "not_null: {column: id}",
        f"{PATH}: expected a list of data tests, got a mapping. Fix: write a YAML list, one test "
        "per entry: `- not_null: {column: order_id}`.",
    ),
    (
        "entry not a mapping",
        "- not_null",
        f"{F}: expected a mapping, got a string ('not_null'). Fix: write each test as a mapping, "
        "e.g. `- not_null: {column: order_id}`.",
    ),
    (
        "no kind",
        "- {name: x}",
        f"{F}: a data test has exactly one of the keys {KINDS}; got no kind key: write one test "
        "per list entry.",
    ),
    (
        "two kinds",
        "- {not_null: {column: a}, unique: {column: a}}",
        f"{F}: a data test has exactly one of the keys {KINDS}; got not_null and unique together: "
        "write one test per list entry.",
    ),
    (
        "unknown key of the entry",
        "- {not_null: {column: a}, severty: warn}",
        f"{F}.severty: unknown key 'severty'; allowed keys: not_null, unique, accepted_values, "
        "relationships, row_count, sql, name, severity, blocking. Fix: did you mean 'severity'?",
    ),
    (
        "unknown key of a kind",
        "- accepted_values: {column: s, valus: [a]}",
        f"{F}.accepted_values.values: required key 'values' is missing. Fix: add "
        "`values: [open, shipped]`.\n"
        f"{F}.accepted_values.valus: unknown key 'valus'; allowed keys: column, values. Fix: did "
        "you mean 'values'?",
    ),
    (
        "kind given a string",
        "- not_null: id",
        f"{F}.not_null: expected a mapping, got a string ('id'). Fix: write "
        "`not_null: {column: order_id}`.",
    ),
    (
        "column missing",
        "- not_null: {}",
        f"{F}.not_null.column: required key 'column' is missing. Fix: add `column: order_id`.",
    ),
    (
        "column not an identifier",
        "- not_null: {column: order id}",
        f"{F}.not_null.column: 'order id' is not a valid Snowflake identifier: use letters, "
        "digits, '_' and '$' starting with a letter or '_', or a double-quoted name without "
        "control characters.",
    ),
    (
        "column a number",
        "- not_null: {column: 1}",
        f"{F}.not_null.column: expected a string, got an integer (1). Fix: write "
        "`column: order_id`.",
    ),
    (
        "unique with both",
        "- unique: {column: a, columns: [a, b]}",
        f"{F}.unique: give column (one column) or columns (a combination), not both.",
    ),
    (
        "unique with neither",
        "- unique: {}",
        f"{F}.unique: give column (one column) or columns (a combination), not both.",
    ),
    (
        "unique with no columns",
        "- unique: {columns: []}",
        f"{F}.unique: columns is empty: list the columns whose combination is unique.",
    ),
    (
        "no accepted values",
        "- accepted_values: {column: s, values: []}",
        f"{F}.accepted_values.values: the list is empty. Fix: list at least one value, e.g. "
        "`values: [open, shipped]`.",
    ),
    (
        "accepted values not a list",
        "- accepted_values: {column: s, values: open}",
        f"{F}.accepted_values.values: expected a list, got a string ('open'). Fix: write "
        "`values: [open, shipped]`.",
    ),
    (
        "a null accepted value",
        "- accepted_values: {column: s, values: [a, null]}",
        f"{F}.accepted_values.values[1]: expected a string, a number or a boolean, got nothing "
        "(null): list the allowed values themselves (NULL is never checked: add a not_null test "
        "for it).",
    ),
    (
        "a mapping as accepted value",
        "- accepted_values: {column: s, values: [{a: 1}]}",
        f"{F}.accepted_values.values[0]: expected a string, a number or a boolean, got a "
        "mapping: list the allowed values themselves (NULL is never checked: add a not_null "
        "test for it).",
    ),
    (
        "an infinite accepted value",
        "- accepted_values: {column: s, values: [.inf]}",
        f"{F}.accepted_values.values[0]: inf is not a value a column holds: give a finite number.",
    ),
    (
        "relationships without field",
        "- relationships: {column: c, to: customers}",
        f"{F}.relationships.field: required key 'field' is missing. Fix: add `field: id`.",
    ),
    (
        "relationships to a bad key",
        "- relationships: {column: c, to: Ecommerce/Customers, field: id}",
        f"{F}.relationships.to: 'Ecommerce/Customers' is not an asset key: name one of this "
        "tenant's objects (customers) or another tenant's by its full key "
        "(ecommerce/customers), in lowercase letters, digits and '_'.",
    ),
    (
        "row_count without bounds",
        "- row_count: {}",
        f"{F}.row_count: give min, max or both: without a bound the test always passes.",
    ),
    (
        "row_count min above max",
        "- row_count: {min: 5, max: 1}",
        f"{F}.row_count: min (5) is above max (1): no row count can pass; swap them.",
    ),
    (
        "negative row_count",
        "- row_count: {min: -1}",
        f"{F}.row_count.min: -1 is negative: give a whole number of rows, 0 or more.",
    ),
    (
        "row_count as text",
        "- row_count: {min: '1'}",
        f"{F}.row_count.min: expected a whole number, got a string ('1'). Fix: write a whole "
        "number without quotes.",
    ),
    (
        "sql not a select",
        "- sql: delete from t",
        f"{F}.sql: the query starts with DELETE: give one SELECT (or WITH ... SELECT) returning "
        "the failing rows.",
    ),
    (
        "sql with two statements",
        "- sql: select 1; drop table t",
        f"{F}.sql: the query holds more than one statement: give one SELECT returning the "
        "failing rows.",
    ),
    (
        "sql empty",
        "- sql: ' -- nothing'",
        f"{F}.sql: the query is empty: give a SELECT returning the failing rows.",
    ),
    (
        "sql with an open string",
        "- sql: select 'a",
        f"{F}.sql: the query has an unclosed string or quoted identifier.",
    ),
    (
        "bad severity",
        "- {not_null: {column: a}, severity: WARN}",
        f"{F}.severity: 'WARN' is not allowed; allowed: warn, error. Fix: write warn.",
    ),
    (
        "unknown severity",
        "- {not_null: {column: a}, severity: fatal}",
        f"{F}.severity: 'fatal' is not allowed; allowed: warn, error. Fix: use warn or error.",
    ),
    (
        "blocking as text",
        "- {not_null: {column: a}, blocking: 'yes'}",
        f"{F}.blocking: expected a boolean (true or false), got a string ('yes'). Fix: write "
        "true or false without quotes.",
    ),
    (
        "bad name",
        "- {not_null: {column: a}, name: not-null}",
        f"{F}.name: 'not-null' is not a valid check name: use letters, digits and '_' only "
        "(e.g. orders_not_empty).",
    ),
    (
        "a health check's name",
        "- {not_null: {column: a}, name: within_target_lag}",
        f"{F}.name: 'within_target_lag' is the name of a health check of every Dynamic Table "
        "(refresh_succeeded, scheduling_active, within_target_lag, matches_declaration): give "
        "the test another name.",
    ),
    (
        "a default name used twice",
        "- not_null: {column: a}\n- not_null: {column: A}",
        f"{PATH}[1]: the check name 'not_null_a' is already used by {PATH}[0]. Fix: give this "
        "test its own `name:` (check names are unique per table).",
    ),
    (
        "a given name used twice",
        "- {sql: select 1, name: x}\n- {sql: select 2, name: x}",
        f"{PATH}[1].name: the check name 'x' is already used by {PATH}[0]. Fix: give this test "
        "its own `name:` (check names are unique per table).",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_data_tests_are_reported_with_path_value_and_fix(text, expected):
    _tests, problems = parse(text)
    assert "\n".join(problems) == expected


def test_every_problem_is_reported_at_once_and_good_entries_are_kept():
    tests, problems = parse(
        """
        - not_null: {column: ok}
        - not_null: {column: bad column}
        - row_count: {min: -1}
        - unique: {column: ok}
        """
    )
    assert [t.check_name for t in tests] == ["not_null_ok", "unique_ok"]
    assert [p.split(":")[0] for p in problems] == [
        f"{PATH}[1].not_null.column",
        f"{PATH}[2].row_count.min",
    ]


@pytest.mark.parametrize(
    "query",
    [
        "select 1",
        "SELECT * FROM t;",
        "with x as (select 1) select * from x",
        "(select 1)",
        "-- why\nselect ';' as semicolon, \"a;b\" from t -- trailing; comment",
        "/* lead; */ select 1",
    ],
)
def test_sql_accepts_one_select(query):
    _tests, problems = parse_data_tests([{"sql": query}], PATH)
    assert problems == []
