"""Tenants' objects in the embedded Snowflake stand-in (`local_snowflake`).

`ensure_local_stand_in` is what a tenant's `snowflake` resource calls before each connection
when no Snowflake account is configured: start the stand-in if it is not running (also after
`dynamic-tables local stop`), then create the tenant's source tables (with seed rows), Dynamic
Tables and views, idempotently, once per server process (the statements it runs and the report
of what they did are `sql.local_setup`'s). Nothing here runs against a real Snowflake account.

It is the one door to the stand-in: no other module of the package imports `local_snowflake`
(import-linter enforces it). `start_stand_in`, `stand_in_status`, `stop_stand_in` and
`connect_stand_in` are what the `local` commands and `plan`/`apply` use.

This module imports neither Dagster nor dagster-snowflake, and imports `local_snowflake` (an
optional extra, `dagster-dynamic-tables[local]`) and the connector only when the stand-in is used,
so the `dynamic-tables local` commands stay quick and a production image can leave it out.
"""

from __future__ import annotations

import fcntl
import importlib
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster_dynamic_tables.errors import LocalSetupError, SnowflakeSettingsError
from dagster_dynamic_tables.sql.local_setup import (
    LocalSetupReport,
    create_statement,
    exists_statement,
    namespace_statements,
    seed_sql,
)

if TYPE_CHECKING:  # at run time imported where used: pydantic would double `local status` time
    from local_snowflake import ServerInfo

    from dagster_dynamic_tables.declarations.environments import Environment
    from dagster_dynamic_tables.declarations.models import Declaration, Tenant

LOCAL_PORT_VAR = "LOCAL_SNOWFLAKE_PORT"
LOCAL_DATA_DIR_VAR = "LOCAL_SNOWFLAKE_DATA_DIR"
LOCAL_DATA_DIR_NAME = ".local_snowflake"
STAND_IN_PACKAGE = "local_snowflake"
LOCAL_EXTRA = "dagster-dynamic-tables[local]"

# The connector looks for a cloud on every login (AWS, Azure and GCP metadata endpoints such as
# 169.254.169.254 and metadata.google.internal, for its login telemetry). A stand-in on the
# loopback is in no cloud: 0 turns those requests off (the environment-variable checks remain).
# `local_snowflake.connection_args` sets it too; the core passes it itself so that its guarantee
# (tests/core/test_platform_detection.py) does not rest on another package's defaults.
NO_PLATFORM_DETECTION: dict[str, Any] = {"platform_detection_timeout_seconds": 0.0}

_tenants: dict[str, Tenant] = {}
# slug -> the environment its registered tenant is mapped into (for its seed SQL).
_environments: dict[str, Environment | None] = {}
# (data dir, port, slug) -> pid of the stand-in process in which the tenant's objects were made.
_ready: dict[tuple[str, int, str], int] = {}
_lock = threading.Lock()


def require_stand_in(slug: str) -> None:
    """Raise `SnowflakeSettingsError` if the stand-in (`local_snowflake`) is not installed.

    Production images leave it out (it brings DuckDB and fakesnow): there, a tenant without a
    Snowflake account must fail to load with one message saying which variables to set.
    """
    try:
        importlib.import_module(STAND_IN_PACKAGE)
    except ModuleNotFoundError as e:
        if e.name != STAND_IN_PACKAGE:
            raise  # installed but broken: not ours to explain away
        prefix = f"{slug.upper()}_SNOWFLAKE"
        raise SnowflakeSettingsError(
            f"No Snowflake account is configured for tenant {slug!r} ({prefix}_ACCOUNT or "
            "SNOWFLAKE_ACCOUNT), and the local Snowflake stand-in is not installed in this "
            "environment. Fix: set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PASSWORD or "
            f"SNOWFLAKE_PRIVATE_KEY_PATH (per tenant: {prefix}_ACCOUNT, ...); for local "
            f"development install {LOCAL_EXTRA}."
        ) from None


