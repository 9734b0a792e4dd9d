"""What to run for a client's statement: the `Plan` of each statement the server receives.

The Dynamic Table statements (CREATE / ALTER / DROP / SHOW / DESCRIBE DYNAMIC TABLE, GET_DDL),
`DROP DATABASE`, the stand-in's `SYSTEM$LOCAL_SNOWFLAKE_*` functions, Snowflake's pipe operator
`->>` and the metadata table functions are answered here (an intercepted plan: a SELECT of the
answer); every other statement is checked (names, guards) and passed to fakesnow as it is.
Callers hold the server lock, except for `run_scheduler` (see there).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from fakesnow.conn import FakeSnowflakeConnection
from fakesnow.dialect import parse_one
from sqlglot.errors import ParseError

from local_snowflake import clones, databases, guards, metadata, names, pipes, statements
from local_snowflake.catalog import CATALOG_NAME
from local_snowflake.engine import DynamicTableEngine
from local_snowflake.errors import does_not_exist, sql_error, unsupported

RUN_SCHEDULER = "SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER"
SYSTEM_CALL = re.compile(
    r"\s*SELECT\s+(SYSTEM\$LOCAL_SNOWFLAKE_[A-Z_]+)\s*\(\s*([^)]*?)\s*\)\s*;?\s*", re.IGNORECASE
)


_GET_DDL = re.compile(
    r"\s*SELECT\s+(GET_DDL\s*\(\s*'DYNAMIC_TABLE'\s*,\s*'((?:[^']|'')*)'\s*"
    r"(?:,\s*(?:TRUE|FALSE)\s*)?\))\s*;?\s*",
    re.IGNORECASE,
)
_GET_DDL_MENTION = re.compile(r"\bGET_DDL\s*\(\s*'DYNAMIC_TABLE'", re.IGNORECASE)


@dataclass
class Plan:
    """What to run for a client's statement, and how to type its result."""

    sql: str
    intercepted: bool = False
    ltz: bool = False
    semi_structured: dict[str, str] = field(default_factory=dict[str, str])


