"""Fixtures of the deployment tests: one ecommerce code server and one PostgreSQL server per
module. The harness (image environment without Docker, code server, PostgreSQL) is in
`tests/support/` (image, code_server, postgres)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.code_server import CodeServer, run_code_server
from support.postgres import Postgres, run_postgres


@pytest.fixture(scope="module")
def code_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeServer]:
    """One ecommerce code server shared by a module's tests (starting one costs seconds)."""
    with run_code_server("ecommerce", tmp_path_factory.mktemp("code-server")) as server:
        yield server


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with run_postgres() as server:
        yield server
