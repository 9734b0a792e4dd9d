"""Loopback stand-ins for a Snowflake account endpoint that misbehaves, and what a tenant's
sensor tick and check run say against one. Nothing leaves the machine.

The kinds (`KINDS`): `silent` (accepts every connection, never sends a byte: a broken proxy or
load balancer), `dropping` (answers the login as Snowflake does, then closes the connection and
refuses new ones), `refusing` (a closed port) and `stalling` (answers the login, then accepts
connections and never answers). `aimed_at` sends a tenant's resource, with its timeouts, to one.

Used by `tests/core/snowflake_io/test_timeouts.py` (each ends, and says what timed out) and
`tests/benchmarks/bench_timeouts.py` (how long each takes with the default settings).
`at_once` runs several reads against endpoints of their own side by side: they wait on sockets
and timers, not on the CPU, so together they take about as long as the longest.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import dagster as dg
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.freshness.sensor import build_freshness_sensor
from dagster_snowflake import SnowflakeResource

from support.check_runs import execute_health_checks

K = TypeVar("K")
T = TypeVar("T")

TENANT = Tenant(
    "shop",
    dynamic_tables=(
        DynamicTable(
            name="totals",
            table="SHOP.MART.TOTALS",
            target_lag="1 minute",
            warehouse="WH",
            query="SELECT 1 AS n",
        ),
    ),
)
"""The tenant whose resource is sent to the endpoints (one Dynamic Table)."""

LOGIN_RESPONSE = json.dumps(
    {
        "data": {
            "token": "session-token",
            "masterToken": "master-token",
            "validityInSeconds": 3600,
            "masterValidityInSeconds": 14400,
            "sessionId": 1,
            "displayUserName": "DAGSTER",
            "serverVersion": "9.40.0",
            # as Snowflake answers: the connector then sends its telemetry when it closes
            "parameters": [{"name": "CLIENT_TELEMETRY_ENABLED", "value": True}],
            "sessionInfo": {
                "databaseName": None,
                "schemaName": None,
                "warehouseName": None,
                "roleName": "PUBLIC",
            },
        },
        "code": None,
        "message": None,
        "success": True,
    }
).encode()
KINDS = ("silent", "dropping", "refusing", "stalling")


def read_request(conn: socket.socket) -> str | None:
    """The request line of one HTTP request (its body read and dropped), or None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return lines[0].decode()


class Endpoint:
    """A loopback stand-in for an account endpoint that misbehaves (see the module docstring).
    `requests` lists the request lines it read; `port` is where to send the connector."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.requests: list[str] = []
        self.accepted = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._logged_in = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        if kind == "refusing":
            self._server.close()
        else:
            self._server.settimeout(0.1)
            self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn = self._server.accept()[0]
            except TimeoutError:
                continue
            except OSError:  # closed: the dropping endpoint refuses from now on
                return
            self.accepted += 1
            self._held.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        if self.kind == "silent" or self._logged_in:
            return  # accepted, never answered
        conn.settimeout(10)
        try:
            line = read_request(conn)
        except OSError:
            return
        if line is None:
            return
        self.requests.append(line)
        if "/session/v1/login-request" not in line:
            return
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        conn.sendall(f"{head}{len(LOGIN_RESPONSE)}\r\n\r\n".encode() + LOGIN_RESPONSE)
        self._logged_in = True
        if self.kind == "dropping":
            conn.close()
            self._stop.set()
            self._server.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._server.close()
        for conn in self._held:
            conn.close()


@contextmanager
def endpoint(kind: str) -> Iterator[Endpoint]:
    """The endpoint while the block runs; then, once it is closed, the threads the block left
    (the platform's read, abandoned at its deadline; the connector's cancel timer and logout)
    are waited for, so that what they raise is reported in the test that started them."""
    before = set(threading.enumerate())
    served = Endpoint(kind)
    try:
        yield served
    finally:
        served.close()
        for thread in set(threading.enumerate()) - before:
            thread.join(timeout=60)


def aimed_at(resource: SnowflakeResource, port: int) -> SnowflakeResource:
    """The tenant's resource, with its timeouts, sent to a loopback port instead of
    `<account>.snowflakecomputing.com` (no traffic leaves the machine: plain HTTP, and no cloud
    platform detection)."""
    return SnowflakeResource(
        account=resource.account,
        user=resource.user,
        password="hunter2secret",
        autocommit=True,
        login_timeout=resource.login_timeout,
        network_timeout=resource.network_timeout,
        additional_snowflake_connection_args={
            **(resource.additional_snowflake_connection_args or {}),
            **LOOPBACK,
            "port": port,
        },
    )


LOOPBACK: dict[str, Any] = {
    "host": "127.0.0.1",
    "protocol": "http",
    "platform_detection_timeout_seconds": 0.0,
    "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
}


def tick(resource: SnowflakeResource) -> str:
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"snowflake": resource})
        skipped = build_freshness_sensor(TENANT)(context)
    assert isinstance(skipped, dg.SkipReason), skipped
    message = skipped.skip_message or ""
    assert "hunter2secret" not in message
    return message


def check_run(resource: SnowflakeResource) -> str:
    """Execute the tenant's health checks as the UI's "Execute checks" does; the step failure's
    description (unknown health fails the run, saying why)."""
    result = execute_health_checks(TENANT, resource)
    failures = [event for event in result.all_events if event.is_step_failure]
    assert len(failures) == 1, failures
    data = failures[0].step_failure_data
    assert data is not None
    assert data.user_failure_data is not None, data
    description = data.user_failure_data.description or ""
    assert "hunter2secret" not in description
    return description


def at_once(
    runs: Mapping[K, Callable[[], T]], width: int, timeout: float
) -> dict[K, T | BaseException]:
    """`runs`, `width` at a time (each on a thread of its own, in the order given: longest
    first), and what each returned or raised (a failed assert included), for the test that reads
    it to re-raise. A run not ended `timeout` seconds after the first started is a
    `TimeoutError` naming it. Then, as `endpoint` does for one read, the threads the runs left
    (reads abandoned at their deadline, the connector's cancel timers and logouts) are waited
    for, within the same `timeout`: a run closes its `Endpoint` without waiting for them, since
    `endpoint` would wait for the other runs' threads as well.

    `width` bounds what runs together: the reads wait on sockets and timers, but a login that
    answers within `socket_timeout` needs the CPU in time (a second, in the timeout tests)."""
    outcomes: dict[K, T | BaseException] = {}
    slots = threading.Semaphore(width)
    before = set(threading.enumerate())

    def run(key: K, work: Callable[[], T]) -> None:
        try:
            outcomes[key] = work()
        except BaseException as error:
            outcomes[key] = error
        finally:
            slots.release()

    deadline = time.monotonic() + timeout
    threads: dict[K, threading.Thread] = {}
    for key, work in runs.items():
        if not slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            break
        threads[key] = threading.Thread(
            target=run, args=(key, work), name=f"at-once {key}", daemon=True
        )
        threads[key].start()
    for key in runs:
        thread = threads.get(key)
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        if thread is None or thread.is_alive():
            outcomes[key] = TimeoutError(f"{key} not ended within {timeout:.0f} s")
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
    return outcomes