def default_local_port() -> int:
    """The stand-in's default port (`local_snowflake.DEFAULT_PORT`)."""
    import local_snowflake

    return local_snowflake.DEFAULT_PORT


def local_stand_in_location(
    env: Mapping[str, str], base_dir: Path | None = None
) -> tuple[Path, int]:
    """Data directory and port of the stand-in: `$LOCAL_SNOWFLAKE_DATA_DIR` (default
    `.local_snowflake/` at the repository root) and `$LOCAL_SNOWFLAKE_PORT`."""
    raw_port = env.get(LOCAL_PORT_VAR, "").strip()
    if raw_port:
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise SnowflakeSettingsError(
                f"{LOCAL_PORT_VAR}={raw_port!r} is not a TCP port. Fix: set it to a number from "
                f"1 to 65535, or unset it to use {default_local_port()}."
            )
        port = int(raw_port)
    else:
        port = default_local_port()
    raw_dir = env.get(LOCAL_DATA_DIR_VAR, "").strip()
    data_dir = Path(raw_dir) if raw_dir else find_repo_root(base_dir) / LOCAL_DATA_DIR_NAME
    return data_dir.resolve(), port


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest folder holding `workspace.yaml`, looking up from `start` and then from the
    working directory; the working directory if there is none (an installed tenant)."""
    for origin in (start, Path.cwd()):
        if origin is None:
            continue
        for folder in (origin.resolve(), *origin.resolve().parents):
            if (folder / "workspace.yaml").is_file():
                return folder
    return Path.cwd()


def stand_in_connection_args(port: int, host: str = "127.0.0.1") -> dict[str, Any]:
    """Connector arguments for the stand-in: `local_snowflake.connection_args`, without the
    connector's cloud platform detection."""
    import local_snowflake

    return {**local_snowflake.connection_args(host, port), **NO_PLATFORM_DETECTION}


def start_stand_in(data_dir: Path, port: int) -> ServerInfo:
    """Start the stand-in serving `data_dir` on `port` unless it runs already; its server info."""
    import local_snowflake

    return local_snowflake.ensure_server(data_dir, port)


def stand_in_status(data_dir: Path) -> ServerInfo | None:
    """The running stand-in's server info for `data_dir`, or None when none runs."""
    import local_snowflake

    return local_snowflake.server_status(data_dir)


def stop_stand_in(data_dir: Path) -> bool:
    """Stop the stand-in serving `data_dir`; False when none was running."""
    import local_snowflake

    return local_snowflake.stop_server(data_dir)


def connect_stand_in(info: ServerInfo) -> Any:
    """A connector connection to a running stand-in (no cloud platform detection)."""
    import local_snowflake

    return local_snowflake.connect(host=info.host, port=info.port, **NO_PLATFORM_DETECTION)


def is_stand_in_error(error: BaseException) -> bool:
    """Whether `error` was raised by the stand-in's package (the CLI reports it as expected)."""
    return type(error).__module__.startswith("local_snowflake")


def register_local_tenant(tenant: Tenant, environment: Environment | None = None) -> None:
    """Remember a tenant's declarations in this process, for its first local connection;
    `environment`: the one `tenant` is mapped into (its seed SQL is mapped the same way)."""
    _tenants[tenant.slug] = tenant
    _environments[tenant.slug] = environment


def registered_environment(slug: str) -> Environment | None:
    """The environment the registered tenant `slug` is mapped into (None: as declared)."""
    return _environments.get(slug)


def registered_tenants() -> list[Tenant]:
    return [_tenants[slug] for slug in sorted(_tenants)]


