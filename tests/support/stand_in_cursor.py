"""A cursor on a test's own stand-in database (schema S), with small helpers: rows, dicts, one
value, running the scheduler, a Dynamic Table's refresh history and its DYNAMIC_TABLES() row."""

from __future__ import annotations

from typing import Any

from snowflake.connector.cursor import SnowflakeCursor


class Sf:
    """A cursor on the test's own database (schema S) and helpers over it."""

    def __init__(self, cur: SnowflakeCursor, database: str) -> None:
        self.cur = cur
        self.db = database

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        self.cur.execute(sql)
        return [tuple(r) for r in self.cur.fetchall()]

    def dicts(self, sql: str) -> list[dict[str, Any]]:
        self.cur.execute(sql)
        names = [d.name for d in self.cur.description]
        return [dict(zip(names, r, strict=True)) for r in self.cur.fetchall()]

    def one(self, sql: str) -> Any:
        result = self.rows(sql)
        assert len(result) == 1, result
        assert len(result[0]) == 1, result
        return result[0][0]

    def run_scheduler(self, advance_seconds: float = 0) -> str:
        if advance_seconds:
            self.cur.execute(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK({advance_seconds})")
        return str(self.one(f"SELECT SYSTEM$LOCAL_SNOWFLAKE_RUN_SCHEDULER('{self.db}')"))

    def history(self, name: str) -> list[dict[str, Any]]:
        """The refresh history of one DT of this database (schema S), oldest first."""
        return self.dicts(
            f"SELECT * FROM TABLE({self.db}.INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY("
            f"NAME => '{self.db}.S.{name}', RESULT_LIMIT => 10000)) ORDER BY DATA_TIMESTAMP"
        )

    def dynamic_table(self, name: str) -> dict[str, Any]:
        result = self.dicts(
            f"SELECT * FROM TABLE({self.db}.INFORMATION_SCHEMA.DYNAMIC_TABLES("
            f"NAME => '{self.db}.S.{name}'))"
        )
        assert len(result) == 1, result
        return result[0]
