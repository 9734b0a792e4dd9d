"""One bounded read of Snowflake through a tenant's `SnowflakeResource`: the connection is closed
even when the work fails, the private key is checked first, and the caller gives up at a deadline.
The sensor and the checks read through it; what its faults mean to a user is in `faults`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from dagster_snowflake import SnowflakeResource

from dagster_dynamic_tables.errors import SnowflakeDeadlineError
from dagster_dynamic_tables.sql.settings import bounded_reads, load_private_key
from dagster_dynamic_tables.sql.statements import Connection

T = TypeVar("T")

READ_DEADLINE = 40
"""Seconds a platform read (login, statements, logout) may take before the caller gives up on
it: under Dagster's 60-s sensor timeout, above what a healthy read takes (about 1 s)."""


_LOGOUT_AFTER_FAILURE = 1.0


def read_snowflake(
    snowflake: SnowflakeResource,
    work: Callable[[Connection], T],
    *,
    deadline: float = READ_DEADLINE,
) -> T:
    """Run `work` on a connection from the resource, closing it even when `work` fails, and
    give up after `deadline` seconds.

    - The private key file, if any, is read first (`settings.load_private_key`): a file that is
      not a key raises `PrivateKeyError` instead of the connector's `ValueError`.
    - `work` runs with the platform's read timeout on the connection (`settings.bounded_reads`):
      a statement's retries against an endpoint that drops connections end after it.
    - The whole read runs on a daemon thread, and the caller waits at most `deadline` for it:
      past it, `SnowflakeDeadlineError` says whether the login or a statement was under way
      (the thread ends by itself, within the connector's own timeouts). The logout is waited
      for within the same deadline (a second at most after a failure): `work`'s result or
      error is returned, not lost, when the logout hangs (the connector gives it up to 4
      answers of `socket_timeout` each).
    (`SnowflakeResource.get_connection()` does not close its connection when the block raises.)
    """
    key_path = snowflake.private_key_path
    if key_path:
        load_private_key(key_path, snowflake.private_key_password)
    phase = ["logging in to Snowflake"]
    outcome: list[tuple[bool, Any]] = []
    worked = threading.Event()

    def read() -> None:
        try:
            with snowflake.get_connection() as connection:
                phase[0] = "running a statement"
                try:
                    with bounded_reads(connection):
                        outcome.append((True, work(connection)))
                except Exception as error:  # re-raised by the caller, once the connection closes
                    outcome.append((False, error))
                phase[0] = "closing the session"
                worked.set()
        except Exception as error:
            outcome.append((False, error))
        finally:
            worked.set()

    thread = threading.Thread(target=read, name="dagster-dynamic-tables-read", daemon=True)
    started = time.monotonic()
    thread.start()
    worked.wait(deadline)
    if not outcome:
        raise SnowflakeDeadlineError(phase[0], deadline)
    ok, value = outcome[0]
    # The logout takes milliseconds when Snowflake answers. After a success it is waited for
    # within the deadline; after a failure (most often the network's) for a second at most:
    # the connector's logout against a lost endpoint retries for seconds more.
    remaining = max(0.0, deadline - (time.monotonic() - started))
    thread.join(remaining if ok else min(remaining, _LOGOUT_AFTER_FAILURE))
    if not ok:
        raise cast("Exception", value)
    return cast("T", value)
