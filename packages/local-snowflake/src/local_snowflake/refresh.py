"""Refreshes and the scheduler pass, over the catalog's Dynamic Tables (dynamic_tables.py).

A refresh is recorded EXECUTING, its query runs into a stage table, the result replaces the DT's
rows (or NO_DATA when equal), then the row is ended SUCCEEDED / FAILED / UPSTREAM_FAILED. A
server killed in between leaves the row EXECUTING: `end_interrupted_refreshes` ends such rows
at the next start, and the DT's next refresh reinitializes.

What a refresh needs of the engine that runs it is `RefreshHost` (DynamicTableEngine provides
it, host.py). Callers hold `host.lock` (the scheduler pass takes it per DT).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import duckdb
import snowflake.connector.errors
import sqlglot
import sqlglot.errors

from local_snowflake.catalog import C
from local_snowflake.clock import Clock
from local_snowflake.dynamic_tables import DynamicTable, DynamicTables
from local_snowflake.rules import (
    CANCELLED_CODE,
    CANCELLED_MESSAGE,
    INTERRUPTED_CODE,
    INTERRUPTED_MESSAGE,
    REFRESH_AHEAD_FRACTION,
    SUSPEND_AFTER_FAILURES,
    SUSPENDED_REASON_CODE,
    UPSTREAM_FAILED_MESSAGE,
    failure_code_and_message,
)
from local_snowflake.statements import Name

STAGE_TABLE = "_fs_ls_refresh_stage"  # fakesnow hides tables named _fs_* from SHOW TABLES


class RefreshHost(Protocol):
    """What refreshes need of the engine that runs them."""

    @property
    def duck(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection (used under `lock`)."""
        ...

    @property
    def lock(self) -> AbstractContextManager[object]:
        """The server lock: all DuckDB access holds it."""
        ...

    @property
    def pass_lock(self) -> AbstractContextManager[object]:
        """Held for a whole scheduler pass: passes never overlap."""
        ...

    @property
    def clock(self) -> Clock: ...

    @property
    def tables(self) -> DynamicTables: ...

    def run_snowflake_sql(self, name: Name, sql: str) -> None:
        """Run Snowflake SQL in the database and schema of name."""
        ...

    def mark_refreshing(self, qualified_name: str) -> AbstractContextManager[None]:
        """Reports qualified_name as refreshing (the health endpoint) while the block runs."""
        ...


@dataclass(frozen=True)
class RefreshResult:
    qualified_name: str
    state: str
    action: str | None
    message: str | None


def end_interrupted_refreshes(host: RefreshHost) -> int:
    """End the refreshes a previous server left running (killed mid-refresh): EXECUTING
    ones as FAILED, SCHEDULED ones as CANCELLED, as Snowflake reports a refresh that did not
    complete, and drop the stage tables they left. Called at startup, before any request: no
    refresh runs yet. Returns how many refreshes were ended."""
    with host.lock:
        for database, schema in host.duck.execute(
            "SELECT database_name, schema_name FROM duckdb_tables() WHERE table_name = ?",
            [STAGE_TABLE],
        ).fetchall():
            host.duck.execute(f"DROP TABLE IF EXISTS {Name(database, schema, STAGE_TABLE).sql()}")
        rows = host.duck.execute(
            f"""UPDATE {C}.refresh_history SET
                state = CASE WHEN state = 'EXECUTING' THEN 'FAILED' ELSE 'CANCELLED' END,
                state_code = CASE WHEN state = 'EXECUTING' THEN ? ELSE ? END,
                state_message = CASE WHEN state = 'EXECUTING' THEN ? ELSE ? END,
                refresh_end_time = greatest(?, refresh_start_time),
                refresh_action = NULL
            WHERE state IN ('EXECUTING', 'SCHEDULED') RETURNING seq""",
            [
                INTERRUPTED_CODE,
                CANCELLED_CODE,
                INTERRUPTED_MESSAGE,
                CANCELLED_MESSAGE,
                host.clock.now(),
            ],
        ).fetchall()
    return len(rows)


def _interrupted_last(host: RefreshHost, qualified_name: str) -> bool:
    """Whether an interrupted refresh came after the DT's last successful one: its data may
    or may not have been written, so the next refresh reinitializes (never NO_DATA: no
    change goes unseen)."""
    row = host.duck.execute(
        f"SELECT arg_max(state, seq) FROM {C}.refresh_history "
        "WHERE qualified_name = ? AND (state = 'SUCCEEDED' OR state_message = ?)",
        [qualified_name, INTERRUPTED_MESSAGE],
    ).fetchone()
    return row is not None and row[0] == "FAILED"


