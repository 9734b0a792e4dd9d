"""The catalog's Dynamic Tables: their rows, their graph (DT inputs), their scheduling state
(suspend and resume, cascading downstream) and their graph history.

Used by the engine (DDL, engine.py) and by refreshes (refresh.py); callers hold the server lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb

from local_snowflake.catalog import C
from local_snowflake.clock import Clock
from local_snowflake.errors import does_not_exist, sql_error
from local_snowflake.statements import Name

_UPSTREAM_REASONS = ("UPSTREAM_SUSPENDED", "UPSTREAM_CLONED_AUTO_SUSPENDED")
"""Suspended only because an upstream DT was (or was a clone still suspended, clones.py): a
RESUME of that one resumes them."""
CLONES = f"{C}.cloned_dynamic_tables"
"""The Dynamic Tables a `CREATE DATABASE ... CLONE` made (clones.py; the table: catalog.py):
initialized without a refresh of their own, their data being the source's."""


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


class DynamicTables:
    """The Dynamic Tables of the catalog, over the engine's DuckDB connection."""

    def __init__(self, duck: duckdb.DuckDBPyConnection, clock: Clock) -> None:
        self._duck = duck
        self._clock = clock

    # -- reads ---------------------------------------------------------------------------------

    def get(self, qualified_name: str) -> DynamicTable | None:
        row = self._duck.execute(
            f"SELECT database_name, schema_name, name, query_text, target_lag_sec, refresh_mode, "
            f"scheduling_state, inputs FROM {C}.dynamic_tables WHERE qualified_name = ?",
            [qualified_name],
        ).fetchone()
        if row is None:
            return None
        return DynamicTable(
            Name(row[0], row[1], row[2]), row[3], row[4], row[5], row[6], json.loads(row[7])
        )

    def require(self, name: Name) -> DynamicTable:
        dt = self.get(name.qualified)
        if dt is None:
            raise does_not_exist("Dynamic table", name.qualified)
        return dt

    def record_size(self, name: Name, changed: bool) -> None:
        """Store what SHOW DYNAMIC TABLES reports as the DT's `rows` and `bytes`, from its data
        as it is now; called after each successful refresh (`changed`: it wrote data). A NO_DATA
        refresh wrote nothing: the stored figures stand, and are computed only when missing.

        `bytes` here is the sum of the UTF-8 lengths of every non-NULL value as text, not
        Snowflake's compressed micro-partition size: a documented deviation. Either way a
        refresh that writes nothing leaves both unchanged."""
        qn = name.qualified
        if (
            not changed
            and self._duck.execute(
                f"SELECT 1 FROM {C}.show_sizes z JOIN {C}.dynamic_tables d USING (qualified_name) "
                "WHERE z.qualified_name = ? AND z.created_on = d.created_on",
                [qn],
            ).fetchone()
        ):
            return
        row = self._duck.execute(
            f"SELECT count(*), sum(strlen(CAST(COLUMNS(*) AS VARCHAR))) FROM {name.sql()}"
        ).fetchone()
        counts = [int(value or 0) for value in row or ()]
        self._duck.execute(f"DELETE FROM {C}.show_sizes WHERE qualified_name = ?", [qn])
        self._duck.execute(
            f"INSERT INTO {C}.show_sizes SELECT qualified_name, created_on, ?, ? "
            f"FROM {C}.dynamic_tables WHERE qualified_name = ?",
            [counts[0] if counts else 0, sum(counts[1:]), qn],
        )

    def create_text(self, qualified_name: str) -> str | None:
        """The DT's CREATE statement as it was given."""
        return self._column(qualified_name, "create_text")

    def _column(self, qualified_name: str, column: str) -> str | None:
        """A text column of the DT's row (None without such a DT)."""
        row = self._duck.execute(
            f"SELECT {column} FROM {C}.dynamic_tables WHERE qualified_name = ?",
            [qualified_name],
        ).fetchone()
        return row[0] if row else None

    def all_names(self) -> list[str]:
        rows = self._duck.execute(
            f"SELECT qualified_name FROM {C}.dynamic_tables ORDER BY qualified_name"
        ).fetchall()
        return [r[0] for r in rows]

    def initialized(self, qualified_names: list[str]) -> dict[str, bool]:
        """For the DTs among qualified_names: whether each has refreshed since its creation."""
        rows = self._duck.execute(
            f"""SELECT d.qualified_name, EXISTS (
                SELECT 1 FROM {C}.refresh_history h WHERE h.qualified_name = d.qualified_name
                AND h.state = 'SUCCEEDED' AND h.data_timestamp >= d.created_on)
                OR EXISTS (SELECT 1 FROM {CLONES} c WHERE c.qualified_name = d.qualified_name
                AND c.created_on = d.created_on)
            FROM {C}.dynamic_tables d WHERE list_contains(?, d.qualified_name)""",
            [qualified_names],
        ).fetchall()
        return {r[0]: bool(r[1]) for r in rows}

    # -- the graph -----------------------------------------------------------------------------

    def _reachable(self, start: str, *, upstream: bool, downstream: bool) -> list[str]:
        """DTs reachable from start through DT inputs (start excluded), sorted."""
        edges: dict[str, set[str]] = {}
        rows = self._duck.execute(f"SELECT qualified_name, inputs FROM {C}.dynamic_tables")
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

    def new_graph_version(self, qualified_name: str, now: datetime) -> None:
        self._end_graph_version(qualified_name, now)
        self._duck.execute(
            f"""INSERT INTO {C}.graph_history
            SELECT database_name, schema_name, name, qualified_name, inputs,
                CASE WHEN target_lag = 'DOWNSTREAM' THEN 'DOWNSTREAM' ELSE 'USER_DEFINED' END,
                target_lag_sec, query_text, ?, NULL,
                to_json({{'state': scheduling_state, 'reason_code': reason_code,
                          'reason_message': reason_message}})::VARCHAR
            FROM {C}.dynamic_tables WHERE qualified_name = ?""",
            [now, qualified_name],
        )

    def forget(self, name: Name) -> None:
        """Remove a DT from the catalog (its graph version ends; its refresh history stays)."""
        if self.get(name.qualified) is not None:
            self._end_graph_version(name.qualified, self._clock.now())
            self._duck.execute(
                f"DELETE FROM {C}.dynamic_tables WHERE qualified_name = ?", [name.qualified]
            )

    def _end_graph_version(self, qualified_name: str, now: datetime) -> None:
        self._duck.execute(
            f"UPDATE {C}.graph_history SET valid_to = ? "
            "WHERE qualified_name = ? AND valid_to IS NULL",
            [now, qualified_name],
        )

    # -- scheduling state ----------------------------------------------------------------------

    def suspend(self, qualified_name: str, now: datetime) -> None:
        """ALTER ... SUSPEND: cascades to the DTs downstream (a DT cannot refresh without its
        inputs)."""
        self._set_scheduling(qualified_name, True, now, direct=True)
        self.suspend_downstream(qualified_name, now)

    def resume(self, qualified_name: str, now: datetime) -> None:
        """ALTER ... RESUME: refused while an upstream DT is suspended; resumes the DTs
        downstream that were suspended only because this one was."""
        if suspended := self._suspended_upstream(qualified_name):
            raise sql_error(
                f"Cannot resume dynamic table '{qualified_name}': its upstream dynamic "
                f"table '{suspended}' is suspended. Resume '{suspended}' first.",
                errno=91000,
                sqlstate="22000",
            )
        self._set_scheduling(qualified_name, False, now, direct=True)
        self._resume_downstream(qualified_name, now)

    def _set_scheduling(self, qn: str, suspend: bool, now: datetime, direct: bool) -> None:
        if suspend:
            code, message = (
                ("USER_SUSPENDED", "User suspended")
                if direct
                else ("UPSTREAM_SUSPENDED", "An upstream dynamic table was suspended")
            )
            self._duck.execute(
                f"UPDATE {C}.dynamic_tables SET scheduling_state = 'SUSPENDED', "
                "reason_code = ?, reason_message = ?, last_suspended_on = ? "
                "WHERE qualified_name = ?",
                [code, message, now, qn],
            )
        else:
            self._duck.execute(
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
            if self._reason_code(qn) in _UPSTREAM_REASONS and not self._suspended_upstream(qn)
        ]:
            for qn in resumable:
                self._set_scheduling(qn, False, now, direct=False)
            waiting = [qn for qn in waiting if qn not in resumable]

    def _reason_code(self, qualified_name: str) -> str | None:
        return self._column(qualified_name, "reason_code")

    def _suspended_upstream(self, qualified_name: str) -> str | None:
        """The first suspended DT upstream of qualified_name (by name), if any."""
        for qn in self._reachable(qualified_name, upstream=True, downstream=False):
            up = self.get(qn)
            if up is not None and up.scheduling_state == "SUSPENDED":
                return qn
        return None
