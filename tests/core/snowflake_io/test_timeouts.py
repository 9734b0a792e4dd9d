"""Login and network timeouts of a tenant's Snowflake connection: every tick, check run and plan
ends, and says what timed out, against endpoints that misbehave.

With the connector's defaults, an account endpoint that accepts connections and never answers kept a
sensor tick busy for about 121 s (login_timeout 120 s, 60 s per answer); one that answers the
login and then drops the connection and refuses new ones kept it busy for ever (the connector
retries a request without end when `network_timeout` is not set). Four loopback endpoints stand
for them (`Endpoint`): `silent` (accepts, never answers), `dropping` (answers the login like
Snowflake, then closes the connection and refuses new ones), `refusing` (a closed port) and
`stalling` (answers the login, then accepts and never answers). Nothing leaves the machine.
`tests/benchmarks/bench_timeouts.py` prints how long each takes with the default settings; these
tests only check that each ends (pytest-timeout fails a hang) and what it says.
"""

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.definitions.resources import build_snowflake_resource
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.errors import PlanError, SnowflakeDeadlineError, SnowflakeSettingsError
from dagster_dynamic_tables.freshness.sensor import build_freshness_sensor
from dagster_dynamic_tables.health.checks import build_dynamic_table_checks
from dagster_dynamic_tables.platform.plan.apply import _read, connect_tenant
from dagster_dynamic_tables.snowflake_io.faults import describe_fault
from dagster_dynamic_tables.snowflake_io.session import read_snowflake
from dagster_dynamic_tables.sql.statements import Statement, run
from dagster_dynamic_tables.standin import stand_in_connection_args
from dagster_snowflake import SnowflakeResource

REPO_ROOT = Path(__file__).resolve().parents[3]
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
ACCOUNT = {
    "SNOWFLAKE_ACCOUNT": "acme-prod",
    "SNOWFLAKE_USER": "DAGSTER",
    "SNOWFLAKE_PASSWORD": "hunter2secret",
}


def _timeouts(resource: SnowflakeResource) -> tuple[int | None, int | None, int | None]:
    extra = resource.additional_snowflake_connection_args or {}
    return resource.login_timeout, extra.get("socket_timeout"), resource.network_timeout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (10, 15, None)),
        (
            {
                "SNOWFLAKE_LOGIN_TIMEOUT": "30",
                "SNOWFLAKE_SOCKET_TIMEOUT": "60",
                "SNOWFLAKE_NETWORK_TIMEOUT": "600",
            },
            (30, 60, 600),
        ),
        (
            {
                "SNOWFLAKE_SOCKET_TIMEOUT": "60",
                "SHOP_SNOWFLAKE_SOCKET_TIMEOUT": "90",
                "OTHER_SNOWFLAKE_LOGIN_TIMEOUT": "1",
            },
            (10, 90, None),
        ),
    ],
    ids=["defaults", "shared", "per-tenant-override"],
)
def test_timeouts_come_from_the_environment(env, expected):
    assert _timeouts(build_snowflake_resource(TENANT, env=ACCOUNT | env)) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SNOWFLAKE_LOGIN_TIMEOUT": "10s"},
            "SNOWFLAKE_LOGIN_TIMEOUT='10s' is not a number of seconds. Fix: set it to a whole "
            "number of seconds, 1 or more, or unset it to use the default 10.",
        ),
        (
            {"SHOP_SNOWFLAKE_SOCKET_TIMEOUT": "0"},
            "SHOP_SNOWFLAKE_SOCKET_TIMEOUT='0' is not a number of seconds. Fix: set it to a "
            "whole number of seconds, 1 or more, or unset it to use the default 15.",
        ),
        (
            {"SNOWFLAKE_NETWORK_TIMEOUT": "-5"},
            "SNOWFLAKE_NETWORK_TIMEOUT='-5' is not a number of seconds. Fix: set it to a whole "
            "number of seconds, 1 or more, or unset it to have none.",
        ),
    ],
    ids=["unit", "zero", "negative"],
)
def test_bad_timeout_says_how_to_fix(env, message):
    with pytest.raises(SnowflakeSettingsError) as excinfo:
        build_snowflake_resource(TENANT, env=ACCOUNT | env)
    assert str(excinfo.value) == message


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


