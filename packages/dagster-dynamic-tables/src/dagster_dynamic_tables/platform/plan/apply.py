"""`dynamic-tables plan` / `apply`: bring Snowflake in line with the tenants' declarations.

`plan` reads what exists with a fixed number of statements per database, whatever the number of
objects (one INFORMATION_SCHEMA query over TABLES and VIEWS of the declared schemas, then
`SHOW DYNAMIC TABLES IN DATABASE` when the database exists), and prints, per declared object,
what `apply` would do and the DDL it would run:

- `create`: the object does not exist (`CREATE DYNAMIC TABLE` / `CREATE VIEW`, after
  `CREATE DATABASE / SCHEMA IF NOT EXISTS`);
- `alter`: only properties Snowflake changes in place differ (target lag, warehouse, scheduler,
  initialization warehouse, clustering, retention, comment): `CREATE OR ALTER DYNAMIC TABLE` with
  the whole declared state, which keeps the data (ALTER DYNAMIC TABLE statements for a transient
  table, which CREATE OR ALTER cannot name). A changed FROZEN WHERE is an alter that reinitializes
  the active region;
- `re-create`: the query or refresh mode changed (`CREATE OR ALTER`, reinitializes: all data is
  recomputed) or `transient` changed (`CREATE OR REPLACE ... COPY GRANTS`, reinitializes); for a
  view, a changed query (`CREATE OR REPLACE VIEW ... COPY GRANTS`, no data to recompute);
- `unchanged`.

An object of another kind in the declared object's place (a plain table where a Dynamic Table is
declared) is a `conflict`: apply never drops anything, undeclared or not. Sources are loaded
outside Dagster: plan says whether each exists; apply does not create them. `refresh_mode: AUTO`
matches whatever mode Snowflake chose (it chooses once, at creation) and the plan names it;
`initialize` only matters at creation and is not compared. A property Snowflake does not report
(a column missing from SHOW DYNAMIC TABLES, as on the local stand-in) is not compared, and the plan
says so. Plan also lists the grants the tenant's role needs for the freshness sensor and the
checks (USAGE on databases, schemas and warehouses, MONITOR on its Dynamic Tables); apply does not
grant (that needs an administrator's role).

Grants are enforced here, where the SQL runs, not only by `tenants check`: before reading
anything, every declaration file in scope (found as Dagster resolves `type:`, see `defsfiles`) is
checked against grants.yaml, by the folder that holds it. A tenant with an object outside its
grants (or without an entry, or with a file under another tenant's slug) is refused whole: one
`REFUSED` line per object, nothing of it read or applied; the other tenants go on, and the command
ends with a `PlanError` (exit 4). The tables each query reads that its deps do not name are
printed under the tenant's plan (`UNDECLARED READ`, see `sqlreads`); they do not change the exit
status (`tenants check` gates CI on them).

Exit status of `run_plan`: 0 when nothing is pending, 1 when apply would change something (or a
conflict needs a person), so CI can gate on it. `run_apply`: 0 when everything declared is in
place, 1 when something was left pending (a declined reinitialization, a conflict). Failures
raise `PlanError` (the CLI prints it and exits 2).

Connections follow the tenants' rules (`SNOWFLAKE_*`, overridable per tenant with `<SLUG>_`; the
local stand-in when no account is configured), with the connector directly: this module imports
neither Dagster nor dagster-snowflake.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from dagster_dynamic_tables.declarations.models import Declaration, SourceTable, Tenant
from dagster_dynamic_tables.errors import (
    DeclarationError,
    DynamicTablesError,
    PlanError,
    SnowflakeSettingsError,
)
from dagster_dynamic_tables.platform.plan.build import (
    PENDING,
    Action,
    Cursor,
    PlannedObject,
    TenantPlan,
    plan_tenant,
    required_grants,
)
from dagster_dynamic_tables.sql import ddl

__all__ = [
    "Action",
    "ApplyResult",
    "DeclaredFile",
    "PlanError",
    "PlannedObject",
    "TenantPlan",
    "apply_plan",
    "confirm_on_terminal",
    "format_plan",
    "load_declared_files",
    "load_declared_tenants",
    "plan_tenant",
    "refused_objects",
    "run_apply",
    "run_plan",
]


# --- printing -------------------------------------------------------------------------------

_LABELS = {
    Action.CREATE: "create",
    Action.ALTER: "alter",
    Action.RECREATE: "re-create",
    Action.UNCHANGED: "unchanged",
    Action.CONFLICT: "CONFLICT",
    Action.SOURCE_PRESENT: "source",
    Action.SOURCE_MISSING: "MISSING",
}


def _headline(item: PlannedObject) -> str:
    label = _LABELS[item.action]
    what = f"{label:<10} {item.name} ({item.kind})"
    if item.action is Action.ALTER:
        what += (
            ": reinitializes the active region"
            if item.reinitializes
            else ": in place, keeps its data"
        )
    elif item.action is Action.RECREATE:
        what += (
            ": REINITIALIZES (recomputes all its data)"
            if item.reinitializes
            else ": replaced (no data to recompute)"
        )
    elif item.action is Action.SOURCE_PRESENT:
        what += ": exists"
    elif item.action is Action.SOURCE_MISSING:
        what += ": does not exist"
    return what


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def format_plan(plan: TenantPlan, where: str) -> list[str]:
    """The plan as lines a reviewer reads: one headline per object, its changes and notes, the
    DDL apply would run, the grants, a summary."""
    lines = [
        f"tenant {plan.tenant.slug} ({where}): read {_count(plan.databases, 'database')} with "
        f"{_count(plan.statements_read, 'statement')}"
    ]
    for item in plan.objects:
        lines.append(f"  {_headline(item)}")
        lines += [f"      {change.render()}" for change in item.changes]
        lines += [f"      note: {note}" for note in item.notes]
        for statement in item.statements:
            lines += [f"      | {line}" for line in f"{statement};".splitlines()]
    created = [
        item.declaration.qualified_name for item in plan.objects if item.action is Action.CREATE
    ]
    if created:
        lines.append("  before the creates, apply makes sure their databases and schemas exist:")
        lines += [f"      | {statement};" for statement in ddl.render_namespaces(created)]
    lines += [f"  note: {note}" for note in plan.notes]
    lines += [f"  UNDECLARED READ {read}" for read in plan.reads]
    if plan.grants:
        lines.append(
            "  grants the role needs for the sensor and checks (an administrator runs them):"
        )
        lines += [f"      {grant};" for grant in plan.grants]
    counts = dict.fromkeys(Action, 0)
    for item in plan.objects:
        counts[item.action] += 1
    summary = (
        f"  {counts[Action.CREATE]} to create, {counts[Action.ALTER]} to alter, "
        f"{counts[Action.RECREATE]} to re-create, {counts[Action.UNCHANGED]} unchanged"
    )
    if counts[Action.CONFLICT]:
        summary += f", {counts[Action.CONFLICT]} in conflict"
    if counts[Action.SOURCE_MISSING]:
        summary += f", {_count(counts[Action.SOURCE_MISSING], 'source')} missing"
    lines.append(summary)
    return lines


# --- applying -------------------------------------------------------------------------------


@dataclass
class ApplyResult:
    applied: list[str] = field(default_factory=lambda: list[str]())
    declined: list[str] = field(default_factory=lambda: list[str]())
    conflicts: list[str] = field(default_factory=lambda: list[str]())
    blocked: list[str] = field(default_factory=lambda: list[str]())
    """Objects not applied because an upstream object of the tenant was declined or conflicts."""
    statements: int = 0

    @property
    def left(self) -> int:
        """How many objects are still pending after the run."""
        return len(self.declined) + len(self.conflicts) + len(self.blocked)


def apply_plan(
    cursor: Cursor, plan: TenantPlan, *, yes: bool, ask: Callable[[str], bool], out: TextIO
) -> ApplyResult:
    """Run the plan upstream first. Asks (`ask(question) -> bool`) before every change that
    reinitializes, unless `yes`; never drops anything. A failing statement stops the tenant with a
    `PlanError` saying what ran before it."""
    from snowflake.connector.errors import Error as SnowflakeError

    result = ApplyResult()
    namespaces_done: set[str] = set()
    held: set[str] = set()  # short names of objects left as they are, so their readers wait
    tenant = plan.tenant
    for item in plan.objects:
        declaration = item.declaration
        if item.action is Action.CONFLICT:
            result.conflicts.append(item.name)
            held.add(declaration.name)
            continue
        if item.action not in PENDING:
            continue
        waits_for = [
            key[-1]
            for key in (
                [] if isinstance(declaration, SourceTable) else tenant.dep_keys(declaration)
            )
            if key[0] == tenant.slug and key[-1] in held
        ]
        if waits_for:
            out.write(f"  skipped  {item.name} (waits for {', '.join(waits_for)})\n")
            result.blocked.append(item.name)
            held.add(declaration.name)
            continue
        if item.reinitializes and not yes:
            question = (
                f"{item.name}: {_headline(item).split(': ', 1)[-1]} "
                f"({', '.join(change.prop for change in item.changes)} changed). Run it?"
            )
            if not ask(question):
                out.write(f"  skipped  {item.name} (not confirmed)\n")
                result.declined.append(item.name)
                held.add(declaration.name)
                continue
        statements = list(item.statements)
        if item.action is Action.CREATE:
            statements = [
                s
                for s in ddl.render_namespaces([item.declaration.qualified_name])
                if s not in namespaces_done
            ] + statements
        for statement in statements:
            try:
                cursor.execute(statement)
            except SnowflakeError as e:
                done = ", ".join(result.applied) or "nothing"
                raise PlanError(
                    f"apply stopped at {item.name}: {statement.splitlines()[0]} ... failed: {e}. "
                    f"Applied before it: {done}. Fix the cause and run apply again (it starts "
                    "from what exists)."
                ) from e
            result.statements += 1
            if statement.startswith("CREATE DATABASE") or statement.startswith("CREATE SCHEMA"):
                namespaces_done.add(statement)
        out.write(f"  applied  {item.name} ({_LABELS[item.action]})\n")
        result.applied.append(item.name)
    return result


# --- tenants, connections and the two commands ----------------------------------------------


def confirm_on_terminal(question: str) -> bool:
    """The `ask` of an interactive `apply`: prints the question, reads y/N from the terminal.

    Without a terminal (CI) nothing can answer: the change is not confirmed (pass --yes)."""
    import sys

    if not sys.stdin.isatty():
        print(f"{question} [y/N] no terminal to answer: not confirmed (use --yes)")
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


@dataclass(frozen=True)
class DeclaredFile:
    """One declaration file: the tenant folder holding it (whose grants apply), the file, and
    its validated declarations."""

    folder: str
    path: Path
    tenant: Tenant


def load_declared_files(root: Path, slug: str | None = None) -> list[DeclaredFile]:
    """Every tenant's declaration files (of the component type, or a subclass, as Dagster
    resolves `type:`), or one tenant's; a tenant after the tenants whose assets it reads."""
    from dagster_dynamic_tables.declarations.loader import build_tenant
    from dagster_dynamic_tables.platform.defs_files import declaration_documents
    from dagster_dynamic_tables.platform.repo import discover_tenants

    folders = discover_tenants(root)
    if slug is not None:
        folders = [folder for folder in folders if folder.slug == slug]
        if not folders:
            known = ", ".join(folder.slug for folder in discover_tenants(root)) or "none"
            raise PlanError(f"no tenant {slug!r} under {root / 'tenants'} (tenants: {known}).")
    files: list[DeclaredFile] = []
    for folder in folders:
        documents, errors = declaration_documents(folder)
        if errors:
            raise errors[0]
        for document in documents:
            tenant = build_tenant(
                document.attributes,
                file=document.path,
                base_dir=document.path.parent,
                lines=document.lines,
            )
            files.append(DeclaredFile(folder.slug, document.path, tenant))
    order = {
        id(tenant): index
        for index, tenant in enumerate(_tenants_upstream_first([file.tenant for file in files]))
    }
    return sorted(files, key=lambda file: order[id(file.tenant)])


