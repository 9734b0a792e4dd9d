"""Deployment tests' harness: a tenant's image environment without Docker, a code server, and a
real PostgreSQL server for Dagster's storage.

`build_isolated_env` does what `tenants/<slug>/Dockerfile` does, without a container engine: it
takes the build context the way BuildKit would (the repository root filtered by
`tenants/<slug>/Dockerfile.dockerignore`), then walks the builder stage in order: a RUN's bind
mounts are put in place for that command only, COPY copies from the context, and each `uv sync`
line runs as written (same flags, the stage's ENV) with UV_PROJECT_ENVIRONMENT pointing at a
fresh directory outside the repository's `.venv`. What it runs is read from the generated
Dockerfile, so a change there is a change here.

Shared by the tests and by `tests/benchmarks/bench_deploy.py`. Loopback only; waits are bounded;
processes start in their own session and are stopped by pid.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
T = TypeVar("T")
# Snowflake settings for loading a tenant as production does (no stand-in); nothing connects.
SNOWFLAKE_ENV = {
    "SNOWFLAKE_ACCOUNT": "deploy-test-account",
    "SNOWFLAKE_USER": "deploy_test_user",
    "SNOWFLAKE_PASSWORD": "deploy-test-password",
}


def tenant_slugs() -> list[str]:
    return sorted(p.parent.name for p in (REPO_ROOT / "tenants").glob("*/pyproject.toml"))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without Snowflake, virtualenv or uv project settings of the caller."""
    drop = ("SNOWFLAKE", "LOCAL_SNOWFLAKE", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not any(d in k for d in drop)}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env | extra


# --- .dockerignore, as BuildKit reads it ------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str
    regex: re.Pattern[str]
    negated: bool


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def parse_dockerignore(text: str) -> list[IgnoreRule]:
    rules: list[IgnoreRule] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        rules.append(IgnoreRule(pattern, _pattern_regex(pattern), negated))
    return rules


