"""Which `snowflake` resource a tenant gets from its environment."""

import os
from pathlib import Path

import dagster as dg
import local_snowflake
import pytest
from dagster_dynamic_tables.cli import EXIT_ERROR
from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable, Tenant
from dagster_dynamic_tables.definitions.resources import (
    MONITORING_RESOURCE_KEY,
    LocalSnowflakeResource,
    build_monitoring_resource,
    build_snowflake_resource,
)
from dagster_dynamic_tables.definitions.tenant import build_tenant_definitions
from dagster_dynamic_tables.errors import PrivateKeyError, SnowflakeSettingsError
from dagster_dynamic_tables.freshness.sensor import SENSOR_NAME, build_freshness_sensor
from dagster_dynamic_tables.platform.plan.connect import connect_tenant
from dagster_dynamic_tables.standin import find_repo_root, local_stand_in_location
from dagster_snowflake import SnowflakeResource
from support.processes import run_cli

DT = DynamicTable(
    name="totals",
    table="ANALYTICS.S.TOTALS",
    target_lag="1 minute",
    warehouse="WH",
    query="SELECT 1",
)

TENANT = Tenant("ecommerce")
SETTINGS = (
    "account",
    "user",
    "password",
    "private_key_path",
    "private_key_password",
    "role",
    "warehouse",
)

BASE = {"SNOWFLAKE_ACCOUNT": "acme-prod", "SNOWFLAKE_USER": "DAGSTER"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {**BASE, "SNOWFLAKE_PASSWORD": "s3cret"},
            {"account": "acme-prod", "user": "DAGSTER", "password": "SNOWFLAKE_PASSWORD"},
        ),
        (
            {**BASE, "SNOWFLAKE_PRIVATE_KEY_PATH": "/keys/k.p8", "SNOWFLAKE_ROLE": "TRANSFORMER"},
            {
                "account": "acme-prod",
                "user": "DAGSTER",
                "private_key_path": "SNOWFLAKE_PRIVATE_KEY_PATH",
                "role": "TRANSFORMER",
            },
        ),
        (
            {
                **BASE,
                "SNOWFLAKE_PASSWORD": "shared",
                "SNOWFLAKE_ROLE": "SHARED_ROLE",
                "SNOWFLAKE_WAREHOUSE": "SHARED_WH",
                "ECOMMERCE_SNOWFLAKE_ROLE": "ECOMMERCE_ROLE",
                "ECOMMERCE_SNOWFLAKE_PASSWORD": "team-secret",
                "OTHER_SNOWFLAKE_ROLE": "NOT_MINE",
            },
            {
                "account": "acme-prod",
                "user": "DAGSTER",
                "password": "ECOMMERCE_SNOWFLAKE_PASSWORD",
                "role": "ECOMMERCE_ROLE",
                "warehouse": "SHARED_WH",
            },
        ),
        (
            {
                "ECOMMERCE_SNOWFLAKE_ACCOUNT": "acme-team",
                "ECOMMERCE_SNOWFLAKE_USER": "TEAM",
                "ECOMMERCE_SNOWFLAKE_PRIVATE_KEY_PATH": "/keys/team.p8",
                "ECOMMERCE_SNOWFLAKE_PRIVATE_KEY_PASSWORD": "pass",
            },
            {
                "account": "acme-team",
                "user": "TEAM",
                "private_key_path": "ECOMMERCE_SNOWFLAKE_PRIVATE_KEY_PATH",
                "private_key_password": "ECOMMERCE_SNOWFLAKE_PRIVATE_KEY_PASSWORD",
            },
        ),
    ],
    ids=["password", "key-pair-and-role", "per-tenant-overrides", "per-tenant-account"],
)
def test_build_snowflake_resource_from_environment(env, expected):
    resource = build_snowflake_resource(TENANT, env=env)
    assert type(resource) is SnowflakeResource
    assert resource.autocommit is True  # no COMMIT after each connection: 2 statements per tick
    fields = {
        name: getattr(resource, name) for name in SETTINGS if getattr(resource, name) is not None
    }
    assert fields == expected
    # Secrets are references to environment variables, never their values.
    for name in ("password", "private_key_path", "private_key_password"):
        value = getattr(resource, name)
        assert value is None or isinstance(value, dg.EnvVar)
    assert "s3cret" not in repr(resource)
    assert "team-secret" not in repr(resource)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SNOWFLAKE_ACCOUNT": "acme", "SNOWFLAKE_PASSWORD": "x"},
            "SNOWFLAKE_ACCOUNT is set, so tenant 'ecommerce' connects to Snowflake, but no user "
            "is configured. Fix: set ECOMMERCE_SNOWFLAKE_USER or SNOWFLAKE_USER.",
        ),
        (
            BASE,
            "SNOWFLAKE_ACCOUNT is set, so tenant 'ecommerce' connects to Snowflake, but no "
            "credentials are configured. Fix: set ECOMMERCE_SNOWFLAKE_PASSWORD or "
            "SNOWFLAKE_PASSWORD, or ECOMMERCE_SNOWFLAKE_PRIVATE_KEY_PATH or "
            "SNOWFLAKE_PRIVATE_KEY_PATH.",
        ),
        (
            {**BASE, "SNOWFLAKE_PASSWORD": "pw-value", "ECOMMERCE_SNOWFLAKE_PRIVATE_KEY_PATH": "k"},
            "SNOWFLAKE_ACCOUNT is set, so tenant 'ecommerce' connects to Snowflake with both a "
            "password (SNOWFLAKE_PASSWORD) and a private key "
            "(ECOMMERCE_SNOWFLAKE_PRIVATE_KEY_PATH). Fix: unset one of them.",
        ),
        (
            {"LOCAL_SNOWFLAKE_PORT": "http"},
            "LOCAL_SNOWFLAKE_PORT='http' is not a TCP port. Fix: set it to a number from 1 to "
            f"65535, or unset it to use {local_snowflake.DEFAULT_PORT}.",
        ),
        (
            {"LOCAL_SNOWFLAKE_PORT": "70000"},
            "LOCAL_SNOWFLAKE_PORT='70000' is not a TCP port. Fix: set it to a number from 1 to "
            f"65535, or unset it to use {local_snowflake.DEFAULT_PORT}.",
        ),
    ],
    ids=["no-user", "no-credentials", "password-and-key", "port-not-number", "port-too-big"],
)
def test_build_snowflake_resource_rejects_incomplete_settings(env, message):
    with pytest.raises(SnowflakeSettingsError) as excinfo:
        build_snowflake_resource(TENANT, env=env)
    assert str(excinfo.value) == message
    assert "pw-value" not in str(excinfo.value)


