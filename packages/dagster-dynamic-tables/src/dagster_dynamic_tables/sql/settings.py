"""Snowflake settings from the environment, shared by the tenants' resources and `plan` (no
Dagster, no connector import: `plan` and the CLI use them without either).

- `find_setting`: `<SLUG>_SNOWFLAKE_<NAME>` if set, else `SNOWFLAKE_<NAME>`.
- `timeout_settings`: the connector's `login_timeout`, `socket_timeout`, `network_timeout`.
- `load_private_key`: the key file of `SNOWFLAKE_PRIVATE_KEY_PATH`, read before any connection,
  so that a file that is not a key is one clear error (never the key, never the password).
- `bounded_reads`: the network timeout of the platform's own metadata reads (sensor, checks,
  plan) on an open connection.

Why the platform's reads get their own network timeout: without `network_timeout` the
connector retries a request that fails (connection reset, refused) for ever, with a backoff of up
to 16 s; an endpoint that accepts the login and then drops the connection kept a sensor tick
busy for more than 590 s. `network_timeout` ends those retries, but it also cancels any statement
that runs longer, and the tenant's `snowflake` resource runs the tenant's own assets, whose
statements may legitimately run for hours. So the resource keeps `SNOWFLAKE_NETWORK_TIMEOUT`
(none by default) for those, and the platform's statements (SHOW and INFORMATION_SCHEMA reads,
short by design) run with `READ_STATEMENT_TIMEOUT` (or the setting, when smaller) on the same
connection, set for the duration of the read (`bounded_reads`).
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from dagster_dynamic_tables.errors import PrivateKeyError, SnowflakeSettingsError

__all__ = [
    "DEFAULT_LOGIN_TIMEOUT",
    "DEFAULT_SOCKET_TIMEOUT",
    "READ_BACKOFF_CAP",
    "READ_REQUEST_TIMEOUT",
    "READ_STATEMENT_TIMEOUT",
    "TIMEOUT_SETTINGS",
    "PrivateKeyError",
    "Setting",
    "bounded_reads",
    "find_setting",
    "load_private_key",
    "read_timeout",
    "statement_timeout",
    "timeout_settings",
]

DEFAULT_LOGIN_TIMEOUT = 10
DEFAULT_SOCKET_TIMEOUT = 15
READ_STATEMENT_TIMEOUT = 15
"""Seconds after which a platform statement (SHOW, INFORMATION_SCHEMA reads) stops retrying and
is cancelled."""
READ_REQUEST_TIMEOUT = 5
"""Seconds after which the platform's other requests during a read stop retrying: above all the
cancel request the connector's timer sends when a statement times out, which the statement's
cursor waits for."""
READ_BACKOFF_CAP = 2
"""Seconds the platform's reads wait at most between two tries of a request."""
_STATEMENT_TIMEOUT: ContextVar[int | None] = ContextVar("statement_timeout", default=None)
# (setting, connector argument, default): login_timeout stops further login attempts, but the
# attempt under way waits for its answer up to socket_timeout, so a silent endpoint ends a login
# after socket_timeout (one attempt) and at worst after login_timeout + socket_timeout.
# network_timeout also cancels any statement that runs longer, so it has no default for the
# tenant's own assets (see the module docstring for the platform's reads).
TIMEOUT_SETTINGS: tuple[tuple[str, str, int | None], ...] = (
    ("LOGIN_TIMEOUT", "login_timeout", DEFAULT_LOGIN_TIMEOUT),
    ("SOCKET_TIMEOUT", "socket_timeout", DEFAULT_SOCKET_TIMEOUT),
    ("NETWORK_TIMEOUT", "network_timeout", None),
)
_KEY_FILE_LIMIT = 64 * 1024
"""Bytes: an RSA 4096 PEM key is about 3.3 KB; a larger file is not a key."""


@dataclass(frozen=True)
class Setting:
    """One Snowflake setting found in the environment: the variable that held it and its value."""

    variable: str
    value: str


