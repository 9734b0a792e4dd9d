"""Login and network timeouts of a tenant's Snowflake connection.

With the connector's defaults, an account endpoint that accepts connections and never answers kept a
sensor tick busy for about 121 s (login_timeout 120 s, 60 s per answer), past Dagster's sensor
timeout, so the tick's skip reason was never seen. The timeouts come from `SNOWFLAKE_*` (or
`<SLUG>_SNOWFLAKE_*`) variables with defaults that end such a tick in 15-25 s
(`tests/benchmarks/bench_timeouts.py` measures it); the test uses 1 s to stay short.
"""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations import DynamicTable, Tenant
from dagster_dynamic_tables.errors import SnowflakeSettingsError
from dagster_dynamic_tables.resources import build_snowflake_resource
from dagster_dynamic_tables.sensor import build_freshness_sensor
from dagster_snowflake import SnowflakeResource

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


@contextmanager
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A loopback TCP server that accepts every connection and never sends a byte."""
    accepted: list[socket.socket] = []
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.1)

        def accept() -> None:
            while not stop.is_set():
                try:
                    accepted.append(server.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield server.getsockname()[1], accepted
        finally:
            stop.set()
            thread.join()
            for conn in accepted:
                conn.close()


def _aimed_at(resource: SnowflakeResource, port: int) -> SnowflakeResource:
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
            "host": "127.0.0.1",
            "port": port,
            "protocol": "http",
            "platform_detection_timeout_seconds": 0.0,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        },
    )


# Without the timeouts the tick below takes about 121 s (the connector's defaults): bounded here.
@pytest.mark.timeout(60)
def test_tick_against_a_silent_endpoint_ends_with_its_skip_reason():
    env = ACCOUNT | {"SNOWFLAKE_LOGIN_TIMEOUT": "1", "SHOP_SNOWFLAKE_SOCKET_TIMEOUT": "1"}
    resource = build_snowflake_resource(TENANT, env=env)
    with silent_server() as (port, accepted), dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"snowflake": _aimed_at(resource, port)}
        )
        skipped = build_freshness_sensor(TENANT)(context)
        assert accepted  # the login reached the endpoint, which never answered
    assert isinstance(skipped, dg.SkipReason)
    message = skipped.skip_message or ""
    assert message.startswith(
        "Dynamic Table state not read: cannot reach Snowflake at account 'acme-prod' as user "
        "'DAGSTER' (OperationalError 250001: "
    ), message
    assert "hunter2secret" not in message
