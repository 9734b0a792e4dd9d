"""Rewriting `TABLE(<db>.INFORMATION_SCHEMA.<fn>(...))` into calls of the catalog's macros.

Each occurrence becomes `_fs_local_snowflake.main.dt_<fn>(<db>, <args>...)`, a DuckDB table
macro (see catalog.py) with the arguments applied (filters, ordering, RESULT_LIMIT). The rest of
the statement (projection, UNION ALL, ORDER BY) is left alone for fakesnow to run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fakesnow.dialect import parse_one
from sqlglot import Expr, exp
from sqlglot.errors import ParseError

from local_snowflake.catalog import CATALOG_NAME
from local_snowflake.errors import sql_error
from local_snowflake.statements import Name, normalise_ident, resolve_name

FUNCTIONS = ("DYNAMIC_TABLES", "DYNAMIC_TABLE_REFRESH_HISTORY", "DYNAMIC_TABLE_GRAPH_HISTORY")
MENTION = re.compile(r"\bDYNAMIC_TABLE(?:S|_REFRESH_HISTORY|_GRAPH_HISTORY)\s*\(", re.IGNORECASE)
MAX_RESULT_LIMIT = 10000
DEFAULT_RESULT_LIMIT = 100

# Snowflake types of the metadata columns that DuckDB cannot express (reported in the rowtype).
OBJECT_COLUMNS = {
    "SCHEDULING_STATE": "object",
    "STATISTICS": "object",
    "LAST_COMPLETED_DEPENDENCY": "object",
    "INPUTS": "array",
}

_ARGS: dict[str, set[str]] = {
    "DYNAMIC_TABLES": {"NAME", "RESULT_LIMIT", "INCLUDE_CONNECTED", "REFRESH_DATA_TIMESTAMP_START"},
    "DYNAMIC_TABLE_REFRESH_HISTORY": {
        "NAME",
        "NAME_PREFIX",
        "DATA_TIMESTAMP_START",
        "DATA_TIMESTAMP_END",
        "RESULT_LIMIT",
        "ERROR_ONLY",
    },
    "DYNAMIC_TABLE_GRAPH_HISTORY": {"AS_OF", "HISTORY_START", "HISTORY_END"},
}


@dataclass
class Context:
    """What the rewrite needs from the session and the engine."""

    database: str | None
    schema: str | None
    now: datetime
    connected: Callable[[str], list[str]]


def rewrite(sql: str, ctx: Context) -> str | None:
    """sql with every metadata function call replaced, or None if it calls none."""
    if not MENTION.search(sql):
        return None
    try:
        expression = parse_one(sql)
    except ParseError:
        return None
    found = False

    def replace(node: Expr) -> Expr:
        nonlocal found
        if not isinstance(node, exp.TableFromRows):
            return node
        call = _function_call(node.this)
        if call is None:
            return node
        database, fn = call
        if fn.name.upper() not in FUNCTIONS:
            return node
        found = True
        return _macro_table(database, fn, node.args.get("alias"), ctx)

    rewritten = expression.transform(replace)
    return rewritten.sql("snowflake") if found else None


def _function_call(node: Expr) -> tuple[str | None, exp.Anonymous] | None:
    """(database or None, call) for `[db.]INFORMATION_SCHEMA.fn(...)`."""
    if not isinstance(node, exp.Dot) or not isinstance(node.expression, exp.Anonymous):
        return None
    qualifier = node.this
    parts: list[exp.Identifier] = []
    while isinstance(qualifier, exp.Dot):
        if not isinstance(qualifier.expression, exp.Identifier):
            return None
        parts.insert(0, qualifier.expression)
        qualifier = qualifier.this
    if isinstance(qualifier, exp.Identifier | exp.Column):
        parts.insert(0, qualifier if isinstance(qualifier, exp.Identifier) else qualifier.this)
    if not parts or parts[-1].name.upper() != "INFORMATION_SCHEMA" or len(parts) > 2:
        return None
    database = None
    if len(parts) == 2:
        db = parts[0]
        database = db.name if db.quoted else db.name.upper()
    return database, node.expression


def _macro_table(
    database: str | None, fn: exp.Anonymous, alias: Expr | None, ctx: Context
) -> exp.Table:
    fn_name = fn.name.upper()
    db = database or ctx.database
    if not db:
        raise sql_error(
            f"Cannot perform {fn_name}. This session does not have a current database. "
            "Call 'USE DATABASE', or use a qualified name.",
            errno=90105,
            sqlstate="22000",
        )
    args = _kwargs(fn_name, fn)
    if fn_name == "DYNAMIC_TABLE_REFRESH_HISTORY":
        values = _refresh_history_args(db, args, ctx)
    elif fn_name == "DYNAMIC_TABLES":
        values = _dynamic_tables_args(db, args, ctx)
    else:
        values = [
            exp.Literal.string(db),
            args.get("AS_OF", exp.Null()),
            args.get("HISTORY_START", exp.Null()),
            args.get("HISTORY_END", exp.Null()),
        ]
    macro = {
        "DYNAMIC_TABLES": "dt_dynamic_tables",
        "DYNAMIC_TABLE_REFRESH_HISTORY": "dt_refresh_history",
        "DYNAMIC_TABLE_GRAPH_HISTORY": "dt_graph_history",
    }[fn_name]
    return exp.Table(
        this=exp.Anonymous(this=macro, expressions=values),
        db=exp.to_identifier("main"),
        catalog=exp.to_identifier(CATALOG_NAME),
        alias=alias,
    )


def _kwargs(fn_name: str, fn: exp.Anonymous) -> dict[str, Expr]:
    args: dict[str, Expr] = {}
    for arg in fn.expressions:
        if not isinstance(arg, exp.Kwarg):
            raise sql_error(
                f"SQL compilation error:\n{fn_name} takes named arguments only "
                f"(NAME => value), got {arg.sql('snowflake')!r}",
                errno=1044,
                sqlstate="42P13",
            )
        key = arg.this.name.upper()
        if key not in _ARGS[fn_name]:
            allowed = ", ".join(sorted(_ARGS[fn_name]))
            raise sql_error(
                f"SQL compilation error:\ninvalid argument {key} for function {fn_name}: "
                f"not supported by local-snowflake (supported: {allowed})",
                errno=1044,
                sqlstate="42P13",
            )
        args[key] = arg.expression
    return args


def _string(args: dict[str, Expr], key: str) -> str | None:
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, exp.Literal) or not value.is_string:
        raise sql_error(f"SQL compilation error:\n{key} must be a string literal", errno=1044)
    return value.this


def _limit(args: dict[str, Expr]) -> int:
    value = args.get("RESULT_LIMIT")
    if value is None:
        return DEFAULT_RESULT_LIMIT
    if not isinstance(value, exp.Literal) or value.is_string:
        raise sql_error("SQL compilation error:\nRESULT_LIMIT must be an integer", errno=1044)
    limit = int(value.this)
    if not 1 <= limit <= MAX_RESULT_LIMIT:
        raise sql_error(
            f"SQL compilation error:\ninvalid value [{limit}] for parameter 'RESULT_LIMIT': "
            f"must be between 1 and {MAX_RESULT_LIMIT}",
            errno=1044,
        )
    return limit


def _bool(args: dict[str, Expr], key: str) -> bool:
    value = args.get(key)
    if value is None:
        return False
    if isinstance(value, exp.Boolean):
        return bool(value.this)
    raise sql_error(f"SQL compilation error:\n{key} must be TRUE or FALSE", errno=1044)


def _name(args: dict[str, Expr], db: str, ctx: Context) -> Name | None:
    text = _string(args, "NAME")
    if text is None:
        return None
    parts = [normalise_ident(p) for p in re.findall(r'"(?:[^"]|"")+"|[^.]+', text)]
    return resolve_name(parts, db if len(parts) < 3 else ctx.database, ctx.schema)


def _ts(value: datetime) -> Expr:
    return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.TIMESTAMPLTZ)


def _refresh_history_args(db: str, args: dict[str, Expr], ctx: Context) -> list[Expr]:
    name = _name(args, db, ctx)
    prefix = _string(args, "NAME_PREFIX")
    if prefix is not None:
        prefix = ".".join(normalise_ident(p) for p in prefix.split("."))
    end = args.get("DATA_TIMESTAMP_END")
    start = args.get("DATA_TIMESTAMP_START")
    if end is None:
        end = _ts(ctx.now)
        start = start or _ts(ctx.now - timedelta(days=1))
    elif start is None:
        start = exp.func("DATEADD", exp.var("DAY"), exp.Literal.number(-1), end.copy())
    return [
        exp.Literal.string(db),
        exp.Literal.string(name.qualified) if name else exp.Null(),
        exp.Literal.string(prefix) if prefix is not None else exp.Null(),
        start,
        end,
        exp.Literal.number(_limit(args)),
        exp.Boolean(this=_bool(args, "ERROR_ONLY")),
    ]


def _dynamic_tables_args(db: str, args: dict[str, Expr], ctx: Context) -> list[Expr]:
    name = _name(args, db, ctx)
    names = None
    if _bool(args, "INCLUDE_CONNECTED"):
        if name is None or "RESULT_LIMIT" in args:
            raise sql_error(
                "SQL compilation error:\nINCLUDE_CONNECTED requires NAME and no RESULT_LIMIT",
                errno=1044,
            )
        names = ctx.connected(name.qualified)
    elif name is not None:
        names = [name.qualified]
    start = args.get("REFRESH_DATA_TIMESTAMP_START") or _ts(ctx.now - timedelta(days=7))
    return [
        exp.Literal.string(db),
        exp.Literal.string("|".join(names)) if names is not None else exp.Null(),
        exp.Literal.number(_limit(args)),
        _ts(ctx.now),
        start,
    ]
