"""The Dynamic Table engine: the catalog, DDL and scheduling state (refreshes: refresh.py).

All DuckDB access goes through `self.lock` (shared with the request handlers), because the
scheduler thread and the request threads share one DuckDB database.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fakesnow.conn import FakeSnowflakeConnection
from fakesnow.dialect import parse_one
from fakesnow.instance import FakeSnow
from sqlglot import exp

from local_snowflake import refresh
from local_snowflake.catalog import C, create_catalog
from local_snowflake.clock import Clock
from local_snowflake.errors import already_exists, does_not_exist, sql_error
from local_snowflake.refresh import RefreshResult
from local_snowflake.results import SessionResults
from local_snowflake.rules import resolve_refresh_mode
from local_snowflake.statements import (
    AlterDynamicTable,
    CreateDynamicTable,
    DropDynamicTable,
    Name,
    table_parts,
)


@dataclass(frozen=True)
class DynamicTable:
    """One row of the catalog's dynamic_tables table."""

    name: Name
    query: str
    target_lag_sec: int | None
    refresh_mode: str
    scheduling_state: str
    inputs: list[dict[str, str]]

    @property
    def upstream(self) -> list[str]:
        return [i["name"] for i in self.inputs if i["kind"] == "DYNAMIC_TABLE"]


