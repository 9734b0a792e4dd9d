"""Login and network timeouts of a tenant's Snowflake connection: every tick, check run and plan
ends, and says what timed out, against endpoints that misbehave.

With the connector's defaults, an account endpoint that accepts connections and never answers kept a
sensor tick busy for about 121 s (login_timeout 120 s, 60 s per answer); one that answers the
login and then drops the connection and refuses new ones kept it busy for ever (the connector
retries a request without end when `network_timeout` is not set). Four loopback endpoints stand
for them (`Endpoint`): `silent` (accepts, never answers), `dropping` (answers the login like
Snowflake, then closes the connection and refuses new ones), `refusing` (a closed port) and
`stalling` (answers the login, then accepts and never answers); they are in
`support.fake_endpoints`. Nothing leaves the machine. `tests/benchmarks/bench_timeouts.py` prints
how long each takes with the default settings; these tests only check that each ends
(pytest-timeout fails a hang) and what it says. The reads run all at once, once per module
(`seen`): each waits on its own endpoint's sockets and the connector's timers, so together they
take about as long as the longest (a tick with the default statement bound, 15 s, and the
connector's close after it).
"""

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from dagster_dynamic_tables.definitions.resources import build_snowflake_resource
from dagster_dynamic_tables.errors import PlanError, SnowflakeDeadlineError, SnowflakeSettingsError
from dagster_dynamic_tables.platform.plan.connect import connect_tenant, read_tenant
from dagster_dynamic_tables.snowflake_io.faults import describe_fault
from dagster_dynamic_tables.snowflake_io.session import read_snowflake
from dagster_dynamic_tables.sql.statements import Statement, run
from dagster_dynamic_tables.standin import stand_in_connection_args
from dagster_snowflake import SnowflakeResource
from support.fake_endpoints import (
    KINDS,
    LOOPBACK,
    TENANT,
    Endpoint,
    aimed_at,
    at_once,
    check_run,
    tick,
)
from support.processes import run_cli

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


# The dropping endpoint makes the connector's cancel timer (a thread it starts per statement)
# fail its own abort request, which it reports as an unhandled thread exception.
CANCEL_TIMER = "ignore::pytest.PytestUnhandledThreadExceptionWarning"
SHORT = ACCOUNT | FAST | {"SNOWFLAKE_NETWORK_TIMEOUT": "2"}
SLOW_ANSWERS = ACCOUNT | {"SNOWFLAKE_SOCKET_TIMEOUT": "30", "SNOWFLAKE_LOGIN_TIMEOUT": "30"}
DEADLINE = 4
"""Seconds: the read's deadline in the deadline tests, well under the connector's 30 s."""
AT_ONCE = 200
"""Seconds the reads below may take together (about 40 here), with margin for a loaded machine."""
AT_ONCE_WIDTH = 8
"""Reads at once: few enough that a login still answers within the 1-s socket timeout here."""


@dataclass(frozen=True)
class Seen:
    """What one read said, and what its endpoint saw."""

    message: str
    served: Endpoint


def _against(kind: str, read: Callable[[int], str]) -> Seen:
    """`read` against an endpoint of `kind` (the threads it leaves: `at_once` waits for them)."""
    served = Endpoint(kind)
    try:
        return Seen(read(served.port), served)
    finally:
        served.close()


def _plan(env: dict[str, str], port: int, root: Path) -> str:
    with (
        pytest.raises(PlanError) as excinfo,
        connect_tenant(TENANT, root, env, connection_args={**LOOPBACK, "port": port}) as (
            conn,
            target,
        ),
    ):
        read_tenant(conn.cursor(), TENANT, target)
    return str(excinfo.value)


def _past_deadline(port: int) -> str:
    resource = aimed_at(build_snowflake_resource(TENANT, env=SLOW_ANSWERS), port)
    with pytest.raises(SnowflakeDeadlineError) as excinfo:
        read_snowflake(resource, lambda c: run(c, Statement("SELECT 1", {})), deadline=DEADLINE)
    described = describe_fault(excinfo.value, resource)
    assert described is not None, excinfo.value
    return described