def find_setting(slug: str, name: str, env: Mapping[str, str]) -> Setting | None:
    """`<SLUG>_SNOWFLAKE_<NAME>` if set and not empty, else `SNOWFLAKE_<NAME>`, else None."""
    for variable in (f"{slug.upper()}_SNOWFLAKE_{name}", f"SNOWFLAKE_{name}"):
        value = env.get(variable, "").strip()
        if value:
            return Setting(variable, value)
    return None


def timeout_settings(slug: str, env: Mapping[str, str]) -> dict[str, int]:
    """The connector's `login_timeout`, `socket_timeout` and (if set) `network_timeout`, from
    `<SLUG>_SNOWFLAKE_<NAME>` or `SNOWFLAKE_<NAME>`, else the defaults."""
    timeouts: dict[str, int] = {}
    for name, argument, default in TIMEOUT_SETTINGS:
        setting = find_setting(slug, name, env)
        if setting is None:
            if default is not None:
                timeouts[argument] = default
            continue
        if not setting.value.isdigit() or int(setting.value) < 1:
            unset = f"use the default {default}" if default is not None else "have none"
            raise SnowflakeSettingsError(
                f"{setting.variable}={setting.value!r} is not a number of seconds. Fix: set it "
                f"to a whole number of seconds, 1 or more, or unset it to {unset}."
            )
        timeouts[argument] = int(setting.value)
    return timeouts