def _read_request(conn: socket.socket) -> str | None:
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
            line = _read_request(conn)
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
# Short settings keep the tests short; the default settings are the benchmark's.
FAST = {"SNOWFLAKE_LOGIN_TIMEOUT": "1", "SNOWFLAKE_SOCKET_TIMEOUT": "1"}
WHERE = "account 'acme-prod' as user 'DAGSTER'"
LOGIN_FAILED = (
    f"Dynamic Table state not read: cannot reach Snowflake at {WHERE}: the login did not "
    "complete (SNOWFLAKE_LOGIN_TIMEOUT 1 s, SNOWFLAKE_SOCKET_TIMEOUT 1 s, statements 2 s: the "
    "endpoint did not answer in time, or refused the connection) (OperationalError 250001: "
    "Could not connect to Snowflake backend after {attempts} attempt(s).Aborting). Fix: check "
    "SNOWFLAKE_ACCOUNT and the network path to Snowflake (proxy, firewall); locally, `uv run "
    "dynamic-tables local start` starts the stand-in."
)
STATEMENT_FAILED = (
    f"Dynamic Table state not read: a statement got no answer from Snowflake at {WHERE} "
    "(SNOWFLAKE_LOGIN_TIMEOUT 1 s, SNOWFLAKE_SOCKET_TIMEOUT 1 s, statements {seconds} s: the "
    "connection was lost after the login and retries ran out) (OperationalError 250003: Failed "
    "to execute request: "
)
KEPT = " The cursor is kept: refreshes that land meanwhile are reported once Snowflake answers."


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
    job = dg.define_asset_job("health", selection=dg.AssetSelection.all_asset_checks())
    defs = dg.Definitions(
        assets=build_asset_specs(TENANT),
        asset_checks=build_dynamic_table_checks(TENANT),
        jobs=[job],
        resources={"snowflake": resource},
    )
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("health").execute_in_process(
            instance=instance, raise_on_error=False
        )
    failures = [event for event in result.all_events if event.is_step_failure]
    assert len(failures) == 1, failures
    data = failures[0].step_failure_data
    assert data is not None
    assert data.user_failure_data is not None, data
    description = data.user_failure_data.description or ""
    assert "hunter2secret" not in description
    return description


# The dropping endpoint makes the connector's cancel timer (a thread it starts per statement)
# fail its own abort request, which it reports as an unhandled thread exception.
CANCEL_TIMER = "ignore::pytest.PytestUnhandledThreadExceptionWarning"


@pytest.mark.timeout(120)
@pytest.mark.filterwarnings(CANCEL_TIMER)
def test_tick_against_an_endpoint_that_drops_the_connection_ends_with_its_skip_reason():
    """The case that ran for ever: login answered, then connections dropped and refused, with no
    SNOWFLAKE_NETWORK_TIMEOUT (the default). The tick's statement stops after 15 s."""
    resource = build_snowflake_resource(TENANT, env=ACCOUNT | FAST)
    with endpoint("dropping") as served:
        message = tick(aimed_at(resource, served.port))
    assert served.requests[0].startswith("POST /session/v1/login-request?")
    assert message.startswith(STATEMENT_FAILED.format(seconds=15)), message
    assert message.endswith(
        'Connection refused"))). Fix: check the network path to Snowflake (proxy, firewall); '
        "the next tick tries again." + KEPT
    ), message


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings(CANCEL_TIMER)
@pytest.mark.parametrize("kind", KINDS)
def test_tick_ends_and_says_what_timed_out(kind: str) -> None:
    env = ACCOUNT | FAST | {"SNOWFLAKE_NETWORK_TIMEOUT": "2"}
    resource = build_snowflake_resource(TENANT, env=env)
    with endpoint(kind) as served:
        message = tick(aimed_at(resource, served.port))
    if kind in ("silent", "refusing"):
        attempts = 1 if kind == "silent" else message.split(" attempt(s)")[0][-1]
        assert message == LOGIN_FAILED.format(attempts=attempts) + KEPT
        assert served.accepted == (1 if kind == "silent" else 0)
    else:
        assert message.startswith(STATEMENT_FAILED.format(seconds=2)), message


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings(CANCEL_TIMER)
@pytest.mark.parametrize("kind", KINDS)
def test_check_run_ends_and_says_what_timed_out(kind: str) -> None:
    env = ACCOUNT | FAST | {"SNOWFLAKE_NETWORK_TIMEOUT": "2"}
    resource = build_snowflake_resource(TENANT, env=env)
    with endpoint(kind) as served:
        description = check_run(aimed_at(resource, served.port))
    if kind in ("silent", "refusing"):
        attempts = 1 if kind == "silent" else description.split(" attempt(s)")[0][-1]
        assert description == LOGIN_FAILED.format(attempts=attempts)
    else:
        assert description.startswith(STATEMENT_FAILED.format(seconds=2)), description


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings(CANCEL_TIMER)
@pytest.mark.parametrize("kind", KINDS)
def test_plan_honours_the_timeouts_and_says_what_timed_out(kind: str, tmp_path: Path) -> None:
    env = ACCOUNT | FAST | {"SNOWFLAKE_NETWORK_TIMEOUT": "2"}
    with (
        endpoint(kind) as served,
        pytest.raises(PlanError) as excinfo,
        connect_tenant(
            TENANT, tmp_path, env, connection_args={**LOOPBACK, "port": served.port}
        ) as (conn, target),
    ):
        _read(conn.cursor(), TENANT, target)
    message = str(excinfo.value)
    assert "hunter2secret" not in message
    if kind in ("silent", "refusing"):
        assert message.startswith(
            "cannot connect to Snowflake for tenant 'shop': 250001: Could not connect to "
            "Snowflake backend after "
        ), message
        assert message.endswith(
            " attempt(s).Aborting (login_timeout 1 s, socket_timeout 1 s). Fix: check "
            "SHOP_SNOWFLAKE_ACCOUNT or SNOWFLAKE_ACCOUNT, the credentials and the network path "
            "to Snowflake."
        ), message
    else:
        assert message.startswith(
            "cannot read what exists for tenant 'shop' (Snowflake account acme-prod): 250003: "
            "Failed to execute request: "
        ), message
        assert message.endswith(
            " (statements stop retrying after 2 s). Fix: check the network path to Snowflake; "
            "locally, `uv run dynamic-tables local start` starts the stand-in."
        ), message


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings(CANCEL_TIMER)
@pytest.mark.parametrize(
    ("kind", "phase"),
    [("silent", "logging in to Snowflake"), ("stalling", "running a statement")],
)
def test_a_read_past_its_deadline_says_where_it_was(kind: str, phase: str) -> None:
    """The deadline holds whatever the connector does: here each answer may take 30 s."""
    env = ACCOUNT | {"SNOWFLAKE_SOCKET_TIMEOUT": "30", "SNOWFLAKE_LOGIN_TIMEOUT": "30"}
    with endpoint(kind) as served:
        resource = aimed_at(build_snowflake_resource(TENANT, env=env), served.port)
        with pytest.raises(SnowflakeDeadlineError) as excinfo:
            read_snowflake(resource, lambda c: run(c, Statement("SELECT 1", {})), deadline=2)
    assert describe_fault(excinfo.value, resource) == (
        f"Dynamic Table state not read: Snowflake did not answer within 2 s while {phase} for "
        f"{WHERE} (SNOWFLAKE_LOGIN_TIMEOUT 30 s, SNOWFLAKE_SOCKET_TIMEOUT 30 s, statements 15 s). "
        "Fix: check the network path to Snowflake (proxy, firewall, load balancer) and "
        "SNOWFLAKE_ACCOUNT; the next tick tries again."
    )