def _stand_in_resource() -> SnowflakeResource:
    """The stand-in's connector settings (login 10 s, socket 60 s, network 60 s)."""
    return SnowflakeResource(
        account="local",
        user="local",
        password="hunter2secret",
        autocommit=True,
        additional_snowflake_connection_args=stand_in_connection_args(0),
    )


Reads = dict[tuple[str, str], Seen | BaseException]


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Reads:
    """Every read of the tests below, each against an endpoint of its own, several at once,
    longest first (one after the other they took about 170 s here)."""
    short = build_snowflake_resource(TENANT, env=SHORT)
    default = build_snowflake_resource(TENANT, env=ACCOUNT | FAST)
    runs: dict[tuple[str, str], Callable[[], Seen]] = {
        ("tick, stand-in settings", "dropping"): partial(
            _against, "dropping", lambda p: tick(aimed_at(_stand_in_resource(), p))
        ),
        ("tick, defaults", "dropping"): partial(
            _against, "dropping", lambda p: tick(aimed_at(default, p))
        ),
        ("deadline", "stalling"): partial(_against, "stalling", _past_deadline),
    }
    # the kinds whose login succeeds wait for their statement's bound, and the close after it
    for kind in ("dropping", "stalling", "silent", "refusing"):
        root = tmp_path_factory.mktemp(f"plan-{kind}")
        runs["check run", kind] = partial(_against, kind, lambda p: check_run(aimed_at(short, p)))
        runs["tick", kind] = partial(_against, kind, lambda p: tick(aimed_at(short, p)))
        runs["plan", kind] = partial(_against, kind, partial(_plan, SHORT, root=root))
    runs["deadline", "silent"] = partial(_against, "silent", _past_deadline)
    assert {kind for what, kind in runs if what == "tick"} == set(KINDS)
    return at_once(runs, width=AT_ONCE_WIDTH, timeout=AT_ONCE)


def _read(seen: Reads, what: str, kind: str) -> Seen:
    outcome = seen[what, kind]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


@pytest.mark.timeout(AT_ONCE + 60)
@pytest.mark.filterwarnings(CANCEL_TIMER)
def test_tick_against_an_endpoint_that_drops_the_connection_ends_with_its_skip_reason(
    seen: Reads,
):
    """The case that ran for ever: login answered, then connections dropped and refused, with no
    SNOWFLAKE_NETWORK_TIMEOUT (the default). The tick's statement stops after 15 s."""
    read = _read(seen, "tick, defaults", "dropping")
    message = read.message
    assert read.served.requests[0].startswith("POST /session/v1/login-request?")
    assert message.startswith(STATEMENT_FAILED.format(seconds=15)), message
    assert message.endswith(
        'Connection refused"))). Fix: check the network path to Snowflake (proxy, firewall); '
        "the next tick tries again." + KEPT
    ), message


@pytest.mark.timeout(AT_ONCE + 60)
@pytest.mark.filterwarnings(CANCEL_TIMER)
@pytest.mark.parametrize("kind", KINDS)
def test_tick_ends_and_says_what_timed_out(kind: str, seen: Reads) -> None:
    read = _read(seen, "tick", kind)
    message = read.message
    if kind in ("silent", "refusing"):
        attempts = 1 if kind == "silent" else message.split(" attempt(s)")[0][-1]
        assert message == LOGIN_FAILED.format(attempts=attempts) + KEPT
        assert read.served.accepted == (1 if kind == "silent" else 0)
    else:
        assert message.startswith(STATEMENT_FAILED.format(seconds=2)), message


@pytest.mark.timeout(AT_ONCE + 60)
@pytest.mark.filterwarnings(CANCEL_TIMER)
@pytest.mark.parametrize("kind", KINDS)
def test_check_run_ends_and_says_what_timed_out(kind: str, seen: Reads) -> None:
    description = _read(seen, "check run", kind).message
    if kind in ("silent", "refusing"):
        attempts = 1 if kind == "silent" else description.split(" attempt(s)")[0][-1]
        assert description == LOGIN_FAILED.format(attempts=attempts)
    else:
        assert description.startswith(STATEMENT_FAILED.format(seconds=2)), description