class DynamicTableEngine:
    def __init__(self, fs: FakeSnow, data_dir: Path, lock: threading.RLock) -> None:
        self.fs = fs
        self.lock = lock
        self.duck = fs.duck_conn.cursor()
        create_catalog(self.duck, data_dir)
        self.clock = Clock(self.duck)
        self._sessions: dict[tuple[str, str], FakeSnowflakeConnection] = {}
        self.pass_lock = threading.Lock()  # scheduler passes (background, manual) never overlap
        # the DTs refreshing now, for the health endpoint (which does not take the lock): an
        # immutable set, replaced whole, so readers never see it change under them
        self.refreshing: frozenset[str] = frozenset()
        refresh.end_interrupted_refreshes(self)

    # -- catalog reads -------------------------------------------------------------------------

    def get(self, qualified_name: str) -> DynamicTable | None:
        row = self.duck.execute(
            f"SELECT database_name, schema_name, name, query_text, target_lag_sec, refresh_mode, "
            f"scheduling_state, inputs FROM {C}.dynamic_tables WHERE qualified_name = ?",
            [qualified_name],
        ).fetchone()
        if row is None:
            return None
        return DynamicTable(
            Name(row[0], row[1], row[2]), row[3], row[4], row[5], row[6], json.loads(row[7])
        )

    def all_names(self) -> list[str]:
        rows = self.duck.execute(
            f"SELECT qualified_name FROM {C}.dynamic_tables ORDER BY qualified_name"
        ).fetchall()
        return [r[0] for r in rows]

    def initialized(self, qualified_names: list[str]) -> dict[str, bool]:
        """For the DTs among qualified_names: whether each has refreshed since its creation."""
        rows = self.duck.execute(
            f"""SELECT d.qualified_name, EXISTS (
                SELECT 1 FROM {C}.refresh_history h WHERE h.qualified_name = d.qualified_name
                AND h.state = 'SUCCEEDED' AND h.data_timestamp >= d.created_on)
            FROM {C}.dynamic_tables d WHERE list_contains(?, d.qualified_name)""",
            [qualified_names],
        ).fetchall()
        return {r[0]: bool(r[1]) for r in rows}

    def _reachable(self, start: str, *, upstream: bool, downstream: bool) -> list[str]:
        """DTs reachable from start through DT inputs (start excluded), sorted."""
        edges: dict[str, set[str]] = {}
        rows = self.duck.execute(f"SELECT qualified_name, inputs FROM {C}.dynamic_tables")
        for qn, inputs in rows.fetchall():
            for up in (i["name"] for i in json.loads(inputs) if i["kind"] == "DYNAMIC_TABLE"):
                if upstream:
                    edges.setdefault(qn, set()).add(up)
                if downstream:
                    edges.setdefault(up, set()).add(qn)
        seen, todo = {start}, [start]
        while todo:
            for other in edges.get(todo.pop(), set()) - seen:
                seen.add(other)
                todo.append(other)
        return sorted(seen - {start})

    def connected(self, qualified_name: str) -> list[str]:
        """Every DT connected to qualified_name through DT inputs, up or down (and itself)."""
        found = self._reachable(qualified_name, upstream=True, downstream=True)
        return sorted([qualified_name, *found])

    def downstream(self, qualified_name: str) -> list[str]:
        """Every DT that reads qualified_name, directly or through other DTs."""
        return self._reachable(qualified_name, upstream=False, downstream=True)

    def _set_scheduling(self, qn: str, suspend: bool, now: datetime, direct: bool) -> None:
        if suspend:
            code, message = (
                ("USER_SUSPENDED", "User suspended")
                if direct
                else ("UPSTREAM_SUSPENDED", "An upstream dynamic table was suspended")
            )
            self.duck.execute(
                f"UPDATE {C}.dynamic_tables SET scheduling_state = 'SUSPENDED', "
                "reason_code = ?, reason_message = ?, last_suspended_on = ? "
                "WHERE qualified_name = ?",
                [code, message, now, qn],
            )
        else:
            self.duck.execute(
                f"UPDATE {C}.dynamic_tables SET scheduling_state = 'ACTIVE', reason_code = NULL, "
                "reason_message = NULL, consecutive_failures = 0 WHERE qualified_name = ?",
                [qn],
            )
        self.new_graph_version(qn, now)

    def suspend_downstream(self, qualified_name: str, now: datetime) -> None:
        """UPSTREAM_SUSPENDED for every active DT downstream (one suspended for its own reason
        keeps it)."""
        for qn in self.downstream(qualified_name):
            down = self.get(qn)
            if down is not None and down.scheduling_state != "SUSPENDED":
                self._set_scheduling(qn, True, now, direct=False)

    def _resume_downstream(self, qualified_name: str, now: datetime) -> None:
        """Resume the DTs downstream that were suspended only because an upstream one was,
        once none of their upstream DTs is suspended any more."""
        waiting = self.downstream(qualified_name)
        while resumable := [
            qn
            for qn in waiting
            if self._reason_code(qn) == "UPSTREAM_SUSPENDED" and not self._suspended_upstream(qn)
        ]:
            for qn in resumable:
                self._set_scheduling(qn, False, now, direct=False)
            waiting = [qn for qn in waiting if qn not in resumable]

    def _reason_code(self, qualified_name: str) -> str | None:
        row = self.duck.execute(
            f"SELECT reason_code FROM {C}.dynamic_tables WHERE qualified_name = ?",
            [qualified_name],
        ).fetchone()
        return row[0] if row else None

    def _suspended_upstream(self, qualified_name: str) -> str | None:
        """The first suspended DT upstream of qualified_name (by name), if any."""
        for qn in self._reachable(qualified_name, upstream=True, downstream=False):
            up = self.get(qn)
            if up is not None and up.scheduling_state == "SUSPENDED":
                return qn
        return None

    def _require(self, name: Name) -> DynamicTable:
        dt = self.get(name.qualified)
        if dt is None:
            raise does_not_exist("Dynamic table", name.qualified)
        return dt

    # -- running Snowflake SQL in a DT's own database and schema -------------------------------

    def session(self, database: str, schema: str) -> FakeSnowflakeConnection:
        key = (database, schema)
        if key not in self._sessions:
            conn = self.fs.connect(database, schema)
            conn.results_cache = SessionResults()  # the instance's own would grow forever
            self._sessions[key] = conn
        return self._sessions[key]

    def run_snowflake_sql(self, name: Name, sql: str) -> None:
        self.session(name.database, name.schema).cursor().execute(sql)

    def _table_exists(self, name: Name) -> str | None:
        row = self.duck.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_catalog = ? "
            "AND table_schema = ? AND table_name = ?",
            [name.database, name.schema, name.name],
        ).fetchone()
        return row[0] if row else None

    # -- DDL -----------------------------------------------------------------------------------

    def create(self, cmd: CreateDynamicTable) -> str:
        name = cmd.name
        exists = self.get(name.qualified) is not None or self._table_exists(name) is not None
        if exists and cmd.if_not_exists:
            return f"{name.name} already exists, statement succeeded."
        if exists and cmd.or_alter:
            altered = self._alter_in_place(cmd)
            if altered is not None:
                return altered
        elif exists and not cmd.or_replace:
            raise already_exists(name.name)
        if exists:
            self._drop_objects(name)
        # validates the query (and creates the table with its columns) before anything is recorded
        self.run_snowflake_sql(
            name, f"CREATE TABLE {name.sql()} AS SELECT * FROM ({cmd.query}) AS q LIMIT 0"
        )
        now = self.clock.now()
        mode, reason = resolve_refresh_mode(cmd.refresh_mode, cmd.query)
        inputs = self._inputs(name, cmd.query)
        self.duck.execute(
            f"INSERT INTO {C}.dynamic_tables VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ACTIVE', NULL, NULL, NULL, 0, ?, ?, ?)",
            [
                name.database,
                name.schema,
                name.name,
                name.qualified,
                cmd.query,
                cmd.text,
                cmd.target_lag.text,
                cmd.target_lag.seconds,
                cmd.warehouse,
                mode,
                reason,
                cmd.initialize,
                now,
                json.dumps(inputs),
                cmd.scheduler,
            ],
        )
        self.new_graph_version(name.qualified, now)
        if cmd.initialize == "ON_CREATE":
            self.refresh_with_upstream(name.qualified, "CREATION", now, {})
        return f"Dynamic table {name.name} successfully created."

    def _alter_in_place(self, cmd: CreateDynamicTable) -> str | None:
        """CREATE OR ALTER of an existing DT: the target lag and warehouse change in place (no
        refresh); None when the query or refresh mode changed, which reinitializes (the table is
        made again, as Snowflake recomputes it)."""
        current = self.get(cmd.name.qualified)
        if current is None:  # a plain table or view of that name
            raise already_exists(cmd.name.name)
        mode, _reason = resolve_refresh_mode(cmd.refresh_mode, cmd.query)
        same_mode = cmd.refresh_mode == "AUTO" or mode == current.refresh_mode
        if not same_mode or cmd.query != current.query:
            return None
        self.duck.execute(
            f"UPDATE {C}.dynamic_tables SET target_lag = ?, target_lag_sec = ?, warehouse = ?, "
            "create_text = ?, scheduler = ? WHERE qualified_name = ?",
            [
                cmd.target_lag.text,
                cmd.target_lag.seconds,
                cmd.warehouse,
                cmd.text,
                cmd.scheduler,
                cmd.name.qualified,
            ],
        )
        self.new_graph_version(cmd.name.qualified, self.clock.now())
        return "Statement executed successfully."

    def alter(self, cmd: AlterDynamicTable) -> str:
        dt = self._require(cmd.name)
        now = self.clock.now()
        if cmd.action == "REFRESH":
            results = self.refresh_with_upstream(dt.name.qualified, "MANUAL", now, {})
            own = results[dt.name.qualified]
            if own.state != "SUCCEEDED":
                raise sql_error(
                    f"Dynamic table '{dt.name.qualified}' refresh {own.state}: {own.message}",
                    errno=91000,
                    sqlstate="22000",
                )
            return "Statement executed successfully."
        if cmd.action == "SUSPEND":
            # cascades to the DTs downstream (a DT cannot refresh without its inputs)
            self._set_scheduling(dt.name.qualified, True, now, direct=True)
            self.suspend_downstream(dt.name.qualified, now)
            return "Statement executed successfully."
        if cmd.action == "RESUME":
            if suspended := self._suspended_upstream(dt.name.qualified):
                raise sql_error(
                    f"Cannot resume dynamic table '{dt.name.qualified}': its upstream dynamic "
                    f"table '{suspended}' is suspended. Resume '{suspended}' first.",
                    errno=91000,
                    sqlstate="22000",
                )
            self._set_scheduling(dt.name.qualified, False, now, direct=True)
            self._resume_downstream(dt.name.qualified, now)
            return "Statement executed successfully."
        if cmd.target_lag is not None:
            self.duck.execute(
                f"UPDATE {C}.dynamic_tables SET target_lag = ?, target_lag_sec = ? "
                "WHERE qualified_name = ?",
                [cmd.target_lag.text, cmd.target_lag.seconds, dt.name.qualified],
            )
        else:
            self.duck.execute(
                f"UPDATE {C}.dynamic_tables SET warehouse = ? WHERE qualified_name = ?",
                [cmd.warehouse, dt.name.qualified],
            )
        self.new_graph_version(dt.name.qualified, now)
        return "Statement executed successfully."

    def drop(self, cmd: DropDynamicTable) -> str:
        if self.get(cmd.name.qualified) is None:
            if cmd.if_exists:
                return f"Drop statement executed successfully ({cmd.name.name} already dropped)."
            raise does_not_exist("Dynamic table", cmd.name.qualified)
        self._drop_objects(cmd.name)
        return f"{cmd.name.name} successfully dropped."

    def _drop_objects(self, name: Name) -> None:
        kind = self._table_exists(name)
        if kind == "VIEW":
            self.duck.execute(f"DROP VIEW {name.sql()}")
        elif kind is not None:
            self.duck.execute(f"DROP TABLE {name.sql()}")
        self.forget(name)

    def forget(self, name: Name) -> None:
        """Remove a DT from the catalog (its graph version ends; its refresh history stays)."""
        if self.get(name.qualified) is not None:
            self.duck.execute(
                f"UPDATE {C}.graph_history SET valid_to = ? "
                "WHERE qualified_name = ? AND valid_to IS NULL",
                [self.clock.now(), name.qualified],
            )
            self.duck.execute(
                f"DELETE FROM {C}.dynamic_tables WHERE qualified_name = ?", [name.qualified]
            )

    def close_sessions(self, database: str) -> None:
        """Close the engine's own sessions in database (before it is detached)."""
        for key in [k for k in self._sessions if k[0].upper() == database.upper()]:
            self._sessions.pop(key).close()

    def _inputs(self, name: Name, query: str) -> list[dict[str, str]]:
        expression = parse_one(query)
        ctes = {cte.alias_or_name.upper() for cte in expression.find_all(exp.CTE)}
        found: dict[str, dict[str, str]] = {}
        for table in expression.find_all(exp.Table):
            if not isinstance(table.this, exp.Identifier):
                continue  # a table function
            if not table.db and table.name.upper() in ctes:
                continue
            parts = table_parts(table)
            if len(parts) == 1:
                parts = [name.database, name.schema, *parts]
            elif len(parts) == 2:
                parts = [name.database, *parts]
            ref = Name(parts[0], parts[1], parts[2])
            if self.get(ref.qualified) is not None:
                kind = "DYNAMIC_TABLE"
            elif self._table_exists(ref) == "VIEW":
                kind = "VIEW"
            else:
                kind = "TABLE"
            found[ref.qualified] = {"name": ref.qualified, "kind": kind}
        return list(found.values())

    def new_graph_version(self, qualified_name: str, now: datetime) -> None:
        self.duck.execute(
            f"UPDATE {C}.graph_history SET valid_to = ? "
            "WHERE qualified_name = ? AND valid_to IS NULL",
            [now, qualified_name],
        )
        self.duck.execute(
            f"""INSERT INTO {C}.graph_history
            SELECT database_name, schema_name, name, qualified_name, inputs,
                CASE WHEN target_lag = 'DOWNSTREAM' THEN 'DOWNSTREAM' ELSE 'USER_DEFINED' END,
                target_lag_sec, query_text, ?, NULL,
                to_json({{'state': scheduling_state, 'reason_code': reason_code,
                          'reason_message': reason_message}})::VARCHAR
            FROM {C}.dynamic_tables WHERE qualified_name = ?""",
            [now, qualified_name],
        )

    # -- refreshes (refresh.py) ----------------------------------------------------------------

    def refresh_with_upstream(
        self, qualified_name: str, trigger: str, data_ts: datetime, done: dict[str, RefreshResult]
    ) -> dict[str, RefreshResult]:
        """Refresh a DT at data_ts, its upstream DTs first (each at most once per pass)."""
        return refresh.refresh_with_upstream(self, qualified_name, trigger, data_ts, done)

    def run_scheduler_pass(self, database: str | None = None) -> str:
        """One scheduler pass (see `refresh.run_scheduler_pass`). Returns a summary."""
        return refresh.run_scheduler_pass(self, database)
