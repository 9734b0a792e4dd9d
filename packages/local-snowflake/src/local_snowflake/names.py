"""Which names the stand-in accepts, checked before fakesnow sees a statement.

Snowflake accepts any double-quoted identifier. fakesnow 0.12.1 does not: it puts database and
schema names into DuckDB statements unquoted and by string formatting (`ATTACH '<dir>/<DB>.db'
AS <DB>`, `CREATE SCHEMA <DB>.<SCHEMA>`, `SET schema='<DB>.<SCHEMA>'`), and object names into
the string literals of its status messages (`SELECT 'Table <name> successfully created.'`). A
name with a quote, a space or a semicolon there breaks the statement or runs one of its own
(DuckDB runs every statement of a string it is given). So, with a Snowflake-style
"Unsupported feature" error (SQLSTATE 0A000) for anything else:

- database and schema names must be plain identifiers: a letter or `_`, then letters, digits,
  `_` or `$` (as unquoted in Snowflake; quoted ones are upper-cased by fakesnow), and not a
  DuckDB keyword that cannot name a database, nor a database name DuckDB or the stand-in
  reserves (MAIN, TEMP, SYSTEM, MEMORY, _FS_GLOBAL, _FS_LOCAL_SNOWFLAKE);
- other names (tables, views, columns, aliases) may hold anything but `'` and control
  characters (U+0000-U+001F, U+007F-U+009F).
"""

from __future__ import annotations

import functools
import re

import duckdb
from sqlglot import exp

from local_snowflake.errors import unsupported

_CONTAINER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_FORBIDDEN = re.compile(r"['\x00-\x1f\x7f-\x9f]")
_RULE_CONTAINER = (
    "database and schema names here are letters, digits, _ and $, starting with a letter or _"
)
_RESERVED_DATABASES = frozenset(
    {"MAIN", "TEMP", "SYSTEM", "MEMORY", "_FS_GLOBAL", "_FS_LOCAL_SNOWFLAKE"}
)
_RULE_OBJECT = "names here may not contain ' or control characters"


def check_container(name: str, kind: str, *, reference: bool = False) -> None:
    """Raise Snowflake's unsupported-feature error unless name can be a database/schema here.
    A reference (a table's database in a query) may name a reserved database: the stand-in's
    own statements read its catalog that way, and nothing is attached or created."""
    if not _CONTAINER.fullmatch(name) or not _parses_as_name(name.upper()):
        raise unsupported(f"{kind} name {_show(name)} ({_RULE_CONTAINER})")
    if kind == "database" and not reference and name.upper() in _RESERVED_DATABASES:
        raise unsupported(f"database name {_show(name)} (reserved by DuckDB or local-snowflake)")


def check_object(name: str) -> None:
    """Raise Snowflake's unsupported-feature error if name cannot name an object here."""
    if _FORBIDDEN.search(name):
        raise unsupported(f"name {_show(name)} ({_RULE_OBJECT})")


def check_statement(expression: exp.Expr) -> None:
    """Check every name in a parsed statement (before fakesnow formats it into DuckDB SQL)."""
    kind = str(expression.args.get("kind") or "").upper()
    tables: list[exp.Expr] = expression.args.get("tables") or []
    named: list[exp.Expr] = [expression.this, *tables]
    for table in expression.find_all(exp.Table):
        name, schema, database = (_part(table, key) for key in ("this", "db", "catalog"))
        if isinstance(expression, exp.Use) and table is expression.this:
            # USE [DATABASE] db | USE SCHEMA [db.]schema
            if name:
                check_container(name, "schema" if kind == "SCHEMA" else "database")
            if schema:
                check_container(schema, "database")
            continue
        if kind == "DATABASE" and any(table is t for t in named) and name:
            check_container(name, "database")  # CREATE/DROP DATABASE db
            continue
        if database:  # CREATE/DROP SCHEMA db.s makes or removes something in db
            check_container(database, "database", reference=kind != "SCHEMA")
        if schema:
            check_container(schema, "schema")
    for ident in expression.find_all(exp.Identifier):
        check_object(ident.name)


def _part(table: exp.Table, key: str) -> str | None:
    """A name part as Snowflake resolves it: quoted keeps its case, unquoted is upper-cased."""
    node = table.args.get(key)
    if not isinstance(node, exp.Identifier):
        return None
    return node.name if node.quoted else node.name.upper()


def _show(name: str) -> str:
    """The name as a double-quoted identifier, control characters escaped."""
    return '"' + name.replace('"', '""').encode("unicode_escape").decode("ascii") + '"'


@functools.cache
def _parses_as_name(name: str) -> bool:
    """Whether DuckDB takes name unquoted where fakesnow puts it (not a reserved keyword).
    name has already matched `_CONTAINER`, so this parse cannot run anything."""
    try:
        duckdb.extract_statements(f"ATTACH ':memory:' AS {name}")
    except duckdb.Error:
        return False
    return True