class StatementPlanner:
    """Plans the statements of every session over the one DT engine."""

    def __init__(self, engine: DynamicTableEngine, data_dir: Path) -> None:
        self.engine = engine
        self.data_dir = data_dir
        databases.install(engine.duck)

    def plan(self, conn: FakeSnowflakeConnection, sql: str, count: int) -> Plan:
        _require_one_statement(sql)
        if len(stages := pipes.split(sql)) > 1:
            return self._pipe(conn, stages, count)
        if system := SYSTEM_CALL.fullmatch(sql):
            return self._system_call(system[1].upper(), system[2], count)
        if get_ddl := _GET_DDL.fullmatch(sql):
            ddl = self._get_ddl(get_ddl[2].replace("''", "'"), conn)
            return Plan(
                f"SELECT {literal(ddl)} AS {statements.quote_ident(get_ddl[1])}", intercepted=True
            )
        if _GET_DDL_MENTION.search(sql):
            raise unsupported("GET_DDL('DYNAMIC_TABLE', ...) other than as SELECT GET_DDL(...)")
        if drop := databases.DROP_DATABASE.fullmatch(sql):
            status = databases.drop_database(self.engine, self.data_dir, drop[2], bool(drop[1]))
            return Plan(f'SELECT {literal(status)} AS "status"', intercepted=True)
        status = clones.clone_statement(self.engine, self.data_dir, sql)
        if status is not None or (status := databases.set_comment(self.engine, sql)) is not None:
            return Plan(f'SELECT {literal(status)} AS "status"', intercepted=True)
        databases.note_created(self.engine, sql)
        command = statements.parse(sql, conn.database, conn.schema)
        if isinstance(command, statements.ShowDynamicTables):
            args = [literal(command.database), literal(command.schema), literal(command.like)]
            where: list[str] = []
            if command.starts_with is not None:  # case-sensitive, as Snowflake documents
                where.append(f'starts_with("name", {literal(command.starts_with)})')
            if command.after is not None:  # names after it (FROM is exclusive)
                where.append(f'"name" > {literal(command.after)}')
            filters = f" WHERE {' AND '.join(where)}" if where else ""
            limit = f" LIMIT {command.limit}" if command.limit is not None else ""
            return Plan(
                f"SELECT * FROM {CATALOG_NAME}.main.dt_show({', '.join(args)}){filters}{limit}",
                intercepted=True,
                ltz=True,
            )
        if isinstance(command, statements.DescribeDynamicTable):
            if self.engine.tables.get(command.name.qualified) is None:
                raise does_not_exist("Dynamic table", command.name.qualified)
            return Plan(f"DESCRIBE TABLE {command.name.sql()}")  # same columns in Snowflake
        if command is not None:
            if isinstance(command, statements.CreateDynamicTable):
                status = self.engine.create(command)
                clones.suspend_if_upstream_cloned(self.engine, command.name)
            elif isinstance(command, statements.AlterDynamicTable):
                status = self.engine.alter(command)
            else:
                status = self.engine.drop(command)
            return Plan(f'SELECT {literal(status)} AS "status"', intercepted=True)
        with contextlib.suppress(ParseError):  # fakesnow reports what does not parse
            parsed = parse_one(sql)
            names.check_statement(parsed)
            guards.check(parsed, conn.database, conn.schema, self.engine.tables.initialized)
        ctx = metadata.Context(
            conn.database, conn.schema, self.engine.clock.now(), self.engine.tables.connected
        )
        if (rewritten := metadata.rewrite(sql, ctx)) is not None:
            return Plan(rewritten, True, True, metadata.OBJECT_COLUMNS)
        upper = sql.upper()
        return Plan(sql, ltz="_LTZ" in upper and "TIMESTAMP_TZ" not in upper)

    def _get_ddl(self, text: str, conn: FakeSnowflakeConnection) -> str:
        """The DT's CREATE statement as it was given (Snowflake regenerates it: see README)."""
        name = statements.resolve_name(statements.split_name(text), conn.database, conn.schema)
        create = self.engine.tables.create_text(name.qualified)
        if create is None:
            raise does_not_exist("Dynamic table", name.qualified)
        replaced = re.sub(
            r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?", "create or replace ", create, flags=re.I
        )
        return replaced.rstrip().rstrip(";") + ";"

    def _pipe(self, conn: FakeSnowflakeConnection, stages: list[str], count: int) -> Plan:
        """Snowflake's pipe operator `a ->> b ->> c`: each stage runs in turn and `$n` in a later
        stage is the result of stage n. Every stage here must be a query or a statement this
        server answers with one (SHOW DYNAMIC TABLES, DT DDL), which then becomes a subquery."""
        queries: list[str] = []
        plan = Plan("")
        for stage in stages:
            plan = self.plan(conn, pipes.substitute(stage, queries), count)
            if not pipes.is_query(plan.sql):
                raise unsupported(f"->> after {' '.join(stage.split()[:3])}")
            queries.append(plan.sql)
        return Plan(plan.sql, True, True, metadata.OBJECT_COLUMNS)

    def run_scheduler(self, arg: str) -> Plan:
        """RUN_SCHEDULER, called without holding the lock: the pass takes it per refresh (and
        a pass lock, which the background scheduler holds while it waits for this lock)."""
        fn = RUN_SCHEDULER
        database = arg.strip()
        if database and not re.fullmatch(r"'[^']*'", database):
            raise sql_error(
                f"SQL compilation error:\n{fn} takes an optional database name as a string, "
                f"got {arg!r}",
                errno=1044,
            )
        scope = statements.normalise_ident(database[1:-1]) if database else None
        result = self.engine.run_scheduler_pass(scope)
        return Plan(f'SELECT {literal(result)} AS "{fn}({arg})"', intercepted=True)

    def _system_call(self, fn: str, arg: str, count: int) -> Plan:
        if fn == "SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK":
            result = self.engine.clock.advance(arg).isoformat()
        elif fn == "SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT":
            return Plan(f'SELECT {count} AS "{fn}()"', intercepted=True)
        else:
            raise sql_error(f"SQL compilation error:\nUnknown function {fn}", errno=2140)
        return Plan(f'SELECT {literal(result)} AS "{fn}({arg})"', intercepted=True)


def _require_one_statement(sql: str) -> None:
    """Snowflake runs one statement per request (the connector splits scripts itself)."""
    if ";" not in sql.strip().rstrip(";"):
        return
    try:
        count = len([e for e in sqlglot.parse(sql, read="snowflake") if e is not None])
    except ParseError:
        return  # fakesnow reports the syntax error
    if count > 1:
        raise sql_error(
            f"Actual statement count {count} did not match the desired statement count 1.",
            errno=8,
            sqlstate="0A000",
        )


def literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"
