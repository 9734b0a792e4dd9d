"""The Snowflake faults the sensor and the checks expect (unreachable, timeout, login, privilege,
warehouse, the local stand-in not starting), told from the ones they do not, in words that say how
to fix them, never with a secret in them."""

from __future__ import annotations

from collections.abc import Iterable

from dagster_snowflake import SnowflakeResource
from snowflake.connector import errors as sf_errors

from dagster_dynamic_tables.local import LocalSetupError

_AUTHENTICATION_ERRNOS = frozenset({390100, 390101, 390102, 390144, 390318, 390303, 251005, 251006})
_PRIVILEGE_ERRNOS = frozenset({2003, 3001, 2043, 2037})
_TIMEOUT_ERRNOS = frozenset({604, 630, 251011})
_NO_WAREHOUSE_ERRNOS = frozenset({606})
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


EXPECTED_FAULTS = (sf_errors.Error, LocalSetupError)
"""What reading Snowflake may raise that `describe_fault` may know: connector errors, and the
local stand-in failing to start."""


def describe_fault(
    error: sf_errors.Error | LocalSetupError, snowflake: SnowflakeResource
) -> str | None:
    """`describe_snowflake_fault`, or the stand-in's own message when it could not start."""
    if isinstance(error, LocalSetupError):
        return str(error)
    return describe_snowflake_fault(error, snowflake)


def describe_snowflake_fault(error: sf_errors.Error, snowflake: SnowflakeResource) -> str | None:
    """A SkipReason text for a fault the sensor expects, or None for one it does not."""
    errno = error.errno
    sqlstate = error.sqlstate or ""
    detail = _redact(
        f"{type(error).__name__} {errno}: {error.raw_msg or 'no message'}".strip(),
        (snowflake.password, snowflake.private_key, snowflake.private_key_password),
    )
    where = f"account {snowflake.account!r} as user {snowflake.user!r}"
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