def load_declared_tenants(root: Path, slug: str | None = None) -> list[Tenant]:
    """Every tenant's declarations (see `load_declared_files`), or one tenant's; ordered so that
    a tenant comes after the tenants whose assets it depends on."""
    return [file.tenant for file in load_declared_files(root, slug)]


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _yaml_paths(tenant: Tenant) -> Iterator[tuple[str, Declaration]]:
    for section, items in (
        ("sources", tenant.sources),
        ("dynamic_tables", tenant.dynamic_tables),
        ("views", tenant.views),
    ):
        for index, item in enumerate(items):
            yield f"{section}[{index}]", item


def refused_objects(root: Path, files: list[DeclaredFile]) -> list[tuple[str, str]]:
    """One line per declared object outside the grants of the tenant whose folder declares it
    (grants.yaml at the root; a tenant without an entry may declare nothing), and per file that
    declares under another tenant's slug, as (tenant, line). Plan and apply touch nothing of
    such a tenant."""
    from dagster_dynamic_tables.platform.registration import (
        GRANTS_FILE,
        RegistrationError,
        load_grants,
    )

    try:
        grants = load_grants(root)
    except RegistrationError as e:
        raise PlanError(str(e)) from e
    lines: list[tuple[str, str]] = []
    for file in files:
        rel = _rel(root, file.path)
        if file.tenant.slug != file.folder:
            lines.append(
                (
                    file.folder,
                    f"tenant {file.folder!r}: {rel} says `tenant: {file.tenant.slug}`, but a "
                    "tenant declares objects only under its own slug, within its own grants. "
                    f"Fix: set "
                    f"`tenant: {file.folder}`.",
                )
            )
        entry = grants.tenants.get(file.folder)
        granted = (
            ", ".join(entry.schemas) or "no schema"
            if entry is not None
            else f"none: {GRANTS_FILE} has no entry for it"
        )
        for path, item in _yaml_paths(file.tenant):
            name = item.qualified_name
            database, schema = name.database.resolved, name.schema.resolved
            if entry is not None and entry.allows(database, schema):
                continue
            lines.append(
                (
                    file.folder,
                    f"tenant {file.folder!r}: {rel} {path} ({item.name}) declares {name.resolved} "
                    f"in schema {database}.{schema}, outside the tenant's grants ({granted}). Fix: "
                    f"declare it in a granted schema, or ask the platform team to extend "
                    f"{GRANTS_FILE} (`uv run dynamic-tables tenants grant {file.folder} --schema "
                    f"{database}.{schema}`).",
                )
            )
    return lines


