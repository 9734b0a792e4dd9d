"""A private PostgreSQL server for Dagster's production storage, on a free loopback port, run as
an unprivileged user (the server refuses root). Fails saying how to install PostgreSQL when it is
missing."""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.processes import free_port

POSTGRES_MISSING = (
    "PostgreSQL is needed by this test and was not found: no initdb on PATH or in "
    "/usr/lib/postgresql/*/bin. Fix: apt-get install -y postgresql (bash .ci/run does it)."
)


def postgres_bin() -> Path | None:
    """The folder of initdb / pg_ctl: PATH first, then Debian's versioned folders (newest)."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version_key)
    return found[-1].parent if found else None


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", str(path)))


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    database: str

    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads (deploy.POSTGRES_ENV)."""
        return {
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.database,
        }

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        import psycopg2  # the driver deploy/dagster.yaml names

        with (
            psycopg2.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                dbname=self.database,
                connect_timeout=10,
            ) as conn,
            conn.cursor() as cursor,
        ):
            cursor.execute(sql, params)
            return list(cursor.fetchall())


@contextmanager
def run_postgres() -> Iterator[Postgres]:
    """A private PostgreSQL cluster on a free loopback port, as an unprivileged user.

    The server refuses to run as root: under root (CI) it runs as the `postgres` user (Debian's
    package creates it), in a temporary folder that user owns; password authentication only."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.fail(POSTGRES_MISSING)
    as_user: list[str] = []
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            no_user = "PostgreSQL refuses to run as root and there is no 'postgres' user. "
            pytest.fail(no_user + POSTGRES_MISSING)
        owner = (account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="dynamic-tables-pg-"))
    server = Postgres("127.0.0.1", free_port(), "dagster", secrets.token_urlsafe(16), "dagster")
    data, log = base / "data", base / "server.log"
    password_file = base / "password"
    password_file.write_text(server.password + "\n")
    if owner:
        for path in (base, password_file):
            os.chown(path, *owner)

    def pg(tool: str, *args: str) -> None:
        result = subprocess.run(
            [*as_user, str(bindir / tool), *args], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{tool} {args}: {result.stdout}{result.stderr}"

    options = f"-h {server.host} -p {server.port} -k {base} -c fsync=off"
    try:
        pg(
            "initdb", "-D", str(data), "-U", server.user, f"--pwfile={password_file}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        pg("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        try:
            _create_database(server)
            yield server
        finally:
            pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _create_database(server: Postgres) -> None:
    import psycopg2

    conn = psycopg2.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname="postgres",
        connect_timeout=10,
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{server.database}"')
    finally:
        conn.close()
