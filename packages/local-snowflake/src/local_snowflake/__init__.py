"""local_snowflake: an embedded Snowflake stand-in (fakesnow + DuckDB) with Dynamic Tables.

Callers import from here. The names are loaded on first use (PEP 562 `__getattr__`): managing
the server (`ensure_server`, `server_status`, `stop_server`, `DEFAULT_PORT`) needs only the
standard library, so `dynamic-tables local status|stop` never import the Snowflake connector
(about 1.3 s here), fakesnow or DuckDB; `connect` and `connection_args` import the connector
when first used. The server itself (`local_snowflake.server`, `local_snowflake.runner`) is
imported only by the `local-snowflake serve` process.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local_snowflake.client import connect, connection_args
    from local_snowflake.errors import LocalSnowflakeError, ServerStartError
    from local_snowflake.process import (
        DEFAULT_PORT,
        ServerInfo,
        ensure_server,
        server_status,
        stop_server,
    )

_MODULES = {
    "DEFAULT_PORT": "local_snowflake.process",
    "LocalSnowflakeError": "local_snowflake.errors",
    "ServerInfo": "local_snowflake.process",
    "ServerStartError": "local_snowflake.errors",
    "connect": "local_snowflake.client",
    "connection_args": "local_snowflake.client",
    "ensure_server": "local_snowflake.process",
    "server_status": "local_snowflake.process",
    "stop_server": "local_snowflake.process",
}

__all__ = [
    "DEFAULT_PORT",
    "LocalSnowflakeError",
    "ServerInfo",
    "ServerStartError",
    "connect",
    "connection_args",
    "ensure_server",
    "server_status",
    "stop_server",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'local_snowflake' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
