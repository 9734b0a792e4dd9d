"""Fixtures for the local-snowflake tests: one server for the session (from the package's
pytest plugin), one fresh database per test so tests do not see each other's tables.

The `sf` fixture bundles a cursor on that database with small helpers (`support.stand_in_cursor`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator

import pytest
from snowflake.connector import SnowflakeConnection
from support.stand_in_cursor import Sf

_ids = itertools.count()


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