def ensure_local_stand_in(data_dir: Path, port: int, slug: str) -> None:
    """Start the stand-in if it is not running, and create `slug`'s local objects once per
    stand-in process.

    Called before every connection: a stand-in stopped (`dynamic-tables local stop`), killed or
    restarted since the last connection is started again, and the tenant's objects are checked
    again in the new process. While it runs this costs a health request to it (a few ms).
    """
    import local_snowflake

    key = (str(data_dir), port, slug)
    with _lock:
        try:
            info = local_snowflake.ensure_server(data_dir, port)
        except local_snowflake.LocalSnowflakeError as e:
            raise LocalSetupError(
                f"The local Snowflake stand-in for tenant {slug!r} did not start: {e}"
            ) from e
        if _ready.get(key) == info.pid:
            return
        tenant = _tenants.get(slug)
        if tenant is not None:
            with local_snowflake.connect(
                host=info.host, port=info.port, **NO_PLATFORM_DETECTION
            ) as conn:
                create_local_objects(
                    conn, tenant, lock_dir=data_dir, environment=_environments.get(slug)
                )
        _ready[key] = info.pid


@contextmanager
def _file_lock(lock_dir: Path | None) -> Iterator[None]:
    """Serialise local setup across processes (code servers, daemon, run workers)."""
    if lock_dir is None:
        yield
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / "setup.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def create_local_objects(
    conn: Any,
    tenant: Tenant,
    *,
    lock_dir: Path | None = None,
    environment: Environment | None = None,
) -> LocalSetupReport:
    """Create the tenant's databases, schemas, seeded sources, Dynamic Tables and views.

    `tenant` is mapped into `environment` already (`sql.environments.in_environment`); its seed
    SQL, read from the file, is mapped here the same way (`sql.environments.rewrite_sql`).

    The seed file runs only when none of the declared source tables exists yet, so seed rows are
    never inserted twice; Dynamic Tables and views are created with IF NOT EXISTS, upstream first.
    """
    from snowflake.connector.errors import Error as SnowflakeError

    from dagster_dynamic_tables.declarations.graph import derived_upstream_first

    report = LocalSetupReport(tenant.slug, seed_file=tenant.local_seed_file)
    with _file_lock(lock_dir):
        cursor = conn.cursor()
        try:
            for statement in namespace_statements(tenant):
                cursor.execute(statement)
            missing = [s for s in tenant.sources if not _exists(cursor, s)]
            if tenant.local_seed_file is not None and len(missing) == len(tenant.sources):
                _run_seed(conn, tenant, environment)
                report.seeded = True
            for source in tenant.sources:
                if source not in missing:
                    outcome = report.sources_existing
                elif report.seeded and _exists(cursor, source):
                    outcome = report.sources_seeded
                else:
                    outcome = report.sources_missing
                report.note(source, outcome)
            for declaration in derived_upstream_first(tenant):
                if _exists(cursor, declaration):
                    report.note(declaration, report.existing)
                    continue
                cursor.execute(create_statement(declaration))
                report.note(declaration, report.created)
        except SnowflakeError as e:
            raise LocalSetupError(
                f"Could not create tenant {tenant.slug!r}'s objects in the local Snowflake "
                f"stand-in: {e}"
            ) from e
        finally:
            cursor.close()
    return report


def _exists(cursor: Any, declaration: Declaration) -> bool:
    cursor.execute(*exists_statement(declaration))
    row = cursor.fetchone()
    return bool(row and row[0])


def _run_seed(conn: Any, tenant: Tenant, environment: Environment | None) -> None:
    """Run the tenant's `local_seed_file` (`sql.local_setup.seed_sql`)."""
    from snowflake.connector.errors import Error as SnowflakeError

    text = seed_sql(tenant, environment)
    if text is None:
        return
    try:
        for _cursor in conn.execute_string(text):
            pass
    except SnowflakeError as e:
        raise LocalSetupError(
            f"The local seed file {tenant.local_seed_file} failed: {e}. Fix: correct the SQL in "
            "the file; nothing was seeded if its first statement failed (the stand-in has no "
            "transactions across statements, so drop what a partial run created)."
        ) from e