def _read_problems(root: Path, file: DeclaredFile, declared: Mapping[str, str]) -> list[str]:
    """The reads of the file's queries that its deps do not name (see `sqlreads`)."""
    from dagster_dynamic_tables.errors import RegistrationError
    from dagster_dynamic_tables.platform.registration import load_grants
    from dagster_dynamic_tables.sql.lineage import read_problems

    try:
        entry = load_grants(root).tenants.get(file.folder)
    except RegistrationError:
        entry = None  # refused_objects reports the file
    problems = read_problems(
        file.tenant,
        declared,
        lambda database, schema: entry is not None and entry.allows(database, schema),
    )
    rel = _rel(root, file.path)
    return [f"tenant {file.folder!r}: {rel} {problem.render()}" for problem in problems]


def _declared_everywhere(root: Path) -> dict[str, str]:
    """Every object any tenant declares (resolved name -> asset key); a tenant whose files do not
    load is left out (its own plan, or `tenants check`, reports it)."""
    from dagster_dynamic_tables.platform.repo import discover_tenants
    from dagster_dynamic_tables.sql.lineage import declared_objects

    declared: dict[str, str] = {}
    for folder in discover_tenants(root):
        try:
            files = load_declared_files(root, folder.slug)
        except DynamicTablesError:
            continue
        for file in files:
            declared.update(declared_objects(file.tenant))
    return declared


