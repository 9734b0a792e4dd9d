"""The HTTP server: fakesnow's Snowflake wire protocol over one persistent DuckDB database.

fakesnow's own server keeps one module-level in-memory database (or one file per session), so
this module builds its own Starlette app with the same endpoints, around one `FakeSnow` whose
databases are files in the data directory. Every statement passes `LocalSnowflake.execute`,
which intercepts the Dynamic Table statements and metadata functions before fakesnow runs the
rest, and serializes all DuckDB access with one lock (the scheduler thread shares it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import snowflake.connector.errors
import sqlglot
from fakesnow import info_schema, macros
from fakesnow.conn import FakeSnowflakeConnection
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.dialect import parse_one
from fakesnow.expr import normalise_ident
from fakesnow.instance import FakeSnow
from fakesnow.rowtype import ColumnInfo
from fakesnow.statement_type import SELECT, statement_type_id
from fakesnow.transforms import SERVER_VERSION
from fakesnow.transforms.show import SQL_CREATE_VIEW_SHOW_DATABASES
from sqlglot.errors import ParseError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local_snowflake import (
    bulk,
    damage,
    databases,
    guards,
    metadata,
    names,
    pipes,
    results,
    statements,
    wire,
)
from local_snowflake.catalog import CATALOG_FILE, CATALOG_NAME
from local_snowflake.engine import DynamicTableEngine
from local_snowflake.errors import does_not_exist, sql_error, unsupported
from local_snowflake.wire import HttpError

logger = logging.getLogger("local_snowflake.server")

RUN_SCHEDULER = "SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER"
FILE_ACCESS_REFUSED = (
    "SQL compilation error:\nUnsupported feature 'reading or writing files': not supported by "
    "local-snowflake (the embedded Snowflake stand-in)"
)
_ROWS_PER_LOCK = 100  # array bindings run row by row (not an INSERT ... VALUES): ~0.3 s a hold
_YIELD_SECONDS = 0.001
SESSION_IDLE_TIMEOUT_SECONDS = 4 * 3600
"""A session without a request for this long is closed (its token then gets 390104)."""

HEALTH_PATH = "/local-snowflake/health"
SERVICE_NAME = "local-snowflake"
_SYSTEM_CALL = re.compile(
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


class LocalSnowflake:
    """The server's state: the database, the DT engine, the sessions and the statement count."""

    def __init__(
        self, data_dir: Path, session_idle_timeout_seconds: float = SESSION_IDLE_TIMEOUT_SECONDS
    ) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        damage.check_catalog_present(data_dir, CATALOG_FILE)
        self.fs = FakeSnow(db_path=data_dir)
        self.lock = threading.RLock()
        self._hide_catalog()
        self._attach_existing_databases()
        self._attach(data_dir / CATALOG_FILE, CATALOG_NAME)
        damage.check_tables_readable(self.fs.duck_conn, data_dir)
        self.engine = DynamicTableEngine(self.fs, data_dir, self.lock)
        self._confine()
        self.sessions: dict[str, FakeSnowflakeConnection] = {}
        self.session_used: dict[str, float] = {}
        self.session_idle_timeout = session_idle_timeout_seconds
        self._next_sweep = 0.0
        self.statement_count = 0
        self.last_activity = time.monotonic()

    def _confine(self) -> None:
        """No file outside the data directory, no extension install, no Python object scan, for
        any client statement or DT query; clients cannot change the settings back.

        Runs once the engine has attached what it needs. New databases are files in the data
        directory (allowed); fakesnow sets its only global setting (TimeZone) before this."""
        duck = self.fs.duck_conn
        duck.execute("SET allowed_directories = [?]", [f"{self.data_dir.resolve()}/"])
        duck.execute("SET enable_external_access = false")
        duck.execute("SET lock_configuration = true")

    def _hide_catalog(self) -> None:
        hidden = SQL_CREATE_VIEW_SHOW_DATABASES.replace(
            "create view if not exists", "create or replace view"
        ).replace("'_fs_global')", f"'_fs_global', '{CATALOG_NAME}')")
        self.fs.duck_conn.execute(hidden)

    def _attach_existing_databases(self) -> None:
        """Databases are files named <DB>.db: attach them all, so cross-database queries work
        after a restart even before a session names them."""
        for path in sorted(self.data_dir.glob("*.db")):
            if path.name == CATALOG_FILE:
                continue
            name = path.stem
            try:
                names.check_container(name, "database")
            except snowflake.connector.errors.ProgrammingError:
                logger.warning("not a database file of local-snowflake, ignored: %s", path)
                continue
            self._attach(path, name)
            self.fs.duck_conn.execute(info_schema.per_db_creation_sql(name))
            self.fs.duck_conn.execute(macros.creation_sql(name))

    def _attach(self, path: Path, name: str) -> None:
        """Attach a file of the data directory (refusing one DuckDB cannot open)."""
        try:
            # the path is bound, the name a checked plain identifier (or the catalog's)
            self.fs.duck_conn.execute(f'ATTACH IF NOT EXISTS ? AS "{name}"', [str(path)])
        except duckdb.Error as e:
            raise damage.attach_error(self.data_dir, path, e) from e

    # -- statements ----------------------------------------------------------------------------

    def plan(self, conn: FakeSnowflakeConnection, sql: str, count: int) -> Plan:
        _require_one_statement(sql)
        if len(stages := pipes.split(sql)) > 1:
            return self._pipe(conn, stages, count)
        if system := _SYSTEM_CALL.fullmatch(sql):
            return self._system_call(system[1].upper(), system[2], count)
        if get_ddl := _GET_DDL.fullmatch(sql):
            ddl = self._get_ddl(get_ddl[2].replace("''", "'"), conn)
            return Plan(
                f"SELECT {_literal(ddl)} AS {statements.quote_ident(get_ddl[1])}", intercepted=True
            )
        if _GET_DDL_MENTION.search(sql):
            raise unsupported("GET_DDL('DYNAMIC_TABLE', ...) other than as SELECT GET_DDL(...)")
        if drop := databases.DROP_DATABASE.fullmatch(sql):
            status = databases.drop_database(self.engine, self.data_dir, drop[2], bool(drop[1]))
            return Plan(f'SELECT {_literal(status)} AS "status"', intercepted=True)
        command = statements.parse(sql, conn.database, conn.schema)
        if isinstance(command, statements.ShowDynamicTables):
            args = [_literal(command.database), _literal(command.schema), _literal(command.like)]
            where: list[str] = []
            if command.starts_with is not None:  # case-sensitive, as Snowflake documents
                where.append(f'starts_with("name", {_literal(command.starts_with)})')
            if command.after is not None:  # names after it (FROM is exclusive)
                where.append(f'"name" > {_literal(command.after)}')
            filters = f" WHERE {' AND '.join(where)}" if where else ""
            limit = f" LIMIT {command.limit}" if command.limit is not None else ""
            return Plan(
                f"SELECT * FROM {CATALOG_NAME}.main.dt_show({', '.join(args)}){filters}{limit}",
                intercepted=True,
                ltz=True,
            )
        if isinstance(command, statements.DescribeDynamicTable):
            if self.engine.get(command.name.qualified) is None:
                raise does_not_exist("Dynamic table", command.name.qualified)
            return Plan(f"DESCRIBE TABLE {command.name.sql()}")  # same columns in Snowflake
        if command is not None:
            if isinstance(command, statements.CreateDynamicTable):
                status = self.engine.create(command)
            elif isinstance(command, statements.AlterDynamicTable):
                status = self.engine.alter(command)
            else:
                status = self.engine.drop(command)
            return Plan(f'SELECT {_literal(status)} AS "status"', intercepted=True)
        with contextlib.suppress(ParseError):  # fakesnow reports what does not parse
            parsed = parse_one(sql)
            names.check_statement(parsed)
            guards.check(parsed, conn.database, conn.schema, self.engine.initialized)
        ctx = metadata.Context(
            conn.database, conn.schema, self.engine.clock.now(), self.engine.connected
        )
        if (rewritten := metadata.rewrite(sql, ctx)) is not None:
            return Plan(rewritten, True, True, metadata.OBJECT_COLUMNS)
        upper = sql.upper()
        return Plan(sql, ltz="_LTZ" in upper and "TIMESTAMP_TZ" not in upper)

    def _get_ddl(self, text: str, conn: FakeSnowflakeConnection) -> str:
        """The DT's CREATE statement as it was given (Snowflake regenerates it: see README)."""
        name = statements.resolve_name(statements.split_name(text), conn.database, conn.schema)
        row = self.engine.duck.execute(
            f"SELECT create_text FROM {CATALOG_NAME}.main.dynamic_tables WHERE qualified_name = ?",
            [name.qualified],
        ).fetchone()
        if row is None:
            raise does_not_exist("Dynamic table", name.qualified)
        create: str = row[0]
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

    def _run_scheduler(self, arg: str) -> Plan:
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
        return Plan(f'SELECT {_literal(result)} AS "{fn}({arg})"', intercepted=True)

    def _system_call(self, fn: str, arg: str, count: int) -> Plan:
        if fn == "SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK":
            result = self.engine.clock.advance(arg).isoformat()
        elif fn == "SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT":
            return Plan(f'SELECT {count} AS "{fn}()"', intercepted=True)
        else:
            raise sql_error(f"SQL compilation error:\nUnknown function {fn}", errno=2140)
        return Plan(f'SELECT {_literal(result)} AS "{fn}({arg})"', intercepted=True)

    def execute(
        self,
        conn: FakeSnowflakeConnection,
        sql: str,
        params: Any,
        batch: list[tuple[Any, ...]] | None,
        describe_only: bool,
    ) -> dict[str, Any]:
        # the connector's pyformat executemany: one statement of many literal rows
        is_insert = batch is None and params is None and sql.lstrip()[:6].upper() == "INSERT"
        if is_insert and (split := bulk.split_multi_row_insert(sql)) is not None:
            sql, batch = split
        system = _SYSTEM_CALL.fullmatch(sql)
        prepared = None
        if system and system[1].upper() == RUN_SCHEDULER:
            prepared = self._run_scheduler(system[2])
        with self.lock:
            self.last_activity = time.monotonic()
            count = self.statement_count
            self.statement_count += 1
            plan = prepared or self.plan(conn, sql, count)
            cur = conn.cursor()
            # every intercepted statement is run as a SELECT: no need to parse it again
            type_id = SELECT if plan.intercepted else statement_type_id(parse_one(plan.sql))
            if describe_only and not plan.intercepted:
                rowtype = results.describe_only(cur, plan.sql)
                if rowtype is not None:
                    return _describe_response(conn, cur, rowtype, type_id)
            if batch is None:
                cur.execute(plan.sql, binding_params=params, server=True)
                return _response(conn, cur, plan, type_id, None)
            own_transaction = bulk.begin(conn, cur)
        try:
            batch_rowcount = self._run_batch(cur, plan.sql, batch)
            with self.lock:
                if own_transaction:
                    bulk.end(cur, commit=True)
                return _response(conn, cur, plan, type_id, batch_rowcount)
        except BaseException:
            if own_transaction:
                with self.lock:
                    bulk.end(cur, commit=False)
            raise

    def _run_batch(self, cur: FakeSnowflakeCursor, sql: str, batch: list[tuple[Any, ...]]) -> int:
        """Array bindings: fakesnow runs the first row, the rest go in chunks (in bulk when the
        statement allows it, see bulk.py), releasing the lock between chunks so that logins and
        other sessions' statements are not starved by a large executemany."""
        with self.lock:
            cur.execute(sql, binding_params=batch[0], server=True)
            count = cur.rowcount or 0
            inserter = bulk.plan_for(cur, len(batch[0]))
        step = bulk.CHUNK_ROWS if inserter is not None else _ROWS_PER_LOCK
        for start in range(1, len(batch), step):
            chunk = batch[start : start + step]
            time.sleep(_YIELD_SECONDS)  # a request waiting for the lock gets it now
            with self.lock:
                self.last_activity = time.monotonic()
                inserted = inserter.insert(cur, chunk) if inserter is not None else None
                if inserted is None:
                    inserted = 0
                    for row in chunk:
                        cur.execute(sql, binding_params=row, server=True)
                        inserted += cur.rowcount or 0
                count += inserted
        return count

    # -- HTTP endpoints ------------------------------------------------------------------------

    async def login_request(self, request: Request) -> JSONResponse:
        database = (d := request.query_params.get("databaseName")) and normalise_ident(d)
        schema = (s := request.query_params.get("schemaName")) and normalise_ident(s)
        try:
            for name, kind in ((database, "database"), (schema, "schema")):
                if name:
                    names.check_container(name, kind)
        except snowflake.connector.errors.ProgrammingError as e:
            # Snowflake's login answer for a database or schema it cannot use
            raise HttpError("390201", e.raw_msg or "") from None
        autocommit: bool = wire.session_parameters(await wire.json_body(request)).get(
            "AUTOCOMMIT", True
        )
        token = secrets.token_urlsafe(32)

        def connect() -> FakeSnowflakeConnection:
            self._expire_idle_sessions()
            with self.lock:
                self.last_activity = time.monotonic()
                conn = self.fs.connect(database, schema, autocommit=autocommit)
                conn.results_cache = results.SessionResults()
                return conn

        self.sessions[token] = await run_in_threadpool(connect)
        self.session_used[token] = time.monotonic()
        return JSONResponse(
            {
                "data": {
                    "token": token,
                    "serverVersion": SERVER_VERSION,
                    "parameters": [
                        {"name": "AUTOCOMMIT", "value": autocommit},
                        {"name": "CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY", "value": 3600},
                        {"name": "CLIENT_STAGE_ARRAY_BINDING_THRESHOLD", "value": 0},
                    ],
                    "sessionInfo": {"databaseName": database, "schemaName": schema},
                },
                "success": True,
            }
        )

    async def query_request(self, request: Request) -> JSONResponse:
        conn = self._conn(request)
        body = await wire.json_body(request)
        sql = wire.sql_text(body)
        # decoding 100,000 rows of bindings takes a while: not on the event loop, which serves
        # every other client (and the health endpoint) meanwhile
        params, batch = await run_in_threadpool(wire.bindings, body)
        try:
            response = await run_in_threadpool(
                self.execute, conn, sql, params, batch, bool(body.get("describeOnly"))
            )
        except (
            snowflake.connector.errors.ProgrammingError,
            snowflake.connector.errors.OperationalError,
        ) as e:
            logger.info("%s: %s", type(e).__name__, e.msg)
            code = f"{e.errno:06d}"
            return JSONResponse(
                {
                    "data": {"errorCode": code, "sqlState": e.sqlstate},
                    "code": code,
                    "message": e.raw_msg,
                    "success": False,
                }
            )
        except duckdb.PermissionException as e:
            # enable_external_access is off (see _confine): a file outside the data directory
            denied = str(e).split("\n", 1)[0]
            return JSONResponse(
                {
                    "data": {"errorCode": "000002", "sqlState": "0A000"},
                    "code": "000002",
                    "message": f"{FILE_ACCESS_REFUSED} ({denied})",
                    "success": False,
                }
            )
        except ParseError as e:
            return JSONResponse(
                {
                    "data": {"errorCode": "001003", "sqlState": "42000"},
                    "code": "001003",
                    "message": f"SQL compilation error:\n{e}",
                    "success": False,
                }
            )
        except Exception as e:
            # Snowflake's internal-error answer: the connector raises it, it does not retry
            logger.exception("Unhandled exception for %r", sql)
            raise HttpError(
                "000603", f"SQL execution internal error: {type(e).__name__}: {e}"
            ) from None
        return JSONResponse(response)

    async def session(self, request: Request) -> JSONResponse:
        self._conn(request)
        if request.query_params.get("delete"):
            closed = self.sessions.pop(wire.token(request), None)
            self.session_used.pop(wire.token(request), None)
            if closed is not None:
                await run_in_threadpool(self._close_session, closed)
        return JSONResponse({"data": None, "code": None, "message": None, "success": True})

    async def health(self, _request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "service": SERVICE_NAME,
                "pid": os.getpid(),
                "data_dir": str(self.data_dir),
                "refreshing": sorted(self.engine.refreshing),
                "sessions": len(self.sessions),
            }
        )

    async def abort(self, _request: Request) -> JSONResponse:
        return JSONResponse({"success": True})

    async def monitoring(self, request: Request) -> JSONResponse:
        conn = self._conn(request)
        if not results.has_result(conn, request.path_params["sfqid"]):
            return JSONResponse({"data": {"queries": []}, "success": True})
        return JSONResponse({"data": {"queries": [{"status": "SUCCESS"}]}, "success": True})

    def _close_session(self, conn: FakeSnowflakeConnection) -> None:
        """Release the session's DuckDB connection (clients such as sensors connect often)."""
        with self.lock:
            conn.close()

    def _conn(self, request: Request) -> FakeSnowflakeConnection:
        token = wire.token(request)
        conn = self.sessions.get(token)
        now = time.monotonic()
        if conn is None or now - self.session_used.get(token, now) > self.session_idle_timeout:
            raise HttpError("390104", "User must login again to access the service.", 401)
        self.session_used[token] = now
        return conn

    def _expire_idle_sessions(self) -> None:
        """Close the sessions idle longer than the timeout (clients that never log out, such
        as killed processes, would otherwise hold a DuckDB connection each, forever). Runs on
        logins, at most every minute (or half the timeout)."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(60.0, self.session_idle_timeout / 2)
        idle = [
            t
            for t, used in list(self.session_used.items())
            if now - used > self.session_idle_timeout
        ]
        for token in idle:
            self.session_used.pop(token, None)
            if (conn := self.sessions.pop(token, None)) is not None:
                logger.info("session idle for over %.0f s: closed", self.session_idle_timeout)
                self._close_session(conn)

    def app(self) -> Starlette:
        return Starlette(
            exception_handlers={HttpError: _http_error, Exception: _internal_error},
            routes=[
                Route("/session/v1/login-request", self.login_request, methods=["POST"]),
                Route("/session", self.session, methods=["POST"]),
                Route("/session/heartbeat", self.session, methods=["POST"]),
                Route("/queries/v1/query-request", self.query_request, methods=["POST"]),
                Route("/queries/v1/abort-request", self.abort, methods=["POST"]),
                Route("/monitoring/queries/{sfqid}", self.monitoring, methods=["GET"]),
                Route(HEALTH_PATH, self.health, methods=["GET"]),
            ],
        )

    def close(self) -> None:
        with self.lock:
            for database in self.fs.duck_conn.execute(
                "SELECT database_name FROM duckdb_databases() WHERE NOT internal "
                "AND path IS NOT NULL"
            ).fetchall():
                self.fs.duck_conn.execute(f'CHECKPOINT "{database[0]}"')
            self.fs.duck_conn.close()


async def _http_error(_request: Request, e: Exception) -> Response:
    assert isinstance(e, HttpError)
    return e.response()


async def _internal_error(_request: Request, e: Exception) -> Response:
    logger.error("unhandled %s: %s", type(e).__name__, e)
    return HttpError("000603", f"SQL execution internal error: {type(e).__name__}").response()


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


def _literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _response(
    conn: FakeSnowflakeConnection,
    cur: FakeSnowflakeCursor,
    plan: Plan,
    type_id: int,
    batch_rowcount: int | None,
) -> dict[str, Any]:
    rowtype, result, total = results.encode_result(
        cur, type_id, batch_rowcount, plan.ltz, plan.semi_structured
    )
    return {
        "data": {
            "parameters": [{"name": "TIMEZONE", "value": "Etc/UTC"}],
            "rowtype": rowtype,
            "total": total,
            "queryId": cur.sfqid,
            "statementTypeId": type_id,
            "finalDatabaseName": conn.database,
            "finalSchemaName": conn.schema,
            **result,
        },
        "success": True,
    }


def _describe_response(
    conn: FakeSnowflakeConnection,
    cur: FakeSnowflakeCursor,
    rowtype: list[ColumnInfo],
    type_id: int,
) -> dict[str, Any]:
    return {
        "data": {
            "rowtype": rowtype,
            "total": 0,
            "returned": 0,
            "queryId": cur.sfqid,
            "statementTypeId": type_id,
            "numberOfBinds": 0,
            "arrayBindSupported": False,
            "finalDatabaseName": conn.database,
            "finalSchemaName": conn.schema,
            "queryResultFormat": "arrow",
            "rowsetBase64": "",
        },
        "success": True,
    }
