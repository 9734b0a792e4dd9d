"""Snowflake resources for tests against the embedded stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster_snowflake import SnowflakeResource

from support.processes import free_port


class CountingSnowflakeResource(SnowflakeResource):
    """Appends a line to `login_log` for every connection it opens (one login each): a file, so
    the count survives Dagster copying the resource for each step."""

    login_log: str

    @contextmanager
    def get_connection(self, raw_conn: bool = True) -> Iterator[Any]:
        with Path(self.login_log).open("a") as log:
            log.write("login\n")
        with super().get_connection(raw_conn=raw_conn) as conn:
            yield conn


def counting_resource(log: Path, connection_args: dict[str, Any]) -> CountingSnowflakeResource:
    """A resource on the stand-in (`local_snowflake_connection_args`) counting its logins."""
    return CountingSnowflakeResource(
        account="local",
        user="local",
        password="local",
        autocommit=True,
        additional_snowflake_connection_args=connection_args,
        login_log=str(log),
    )


def logins(log: Path) -> int:
    """How many connections a `CountingSnowflakeResource` with this log opened."""
    return len(log.read_text().split()) if log.exists() else 0


def unreachable_resource(password: str) -> SnowflakeResource:
    """A resource whose login finds nothing listening (a free port), giving up after 3 s."""
    return SnowflakeResource(
        account="local",
        user="local",
        password=password,
        autocommit=True,
        additional_snowflake_connection_args={
            "host": "127.0.0.1",
            "port": free_port(),
            "protocol": "http",
            "login_timeout": 3,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        },
    )
