"""The server's state: one persistent DuckDB database (database_files.py), the DT engine, the
client sessions and the statement count; and running a client's statement.

Every statement passes `LocalSnowflake.execute`, which plans it (planner.py: the Dynamic Table
statements and metadata functions are intercepted before fakesnow runs the rest) and serializes
all DuckDB access with one lock (the scheduler thread shares it). The HTTP endpoints that call
it are in endpoints.py.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from fakesnow.conn import FakeSnowflakeConnection
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.dialect import parse_one
from fakesnow.rowtype import ColumnInfo
from fakesnow.statement_type import SELECT, statement_type_id

from local_snowflake import bulk, database_files, results
from local_snowflake.engine import DynamicTableEngine
from local_snowflake.errors import HttpError
from local_snowflake.planner import RUN_SCHEDULER, SYSTEM_CALL, Plan, StatementPlanner

logger = logging.getLogger("local_snowflake.server")

_ROWS_PER_LOCK = 100  # array bindings run row by row (not an INSERT ... VALUES): ~0.3 s a hold
_YIELD_SECONDS = 0.001
SESSION_IDLE_TIMEOUT_SECONDS = 4 * 3600
"""A session without a request for this long is closed (its token then gets 390104)."""


class LocalSnowflake:
    """The server's state: the database, the DT engine, the sessions and the statement count."""

    def __init__(
        self, data_dir: Path, session_idle_timeout_seconds: float = SESSION_IDLE_TIMEOUT_SECONDS
    ) -> None:
        self.data_dir = data_dir
        self.fs = database_files.open_data_dir(data_dir)
        self.lock = threading.RLock()
        self.engine = DynamicTableEngine(self.fs, data_dir, self.lock)
        database_files.confine(self.fs.duck_conn, data_dir)
        self.planner = StatementPlanner(self.engine, data_dir)
        self.sessions: dict[str, FakeSnowflakeConnection] = {}
        self.session_used: dict[str, float] = {}
        self.session_idle_timeout = session_idle_timeout_seconds
        self._next_sweep = 0.0
        self.statement_count = 0
        self.last_activity = time.monotonic()

    # -- statements ----------------------------------------------------------------------------

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
        system = SYSTEM_CALL.fullmatch(sql)
        prepared = None
        if system and system[1].upper() == RUN_SCHEDULER:
            prepared = self.planner.run_scheduler(system[2])
        with self.lock:
            self.last_activity = time.monotonic()
            count = self.statement_count
            self.statement_count += 1
            plan = prepared or self.planner.plan(conn, sql, count)
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

    # -- sessions ------------------------------------------------------------------------------

    def open_session(self, database: str | None, schema: str | None, autocommit: bool) -> str:
        """A new session (a login); returns its token."""
        self._expire_idle_sessions()
        with self.lock:
            self.last_activity = time.monotonic()
            conn = self.fs.connect(database, schema, autocommit=autocommit)
            conn.results_cache = results.SessionResults()
        token = secrets.token_urlsafe(32)
        self.sessions[token] = conn
        self.session_used[token] = time.monotonic()
        return token

    def session(self, token: str) -> FakeSnowflakeConnection:
        """The session of token, unless it is unknown or was idle too long (390104)."""
        conn = self.sessions.get(token)
        now = time.monotonic()
        if conn is None or now - self.session_used.get(token, now) > self.session_idle_timeout:
            raise HttpError("390104", "User must login again to access the service.", 401)
        self.session_used[token] = now
        return conn

    def end_session(self, token: str) -> None:
        """Logout: release the session's DuckDB connection (clients such as sensors connect
        often)."""
        closed = self.sessions.pop(token, None)
        self.session_used.pop(token, None)
        if closed is not None:
            self._close_session(closed)

    def _close_session(self, conn: FakeSnowflakeConnection) -> None:
        with self.lock:
            conn.close()

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

    def close(self) -> None:
        with self.lock:
            database_files.checkpoint_and_close(self.fs.duck_conn)


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