def _latest_success(host: RefreshHost, qualified_name: str) -> datetime | None:
    # only this DT's own refreshes: a DT created again (CREATE OR REPLACE) starts afresh
    row = host.duck.execute(
        f"SELECT max(h.data_timestamp) FROM {C}.refresh_history h "
        f"JOIN {C}.dynamic_tables d USING (qualified_name) WHERE h.qualified_name = ? "
        "AND h.state = 'SUCCEEDED' AND h.data_timestamp >= d.created_on",
        [qualified_name],
    ).fetchone()
    return row[0] if row else None


# -- refreshes -----------------------------------------------------------------------------


def refresh_with_upstream(
    host: RefreshHost,
    qualified_name: str,
    trigger: str,
    data_ts: datetime,
    done: dict[str, RefreshResult],
) -> dict[str, RefreshResult]:
    """Refresh a DT at data_ts, its upstream DTs first (each at most once per pass).

    An upstream DT created with SCHEDULER = DISABLE is not refreshed on the way: Snowflake
    refreshes it only when it is asked to itself (manual refreshes do not cascade to it); its
    consumer reads the data it has, or records UPSTREAM_FAILED when its last refresh failed."""
    if qualified_name in done:
        return done
    dt = host.tables.get(qualified_name)
    if dt is None:
        return done
    requested = time.perf_counter()  # the upstream refreshes below are its queued time
    upstream_failed: str | None = None
    for up in dt.upstream:
        up_dt = host.tables.get(up)
        if up_dt is None:
            continue
        if _scheduler_disabled(host, up):
            if _last_refresh_failed(host, up) and upstream_failed is None:
                upstream_failed = up
            continue
        if up_dt.scheduling_state != "SUSPENDED" or trigger == "MANUAL":
            refresh_with_upstream(host, up, trigger, data_ts, done)
        if up in done and done[up].state != "SUCCEEDED" and upstream_failed is None:
            upstream_failed = up
    done[qualified_name] = _refresh(host, dt, trigger, data_ts, upstream_failed, requested)
    return done


def _refresh(
    host: RefreshHost,
    dt: DynamicTable,
    trigger: str,
    data_ts: datetime,
    upstream_failed: str | None,
    requested: float,
) -> RefreshResult:
    qn = dt.name.qualified
    previous = _latest_success(host, qn)
    reinitialize = previous is None or _interrupted_last(host, qn)
    query_id = str(uuid.uuid4())
    start = host.clock.now()
    completion_target = (
        previous + timedelta(seconds=dt.target_lag_sec)
        if previous is not None and dt.target_lag_sec is not None
        else None
    )
    (seq,) = host.duck.execute(f"SELECT nextval('{C}.refresh_seq')").fetchone() or (0,)
    valid_from = host.duck.execute(
        f"SELECT max(valid_from) FROM {C}.graph_history WHERE qualified_name = ?", [qn]
    ).fetchone()
    host.duck.execute(
        f"INSERT INTO {C}.refresh_history VALUES "
        "(?, ?, ?, ?, ?, 'EXECUTING', NULL, NULL, ?, ?, ?, NULL, ?, NULL, '{}', NULL, ?, ?, ?)",
        [
            seq,
            dt.name.database,
            dt.name.schema,
            dt.name.name,
            qn,
            query_id,
            data_ts,
            start,
            completion_target,
            trigger,
            dt.target_lag_sec,
            valid_from[0] if valid_from else None,
        ],
    )
    attempt = _Attempt(dt, trigger, seq, start, upstream_failed, reinitialize, requested)
    with host.mark_refreshing(qn):
        return _run_refresh(host, attempt)


@dataclass(frozen=True)
class _Attempt:
    """A refresh recorded EXECUTING (history row seq), about to run."""

    dt: DynamicTable
    trigger: str
    seq: int
    start: datetime
    upstream_failed: str | None
    reinitialize: bool
    requested: float
    """`time.perf_counter()` when the refresh was asked for, before its upstream refreshes."""