def test_build_snowflake_resource_without_account_uses_stand_in(tmp_path):
    env = {"LOCAL_SNOWFLAKE_PORT": "50123", "LOCAL_SNOWFLAKE_DATA_DIR": str(tmp_path / "d")}
    resource = build_snowflake_resource(TENANT, env=env)
    assert isinstance(resource, LocalSnowflakeResource)
    assert isinstance(resource, SnowflakeResource)
    assert resource.local_port == 50123
    assert resource.local_data_dir == str((tmp_path / "d").resolve())
    assert resource.tenant_slug == "ecommerce"
    assert resource.autocommit is True
    assert resource.additional_snowflake_connection_args == {
        **local_snowflake.connection_args("127.0.0.1", 50123),
        # no probing for AWS/Azure/GCP metadata endpoints: see test_platform_detection.py
        "platform_detection_timeout_seconds": 0.0,
    }


def test_empty_account_variable_means_stand_in():
    resource = build_snowflake_resource(TENANT, env={"SNOWFLAKE_ACCOUNT": "  "})
    assert isinstance(resource, LocalSnowflakeResource)
    assert resource.local_port == local_snowflake.DEFAULT_PORT


def test_stand_in_data_dir_defaults_to_repo_root(tmp_path):
    (tmp_path / "workspace.yaml").write_text("load_from: []\n")
    nested = tmp_path / "tenants" / "x" / "src"
    nested.mkdir(parents=True)
    assert find_repo_root(nested) == tmp_path
    data_dir, port = local_stand_in_location({}, nested)
    assert data_dir == (tmp_path / ".local_snowflake").resolve()
    assert port == local_snowflake.DEFAULT_PORT


def test_repo_root_of_this_checkout():
    assert (find_repo_root(Path(__file__).parent) / "workspace.yaml").is_file()


def _rows(conn, sql):
    cursor = conn.cursor()
    cursor.execute(sql)
    return cursor.fetchall()


