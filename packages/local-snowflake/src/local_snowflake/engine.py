"""The Dynamic Table engine: DDL and the sessions DT queries run in, over the catalog's Dynamic
Tables (`self.tables`, dynamic_tables.py); refreshes and the scheduler pass: refresh.py, which
the engine runs as their `RefreshHost`.

All DuckDB access goes through `self.lock` (shared with the request handlers), because the
scheduler thread and the request threads share one DuckDB database.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from fakesnow.conn import FakeSnowflakeConnection
from fakesnow.dialect import parse_one
from fakesnow.instance import FakeSnow
from sqlglot import exp

from local_snowflake import refresh
from local_snowflake.catalog import C, create_catalog
from local_snowflake.clock import Clock
from local_snowflake.dynamic_tables import DynamicTables
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


class DynamicTableEngine:
    def __init__(self, fs: FakeSnow, data_dir: Path, lock: threading.RLock) -> None:
        self.fs = fs
        self.lock = lock
        self.duck = fs.duck_conn.cursor()
        create_catalog(self.duck, data_dir)
        self.clock = Clock(self.duck)
        self.tables = DynamicTables(self.duck, self.clock)
        self._sessions: dict[tuple[str, str], FakeSnowflakeConnection] = {}
        self.pass_lock = threading.Lock()  # scheduler passes (background, manual) never overlap
        # the DTs refreshing now, for the health endpoint (which does not take the lock): an
        # immutable set, replaced whole, so readers never see it change under them
        self.refreshing: frozenset[str] = frozenset()
        refresh.end_interrupted_refreshes(self)

    @contextlib.contextmanager
    def mark_refreshing(self, qualified_name: str) -> Iterator[None]:
        """qualified_name is in `refreshing` while the block runs."""
        self.refreshing = self.refreshing | {qualified_name}
        try:
            yield
        finally:
            self.refreshing = self.refreshing - {qualified_name}

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
        exists = self.tables.get(name.qualified) is not None or self._table_exists(name) is not None
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
        inputs = self.inputs(name, cmd.query)
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
        self.tables.new_graph_version(name.qualified, now)
        if cmd.initialize == "ON_CREATE":
            self.refresh_with_upstream(name.qualified, "CREATION", now, {})
        return f"Dynamic table {name.name} successfully created."

    def _alter_in_place(self, cmd: CreateDynamicTable) -> str | None:
        """CREATE OR ALTER of an existing DT: the target lag and warehouse change in place (no
        refresh); None when the query or refresh mode changed, which reinitializes (the table is
        made again, as Snowflake recomputes it)."""
        current = self.tables.get(cmd.name.qualified)
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
        self.tables.new_graph_version(cmd.name.qualified, self.clock.now())
        return "Statement executed successfully."

    def alter(self, cmd: AlterDynamicTable) -> str:
        dt = self.tables.require(cmd.name)
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
            self.tables.suspend(dt.name.qualified, now)
            return "Statement executed successfully."
        if cmd.action == "RESUME":
            self.tables.resume(dt.name.qualified, now)
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
        self.tables.new_graph_version(dt.name.qualified, now)
        return "Statement executed successfully."

    def drop(self, cmd: DropDynamicTable) -> str:
        if self.tables.get(cmd.name.qualified) is None:
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
        self.tables.forget(name)

    def close_sessions(self, database: str) -> None:
        """Close the engine's own sessions in database (before it is detached)."""
        for key in [k for k in self._sessions if k[0].upper() == database.upper()]:
            self._sessions.pop(key).close()

    def inputs(self, name: Name, query: str) -> list[dict[str, str]]:
        """The tables, views and DTs the query of the DT `name` reads (1- and 2-part names
        resolved in its database and schema), as graph-history INPUTS."""
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
            if self.tables.get(ref.qualified) is not None:
                kind = "DYNAMIC_TABLE"
            elif self._table_exists(ref) == "VIEW":
                kind = "VIEW"
            else:
                kind = "TABLE"
            found[ref.qualified] = {"name": ref.qualified, "kind": kind}
        return list(found.values())

    # -- refreshes (refresh.py) ----------------------------------------------------------------

    def refresh_with_upstream(
        self, qualified_name: str, trigger: str, data_ts: datetime, done: dict[str, RefreshResult]
    ) -> dict[str, RefreshResult]:
        """Refresh a DT at data_ts, its upstream DTs first (each at most once per pass)."""
        return refresh.refresh_with_upstream(self, qualified_name, trigger, data_ts, done)

    def run_scheduler_pass(self, database: str | None = None) -> str:
        """One scheduler pass (see `refresh.run_scheduler_pass`). Returns a summary."""
        return refresh.run_scheduler_pass(self, database)
