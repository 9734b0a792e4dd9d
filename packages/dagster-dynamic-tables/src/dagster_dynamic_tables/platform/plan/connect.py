"""Connecting a tenant for `plan` and `apply`, and reading what exists there.

`connect_tenant` follows the tenants' rules (`SNOWFLAKE_*`, overridable per tenant with
`<SLUG>_`, see `sql.settings.find_setting`; the local stand-in when no account is configured),
with the connector directly: this module imports neither Dagster nor dagster-snowflake.
`read_tenant` plans a tenant over such a connection with the platform's read timeout.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.errors import PlanError, SnowflakeSettingsError
from dagster_dynamic_tables.platform.plan.build import TenantPlan, plan_tenant
from dagster_dynamic_tables.sql.settings import Setting, find_setting

__all__ = ["Target", "connect_tenant", "read_tenant"]


@dataclass(frozen=True)
class Target:
    """Where a tenant's plan runs: a description for the output, its role, whether views'
    queries can be compared there."""

    description: str
    role: str | None
    warehouse: str | None
    local: bool


@contextmanager
def connect_tenant(
    tenant: Tenant,
    root: Path,
    env: Mapping[str, str],
    *,
    connection_args: Mapping[str, Any] | None = None,
) -> Iterator[tuple[Any, Target]]:
    """A connector connection for the tenant: Snowflake when an account is configured, else the
    local stand-in (started if needed; the tenant's objects are not created: that is apply's).
    `connection_args`: more connector arguments for Snowflake (`host`, `port`, `protocol`: a
    PrivateLink host, or a loopback endpoint in tests). The timeouts are the tenants' resource's
    (`sql.settings.timeout_settings`); a private key file is read before connecting."""
    account = find_setting(tenant.slug, "ACCOUNT", env)
    if account is None:
        conn, target = _connect_stand_in(tenant.slug, root, env)
    else:
        conn, target = _connect_snowflake(tenant.slug, account.value, env, connection_args or {})
    try:
        yield conn, target
    except BaseException:
        # The logout after a failure (most often the network's) is not waited for beyond a
        # second: against a lost endpoint the connector retries it for up to 4 answers of
        # socket_timeout each. It goes on in a daemon thread.
        import threading

        closing = threading.Thread(target=conn.close, name="plan-logout", daemon=True)
        closing.start()
        closing.join(1.0)
        raise
    conn.close()


def _connect_stand_in(slug: str, root: Path, env: Mapping[str, str]) -> tuple[Any, Target]:
    from dagster_dynamic_tables.standin import (
        connect_stand_in,
        local_stand_in_location,
        require_stand_in,
        start_stand_in,
    )

    require_stand_in(slug)
    data_dir, port = local_stand_in_location(env, root)
    info = start_stand_in(data_dir, port)
    target = Target(f"local stand-in {info.host}:{info.port}", None, None, True)
    return connect_stand_in(info), target


def _connect_snowflake(
    slug: str, account: str, env: Mapping[str, str], connection_args: Mapping[str, Any]
) -> tuple[Any, Target]:
    import snowflake.connector

    from dagster_dynamic_tables.sql.settings import timeout_settings

    user = find_setting(slug, "USER", env)
    password = find_setting(slug, "PASSWORD", env)
    key_path = find_setting(slug, "PRIVATE_KEY_PATH", env)
    prefix = f"{slug.upper()}_SNOWFLAKE"
    if user is None or (password is None and key_path is None):
        raise SnowflakeSettingsError(
            f"A Snowflake account is configured for tenant {slug!r}, but no user or no "
            f"credentials. Fix: set {prefix}_USER or SNOWFLAKE_USER, and {prefix}_PASSWORD "
            f"or SNOWFLAKE_PASSWORD (or {prefix}_PRIVATE_KEY_PATH or "
            "SNOWFLAKE_PRIVATE_KEY_PATH)."
        )
    args: dict[str, Any] = {"account": account, "user": user.value, "autocommit": True}
    if key_path is not None:
        args["private_key"] = _private_key(slug, key_path, env)
    elif password is not None:
        args["password"] = password.value
    role = find_setting(slug, "ROLE", env)
    warehouse = find_setting(slug, "WAREHOUSE", env)
    for key, setting in (("role", role), ("warehouse", warehouse)):
        if setting is not None:
            args[key] = setting.value
    # the tenants' resource's timeouts: login, socket, and SNOWFLAKE_NETWORK_TIMEOUT for
    # apply's DDL (a CREATE runs the first refresh); plan's reads are bounded in `read_tenant`
    timeouts = timeout_settings(slug, env)
    args.update(timeouts, **connection_args)
    try:
        conn = snowflake.connector.SnowflakeConnection(**args)
    except snowflake.connector.errors.Error as e:
        # the connector's messages name the account and user, never the secret
        raise PlanError(
            f"cannot connect to Snowflake for tenant {slug!r}: {e} (login_timeout "
            f"{timeouts['login_timeout']} s, socket_timeout {timeouts['socket_timeout']} s). "
            f"Fix: check {prefix}_ACCOUNT or SNOWFLAKE_ACCOUNT, the credentials and the "
            "network path to Snowflake."
        ) from e
    target = Target(
        f"Snowflake account {account}",
        None if role is None else role.value,
        None if warehouse is None else warehouse.value,
        False,
    )
    return conn, target


def _private_key(slug: str, path: Setting, env: Mapping[str, str]) -> bytes:
    """The tenant's private key file read as a key (`PrivateKeyError`, a `SnowflakeSettingsError`
    naming the file and the variables, when it is not one)."""
    from dagster_dynamic_tables.sql.settings import load_private_key

    password = find_setting(slug, "PRIVATE_KEY_PASSWORD", env)
    return load_private_key(
        path.value,
        None if password is None else password.value,
        path_variable=path.variable,
        password_variable=(
            password.variable
            if password is not None
            else f"{slug.upper()}_SNOWFLAKE_PRIVATE_KEY_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PASSWORD"
        ),
    )


def read_tenant(cursor: Any, tenant: Tenant, target: Target) -> TenantPlan:
    """What exists for the tenant, with the platform's read timeout on the connection
    (`sql.settings.bounded_reads`: the statements stop retrying, and are cancelled, after 15 s)."""
    from snowflake.connector.errors import Error as SnowflakeError

    from dagster_dynamic_tables.sql.settings import (
        READ_STATEMENT_TIMEOUT,
        bounded_reads,
        read_timeout,
    )

    prefix = f"{tenant.slug.upper()}_SNOWFLAKE"
    connection = getattr(cursor, "connection", None)
    try:
        with bounded_reads(connection, request_seconds=READ_STATEMENT_TIMEOUT):
            return plan_tenant(cursor, tenant, role=target.role, stand_in=target.local)
    except SnowflakeError as e:
        if 250000 <= (e.errno or 0) < 252000:  # the connector's own: the network, not SQL
            seconds = read_timeout(getattr(connection, "network_timeout", None))
            raise PlanError(
                f"cannot read what exists for tenant {tenant.slug!r} ({target.description}): "
                f"{e} (statements stop retrying after {seconds} s). Fix: check the "
                "network path to Snowflake; locally, `uv run dynamic-tables local start` starts "
                "the stand-in."
            ) from e
        raise PlanError(
            f"cannot read what exists for tenant {tenant.slug!r} ({target.description}): {e}. "
            "Fix: the role needs USAGE on the declared databases and schemas, and reading "
            f"INFORMATION_SCHEMA needs a warehouse ({prefix}_WAREHOUSE or SNOWFLAKE_WAREHOUSE)."
        ) from e