def test_stand_in_is_started_again_after_it_was_stopped(tmp_path):
    from support.processes import free_port

    seed = tmp_path / "seed.sql"
    seed.write_text(
        "CREATE TABLE RESTART.RAW.T (n INTEGER); INSERT INTO RESTART.RAW.T VALUES (1);\n"
    )
    tenant = Tenant(
        "restart",
        sources=(SourceTable(name="t", table="RESTART.RAW.T"),),
        local_seed_file=seed,
    )
    data_dir = tmp_path / "data"
    env = {"LOCAL_SNOWFLAKE_PORT": str(free_port()), "LOCAL_SNOWFLAKE_DATA_DIR": str(data_dir)}
    resource = build_snowflake_resource(tenant, env=env)
    try:
        with resource.get_connection() as conn:
            assert _rows(conn, "SELECT n FROM RESTART.RAW.T") == [(1,)]
        first = local_snowflake.server_status(data_dir)
        assert first is not None
        # `dynamic-tables local stop`: the next connection of this process starts it again.
        assert local_snowflake.stop_server(data_dir)
        with resource.get_connection() as conn:
            assert _rows(conn, "SELECT n FROM RESTART.RAW.T") == [(1,)]
        second = local_snowflake.server_status(data_dir)
        assert second is not None
        assert second.pid != first.pid
    finally:
        local_snowflake.stop_server(data_dir)


def test_a_monitoring_warehouse_gives_the_sensor_its_own_resource():
    env = {**BASE, "SNOWFLAKE_PASSWORD": "s3cret", "SNOWFLAKE_WAREHOUSE": "TRANSFORM_WH"}
    assert build_monitoring_resource(TENANT, env=env) is None  # the sensor uses `snowflake`
    shared = build_monitoring_resource(TENANT, env={**env, "SNOWFLAKE_MONITORING_WAREHOUSE": "MON"})
    assert shared is not None
    assert (shared.warehouse, shared.account, shared.user) == ("MON", "acme-prod", "DAGSTER")
    own = build_monitoring_resource(
        TENANT,
        env={
            **env,
            "SNOWFLAKE_MONITORING_WAREHOUSE": "MON",
            "ECOMMERCE_SNOWFLAKE_MONITORING_WAREHOUSE": "ECOMMERCE_MON",
        },
    )
    assert own is not None
    assert own.warehouse == "ECOMMERCE_MON"
    assert build_snowflake_resource(TENANT, env=env).warehouse == "TRANSFORM_WH"


def test_the_stand_in_has_no_monitoring_resource():
    assert build_monitoring_resource(TENANT, env={"SNOWFLAKE_MONITORING_WAREHOUSE": "MON"}) is None


def test_the_sensor_uses_the_monitoring_resource_when_one_is_set():
    env = {**BASE, "SNOWFLAKE_PASSWORD": "s3cret", "SNOWFLAKE_MONITORING_WAREHOUSE": "MON"}
    tenant = Tenant("ecommerce", dynamic_tables=(DT,))
    defs = build_tenant_definitions(tenant, env=env)
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    assert sensor.required_resource_keys == {MONITORING_RESOURCE_KEY}
    resources = defs.resources or {}
    assert resources[MONITORING_RESOURCE_KEY].warehouse == "MON"
    without = build_tenant_definitions(tenant, env={**BASE, "SNOWFLAKE_PASSWORD": "s3cret"})
    assert without.resolve_sensor_def(SENSOR_NAME).required_resource_keys == {"snowflake"}


# --- a private key file that is not a key -------------------------------------------------------

KEY_PASSWORD = "right-horse-battery"


def _pem(password: str | None) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _key_file(tmp_path: Path, case: str) -> tuple[str, str | None]:
    """The key path and the password setting (None: unset) of one bad case."""
    path = tmp_path / "rsa_key.p8"
    if case == "garbage":
        path.write_bytes(b"this is not a key\n")
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "directory":
        path.mkdir()
    elif case == "fifo":
        os.mkfifo(path)  # opening it to read would wait for a writer for ever
    elif case == "public-key":
        path.write_bytes(
            b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQ==\n-----END PUBLIC KEY-----\n"
        )
    elif case in ("encrypted-no-password", "encrypted-wrong-password"):
        path.write_bytes(_pem(KEY_PASSWORD))
    elif case == "password-for-plain-key":
        path.write_bytes(_pem(None))
    passwords = {"encrypted-wrong-password": "wrong-pony", "password-for-plain-key": "spare-pw"}
    return str(path), passwords.get(case)