@pytest.mark.timeout(120)
@pytest.mark.filterwarnings(CANCEL_TIMER)
def test_tick_with_the_stand_in_settings_against_a_dropping_endpoint_ends():
    """The stand-in's connector settings (login 10 s, socket 60 s, network 60 s: a tenant's
    assets on the stand-in may run long statements) took a tick 124-127 s here; the platform's
    read bounds apply to them as well."""
    resource = SnowflakeResource(
        account="local",
        user="local",
        password="hunter2secret",
        autocommit=True,
        additional_snowflake_connection_args=stand_in_connection_args(0),
    )
    with endpoint("dropping") as served:
        message = tick(aimed_at(resource, served.port))
    assert message.startswith(
        "Dynamic Table state not read: a statement got no answer from Snowflake at account "
        "'local' as user 'local' (SNOWFLAKE_LOGIN_TIMEOUT 10 s, SNOWFLAKE_SOCKET_TIMEOUT 60 s, "
        "statements 15 s: the connection was lost after the login and retries ran out) "
        "(OperationalError 250003: Failed to execute request: "
    ), message


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", KINDS)
def test_local_status_ends_when_the_recorded_stand_in_misbehaves(kind: str, tmp_path: Path):
    """`dynamic-tables local status` asks the stand-in recorded in the data directory for its
    health: an endpoint in its place that never answers, drops or refuses is "not running"
    (exit 3), not a hang. (The recorded pid is this test's: alive, and never signalled.)"""
    with endpoint(kind) as served:
        record = {
            "host": "127.0.0.1",
            "port": served.port,
            "pid": os.getpid(),
            "data_dir": str(tmp_path),
            "log_file": str(tmp_path / "server.log"),
        }
        (tmp_path / "server.json").write_text(json.dumps(record))
        env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
        env |= {"LOCAL_SNOWFLAKE_DATA_DIR": str(tmp_path), "LOCAL_SNOWFLAKE_PORT": str(served.port)}
        done = subprocess.run(
            [sys.executable, "-m", "dagster_dynamic_tables.cli", "local", "status"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=100,
            check=False,
        )
    assert (done.returncode, done.stdout) == (
        3,
        f"local Snowflake stand-in: not running (data dir {tmp_path}, port {served.port})\n",
    ), done.stderr
