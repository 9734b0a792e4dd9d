"""Fixtures for the local-snowflake tests: one server for the session (from the package's
pytest plugin), one fresh database per test so tests do not see each other's tables.

The `sf` fixture bundles a cursor on that database with small helpers (tests import nothing
from here: the root config uses --import-mode=importlib)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from snowflake.connector import SnowflakeConnection
from snowflake.connector.cursor import SnowflakeCursor

_ids = itertools.count()


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


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^A-Za-z0-9]", "_", request.node.name).upper()[:40]
    return f"T{next(_ids)}_{name}"


@pytest.fixture
def conn(
    local_snowflake_connect: Callable[..., SnowflakeConnection], database: str
) -> SnowflakeConnection:
    return local_snowflake_connect(database=database, schema="S")


@pytest.fixture
def sf(conn: SnowflakeConnection, database: str) -> Iterator[Sf]:
    with conn.cursor() as cursor:
        yield Sf(cursor, database)