NEW_KEY = (
    "point it at the PEM file of the key pair registered for the user ('-----BEGIN PRIVATE "
    "KEY-----' or '-----BEGIN ENCRYPTED PRIVATE KEY-----'; `openssl genrsa 2048 | openssl pkcs8 "
    "-topk8 -nocrypt -out rsa_key.p8` makes one)"
)
KEY_CASES = {
    "garbage": ("it is not a PEM private key", NEW_KEY),
    "empty": ("the file is empty", NEW_KEY),
    "directory": ("it is a directory", NEW_KEY),
    "missing": ("no such file", NEW_KEY),
    "fifo": ("it is not a regular file", NEW_KEY),
    "public-key": ("it is not a PEM private key", NEW_KEY),
    "encrypted-no-password": (
        "it is encrypted and {password} is not set",
        "set {password} to the key's password",
    ),
    "encrypted-wrong-password": (
        "the password in {password} does not decrypt it",
        "set {password} to the key's password",
    ),
    "password-for-plain-key": (
        "it is not encrypted, but {password} is set",
        "unset {password}",
    ),
}


def _key_message(path: str, case: str, path_variable: str, password_variable: str) -> str:
    reason, fix = KEY_CASES[case]
    return (
        f"The private key file at {path} ({path_variable}) could not be read as a private key: "
        f"{reason.format(password=password_variable)}. "
        f"Fix: {fix.format(password=password_variable)}."
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(KEY_CASES))
def test_a_key_file_that_is_not_a_key_ends_the_tick_with_how_to_fix(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read before any connection (nothing is sent anywhere): the tick skips, saying which file
    and how to fix it, never the key or the password."""
    path, password = _key_file(tmp_path, case)
    env = {**BASE, "SNOWFLAKE_PRIVATE_KEY_PATH": path}
    if password is not None:
        env["SNOWFLAKE_PRIVATE_KEY_PASSWORD"] = password
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the resource reads its secrets as dg.EnvVar
    tenant = Tenant("ecommerce", dynamic_tables=(DT,))
    resource = build_snowflake_resource(tenant, env=env)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"snowflake": resource})
        skipped = build_freshness_sensor(tenant)(context)
    assert isinstance(skipped, dg.SkipReason)
    message = _key_message(
        path, case, "SNOWFLAKE_PRIVATE_KEY_PATH", "SNOWFLAKE_PRIVATE_KEY_PASSWORD"
    )
    assert skipped.skip_message == (
        f"Dynamic Table state not read: {message} The cursor is kept: refreshes that land "
        "meanwhile are reported once Snowflake answers."
    )
    for secret in ("wrong-pony", "spare-pw", "MII"):  # passwords, and a PEM key's first bytes
        assert secret not in (skipped.skip_message or "")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(KEY_CASES))
def test_plan_refuses_a_key_file_that_is_not_a_key_naming_the_variables(
    case: str, tmp_path: Path
) -> None:
    path, password = _key_file(tmp_path, case)
    env = {**BASE, "ECOMMERCE_SNOWFLAKE_PRIVATE_KEY_PATH": path}
    password_variable = "ECOMMERCE_SNOWFLAKE_PRIVATE_KEY_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PASSWORD"
    if password is not None:
        env["SNOWFLAKE_PRIVATE_KEY_PASSWORD"] = password
        password_variable = "SNOWFLAKE_PRIVATE_KEY_PASSWORD"
    with pytest.raises(PrivateKeyError) as excinfo, connect_tenant(TENANT, tmp_path, env):
        pass
    assert str(excinfo.value) == _key_message(
        path, case, "ECOMMERCE_SNOWFLAKE_PRIVATE_KEY_PATH", password_variable
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", ["garbage", "encrypted-wrong-password"])
def test_the_plan_command_prints_one_error_line_and_exits_4(case: str, tmp_path: Path) -> None:
    """Exit 4 (`cli.EXIT_ERROR`), not 1 ("changes pending") and not a traceback."""
    path, password = _key_file(tmp_path, case)
    env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    env |= {**BASE, "SNOWFLAKE_PRIVATE_KEY_PATH": path}
    if password is not None:
        env["SNOWFLAKE_PRIVATE_KEY_PASSWORD"] = password
    done = run_cli("plan", "--tenant", "finance", env=env, timeout=110)
    message = _key_message(
        path, case, "SNOWFLAKE_PRIVATE_KEY_PATH", "SNOWFLAKE_PRIVATE_KEY_PASSWORD"
    )
    assert (done.returncode, done.stderr) == (EXIT_ERROR, f"ERROR: {message}\n"), done.stdout