def is_ignored(path: str, rules: list[IgnoreRule]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for rule in rules:
        if any(rule.regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not rule.negated
    return ignored


def build_context(repo_root: Path, rules: list[IgnoreRule]) -> list[str]:
    """Files of the build context (relative POSIX paths), the repo root filtered by `rules`."""
    reincluded = [rule.pattern for rule in rules if rule.negated]
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(repo_root):
        base = Path(dirpath).relative_to(repo_root).as_posix()
        base = "" if base == "." else base + "/"
        keep: list[str] = []
        for name in sorted(dirnames):
            rel = base + name
            # An ignored folder is only entered when a '!' pattern may re-include inside it.
            if not is_ignored(rel, rules) or any(p.startswith(rel + "/") for p in reincluded):
                keep.append(name)
        dirnames[:] = keep
        files += [base + name for name in sorted(filenames) if not is_ignored(base + name, rules)]
    return files


# --- the Dockerfile's builder stage -----------------------------------------------------------


@dataclass
class Step:
    kind: str  # "RUN" | "COPY" | "ENV"
    args: str
    binds: list[tuple[str, str]] = field(default_factory=list)


def builder_steps(dockerfile: str) -> list[Step]:
    """ENV, RUN and COPY instructions of the first stage, continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in dockerfile.splitlines():
        if raw.lstrip().startswith("#") and not pending:
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    steps: list[Step] = []
    stages = 0
    for line in lines:
        instruction, _, args = line.strip().partition(" ")
        if instruction == "FROM":
            stages += 1
            if stages > 1:
                break
        elif instruction in ("RUN", "COPY", "ENV"):
            binds = re.findall(r"--mount=type=bind,source=([^,\s]+),target=([^,\s]+)", args)
            args = re.sub(r"--mount=\S+\s*", "", args).strip()
            steps.append(Step(instruction, args, binds))
    return steps


def _copy_from_context(context: Path, files: list[str], source: str, dest: Path) -> None:
    source = source.rstrip("/")
    chosen = [f for f in files if f == source or f.startswith(source + "/")]
    if not chosen:
        raise AssertionError(f"COPY {source}: nothing in the build context (dockerignore?)")
    for rel in chosen:
        target = dest / Path(rel).name if rel == source else dest / rel[len(source) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(context / rel, target)


def build_isolated_env(slug: str, workdir: Path, repo_root: Path = REPO_ROOT) -> Path:
    """Run `tenants/<slug>/Dockerfile`'s builder stage into `workdir/venv`; return that path."""
    dockerfile = (repo_root / "tenants" / slug / "Dockerfile").read_text()
    ignore = (repo_root / "tenants" / slug / "Dockerfile.dockerignore").read_text()
    files = build_context(repo_root, parse_dockerignore(ignore))
    app, venv = workdir / "app", workdir / "venv"
    app.mkdir(parents=True)
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH"
    env = clean_env(UV_PROJECT_ENVIRONMENT=str(venv))
    for step in builder_steps(dockerfile):
        if step.kind == "ENV":
            env |= dict(pair.split("=", 1) for pair in shlex.split(step.args))
        elif step.kind == "COPY":
            *sources, dest = shlex.split(step.args)
            for source in sources:
                _copy_from_context(repo_root, files, source, app / dest)
        elif "uv " in step.args:
            mounted = [app / target for _, target in step.binds if not (app / target).exists()]
            for source, target in step.binds:
                _copy_from_context(repo_root, files, source, (app / target).parent)
            command = shlex.split(step.args)
            assert command[0] == "uv", f"unexpected RUN in the builder stage: {step.args}"
            result = subprocess.run(
                [uv, *command[1:]], cwd=app, env=env, capture_output=True, text=True, timeout=600
            )
            assert result.returncode == 0, f"{step.args}\n{result.stdout}\n{result.stderr}"
            for path in mounted:  # bind mounts exist for that RUN only
                path.unlink()
    return venv


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@contextmanager
def started(
    command: list[str], log_file: Path, env: dict[str, str], cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session, logging to `log_file`; stopped (by pid) on exit."""
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def grpc_healthy(dagster: Path, port: int, env: dict[str, str]) -> bool:
    result = subprocess.run(
        [str(dagster), "api", "grpc-health-check", "-p", str(port)],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode == 0


@dataclass
class CodeServer:
    slug: str
    port: int
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = None

    def process_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def run_code_server(
    slug: str,
    workdir: Path,
    dagster: Path = BIN / "dagster",
    env: dict[str, str] | None = None,
) -> Iterator[CodeServer]:
    """`dagster code-server start` for one tenant on a loopback port, healthy when yielded.

    `env`: the server's environment (default: a fresh DAGSTER_HOME and production-like
    Snowflake settings that never connect)."""
    if env is None:
        home = workdir / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").touch()
        env = clean_env(DAGSTER_HOME=str(home), PYTHONUNBUFFERED="1", **SNOWFLAKE_ENV)
    port = free_port()
    command = [str(dagster), "code-server", "start", "-h", "127.0.0.1", "-p", str(port)]
    command += ["-m", f"{slug}.definitions", "--location-name", slug]
    server = CodeServer(slug, port, env, workdir / f"code-server-{slug}.log")
    with started(command, server.log_file, env, workdir) as process:
        server.process = process

        def healthy() -> bool:
            if process.poll() is not None:  # fail now, with the reason, not after the timeout
                raise AssertionError(f"the code server exited:\n{server.log_tail()}")
            return grpc_healthy(dagster, port, env)

        try:
            wait_for("the code server to pass grpc-health-check", healthy, timeout=180, every=1.0)
        except TimeoutError:
            print(f"--- code server log ---\n{server.log_tail()}")
            raise
        yield server


@pytest.fixture(scope="module")
def code_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeServer]:
    """One ecommerce code server shared by a module's tests (starting one costs seconds)."""
    with run_code_server("ecommerce", tmp_path_factory.mktemp("code-server")) as server:
        yield server


# --- PostgreSQL (Dagster's production storage) ----------------------------------------------

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


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with run_postgres() as server:
        yield server
