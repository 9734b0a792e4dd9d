"""SHOW COLUMNS: which statements read which tables, and the rows read into columns."""

import json

import pytest
from dagster_dynamic_tables.declarations.identifiers import parse_qualified_name
from dagster_dynamic_tables.sql.columns import (
    SHOW_COLUMNS_LIMIT,
    Column,
    build_show_columns_statement,
    fetch_columns,
    parse_column,
    plan_column_reads,
    snowflake_type,
)
from dagster_dynamic_tables.sql.statements import requires_warehouse


def _names(*texts: str):
    return [parse_qualified_name(text) for text in texts]


@pytest.mark.parametrize(
    ("tables", "scopes"),
    [
        (["DB.S.T"], ['TABLE "DB"."S"."T"']),
        (["DB.S.T", "DB.S.U"], ['SCHEMA "DB"."S"']),
        (["DB.S.T", "DB.R.U"], ['DATABASE "DB"']),
        (["DB.S.T", "OTHER.S.U", "OTHER.S.V"], ['TABLE "DB"."S"."T"', 'SCHEMA "OTHER"."S"']),
        (['DB.S."Mixed"'], ['TABLE "DB"."S"."Mixed"']),
    ],
    ids=["one-table", "one-schema", "two-schemas", "two-databases", "quoted"],
)
def test_the_fewest_statements_cover_the_tables(tables, scopes):
    plans = plan_column_reads(_names(*tables))
    assert [scope for scope, _ in plans] == scopes
    assert sorted(n.resolved for _, names in plans for n in names) == sorted(
        n.resolved for n in _names(*tables)
    )


def _row(table: str, column: str, data_type: object, null: str = "true", comment: str = ""):
    database, schema, name = table.split(".")
    return {
        "TABLE_NAME": name,
        "SCHEMA_NAME": schema,
        "COLUMN_NAME": column,
        "DATA_TYPE": data_type,
        "NULL?": null,
        "DEFAULT": "",
        "KIND": "COLUMN",
        "EXPRESSION": "",
        "COMMENT": comment,
        "DATABASE_NAME": database,
        "AUTOINCREMENT": "",
    }


@pytest.mark.parametrize(
    ("data_type", "expected"),
    [
        ({"type": "FIXED", "precision": 38, "scale": 0, "nullable": True}, "NUMBER(38,0)"),
        ({"type": "FIXED", "precision": 10, "scale": 2}, "NUMBER(10,2)"),
        ({"type": "TEXT", "length": 16, "byteLength": 64}, "VARCHAR(16)"),
        ({"type": "REAL"}, "FLOAT"),
        ({"type": "TIMESTAMP_LTZ", "precision": 0, "scale": 9}, "TIMESTAMP_LTZ(9)"),
        ({"type": "BOOLEAN"}, "BOOLEAN"),
        ({"type": "BINARY", "length": 8}, "BINARY(8)"),
        ({"type": "VARIANT"}, "VARIANT"),
    ],
    ids=lambda value: str(value),
)
def test_snowflake_type_names(data_type, expected):
    assert snowflake_type(data_type) == expected
    assert parse_column(_row("D.S.T", "C", json.dumps(data_type))).type == expected


def test_a_row_becomes_a_column_with_nullability_and_comment():
    row = _row("D.S.T", "ID", '{"type":"FIXED","precision":38,"scale":0}', "false", "the key")
    assert parse_column(row) == Column("ID", "NUMBER(38,0)", nullable=False, comment="the key")
    # null? missing: the data_type's nullable says it; a type that is not JSON is kept as text
    row = {**_row("D.S.T", "X", '{"type":"DATE","nullable":false}'), "NULL?": None}
    assert parse_column(row) == Column("X", "DATE", nullable=False)
    assert parse_column(_row("D.S.T", "Y", "NUMBER(38,0)")).type == "NUMBER(38,0)"
    assert parse_column(_row("D.S.T", "Z", None)).type == ""


class _Cursor:
    def __init__(self, answers: dict[str, list[dict[str, object]]], sent: list[str]) -> None:
        self.answers, self.sent, self.rows = answers, sent, []
        self.description = [(name,) for name in _row("D.S.T", "C", "")]

    def execute(self, text: str, params: object = None) -> None:
        self.sent.append(text)
        self.rows = [tuple(row.values()) for row in self.answers.get(text, [])]

    def fetchall(self) -> list[tuple[object, ...]]:
        return self.rows

    def close(self) -> None:
        pass


class _Connection:
    def __init__(self, answers: dict[str, list[dict[str, object]]]) -> None:
        self.answers, self.sent = answers, []

    def cursor(self) -> _Cursor:
        return _Cursor(self.answers, self.sent)


def test_fetch_keeps_the_wanted_tables_in_order():
    fixed = '{"type":"FIXED","precision":38,"scale":0}'
    connection = _Connection(
        {
            'SHOW COLUMNS IN SCHEMA "DB"."S"': [
                _row("DB.S.T", "A", fixed),
                _row("DB.S.OTHER", "Z", fixed),
                _row("DB.S.T", "B", fixed),
                _row("DB.S.U", "C", fixed),
            ]
        }
    )
    found, sent = fetch_columns(connection, _names("DB.S.T", "DB.S.U", "DB.S.GONE"))
    assert sent == 1
    assert {name: [c.name for c in columns] for name, columns in found.items()} == {
        "DB.S.T": ["A", "B"],
        "DB.S.U": ["C"],
    }
    assert not requires_warehouse(build_show_columns_statement('SCHEMA "DB"."S"'))


def test_a_full_schema_read_is_read_again_table_by_table():
    fixed = '{"type":"FIXED","precision":38,"scale":0}'
    full = [_row("DB.S.FILLER", f"C{i}", fixed) for i in range(SHOW_COLUMNS_LIMIT)]
    connection = _Connection(
        {
            'SHOW COLUMNS IN SCHEMA "DB"."S"': full,
            'SHOW COLUMNS IN TABLE "DB"."S"."T"': [_row("DB.S.T", "A", fixed)],
            'SHOW COLUMNS IN TABLE "DB"."S"."U"': [_row("DB.S.U", "B", fixed)],
        }
    )
    found, sent = fetch_columns(connection, _names("DB.S.T", "DB.S.U"))
    assert sent == 3
    assert connection.sent == [
        'SHOW COLUMNS IN SCHEMA "DB"."S"',
        'SHOW COLUMNS IN TABLE "DB"."S"."T"',
        'SHOW COLUMNS IN TABLE "DB"."S"."U"',
    ]
    assert sorted(found) == ["DB.S.T", "DB.S.U"]
