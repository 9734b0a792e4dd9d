"""Exceptions: every exception class of the package, under one base class
(`LocalSnowflakeError`), and the SQL errors the server returns (the connector's own class).

Nothing heavy is imported at the top: `server_status` and `stop_server` raise this module's
exceptions and must not pay for the Snowflake connector or Starlette.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.responses import JSONResponse


class LocalSnowflakeError(Exception):
    """Base class for every error raised by local_snowflake's Python API."""


class ServerStartError(LocalSnowflakeError):
    """The server could not be started, or something else holds its port."""


class DataDirDamagedError(LocalSnowflakeError):
    """The data directory cannot be served as it is (see damage.py)."""

    def __init__(self, data_dir: Path, what: str) -> None:
        super().__init__(
            f"the local-snowflake data directory {data_dir} is damaged: {what}. Nothing was "
            "changed. To recover, stop what uses it and remove (or move away) the data "
            f"directory, e.g. `rm -r '{data_dir}'`, then start again: in this repository "
            "`uv run dynamic-tables local start` rebuilds every tenant's tables, seed rows and "
            "Dynamic Tables (rows added by hand since are lost); or restore the file from a "
            "backup."
        )


class HttpError(LocalSnowflakeError):
    """A request the server answers with an error: Snowflake's JSON shape, HTTP status_code
    (see wire.py)."""

    def __init__(self, code: str, message: str, status_code: int = 200) -> None:
        super().__init__(message)
        self.status_code, self.code, self.message = status_code, code, message

    def response(self) -> JSONResponse:
        from starlette.responses import JSONResponse

        return JSONResponse(
            {
                "data": {"errorCode": self.code, "internalError": False},
                "code": self.code,
                "message": self.message,
                "success": False,
            },
            status_code=self.status_code,
        )


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
