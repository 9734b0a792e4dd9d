"""Exceptions: one base class for the package, and the SQL errors the server returns."""

from __future__ import annotations


class LocalSnowflakeError(Exception):
    """Base class for every error raised by local_snowflake's Python API."""


class ServerStartError(LocalSnowflakeError):
    """The server could not be started, or something else holds its port."""


def sql_error(msg: str, *, errno: int = 2003, sqlstate: str = "42S02") -> Exception:
    """An error the server returns to the client, as the real connector's ProgrammingError.

    fakesnow's server turns ProgrammingError into Snowflake's JSON error response (code = errno,
    sqlState, message), and the connector raises it again on the client side. (The connector is
    imported here, not at the top: `server_status` and `stop_server` raise this module's
    exceptions and must not pay for it.)
    """
    import snowflake.connector.errors

    return snowflake.connector.errors.ProgrammingError(msg=msg, errno=errno, sqlstate=sqlstate)


def unsupported(what: str) -> Exception:
    """Snowflake's 'Unsupported feature' error (errno 2, SQLSTATE 0A000), naming what is missing."""
    return sql_error(
        f"SQL compilation error:\nUnsupported feature '{what}': "
        "not supported by local-snowflake (the embedded Snowflake stand-in).",
        errno=2,
        sqlstate="0A000",
    )


def does_not_exist(kind: str, name: str) -> Exception:
    return sql_error(f"SQL compilation error:\n{kind} '{name}' does not exist or not authorized.")


def already_exists(name: str) -> Exception:
    return sql_error(
        f"SQL compilation error:\nObject '{name}' already exists.", errno=2002, sqlstate="42710"
    )
