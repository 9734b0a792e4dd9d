"""local_snowflake: an embedded Snowflake stand-in (fakesnow + DuckDB) with Dynamic Tables.

Callers import from here. The server itself (`local_snowflake.server`, `local_snowflake.runner`)
is imported only by the `local-snowflake serve` process, so importing this package stays light
and side-effect free.
"""

from local_snowflake.client import DEFAULT_PORT, connect, connection_args
from local_snowflake.errors import LocalSnowflakeError, ServerStartError
from local_snowflake.process import ServerInfo, ensure_server, server_status, stop_server

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
