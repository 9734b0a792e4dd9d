"""The HTTP endpoints: fakesnow's Snowflake wire protocol (login, query, session, abort,
monitoring) and the stand-in's health endpoint, over one `LocalSnowflake` (server.py).

fakesnow's own server keeps one module-level in-memory database (or one file per session), so
this module builds its own Starlette app with the same endpoints. Faults are answered in
Snowflake's JSON error shape (`HttpError`, wire.py), never as a bare HTTP 500.
"""

from __future__ import annotations

import logging
import os

import duckdb
import snowflake.connector.errors
from fakesnow.expr import normalise_ident
from fakesnow.transforms import SERVER_VERSION
from sqlglot.errors import ParseError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local_snowflake import names, results, rules, wire
from local_snowflake.errors import HttpError
from local_snowflake.process import HEALTH_PATH
from local_snowflake.server import LocalSnowflake

logger = logging.getLogger("local_snowflake.server")

SERVICE_NAME = "local-snowflake"
FILE_ACCESS_REFUSED = (
    "SQL compilation error:\nUnsupported feature 'reading or writing files': not supported by "
    "local-snowflake (the embedded Snowflake stand-in)"
)


def app(server: LocalSnowflake) -> Starlette:
    """The Starlette app serving server."""
    return _Endpoints(server).app()


class _Endpoints:
    def __init__(self, server: LocalSnowflake) -> None:
        self.server = server

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
        token = await run_in_threadpool(self.server.open_session, database, schema, autocommit)
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
        conn = self.server.session(wire.token(request))
        body = await wire.json_body(request)
        sql = wire.sql_text(body)
        # decoding 100,000 rows of bindings takes a while: not on the event loop, which serves
        # every other client (and the health endpoint) meanwhile
        params, batch = await run_in_threadpool(wire.bindings, body)
        try:
            response = await run_in_threadpool(
                self.server.execute, conn, sql, params, batch, bool(body.get("describeOnly"))
            )
        except (
            snowflake.connector.errors.ProgrammingError,
            snowflake.connector.errors.OperationalError,
        ) as e:
            logger.info("%s: %s", type(e).__name__, e.msg)
            code, message = rules.failure_code_and_message(e)
            if code != "000904":  # only an unknown column is answered as Snowflake words it
                code, message = f"{e.errno:06d}", e.raw_msg
            return _statement_failed(code, e.sqlstate, message)
        except duckdb.PermissionException as e:
            # enable_external_access is off (database_files.confine): a file outside the data dir
            denied = str(e).split("\n", 1)[0]
            return _statement_failed("000002", "0A000", f"{FILE_ACCESS_REFUSED} ({denied})")
        except ParseError as e:
            return _statement_failed("001003", "42000", f"SQL compilation error:\n{e}")
        except Exception as e:
            # Snowflake's internal-error answer: the connector raises it, it does not retry
            logger.exception("Unhandled exception for %r", sql)
            raise HttpError(
                "000603", f"SQL execution internal error: {type(e).__name__}: {e}"
            ) from None
        return JSONResponse(response)

    async def session(self, request: Request) -> JSONResponse:
        token = wire.token(request)
        self.server.session(token)
        if request.query_params.get("delete"):
            await run_in_threadpool(self.server.end_session, token)
        return JSONResponse({"data": None, "code": None, "message": None, "success": True})

    async def health(self, _request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "service": SERVICE_NAME,
                "pid": os.getpid(),
                "data_dir": str(self.server.data_dir),
                "refreshing": sorted(self.server.engine.refreshing),
                "sessions": len(self.server.sessions),
            }
        )

    async def abort(self, _request: Request) -> JSONResponse:
        return JSONResponse({"success": True})

    async def monitoring(self, request: Request) -> JSONResponse:
        conn = self.server.session(wire.token(request))
        if not results.has_result(conn, request.path_params["sfqid"]):
            return JSONResponse({"data": {"queries": []}, "success": True})
        return JSONResponse({"data": {"queries": [{"status": "SUCCESS"}]}, "success": True})

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


def _statement_failed(code: str, sqlstate: str | None, message: str | None) -> JSONResponse:
    """Snowflake's answer for a statement that failed: the connector raises it (code = errno)."""
    return JSONResponse(
        {
            "data": {"errorCode": code, "sqlState": sqlstate},
            "code": code,
            "message": message,
            "success": False,
        }
    )


async def _http_error(_request: Request, e: Exception) -> Response:
    assert isinstance(e, HttpError)
    return e.response()


async def _internal_error(_request: Request, e: Exception) -> Response:
    logger.error("unhandled %s: %s", type(e).__name__, e)
    return HttpError("000603", f"SQL execution internal error: {type(e).__name__}").response()
