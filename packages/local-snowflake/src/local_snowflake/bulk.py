# pyarrow has no type information: it is imported as Any, and its calls are unknown to pyright.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false
# fakesnow's cursor and connection keep the statement, DuckDB connection and autocommit mode
# in private attributes: this module is the one place that reads them for bulk inserts.
# pyright: reportPrivateUsage=false
"""Array bindings (the connector's `executemany` of an INSERT) inserted in bulk.

With the `qmark` or `numeric` paramstyle the connector sends an `executemany` of an INSERT as one
request whose bindings are arrays, a column each. fakesnow's server ran the statement once per
row (parse, transform, execute: about 3 ms a row here, 62 s for 20,000 rows, all of it holding
the server lock). Here the statement is run by fakesnow for the first row (so that its
transaction book-keeping, results and errors stay fakesnow's), then the rest are inserted in
chunks as one `INSERT ... SELECT` over an Arrow table each, with the VALUES row's expressions
evaluated per row (placeholders become the table's columns). Chunks are separate so that the
server lock is released between them (see `LocalSnowflake.execute`).

Anything else (no VALUES row of placeholders, a value Arrow cannot hold) returns None, and the
caller runs the statement per row, as fakesnow does.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
from fakesnow.conn import FakeSnowflakeConnection
from fakesnow.cursor import FakeSnowflakeCursor
from sqlglot import exp

pa: Any = importlib.import_module("pyarrow")

CHUNK_ROWS = 5000
"""Rows per INSERT (and per hold of the server lock): about 10-20 ms of work here."""
_TABLE = "_local_snowflake_bound_rows"
_counter = itertools.count()


@dataclass(frozen=True)
class BulkInsert:
    """An INSERT ... VALUES (<row of placeholders>) as a statement over an Arrow table."""

    sql_template: str  # the table name is formatted in: one name per insert, never shared
    width: int

    def insert(self, cur: FakeSnowflakeCursor, rows: Sequence[tuple[Any, ...]]) -> int | None:
        """Insert rows; the number inserted, or None if a column cannot be made an Arrow array
        (the caller then inserts those rows one by one)."""
        duck = cur._duck_conn
        columns = [_column([row[i] for row in rows]) for i in range(self.width)]
        if any(column is None for column in columns):
            return None
        name = f"{_TABLE}_{next(_counter)}"
        duck.register(name, pa.table({f"c{i}": c for i, c in enumerate(columns)}))
        try:
            result = duck.execute(self.sql_template.format(table=name)).fetchall()
        except duckdb.Error:
            # in a failed transaction unregister fails too, and would hide the error; the view
            # goes with the session's DuckDB connection
            with contextlib.suppress(duckdb.Error):
                duck.unregister(name)
            raise
        duck.unregister(name)
        return int(result[0][0]) if result else len(rows)


def begin(conn: FakeSnowflakeConnection, cur: FakeSnowflakeCursor) -> bool:
    """Start a transaction for an autocommit session's batch, so that it commits as the one
    statement it is even though other requests run between its chunks. False when the session
    runs its own transaction (fakesnow's, or an explicit BEGIN): the batch is part of it."""
    if not conn._autocommit:
        return False
    try:
        cur._duck_conn.begin()
    except duckdb.TransactionException:
        return False  # BEGIN sent by the client
    return True


def end(cur: FakeSnowflakeCursor, *, commit: bool) -> None:
    if commit:
        cur._duck_conn.commit()
    else:
        cur._duck_conn.rollback()


def plan_for(cur: FakeSnowflakeCursor, width: int) -> BulkInsert | None:
    """The bulk form of the statement the cursor just ran for the first row (see `plan`)."""
    return plan(cur._last_transformed, width)


def plan(transformed: exp.Expr | None, width: int) -> BulkInsert | None:
    """The bulk form of fakesnow's transformed statement, if it is an INSERT of one VALUES row
    whose bindings are exactly width placeholders (`?` in order, or `:n`)."""
    if not isinstance(transformed, exp.Insert):
        return None
    values = transformed.expression
    if not isinstance(values, exp.Values) or len(values.expressions) != 1:
        return None
    row = values.expressions[0]
    if not isinstance(row, exp.Tuple) or row.find(exp.Query) is not None:
        return None
    placeholders = list(row.find_all(exp.Placeholder, bfs=False))
    numbered = [p for p in placeholders if p.this is not None]
    if not placeholders or (numbered and len(numbered) != len(placeholders)):
        return None
    if numbered:
        if not all(str(p.this).isdigit() for p in numbered):
            return None  # named bindings are never arrays
        positions = [int(str(p.this)) - 1 for p in numbered]
        if sorted(set(positions)) != list(range(width)):
            return None
    elif len(placeholders) != width:
        return None
    sequence = iter(range(width))

    def column(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Placeholder):
            return node
        position = int(str(node.this)) - 1 if node.this is not None else next(sequence)
        return exp.column(f"c{position}")

    select = exp.select(*[e.copy().transform(column) for e in row.expressions]).from_(
        exp.to_table("{table}")
    )
    insert = transformed.copy()
    insert.set("expression", select)
    sql = insert.sql(dialect="duckdb")
    return BulkInsert(
        sql.replace("{", "{{").replace("}", "}}").replace("{{table}}", "{table}"), width
    )


def _column(values: list[Any]) -> Any:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    if any(isinstance(v, bytes | bytearray) for v in values):
        return None
    # mixed Python types in one column: DuckDB casts the text to the column's type, as it does
    # a text binding
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


# -- the connector's pyformat executemany: one INSERT ... VALUES (...), (...), ... statement ---

MULTI_ROW_MINIMUM = 100
"""From this many rows a literal multi-row INSERT goes through the bulk path."""
_HEAD = re.compile(
    r"\s*INSERT\s+INTO\s+([A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*){0,2})\s*"
    r"(\([A-Za-z0-9_$,\s]*\))?\s*VALUES\s*",
    re.IGNORECASE,
)
_VALUE = re.compile(
    r"\s*(?:(?P<word>NULL|TRUE|FALSE)\b"
    r"|(?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|'(?P<string>(?:[^'\\]|\\.|'')*)')\s*",
    re.IGNORECASE | re.DOTALL,
)
_SEPARATOR = re.compile(r"\s*,")
_OPEN = re.compile(r"\s*\(")
_END = re.compile(r"\s*;?\s*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0"}
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|.)|''", re.DOTALL)


