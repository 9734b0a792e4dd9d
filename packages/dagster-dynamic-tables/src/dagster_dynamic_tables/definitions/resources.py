"""The `snowflake` resource of a tenant, from the environment.

Production: `SNOWFLAKE_ACCOUNT`, `SNOWFLAKE_USER`, `SNOWFLAKE_PASSWORD` or
`SNOWFLAKE_PRIVATE_KEY_PATH` (+ optional `SNOWFLAKE_PRIVATE_KEY_PASSWORD`), `SNOWFLAKE_ROLE`,
`SNOWFLAKE_WAREHOUSE`; each one can be overridden per tenant with the prefix `<SLUG>_`
(`ECOMMERCE_SNOWFLAKE_ROLE`). Secrets are passed as `dg.EnvVar`, so their values never reach
Dagster's stored config, the UI, logs or error messages.

Timeouts, in whole seconds, overridable the same way (`settings.timeout_settings`):
`SNOWFLAKE_LOGIN_TIMEOUT` (default 10: no new login attempt after that), `SNOWFLAKE_SOCKET_TIMEOUT`
(default 15: the longest wait for one answer, login included) and `SNOWFLAKE_NETWORK_TIMEOUT`
(default none: retries of other requests end, and a statement is cancelled, after that; for the
tenant's own assets, whose statements may run long). The platform's own reads through this
resource (the freshness sensor, the health checks) are bounded whatever these say:
their statements stop retrying and are cancelled after 15 s (`settings.bounded_reads`), and the
whole read gives up after 40 s (`session.read_snowflake`), so a tick against an endpoint that
never answers, drops connections or refuses them ends with a skip reason that says what timed
out, under Dagster's 60-s sensor timeout. A private key file is read before the connection: a
file that is not a key is a skip reason naming the file, not a `ValueError`.

With no account configured, the tenant uses the embedded stand-in (`local_snowflake`, the
optional extra `dagster-dynamic-tables[local]`) on `127.0.0.1:$LOCAL_SNOWFLAKE_PORT`, started on
first use; without the extra installed, such a tenant fails to load saying which variables to set.

In a selected environment (`declarations.environments`) its role and warehouses apply: the
environment's `role` replaces `SNOWFLAKE_ROLE` (`<SLUG>_SNOWFLAKE_ROLE` still wins) and the
warehouse settings are mapped through its `warehouses:` (`sql.environments.environment_settings`).
The stand-in's location and process handling live in `dagster_dynamic_tables.standin`, which the
`dynamic-tables local` commands import without Dagster or dagster-snowflake.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_snowflake import SnowflakeResource

from dagster_dynamic_tables.declarations.environments import current_environment
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.errors import SnowflakeSettingsError
from dagster_dynamic_tables.sql.environments import environment_settings
from dagster_dynamic_tables.sql.settings import Setting, find_setting, timeout_settings
from dagster_dynamic_tables.standin import (
    ensure_local_stand_in,
    local_stand_in_location,
    register_local_tenant,
    require_stand_in,
    stand_in_connection_args,
)

_SECRET_SETTINGS = frozenset({"PASSWORD", "PRIVATE_KEY_PATH", "PRIVATE_KEY_PASSWORD"})


def _config(setting: Setting, name: str) -> str | dg.EnvVar:
    """A secret as `dg.EnvVar` (its value never reaches Dagster's stored config), else the value."""
    return dg.EnvVar(setting.variable) if name in _SECRET_SETTINGS else setting.value


def uses_local_stand_in(slug: str, env: Mapping[str, str] | None = None) -> bool:
    """True when no Snowflake account is configured for this tenant."""
    return find_setting(slug, "ACCOUNT", os.environ if env is None else env) is None


class LocalSnowflakeResource(SnowflakeResource):
    """A `SnowflakeResource` pointed at the embedded stand-in.

    Every connection starts the stand-in if it is not running (also after `dynamic-tables local
    stop`: a health request, under a millisecond while it runs), and the first one to each
    stand-in process creates the tenant's local objects (source tables with seed rows, Dynamic
    Tables, views), idempotently. Its logins skip the connector's cloud platform detection.
    """

    local_port: int
    local_data_dir: str
    tenant_slug: str

    @contextmanager
    def get_connection(self, raw_conn: bool = True) -> Iterator[Any]:
        ensure_local_stand_in(Path(self.local_data_dir), self.local_port, self.tenant_slug)
        with super().get_connection(raw_conn=raw_conn) as conn:
            yield conn


MONITORING_RESOURCE_KEY = "snowflake_monitoring"


def build_monitoring_resource(
    tenant: Tenant, *, env: Mapping[str, str] | None = None
) -> SnowflakeResource | None:
    """The freshness sensor's own resource when `<SLUG>_SNOWFLAKE_MONITORING_WAREHOUSE` or
    `SNOWFLAKE_MONITORING_WAREHOUSE` names a warehouse (a small one, shared by tenants or per
    tenant): the tenant's `snowflake` settings with that warehouse, for the sensor's statements
    that need one. None without it (the sensor then uses `snowflake` and its warehouse) and on
    the local stand-in (which has no warehouses to choose)."""
    env = _in_environment(tenant, os.environ if env is None else env)
    warehouse = find_setting(tenant.slug, "MONITORING_WAREHOUSE", env)
    if warehouse is None or find_setting(tenant.slug, "ACCOUNT", env) is None:
        return None
    return build_snowflake_resource(tenant, env=env, warehouse=warehouse)


def build_snowflake_resource(
    tenant: Tenant, *, env: Mapping[str, str] | None = None, warehouse: Setting | None = None
) -> SnowflakeResource:
    """The tenant's `snowflake` resource: Snowflake when an account is set, else the stand-in
    (`warehouse`: a setting that replaces `SNOWFLAKE_WAREHOUSE`; see
    `build_monitoring_resource`)."""
    env = _in_environment(tenant, os.environ if env is None else env)
    slug = tenant.slug
    account = find_setting(slug, "ACCOUNT", env)
    if account is None:
        require_stand_in(slug)
        register_local_tenant(tenant, current_environment(_start(tenant), env))
        return build_local_resource(tenant, env)
    user = find_setting(slug, "USER", env)
    password = find_setting(slug, "PASSWORD", env)
    key_path = find_setting(slug, "PRIVATE_KEY_PATH", env)
    prefix = f"{slug.upper()}_SNOWFLAKE"
    where = f"{account.variable} is set, so tenant {slug!r} connects to Snowflake"
    if user is None:
        raise SnowflakeSettingsError(
            f"{where}, but no user is configured. Fix: set {prefix}_USER or SNOWFLAKE_USER."
        )
    if password is None and key_path is None:
        raise SnowflakeSettingsError(
            f"{where}, but no credentials are configured. Fix: set {prefix}_PASSWORD or "
            f"SNOWFLAKE_PASSWORD, or {prefix}_PRIVATE_KEY_PATH or SNOWFLAKE_PRIVATE_KEY_PATH."
        )
    if password is not None and key_path is not None:
        raise SnowflakeSettingsError(
            f"{where} with both a password ({password.variable}) and a private key "
            f"({key_path.variable}). Fix: unset one of them."
        )
    # autocommit=True is Snowflake's own default; set explicitly, it also stops dagster-snowflake
    # from sending a COMMIT after every get_connection() (a third statement on each sensor tick).
    config: dict[str, Any] = {"account": account.value, "user": user.value, "autocommit": True}
    for name, setting in (
        ("PASSWORD", password),
        ("PRIVATE_KEY_PATH", key_path),
        ("PRIVATE_KEY_PASSWORD", find_setting(slug, "PRIVATE_KEY_PASSWORD", env)),
        ("ROLE", find_setting(slug, "ROLE", env)),
        ("WAREHOUSE", warehouse or find_setting(slug, "WAREHOUSE", env)),
    ):
        if setting is not None:
            config[name.lower()] = _config(setting, name)
    timeouts = timeout_settings(slug, env)
    # socket_timeout has no field of its own in SnowflakeResource
    socket_timeout = timeouts.pop("socket_timeout")
    config.update(timeouts, additional_snowflake_connection_args={"socket_timeout": socket_timeout})
    return SnowflakeResource(**config)


def _start(tenant: Tenant) -> Path:
    return tenant.base_dir if tenant.base_dir is not None else Path.cwd()


def _in_environment(tenant: Tenant, env: Mapping[str, str]) -> Mapping[str, str]:
    """The settings with the selected environment's role and warehouses applied
    (`sql.environments.environment_settings`)."""
    return environment_settings(current_environment(_start(tenant), env), tenant.slug, env)


def build_local_resource(tenant: Tenant, env: Mapping[str, str]) -> LocalSnowflakeResource:
    data_dir, port = local_stand_in_location(env, tenant.base_dir)
    return LocalSnowflakeResource(
        account="local",
        user="local",
        password="local",
        warehouse="LOCAL_WH",
        autocommit=True,  # as for Snowflake: no COMMIT statement after every connection
        additional_snowflake_connection_args=stand_in_connection_args(port),
        local_port=port,
        local_data_dir=str(data_dir),
        tenant_slug=tenant.slug,
    )
