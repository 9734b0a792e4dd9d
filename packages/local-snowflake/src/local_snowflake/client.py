"""Connecting to the stand-in with the real Snowflake connector."""

from __future__ import annotations

from typing import Any

import snowflake.connector

from local_snowflake.process import DEFAULT_PORT


def connection_args(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> dict[str, Any]:
    """Connector arguments that point the real connector at the stand-in.

    Pass them as `additional_snowflake_connection_args` of dagster-snowflake's
    `SnowflakeResource` (which has no host/port fields); account, user and password may be
    anything.
    """
    return {
        "host": host,
        "port": port,
        "protocol": "http",
        # the connector otherwise posts telemetry to Snowflake's servers
        "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        # no probing of cloud metadata endpoints (169.254.169.254, metadata.google.internal, ...)
        # to report the client's platform at login: a local stand-in is not in a cloud
        # (connect ~20-25 ms -> ~3 ms here)
        "platform_detection_timeout_seconds": 0.0,
        # fail fast instead of retrying for minutes when the server is down
        "login_timeout": 10,
        "network_timeout": 60,
        "socket_timeout": 60,
    }


def connect(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, **kwargs: Any
) -> snowflake.connector.SnowflakeConnection:
    """A real `snowflake.connector` connection to the stand-in; kwargs go to the connector
    (database, schema, ...). Account, user and password default to placeholders."""
    args: dict[str, Any] = {
        "account": "local",
        "user": "local",
        "password": "local",
        **connection_args(host, port),
        **kwargs,
    }
    # the connector's connect() is typed with an unknown **kwargs; the class is not
    return snowflake.connector.SnowflakeConnection(**args)
