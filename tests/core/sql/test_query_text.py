"""Query drift helpers: the SELECT of a CREATE text, and comparison ignoring layout and case."""

from __future__ import annotations

import pytest
from dagster_dynamic_tables.sql.query_text import extract_query, same_query


@pytest.mark.parametrize(
    ("declared", "reported", "same"),
    [
        ("select a, b from T where x = 1", "SELECT a,b\n  FROM t -- note\n WHERE x=1;", True),
        ("select a from t /* why */", "select A from T", True),
        ("select 'Done' from t", "select 'done' from t", False),
        ('select "Mixed" from t', 'select "MIXED" from t', False),
        ("select a from t where x = 1", "select a from t where x = 2", False),
        ("select a from t", "select a, b from t", False),
    ],
    ids=["layout_case_comments", "block_comment", "literal", "quoted", "number", "column"],
)
def test_same_query_ignores_layout_and_keyword_case_only(
    declared: str, reported: str, same: bool
) -> None:
    assert same_query(declared, reported) is same


@pytest.mark.parametrize(
    ("text", "query"),
    [
        (
            "create dynamic table x target_lag='1 minute' warehouse=w as select 1",
            "select 1",
        ),
        (
            'CREATE OR ALTER DYNAMIC TABLE "A"."B"."C"\n  COMMENT = \'built as a test\'\n'
            "  CLUSTER BY (cast(a AS int))\nAS\nselect a as b from t;",
            "select a as b from t",
        ),
        ("CREATE VIEW S.V AS SELECT A FROM S.T;", "SELECT A FROM S.T"),
        ("CREATE DYNAMIC TABLE x TARGET_LAG = DOWNSTREAM WAREHOUSE = w", None),
    ],
    ids=["inline", "strings_and_parentheses", "view", "no_query"],
)
def test_extract_query_takes_the_select_after_the_top_level_as(
    text: str, query: str | None
) -> None:
    assert extract_query(text) == query