def _run_refresh(host: RefreshHost, attempt: _Attempt) -> RefreshResult:
    dt, upstream_failed = attempt.dt, attempt.upstream_failed
    qn = dt.name.qualified
    t0 = time.perf_counter()
    state, code, message, action = "SUCCEEDED", None, None, None
    written = _Written()
    if upstream_failed is not None:
        state, message = "UPSTREAM_FAILED", UPSTREAM_FAILED_MESSAGE.format(upstream_failed)
    else:
        try:
            action, written = _compute(host, dt, first=attempt.reinitialize)
            host.tables.record_size(dt.name, changed=action != "NO_DATA")  # SHOW rows, bytes
        except snowflake.connector.errors.Error as e:
            state, code, message = "FAILED", *failure_code_and_message(e)
        except duckdb.Error as e:
            state, code, message = "FAILED", "000603", str(e).split("\n")[0]
    stats = written.statistics(
        queued_ms=_ms(t0 - attempt.requested), elapsed_ms=_ms(time.perf_counter() - t0)
    )
    end = max(host.clock.now(), attempt.start)
    host.duck.execute(
        f"UPDATE {C}.refresh_history SET state = ?, state_code = ?, state_message = ?, "
        "refresh_end_time = ?, statistics = ?, refresh_action = ? WHERE seq = ?",
        [state, code, message, end, json.dumps(stats), action, attempt.seq],
    )
    _record_outcome(host, dt, state, attempt.trigger, end)
    return RefreshResult(qn, state, action, message)


def _record_outcome(
    host: RefreshHost, dt: DynamicTable, state: str, trigger: str, now: datetime
) -> None:
    qn = dt.name.qualified
    if state == "SUCCEEDED":
        host.duck.execute(
            f"UPDATE {C}.dynamic_tables SET consecutive_failures = 0 WHERE qualified_name = ?",
            [qn],
        )
        return
    if state != "FAILED" or trigger != "SCHEDULED":
        return
    row = host.duck.execute(
        f"UPDATE {C}.dynamic_tables SET consecutive_failures = consecutive_failures + 1 "
        "WHERE qualified_name = ? RETURNING consecutive_failures",
        [qn],
    ).fetchone()
    if row and row[0] >= SUSPEND_AFTER_FAILURES:
        host.duck.execute(
            f"UPDATE {C}.dynamic_tables SET scheduling_state = 'SUSPENDED', "
            "reason_code = ?, reason_message = ?, last_suspended_on = ? "
            "WHERE qualified_name = ?",
            [
                SUSPENDED_REASON_CODE,
                f"The DT was suspended due to {row[0]} consecutive refresh errors",
                now,
                qn,
            ],
        )
        host.tables.new_graph_version(qn, now)
        host.tables.suspend_downstream(qn, now)  # Snowflake suspends the dependent DTs too


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


@dataclass(frozen=True)
class _Written:
    """What a refresh did to its table, for the history's STATISTICS."""

    inserted: int = 0
    deleted: int = 0
    copied: int = 0
    """Rows rewritten unchanged: the stand-in rewrites the whole table when anything changed."""
    partitions_added: int = 0
    partitions_removed: int = 0
    compilation_ms: int = 0

    def statistics(self, *, queued_ms: int, elapsed_ms: int) -> dict[str, int]:
        """Snowflake's STATISTICS keys. Execution is the refresh's time less compilation."""
        return {
            "numInsertedRows": self.inserted,
            "numDeletedRows": self.deleted,
            "numCopiedRows": self.copied,
            "numAddedPartitions": self.partitions_added,
            "numRemovedPartitions": self.partitions_removed,
            "queuedTimeMs": queued_ms,
            "compilationTimeMs": self.compilation_ms,
            "executionTimeMs": max(0, elapsed_ms - self.compilation_ms),
        }


def _compile_ms(query: str) -> int:
    """How long translating the DT's query takes (parsed as Snowflake SQL, written as DuckDB's,
    as fakesnow does before DuckDB runs it): the refresh's compilation time."""
    t0 = time.perf_counter()
    with contextlib.suppress(sqlglot.errors.SqlglotError):  # the refresh reports it
        sqlglot.parse_one(query, read="snowflake").sql(dialect="duckdb")
    return _ms(time.perf_counter() - t0)