def split_multi_row_insert(sql: str) -> tuple[str, list[tuple[Any, ...]]] | None:
    """`INSERT INTO t [(cols)] VALUES (<literals>), (<literals>), ...` (what the connector
    sends for an executemany with its default pyformat paramstyle) as the same INSERT of one
    row of `?` placeholders and the rows as bindings, when there are at least
    `MULTI_ROW_MINIMUM` rows of plain literals (numbers, strings, NULL, TRUE, FALSE); else None.

    Parsing 100,000 rows with sqlglot and fakesnow's 76 transforms takes minutes (2,000 rows:
    5.5 s, all under the server lock); this reads the literals with two regular expressions."""
    head = _HEAD.match(sql)
    if head is None:
        return None
    rows: list[tuple[Any, ...]] = []
    position = head.end()
    width = -1
    while True:  # each step reads from position on: never a copy of the rest (quadratic)
        row, position = _row(sql, position)
        if row is None or (width != -1 and len(row) != width):
            return None
        width = len(row)
        rows.append(row)
        separator = _SEPARATOR.match(sql, position)
        if separator is None:
            break
        position = separator.end()
    if _END.fullmatch(sql, position) is None:
        return None  # something after the rows (ON CONFLICT, a second statement, ...)
    if len(rows) < MULTI_ROW_MINIMUM:
        return None
    columns = head[2] or ""
    placeholders = ", ".join("?" * width)
    return f"INSERT INTO {head[1]} {columns} VALUES ({placeholders})", rows


def _row(sql: str, position: int) -> tuple[tuple[Any, ...] | None, int]:
    opening = _OPEN.match(sql, position)
    if opening is None:
        return None, position
    position = opening.end()
    values: list[Any] = []
    while True:
        match = _VALUE.match(sql, position)
        if match is None:
            return None, position
        values.append(_literal(match))
        position = match.end()
        if sql.startswith(",", position):
            position += 1
        elif sql.startswith(")", position):
            return tuple(values), position + 1
        else:
            return None, position


def _literal(match: re.Match[str]) -> Any:
    if (word := match["word"]) is not None:
        return {"NULL": None, "TRUE": True, "FALSE": False}[word.upper()]
    if (number := match["number"]) is not None:
        # an integer literal as int; others as text, which DuckDB casts to the column's type
        return int(number) if number.lstrip("+-").isdigit() else number
    text = match["string"]
    return _ESCAPE.sub(_unescape, text) if "\\" in text or "''" in text else text


def _unescape(match: re.Match[str]) -> str:
    """Snowflake's string escapes: '' and backslash sequences (an unknown one is the char)."""
    code = match[1]
    if code is None:
        return "'"
    if code[0] in "xu" and len(code) > 1:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, code)