@pytest.mark.timeout(AT_ONCE + 60)
@pytest.mark.filterwarnings(CANCEL_TIMER)
@pytest.mark.parametrize("kind", KINDS)
def test_plan_honours_the_timeouts_and_says_what_timed_out(kind: str, seen: Reads) -> None:
    message = _read(seen, "plan", kind).message
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


@pytest.mark.timeout(AT_ONCE + 60)
@pytest.mark.filterwarnings(CANCEL_TIMER)
@pytest.mark.parametrize(
    ("kind", "phase"),
    [("silent", "logging in to Snowflake"), ("stalling", "running a statement")],
)
def test_a_read_past_its_deadline_says_where_it_was(kind: str, phase: str, seen: Reads) -> None:
    """The deadline holds whatever the connector does: here each answer may take 30 s."""
    assert _read(seen, "deadline", kind).message == (
        f"Dynamic Table state not read: Snowflake did not answer within {DEADLINE} s while "
        f"{phase} for {WHERE} (SNOWFLAKE_LOGIN_TIMEOUT 30 s, SNOWFLAKE_SOCKET_TIMEOUT 30 s, "
        "statements 15 s). Fix: check the network path to Snowflake (proxy, firewall, load "
        "balancer) and SNOWFLAKE_ACCOUNT; the next tick tries again."
    )


@pytest.mark.timeout(AT_ONCE + 60)
@pytest.mark.filterwarnings(CANCEL_TIMER)
def test_tick_with_the_stand_in_settings_against_a_dropping_endpoint_ends(seen: Reads):
    """The stand-in's connector settings (login 10 s, socket 60 s, network 60 s: a tenant's
    assets on the stand-in may run long statements) took a tick 124-127 s here; the platform's
    read bounds apply to them as well."""
    message = _read(seen, "tick, stand-in settings", "dropping").message
    assert message.startswith(
        "Dynamic Table state not read: a statement got no answer from Snowflake at account "
        "'local' as user 'local' (SNOWFLAKE_LOGIN_TIMEOUT 10 s, SNOWFLAKE_SOCKET_TIMEOUT 60 s, "
        "statements 15 s: the connection was lost after the login and retries ran out) "
        "(OperationalError 250003: Failed to execute request: "
    ), message


@dataclass(frozen=True)
class Status:
    """How `dynamic-tables local status` ended with a misbehaving endpoint recorded in its data
    directory."""

    done: subprocess.CompletedProcess[str]
    data_dir: Path
    port: int


def _local_status(kind: str, data_dir: Path) -> Status:
    served = Endpoint(kind)
    try:
        record = {
            "host": "127.0.0.1",
            "port": served.port,
            "pid": os.getpid(),
            "data_dir": str(data_dir),
            "log_file": str(data_dir / "server.log"),
        }
        (data_dir / "server.json").write_text(json.dumps(record))
        env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
        env |= {"LOCAL_SNOWFLAKE_DATA_DIR": str(data_dir), "LOCAL_SNOWFLAKE_PORT": str(served.port)}
        return Status(run_cli("local", "status", env=env, timeout=100), data_dir, served.port)
    finally:
        served.close()


@pytest.fixture(scope="module")
def statuses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Status | BaseException]:
    """`local status` against each kind of endpoint, all at once (each waits seconds for an
    answer that never comes)."""
    runs = {
        kind: partial(_local_status, kind, tmp_path_factory.mktemp(f"status-{kind}"))
        for kind in KINDS
    }
    return at_once(runs, width=len(runs), timeout=AT_ONCE)


@pytest.mark.timeout(AT_ONCE + 60)
@pytest.mark.parametrize("kind", KINDS)
def test_local_status_ends_when_the_recorded_stand_in_misbehaves(
    kind: str, statuses: dict[str, Status | BaseException]
):
    """`dynamic-tables local status` asks the stand-in recorded in the data directory for its
    health: an endpoint in its place that never answers, drops or refuses is "not running"
    (exit 3), not a hang. (The recorded pid is this test's: alive, and never signalled.)"""
    status = statuses[kind]
    if isinstance(status, BaseException):
        raise status
    assert (status.done.returncode, status.done.stdout) == (
        3,
        f"local Snowflake stand-in: not running (data dir {status.data_dir}, port {status.port})\n",
    ), status.done.stderr