def _compute(host: RefreshHost, dt: DynamicTable, first: bool) -> tuple[str, _Written]:
    """Run the DT's query and apply the result: the refresh action and what it wrote."""
    name = dt.name
    stage = Name(name.database, name.schema, STAGE_TABLE)
    compilation_ms = _compile_ms(dt.query)
    host.run_snowflake_sql(name, f"CREATE OR REPLACE TABLE {stage.sql()} AS {dt.query}")
    try:
        target, staged = name.sql(), stage.sql()
        before, after = _count(host, f"FROM {target}"), _count(host, f"FROM {staged}")
        try:
            inserted = _count(host, f"FROM {staged} EXCEPT ALL FROM {target}")
            deleted = _count(host, f"FROM {target} EXCEPT ALL FROM {staged}")
            same_columns = True
        except duckdb.Error:
            inserted, deleted = after, before
            same_columns = False
        if not first and same_columns and inserted == 0 and deleted == 0:
            return "NO_DATA", _Written(compilation_ms=compilation_ms)
        if same_columns:
            host.duck.execute("BEGIN TRANSACTION")
            try:
                host.duck.execute(f"DELETE FROM {target}")
                host.duck.execute(f"INSERT INTO {target} FROM {staged}")
                host.duck.execute("COMMIT")
            except duckdb.Error:
                host.duck.execute("ROLLBACK")
                raise
        else:
            host.duck.execute(f"CREATE OR REPLACE TABLE {target} AS FROM {staged}")
        # The whole table is rewritten as one unit: one partition out, one in (a deviation:
        # Snowflake counts the micro-partitions it rewrote).
        written = _Written(
            inserted=inserted,
            deleted=deleted,
            copied=after - inserted,
            partitions_added=1 if after else 0,
            partitions_removed=1 if before else 0,
            compilation_ms=compilation_ms,
        )
        if first or not same_columns:
            return "REINITIALIZE", written
        # ADAPTIVE refreshes incrementally (and reinitializes when it judges it cheaper)
        action = "INCREMENTAL" if dt.refresh_mode == "ADAPTIVE" else dt.refresh_mode
        return action, written
    finally:
        host.duck.execute(f"DROP TABLE IF EXISTS {stage.sql()}")


def _count(host: RefreshHost, sql: str) -> int:
    row = host.duck.execute(f"SELECT count(*) FROM ({sql})").fetchone()
    return int(row[0]) if row else 0


# -- the scheduler -------------------------------------------------------------------------


def _scheduler_disabled(host: RefreshHost, qualified_name: str) -> bool:
    row = host.duck.execute(
        f"SELECT coalesce(scheduler, 'ENABLE') FROM {C}.dynamic_tables WHERE qualified_name = ?",
        [qualified_name],
    ).fetchone()
    return row is not None and row[0] == "DISABLE"


def _last_refresh_failed(host: RefreshHost, qualified_name: str) -> bool:
    row = host.duck.execute(
        f"SELECT state FROM {C}.refresh_history WHERE qualified_name = ? AND state <> 'EXECUTING' "
        "ORDER BY seq DESC LIMIT 1",
        [qualified_name],
    ).fetchone()
    return row is not None and row[0] in ("FAILED", "UPSTREAM_FAILED")


def due(host: RefreshHost, now: datetime, database: str | None = None) -> list[str]:
    """DTs whose data is at least `REFRESH_AHEAD_FRACTION` of their target lag old (never
    DOWNSTREAM ones on their own, nor ones created with SCHEDULER = DISABLE), optionally only
    those of one database.

    Snowflake schedules refreshes ahead of the lag so that the actual lag stays under it;
    refreshing only once the data is a full target lag old would put every DT above its
    target between two refreshes."""
    rows = host.duck.execute(
        f"""SELECT d.qualified_name FROM {C}.dynamic_tables d
        LEFT JOIN (
            SELECT h.qualified_name, max(h.data_timestamp) AS latest
            FROM {C}.refresh_history h JOIN {C}.dynamic_tables c USING (qualified_name)
            WHERE h.state <> 'EXECUTING' AND h.data_timestamp >= c.created_on
            GROUP BY h.qualified_name
        ) h USING (qualified_name)
        WHERE d.scheduling_state <> 'SUSPENDED' AND d.target_lag_sec IS NOT NULL
          AND coalesce(d.scheduler, 'ENABLE') <> 'DISABLE'
          AND (? IS NULL OR d.database_name = ?)
          AND (h.latest IS NULL
               OR epoch(?::TIMESTAMPTZ) - epoch(h.latest) >= d.target_lag_sec * ?)
        ORDER BY d.qualified_name""",
        [database, database, now, REFRESH_AHEAD_FRACTION],
    ).fetchall()
    return [r[0] for r in rows]


def run_scheduler_pass(host: RefreshHost, database: str | None = None) -> str:
    """One scheduler pass: refresh every due DT (upstream first), optionally only the DTs of
    one database (and their upstream DTs). Returns a summary."""
    done: dict[str, RefreshResult] = {}
    with host.pass_lock:
        with host.lock:
            now = host.clock.now()
            names = due(host, now, database)
        for qn in names:
            with host.lock:  # per DT, so that clients are served between refreshes
                refresh_with_upstream(host, qn, "SCHEDULED", now, done)
    if not done:
        return "0 dynamic tables refreshed"
    parts = [
        f"{r.qualified_name}={r.state}" + (f"/{r.action}" if r.action else "")
        for r in done.values()
    ]
    return f"{len(done)} dynamic tables refreshed: " + ", ".join(parts)
