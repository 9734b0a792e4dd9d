"""DDL rendering (golden files checked against Snowflake's documented syntax), the query a
rendered statement gives back, and the errors for bad values of every new Dynamic Table option.

Regenerate the golden files after an intended change with
`UPDATE_GOLDEN=1 uv run pytest tests/core/sql/test_ddl.py` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.declarations.models import DynamicTable, View
from dagster_dynamic_tables.errors import DeclarationError
from dagster_dynamic_tables.sql import ddl, query_text

GOLDEN = Path(__file__).parents[1] / "data" / "ddl"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

MINIMAL: dict[str, Any] = {
    "name": "orders_clean",
    "table": "SHOP.ANALYTICS.ORDERS_CLEAN",
    "target_lag": "1 minute",
    "warehouse": "TRANSFORMING",
    "query": "select * from SHOP.RAW.ORDERS where status = 'done';",
}
EVERY_OPTION: dict[str, Any] = {
    **MINIMAL,
    "table": 'Shop."Analytics Mart"."Orders, frozen"',
    "target_lag": "2 Hours",
    "warehouse": '"Transforming WH"',
    "refresh_mode": "ADAPTIVE",
    "initialize": "ON_SCHEDULE",
    "scheduler": "DISABLE",
    "initialization_warehouse": "transforming_xl",
    "cluster_by": ["order_date", "to_date(created_at)"],
    "comment": "Orders; it's \\ frozen\nafter 30 days",
    "data_retention_time_in_days": 7,
    "frozen_where": "order_date < current_date() - 30",
}


def _dt(**fields: Any) -> DynamicTable:
    return DynamicTable.model_validate({**MINIMAL, **fields})


VIEW = View.model_validate(
    {"name": "dashboard", "table": "SHOP.BI.DASHBOARD", "query": "select 1 as one"}
)

# (golden file, rendered statement(s))
CASES: list[tuple[str, str]] = [
    ("create_minimal", ddl.render_dynamic_table(_dt())),
    ("create_every_option", ddl.render_dynamic_table(_dt(**EVERY_OPTION))),
    ("create_downstream_if_not_exists", ddl.render_dynamic_table(
        _dt(target_lag="downstream", refresh_mode="FULL"), if_not_exists=True
    )),
    ("create_or_alter", ddl.render_dynamic_table(_dt(**EVERY_OPTION), "CREATE OR ALTER")),
    ("create_or_replace_transient", ddl.render_dynamic_table(
        _dt(transient=True, data_retention_time_in_days=1, refresh_mode="INCREMENTAL"),
        "CREATE OR REPLACE",
    )),
    ("alter_transient", ";\n".join(ddl.render_alter_statements(
        _dt(**{**EVERY_OPTION, "transient": True, "data_retention_time_in_days": 0}),
        [ddl.TARGET_LAG, ddl.SCHEDULER, ddl.WAREHOUSE, ddl.INITIALIZATION_WAREHOUSE,
         ddl.DATA_RETENTION_TIME_IN_DAYS, ddl.COMMENT, ddl.CLUSTER_BY, ddl.FROZEN_WHERE],
    ))),
    ("alter_transient_unset", ";\n".join(ddl.render_alter_statements(
        _dt(transient=True),
        [ddl.INITIALIZATION_WAREHOUSE, ddl.DATA_RETENTION_TIME_IN_DAYS, ddl.COMMENT,
         ddl.CLUSTER_BY, ddl.FROZEN_WHERE],
    ))),
    ("create_view", ddl.render_view(VIEW)),
    ("create_or_replace_view", ddl.render_view(VIEW, replace=True)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "rendered"), CASES, ids=[case[0] for case in CASES])
def test_rendered_ddl_matches_its_golden_file(name: str, rendered: str) -> None:
    path = GOLDEN / f"{name}.sql"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered + ";\n", encoding="utf-8")
    assert rendered + ";\n" == path.read_text(encoding="utf-8")


def test_every_golden_file_is_rendered_by_a_case() -> None:
    assert sorted(path.stem for path in GOLDEN.glob("*.sql")) == sorted(c[0] for c in CASES)


# --- the documented syntax --------------------------------------------------------------------
# docs.snowflake.com/en/sql-reference/sql/create-dynamic-table (2026): the clauses, in order,
# that the renderer uses. `?` marks optional ones; COPY GRANTS only with OR REPLACE; CREATE OR
# ALTER has no TRANSIENT keyword and no IF NOT EXISTS.
_IDENT = r'"(?:[^"]|"")+"'
_NAME = rf"{_IDENT}\.{_IDENT}\.{_IDENT}"
_STRING = r"'(?:[^'\\]|''|\\.)*'"
_HEAD = re.compile(
    rf"CREATE(?P<variant> OR REPLACE| OR ALTER)?(?P<transient> TRANSIENT)? DYNAMIC TABLE"
    rf"(?P<ine> IF NOT EXISTS)? {_NAME}"
)
_CLAUSES: list[tuple[str, bool]] = [
    (r"TARGET_LAG = (?:'\d+ (?:second|minute|hour|day)s?'|DOWNSTREAM)", True),
    (r"SCHEDULER = (?:DISABLE|ENABLE)", False),
    (rf"WAREHOUSE = {_IDENT}", True),
    (rf"INITIALIZATION_WAREHOUSE = {_IDENT}", False),
    (r"REFRESH_MODE = (?:AUTO|FULL|INCREMENTAL|ADAPTIVE)", False),
    (r"INITIALIZE = (?:ON_CREATE|ON_SCHEDULE)", False),
    (r"CLUSTER BY \(.+\)", False),
    (r"DATA_RETENTION_TIME_IN_DAYS = \d+", False),
    (rf"COMMENT = {_STRING}", False),
    (r"COPY GRANTS", False),
    (r"FROZEN WHERE \(.+\)", False),
]
_ALTER = re.compile(
    rf"ALTER DYNAMIC TABLE {_NAME} (?:SET\n(?:  (?:TARGET_LAG|SCHEDULER|WAREHOUSE|"
    rf"INITIALIZATION_WAREHOUSE|DATA_RETENTION_TIME_IN_DAYS) = \S.*\n?|  FROZEN WHERE \(.+\)\n?)+"
    rf"|SET COMMENT = {_STRING}|UNSET COMMENT|CLUSTER BY \(.+\)|DROP CLUSTERING KEY"
    r"|UNSET (?:INITIALIZATION_WAREHOUSE|DATA_RETENTION_TIME_IN_DAYS|FROZEN WHERE)"
    r"(?:, (?:INITIALIZATION_WAREHOUSE|DATA_RETENTION_TIME_IN_DAYS|FROZEN WHERE))*)"
)
_VIEW = re.compile(rf"CREATE(?: OR REPLACE)? VIEW(?: IF NOT EXISTS)? {_NAME}(?: COPY GRANTS)?")


def _check_dynamic_table(statement: str) -> None:
    lines = statement.split("\n")
    head = _HEAD.fullmatch(lines[0])
    assert head, lines[0]
    if head["variant"] == " OR ALTER":
        assert not head["transient"]
        assert not head["ine"]
    if head["ine"]:
        assert not head["variant"]
    as_line = lines.index("AS")
    assert lines[as_line + 1 :]
    assert lines[as_line + 1].strip()
    position = 0
    for line in lines[1:as_line]:
        assert line.startswith("  "), line
        while position < len(_CLAUSES) and not re.fullmatch(_CLAUSES[position][0], line[2:]):
            assert not _CLAUSES[position][1], f"required clause missing before {line!r}"
            position += 1
        assert position < len(_CLAUSES), f"{line!r} is not a documented clause in this place"
        if line[2:] == "COPY GRANTS":
            assert head["variant"] == " OR REPLACE"
        position += 1


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.sql")), ids=lambda path: path.stem)
def test_golden_files_follow_snowflakes_documented_syntax(path: Path) -> None:
    text = path.read_text(encoding="utf-8").removesuffix(";\n")
    if text.startswith("ALTER"):
        for statement in text.split(";\n"):
            assert _ALTER.fullmatch(statement), statement
    elif " VIEW " in text.split("\n")[0]:
        head, as_keyword, query = text.split("\n", 2)
        assert _VIEW.fullmatch(head)
        assert as_keyword == "AS"
        assert query
    else:
        _check_dynamic_table(text)


def test_create_or_alter_refuses_a_transient_table_and_if_not_exists_goes_with_create() -> None:
    with pytest.raises(ValueError, match="CREATE OR ALTER cannot name a TRANSIENT"):
        ddl.render_dynamic_table(_dt(transient=True), "CREATE OR ALTER")
    with pytest.raises(ValueError, match="IF NOT EXISTS goes with a plain CREATE only"):
        ddl.render_dynamic_table(_dt(), "CREATE OR REPLACE", if_not_exists=True)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("it's", "'it''s'"),
        ("back\\slash", "'back\\\\slash'"),
        ("two\nlines\ttab\r", "'two\\nlines\\ttab\\r'"),
        ("'; DROP TABLE X; --", "'''; DROP TABLE X; --'"),
    ],
    ids=["plain", "quote", "backslash", "control", "injection"],
)
def test_sql_string_escapes_for_snowflake(value: str, literal: str) -> None:
    assert ddl.sql_string(value) == literal


# --- the query of a rendered statement -------------------------------------------------------


def test_every_rendered_statement_gives_back_its_query() -> None:
    dt = _dt(**EVERY_OPTION)
    rendered = ddl.render_dynamic_table(dt)
    extracted = query_text.extract_query(rendered)
    assert extracted is not None
    assert dt.query is not None
    assert query_text.same_query(dt.query, extracted)


# --- bad values for every new field: the same clear errors as today's fields -----------------


def _message(field: str, value: Any, **others: Any) -> str:
    item = {**MINIMAL, **others, field: value}
    attributes = {"tenant": "shop", "dynamic_tables": [item]}
    with pytest.raises(DeclarationError) as caught:
        build_tenant(attributes, file="defs.yaml", base_dir=None)
    return str(caught.value)


_HEAD_LINE = "1 problem in defs.yaml:\n  - dynamic_tables[0]"

BAD_VALUES: list[tuple[str, str, Any, dict[str, Any], str]] = [
    (
        "refresh_mode_lowercase",
        "refresh_mode",
        "adaptive",
        {},
        ".refresh_mode: 'adaptive' is not allowed; allowed: AUTO, FULL, INCREMENTAL, ADAPTIVE. "
        "Fix: write ADAPTIVE.",
    ),
    (
        "refresh_mode_custom_incremental",
        "refresh_mode",
        "CUSTOM_INCREMENTAL",
        {},
        ".refresh_mode: 'CUSTOM_INCREMENTAL' is not allowed; allowed: AUTO, FULL, INCREMENTAL, "
        "ADAPTIVE. Fix: use one of AUTO, FULL, INCREMENTAL, ADAPTIVE.",
    ),
    (
        "scheduler_unknown",
        "scheduler",
        "OFF",
        {},
        ".scheduler: 'OFF' is not allowed; allowed: ENABLE, DISABLE. Fix: use one of ENABLE, "
        "DISABLE.",
    ),
    (
        "scheduler_lowercase",
        "scheduler",
        "disable",
        {},
        ".scheduler: 'disable' is not allowed; allowed: ENABLE, DISABLE. Fix: write DISABLE.",
    ),
    (
        "scheduler_boolean",
        "scheduler",
        False,
        {},
        ".scheduler: False is not allowed; allowed: ENABLE, DISABLE. Fix: use one of ENABLE, "
        "DISABLE.",
    ),
    (
        "initialization_warehouse_bad_identifier",
        "initialization_warehouse",
        "XL WH",
        {},
        ".initialization_warehouse: 'XL WH' is not a valid Snowflake identifier: use letters, "
        "digits, '_' and '$' starting with a letter or '_', or a double-quoted name without "
        "control characters.",
    ),
    (
        "initialization_warehouse_number",
        "initialization_warehouse",
        5,
        {},
        ".initialization_warehouse: expected a string, got an integer (5). Fix: write a "
        "string, e.g. `initialization_warehouse: TRANSFORMING_XL`; quote a value that YAML "
        "reads as a number, boolean or null.",
    ),
    (
        "cluster_by_not_a_list",
        "cluster_by",
        "order_date",
        {},
        ".cluster_by: expected a list, got a string ('order_date'). Fix: write a YAML list, "
        "e.g. `cluster_by: [a, b]` (Clustering key of the table: a list of SQL expressions).",
    ),
    (
        "cluster_by_statement",
        "cluster_by",
        ["a); drop table x; select (1"],
        {},
        ".cluster_by[0]: 'a); drop table x; select (1' closes a parenthesis it never opened.",
    ),
    (
        "cluster_by_empty_expression",
        "cluster_by",
        ["  "],
        {},
        ".cluster_by[0]: the expression is empty: give a SQL expression such as order_date.",
    ),
    (
        "transient_string",
        "transient",
        "yes",
        {},
        ".transient: expected a boolean, got a string ('yes'). Fix: write true or false "
        "without quotes (true for a TRANSIENT dynamic table (no Fail-safe, at most 1 day of "
        "Time Travel). Changing it re-creates the table).",
    ),
    (
        "comment_number",
        "comment",
        12,
        {},
        ".comment: expected a string, got an integer (12). Fix: write a string, e.g. `comment: "
        "Per-customer lifetime value`; quote a value that YAML reads as a number, boolean or "
        "null.",
    ),
    (
        "comment_control_character",
        "comment",
        "bell\x07",
        {},
        ".comment: 'bell\\x07' holds a control character: write plain text (line breaks and "
        "tabs are allowed).",
    ),
    (
        "retention_negative",
        "data_retention_time_in_days",
        -1,
        {},
        ".data_retention_time_in_days: -1 days is outside Snowflake's 0 to 90 days of Time "
        "Travel retention: use a whole number of days in that range (0 turns Time Travel off).",
    ),
    (
        "retention_quoted",
        "data_retention_time_in_days",
        "7",
        {},
        ".data_retention_time_in_days: expected an integer, got a string ('7'). Fix: write a "
        "whole number without quotes, e.g. `data_retention_time_in_days: 1` (Days of Time "
        "Travel (0 to 90; at most 1 for a transient table); default: the schema's).",
    ),
    (
        "retention_above_transient_maximum",
        "data_retention_time_in_days",
        2,
        {"transient": True},
        ": data_retention_time_in_days is 2, but a transient table keeps Time Travel data for "
        "at most 1 day: use 0 or 1, or set transient: false.",
    ),
    (
        "frozen_where_unclosed_string",
        "frozen_where",
        "status = 'done",
        {},
        ".frozen_where: \"status = 'done\" has an unclosed string (a ' without its pair).",
    ),
    (
        "frozen_where_comment",
        "frozen_where",
        "a < 1 -- and the rest",
        {},
        ".frozen_where: 'a < 1 -- and the rest' holds a SQL comment (--): remove it.",
    ),
    (
        "immutable_where_old_name",
        "immutable_where",
        "a < 1",
        {},
        ".immutable_where: unknown key 'immutable_where'; allowed keys: name, table, "
        "description, owners, group, query, query_file, deps, target_lag, warehouse, "
        "refresh_mode, initialize, scheduler, initialization_warehouse, cluster_by, transient, "
        "comment, data_retention_time_in_days, frozen_where, automation_condition, data_tests. "
        "Fix: write 'frozen_where' instead "
        "(Snowflake renamed IMMUTABLE WHERE to FROZEN WHERE; the declarations use the new name "
        "only).",
    ),
]


@pytest.mark.parametrize(
    ("field", "value", "others", "expected"),
    [case[1:] for case in BAD_VALUES],
    ids=[case[0] for case in BAD_VALUES],
)
def test_bad_value_of_a_new_field_is_named_with_what_is_allowed(
    field: str, value: Any, others: dict[str, Any], expected: str
) -> None:
    assert _message(field, value, **others) == _HEAD_LINE + expected


def test_every_new_field_accepts_its_documented_values() -> None:
    dt = _dt(**EVERY_OPTION)
    assert (dt.scheduler, dt.refresh_mode, dt.cluster_by, dt.data_retention_time_in_days) == (
        "DISABLE",
        "ADAPTIVE",
        ["order_date", "to_date(created_at)"],
        7,
    )
    assert _dt(transient=True, data_retention_time_in_days=0).transient is True
    assert _dt(frozen_where="note = 'it''s -- not a comment'").frozen_where is not None
