"""The Snowflake faults the sensor and the checks expect (unreachable, timeout, login, privilege,
warehouse, a private key file that is not a key, a read past its deadline, the local stand-in not
starting), told from the ones they do not, in words that say how to fix them, never with a secret
in them. A fault of the network says what timed out: the login (`login_timeout`,
`socket_timeout`), a statement (the platform's read timeout) or the whole read (its deadline)."""

from __future__ import annotations

from collections.abc import Iterable

from dagster_snowflake import SnowflakeResource
from snowflake.connector import errors as sf_errors

from dagster_dynamic_tables.errors import LocalSetupError, SnowflakeDeadlineError
from dagster_dynamic_tables.sql.settings import (
    PrivateKeyError,
    read_timeout,
)

_AUTHENTICATION_ERRNOS = frozenset({390100, 390101, 390102, 390144, 390318, 390303, 251005, 251006})
_PRIVILEGE_ERRNOS = frozenset({2003, 3001, 2043, 2037})
_TIMEOUT_ERRNOS = frozenset({604, 630, 251011})
_NO_WAREHOUSE_ERRNOS = frozenset({606})
_LOGIN_FAILED_ERRNO = 250001
"""'Could not connect to Snowflake backend after N attempt(s)': the login got no answer."""
_REQUEST_FAILED_ERRNO = 250003
"""'Failed to execute request': a request after the login kept failing until its timeout."""
_CONNECTION_CLASSES: tuple[type[sf_errors.Error], ...] = (
    sf_errors.OperationalError,
    sf_errors.InterfaceError,
    sf_errors.HttpError,
    sf_errors.ServiceUnavailableError,
    sf_errors.GatewayTimeoutError,
    sf_errors.BadGatewayError,
    sf_errors.InternalServerError,
    sf_errors.RequestTimeoutError,
    sf_errors.OtherHTTPRetryableError,
    sf_errors.TooManyRequests,
)


def _redact(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


EXPECTED_FAULTS = (sf_errors.Error, LocalSetupError, PrivateKeyError, SnowflakeDeadlineError)
"""What reading Snowflake may raise that `describe_fault` may know: connector errors, the local
stand-in failing to start, a private key file that is not a key, a read past its deadline."""
Fault = sf_errors.Error | LocalSetupError | PrivateKeyError | SnowflakeDeadlineError


def describe_fault(error: Fault, snowflake: SnowflakeResource) -> str | None:
    """`describe_snowflake_fault`, or the platform's own message for its own faults."""
    if isinstance(error, LocalSetupError):
        return str(error)
    if isinstance(error, PrivateKeyError):
        return f"Dynamic Table state not read: {error}"
    if isinstance(error, SnowflakeDeadlineError):
        return (
            f"Dynamic Table state not read: Snowflake did not answer within {error.seconds:g} s "
            f"while {error.phase} for {_where(snowflake)} ({_timeouts(snowflake)}). Fix: check "
            "the network path to Snowflake (proxy, firewall, load balancer) and "
            "SNOWFLAKE_ACCOUNT; the next tick tries again."
        )
    return describe_snowflake_fault(error, snowflake)


def _where(snowflake: SnowflakeResource) -> str:
    return f"account {snowflake.account!r} as user {snowflake.user!r}"


def _timeouts(snowflake: SnowflakeResource) -> str:
    """The timeouts the connection ran with, as the settings name them."""
    extra = snowflake.additional_snowflake_connection_args or {}

    def seconds(value: object) -> str:
        return "unset (the connector's default)" if value is None else f"{value} s"

    login = snowflake.login_timeout or extra.get("login_timeout")
    network = snowflake.network_timeout or extra.get("network_timeout")
    statements = read_timeout(None if network is None else int(network))
    return (
        f"SNOWFLAKE_LOGIN_TIMEOUT {seconds(login)}, SNOWFLAKE_SOCKET_TIMEOUT "
        f"{seconds(extra.get('socket_timeout'))}, statements {statements} s"
    )


def describe_snowflake_fault(error: sf_errors.Error, snowflake: SnowflakeResource) -> str | None:
    """A SkipReason text for a fault the sensor expects, or None for one it does not."""
    errno = error.errno
    sqlstate = error.sqlstate or ""
    detail = _redact(
        f"{type(error).__name__} {errno}: {error.raw_msg or 'no message'}".strip(),
        (snowflake.password, snowflake.private_key, snowflake.private_key_password),
    )
    where = _where(snowflake)
    if errno in _AUTHENTICATION_ERRNOS or sqlstate.startswith("28"):
        problem = f"Snowflake refused the login for {where}"
        fix = "check SNOWFLAKE_USER and SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH"
    elif errno in _PRIVILEGE_ERRNOS or sqlstate == "42501":
        problem = f"Snowflake denied access to the Dynamic Tables' metadata for {where}"
        fix = (
            "grant the role USAGE on the databases and schemas and MONITOR on the Dynamic Tables "
            "(GRANT MONITOR ON ALL DYNAMIC TABLES IN SCHEMA <db>.<schema> TO ROLE <role>), "
            "or set SNOWFLAKE_ROLE to a role that has them"
        )
    elif errno == _LOGIN_FAILED_ERRNO:
        problem = (
            f"cannot reach Snowflake at {where}: the login did not complete "
            f"({_timeouts(snowflake)}: the endpoint did not answer in time, or refused the "
            "connection)"
        )
        fix = (
            "check SNOWFLAKE_ACCOUNT and the network path to Snowflake (proxy, firewall); "
            "locally, `uv run dynamic-tables local start` starts the stand-in"
        )
    elif errno == _REQUEST_FAILED_ERRNO:
        problem = (
            f"a statement got no answer from Snowflake at {where} ({_timeouts(snowflake)}: the "
            "connection was lost after the login and retries ran out)"
        )
        fix = "check the network path to Snowflake (proxy, firewall); the next tick tries again"
    elif errno in _TIMEOUT_ERRNOS or isinstance(
        error, sf_errors.RequestTimeoutError | sf_errors.GatewayTimeoutError
    ):
        problem = f"Snowflake timed out for {where}"
        fix = "check the network and the warehouse's load; the next tick tries again"
    elif errno in _NO_WAREHOUSE_ERRNOS:
        problem = f"Snowflake has no running warehouse for {where}"
        fix = "set SNOWFLAKE_WAREHOUSE to a warehouse the role may use"
    elif isinstance(error, _CONNECTION_CLASSES) or 250000 <= errno < 252000:
        problem = f"cannot reach Snowflake at {where}"
        fix = (
            "check SNOWFLAKE_ACCOUNT and the network (locally: `uv run dynamic-tables local "
            "start` starts the stand-in)"
        )
    else:
        return None
    return f"Dynamic Table state not read: {problem} ({detail}). Fix: {fix}."