def _tenants_upstream_first(tenants: list[Tenant]) -> list[Tenant]:
    by_slug = {tenant.slug: tenant for tenant in tenants}
    ordered: list[Tenant] = []
    seen: set[str] = set()

    def visit(tenant: Tenant) -> None:
        if tenant.slug in seen:
            return
        seen.add(tenant.slug)
        for declaration in tenant.all():
            if isinstance(declaration, SourceTable):
                continue
            for key in tenant.dep_keys(declaration):
                other = by_slug.get(key[0])
                if other is not None and other is not tenant:
                    visit(other)
        ordered.append(tenant)

    for tenant in tenants:
        visit(tenant)
    return ordered


def _setting(slug: str, name: str, env: Mapping[str, str]) -> str | None:
    """`<SLUG>_SNOWFLAKE_<NAME>`, else `SNOWFLAKE_<NAME>` (`settings.find_setting`'s value)."""
    from dagster_dynamic_tables.sql.settings import find_setting

    setting = find_setting(slug, name, env)
    return None if setting is None else setting.value


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
    (`settings.timeout_settings`); a private key file is read before connecting."""
    slug = tenant.slug
    account = _setting(slug, "ACCOUNT", env)
    if account is None:
        from dagster_dynamic_tables.standin import (
            connect_stand_in,
            local_stand_in_location,
            require_stand_in,
            start_stand_in,
        )

        require_stand_in(slug)
        data_dir, port = local_stand_in_location(env, root)
        info = start_stand_in(data_dir, port)
        conn = connect_stand_in(info)
        target = Target(f"local stand-in {info.host}:{info.port}", None, None, True)
    else:
        import snowflake.connector

        from dagster_dynamic_tables.sql.settings import timeout_settings

        user = _setting(slug, "USER", env)
        password = _setting(slug, "PASSWORD", env)
        key_path = _setting(slug, "PRIVATE_KEY_PATH", env)
        prefix = f"{slug.upper()}_SNOWFLAKE"
        if user is None or (password is None and key_path is None):
            raise SnowflakeSettingsError(
                f"A Snowflake account is configured for tenant {slug!r}, but no user or no "
                f"credentials. Fix: set {prefix}_USER or SNOWFLAKE_USER, and {prefix}_PASSWORD "
                f"or SNOWFLAKE_PASSWORD (or {prefix}_PRIVATE_KEY_PATH or "
                "SNOWFLAKE_PRIVATE_KEY_PATH)."
            )
        args: dict[str, Any] = {"account": account, "user": user, "autocommit": True}
        if key_path is not None:
            args["private_key"] = _private_key(slug, env)
        else:
            args["password"] = password
        role = _setting(slug, "ROLE", env)
        warehouse = _setting(slug, "WAREHOUSE", env)
        for key, value in (("role", role), ("warehouse", warehouse)):
            if value is not None:
                args[key] = value
        # the tenants' resource's timeouts: login, socket, and SNOWFLAKE_NETWORK_TIMEOUT for
        # apply's DDL (a CREATE runs the first refresh); plan's reads are bounded in `_read`
        timeouts = timeout_settings(slug, env)
        args.update(timeouts, **(connection_args or {}))
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
        target = Target(f"Snowflake account {account}", role, warehouse, False)
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


@dataclass
class _Run:
    """What `_plan_all` found before planning: the refusals, and the tenants left to plan."""

    refused: list[str] = field(default_factory=lambda: list[str]())
    refused_tenants: list[str] = field(default_factory=lambda: list[str]())


def _plan_all(
    root: Path, tenant: str | None, env: Mapping[str, str], out: TextIO, run: _Run
) -> Iterator[tuple[Any, TenantPlan, Target]]:
    """Plan each tenant in scope, upstream first. A tenant with an object outside its grants is
    refused whole: its lines are written first, and nothing of it is read or applied."""
    try:
        files = load_declared_files(root, tenant)
    except DeclarationError as e:
        raise PlanError(str(e)) from e
    if not files:
        out.write("no declared tenants found\n")
    refusals = refused_objects(root, files)
    refused = {slug for slug, _line in refusals}
    for _slug, line in refusals:
        out.write(f"REFUSED {line}\n")
    run.refused += [line for _slug, line in refusals]
    run.refused_tenants += sorted(refused)
    declared = _declared_everywhere(root) if any(f.folder not in refused for f in files) else {}
    for file in files:
        if file.folder in refused:
            continue
        declared.update(_own_objects(file))
        with connect_tenant(file.tenant, root, env) as (conn, target):
            cursor = conn.cursor()
            plan = _read(cursor, file.tenant, target)
            plan.grants = required_grants(file.tenant, target.role, target.warehouse)
            plan.reads = _read_problems(root, file, declared)
            yield cursor, plan, target


def _own_objects(file: DeclaredFile) -> dict[str, str]:
    from dagster_dynamic_tables.sql.lineage import declared_objects

    return declared_objects(file.tenant)


def _refusal_error(run: _Run, command: str) -> PlanError:
    count = len(run.refused)
    done = "read or applied" if command == "apply" else "planned"
    return PlanError(
        f"{command} refused {count} declaration{'s' if count != 1 else ''} outside their "
        f"tenant's grants (the REFUSED lines above): nothing of tenant "
        f"{', '.join(run.refused_tenants)} was {done}. "
        "Fix: declare the objects in the tenant's granted schemas, or ask the platform team to "
        "extend grants.yaml."
    )


def _private_key(slug: str, env: Mapping[str, str]) -> bytes:
    """The tenant's private key file read as a key (`PrivateKeyError`, a `SnowflakeSettingsError`
    naming the file and the variables, when it is not one)."""
    from dagster_dynamic_tables.sql.settings import find_setting, load_private_key

    path = find_setting(slug, "PRIVATE_KEY_PATH", env)
    assert path is not None
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


def _read(cursor: Any, tenant: Tenant, target: Target) -> TenantPlan:
    """What exists for the tenant, with the platform's read timeout on the connection
    (`settings.bounded_reads`: the statements stop retrying, and are cancelled, after 15 s)."""
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


def run_plan(
    root: Path, tenant: str | None, out: TextIO, *, env: Mapping[str, str] | None = None
) -> int:
    """`dynamic-tables plan [--tenant SLUG]`: print the plan of every tenant (or one); 0 when
    nothing is pending, 1 when apply would change something or a conflict needs a person."""
    env = os.environ if env is None else env
    pending = 0
    started = time.perf_counter()
    run = _Run()
    for _cursor, plan, target in _plan_all(root, tenant, env, out, run):
        for line in format_plan(plan, target.description):
            out.write(line + "\n")
        pending += len(plan.pending)
    elapsed = time.perf_counter() - started
    verdict = f"{pending} change{'s' if pending != 1 else ''} pending" if pending else "no changes"
    out.write(f"plan: {verdict} ({elapsed:.1f} s)\n")
    if run.refused:
        raise _refusal_error(run, "plan")
    return 1 if pending else 0


def run_apply(
    root: Path,
    tenant: str | None,
    yes: bool,
    out: TextIO,
    ask: Callable[[str], bool],
    *,
    env: Mapping[str, str] | None = None,
) -> int:
    """`dynamic-tables apply [--tenant SLUG] [--yes]`: plan, print, then run each tenant's
    changes upstream first (tenants whose assets others read first). `ask(question)` confirms a
    change that reinitializes (not called with `yes`). Afterwards each tenant is read again: 0
    when nothing is pending any more, 1 when something is (declined, in conflict, waiting for
    those, or not converged)."""
    env = os.environ if env is None else env
    left = 0
    run = _Run()
    for cursor, plan, target in _plan_all(root, tenant, env, out, run):
        for line in format_plan(plan, target.description):
            out.write(line + "\n")
        result = apply_plan(cursor, plan, yes=yes, ask=ask, out=out)
        out.write(
            f"apply {plan.tenant.slug}: {len(result.applied)} applied with {result.statements} "
            f"statements, {len(result.declined)} declined, {len(result.conflicts)} in conflict, "
            f"{len(result.blocked)} waiting for those\n"
        )
        pending = [item.name for item in _read(cursor, plan.tenant, target).pending]
        left += len(pending)
        out.write(
            f"plan {plan.tenant.slug} after apply: "
            + (f"still pending: {', '.join(pending)}\n" if pending else "no changes\n")
        )
    if run.refused:
        raise _refusal_error(run, "apply")
    return 1 if left else 0