def load_private_key(
    path: str,
    password: str | None,
    *,
    path_variable: str = "SNOWFLAKE_PRIVATE_KEY_PATH",
    password_variable: str = "SNOWFLAKE_PRIVATE_KEY_PASSWORD",
) -> bytes:
    """The key at `path` as unencrypted PKCS#8 DER (what the connector's `private_key` takes).

    Accepts what dagster-snowflake accepts: a PEM private key, encrypted with `password` or not,
    or the same PEM encoded once more in base64. The file is opened without blocking and must be
    a regular file of at most 64 KiB (a FIFO or `/dev/zero` is refused, not waited on).
    Raises `PrivateKeyError` naming the file and the variables, never the key or the password.
    """
    data = _read_key_file(path, path_variable)
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError as e:  # pragma: no cover - the connector depends on cryptography
        raise PrivateKeyError("reading a private key needs the `cryptography` package") from e
    secret = password.encode() if password else None
    reason = ""
    for candidate in (data, _unbase64(data)):
        if candidate is None:
            continue
        try:
            key = serialization.load_pem_private_key(candidate, password=secret)
        except TypeError as e:  # encrypted without a password, or a password for a plain key
            encrypted = "not encrypted" not in str(e)
            reason = (
                f"it is encrypted and {password_variable} is not set"
                if encrypted
                else f"it is not encrypted, but {password_variable} is set"
            )
            fix = (
                f"set {password_variable} to the key's password"
                if encrypted
                else f"unset {password_variable}"
            )
            raise _key_error(path, path_variable, reason, fix) from None
        except ValueError as e:
            if "incorrect password" in str(e).lower():
                raise _key_error(
                    path,
                    path_variable,
                    f"the password in {password_variable} does not decrypt it",
                    f"set {password_variable} to the key's password",
                ) from None
            reason = "it is not a PEM private key"
            continue
        except Exception:  # cryptography raises others for some malformed keys
            reason = "it is not a PEM private key"
            continue
        return key.private_bytes(
            encoding=serialization.Encoding.DER,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
    raise _key_error(path, path_variable, reason, _NEW_KEY_FIX) from None


_NEW_KEY_FIX = (
    "point it at the PEM file of the key pair registered for the user ('-----BEGIN PRIVATE "
    "KEY-----' or '-----BEGIN ENCRYPTED PRIVATE KEY-----'; `openssl genrsa 2048 | openssl pkcs8 "
    "-topk8 -nocrypt -out rsa_key.p8` makes one)"
)


def _key_error(path: str, variable: str, reason: str, fix: str) -> PrivateKeyError:
    return PrivateKeyError(
        f"The private key file at {path} ({variable}) could not be read as a private key: "
        f"{reason}. Fix: {fix}."
    )


def _read_key_file(path: str, variable: str) -> bytes:
    def refuse(reason: str, fix: str = _NEW_KEY_FIX) -> PrivateKeyError:
        return _key_error(path, variable, reason, fix)

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise refuse("no such file") from None
    except IsADirectoryError:
        raise refuse("it is a directory") from None
    except PermissionError:
        raise refuse(
            "permission denied", "let the user the code server runs as read the file"
        ) from None
    except OSError as e:
        raise refuse(e.strerror or "it cannot be opened") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise refuse("it is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise refuse("it is not a regular file")
        if info.st_size == 0:
            raise refuse("the file is empty")
        if info.st_size > _KEY_FILE_LIMIT:
            raise refuse(f"the file has {info.st_size} bytes, more than a key's 64 KiB at most")
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read(_KEY_FILE_LIMIT + 1)
    finally:
        os.close(fd)


def _unbase64(data: bytes) -> bytes | None:
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None


def read_timeout(network_timeout: int | None) -> int:
    """The statement timeout of the platform's reads on a connection with `network_timeout`."""
    if network_timeout is None:
        return READ_STATEMENT_TIMEOUT
    return min(network_timeout, READ_STATEMENT_TIMEOUT)


def statement_timeout() -> int | None:
    """The statement timeout of the read under way on this thread (`bounded_reads`), else None:
    `statements.run` passes it to each statement."""
    return _STATEMENT_TIMEOUT.get()


@contextmanager
def bounded_reads(
    connection: Any, *, request_seconds: int = READ_REQUEST_TIMEOUT
) -> Iterator[None]:
    """While the block runs, the platform's statements on the open connector `connection` stop
    retrying, and are cancelled, after `READ_STATEMENT_TIMEOUT` (`statement_timeout()`, which
    `statements.run` passes to each), its other requests stop retrying after `request_seconds`
    (both: or the connection's own `network_timeout`, when smaller), and no request waits more
    than `READ_BACKOFF_CAP` seconds between two tries.

    Why both: when a statement times out, the connector's timer sends a cancel request, and the
    statement's cursor waits for it when it closes; that request retries for the connection's
    `network_timeout`. Statements run without `statement_timeout()` (plan's) are bounded by
    `request_seconds` alone: plan passes `READ_STATEMENT_TIMEOUT`.

    The connector reads `network_timeout` and its backoff from the connection for each request,
    and takes them only as `connect()` arguments: they are set on the connection for the block
    and restored after. Without the cap, its backoff (up to 16 s, random) makes a request
    against an endpoint that refuses connections end anywhere between its timeout and 16 s
    later. `tests/core/snowflake_io/test_timeouts.py` runs this against endpoints that drop or
    refuse connections, so a connector that stops honouring it fails there.
    """
    if not hasattr(connection, "_network_timeout") or not hasattr(connection, "_backoff_policy"):
        yield  # not a connector connection
        return
    from snowflake.connector.backoff_policies import mixed_backoff

    # The connector has no public setters: `_network_timeout` is what its `network_timeout`
    # property returns, `_backoff_policy` what each request's retries draw their waits from
    # (snowflake-connector-python 4.x; `connect(backoff_policy=...)` sets the same attribute).
    current: int | None = connection.network_timeout
    policy = connection._backoff_policy
    token = _STATEMENT_TIMEOUT.set(read_timeout(current))
    connection._network_timeout = (
        request_seconds if current is None else min(current, request_seconds)
    )
    connection._backoff_policy = mixed_backoff(cap=READ_BACKOFF_CAP)
    try:
        yield
    finally:
        connection._network_timeout = current
        connection._backoff_policy = policy
        _STATEMENT_TIMEOUT.reset(token)
