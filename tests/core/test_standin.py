"""Creating a tenant's objects in the stand-in, and the `dynamic-tables local` command."""

import os
from pathlib import Path

import pytest
from dagster_dynamic_tables.cli import EXIT_ERROR, EXIT_OK
from dagster_dynamic_tables.declarations.models import DynamicTable, SourceTable, Tenant, View
from dagster_dynamic_tables.errors import LocalSetupError, WorkspaceError
from dagster_dynamic_tables.platform.workspace import workspace_modules
from dagster_dynamic_tables.sql.local_setup import LocalSetupReport
from dagster_dynamic_tables.standin import create_local_objects
from support.processes import run_cli


def _tenant(tmp_path: Path, seed: str | None) -> Tenant:
    seed_file = None
    if seed is not None:
        seed_file = tmp_path / "seed.sql"
        seed_file.write_text(seed)
    return Tenant(
        "localtest",
        sources=(SourceTable(name="items", table="LOCALTEST.RAW.ITEMS"),),
        # Declared downstream-first on purpose: creation must go upstream first.
        views=(
            View(
                name="big_totals",
                table="LOCALTEST.MART.BIG_TOTALS",
                query="SELECT * FROM LOCALTEST.MART.TOTALS WHERE total > 1",
                deps=["totals"],
            ),
        ),
        dynamic_tables=(
            DynamicTable(
                name="totals",
                table="LOCALTEST.MART.TOTALS",
                target_lag="1 minute",
                warehouse="WH",
                refresh_mode="FULL",
                query="SELECT kind, SUM(n) AS total FROM LOCALTEST.RAW.ITEMS GROUP BY kind",
                deps=["items"],
            ),
        ),
        local_seed_file=seed_file,
    )


SEED = """
CREATE TABLE LOCALTEST.RAW.ITEMS (kind VARCHAR, n INTEGER);
INSERT INTO LOCALTEST.RAW.ITEMS VALUES ('a', 1), ('a', 2), ('b', 1);
"""


def _rows(conn, sql):
    return conn.cursor().execute(sql).fetchall()


def test_create_local_objects_seeds_once_and_creates_upstream_first(
    local_snowflake_connect, tmp_path
):
    conn = local_snowflake_connect()
    tenant = _tenant(tmp_path, SEED)

    first = create_local_objects(conn, tenant, lock_dir=tmp_path)
    assert first.seeded
    assert first.sources_seeded == ["LOCALTEST.RAW.ITEMS"]
    assert first.created == ["LOCALTEST.MART.TOTALS", "LOCALTEST.MART.BIG_TOTALS"]
    assert first.summary() == (
        "localtest: 3 objects checked: 1 source table (from seed.sql, with its rows), "
        "1 Dynamic Table and 1 view created"
    )
    assert _rows(conn, "SELECT kind, total FROM LOCALTEST.MART.TOTALS ORDER BY kind") == [
        ("a", 3),
        ("b", 1),
    ]
    assert _rows(conn, "SELECT kind FROM LOCALTEST.MART.BIG_TOTALS") == [("a",)]

    second = create_local_objects(conn, tenant, lock_dir=tmp_path)
    assert not second.seeded
    assert second.created == []
    assert second.existing == ["LOCALTEST.MART.TOTALS", "LOCALTEST.MART.BIG_TOTALS"]
    assert second.sources_existing == ["LOCALTEST.RAW.ITEMS"]
    assert second.summary() == (
        "localtest: 3 objects checked: 1 source table, 1 Dynamic Table and 1 view already "
        "there; nothing created"
    )
    assert _rows(conn, "SELECT COUNT(*) FROM LOCALTEST.RAW.ITEMS") == [(3,)]


def test_setup_summary_tallies_every_declared_object_by_kind_and_outcome():
    report = LocalSetupReport("shop", seed_file=Path("local/seed.sql"))
    report.note(SourceTable(name="a", table="SHOP.RAW.A"), report.sources_existing)
    report.note(SourceTable(name="b", table="SHOP.RAW.B"), report.sources_missing)
    dt = DynamicTable(
        name="d", table="SHOP.MART.D", target_lag="1 minute", warehouse="WH", query="SELECT 1"
    )
    report.note(dt, report.created)
    report.note(View(name="v", table="SHOP.MART.V", query="SELECT 1"), report.existing)
    assert report.summary() == (
        "shop: 4 objects checked: 1 Dynamic Table created; 1 source table and 1 view already "
        "there; 1 source table missing (seed.sql runs only when none of them exists)"
    )
    report = LocalSetupReport("shop")
    report.note(SourceTable(name="a", table="SHOP.RAW.A"), report.sources_missing)
    assert report.summary() == (
        "shop: 1 object checked: 1 source table missing (no local_seed_file is declared); "
        "nothing created"
    )


def test_create_local_objects_reports_a_broken_seed(local_snowflake_connect, tmp_path):
    conn = local_snowflake_connect()
    tenant = Tenant(
        "brokenseed",
        sources=(SourceTable(name="t", table="BROKENSEED.RAW.T"),),
        local_seed_file=tmp_path / "missing.sql",
    )
    with pytest.raises(LocalSetupError) as excinfo:
        create_local_objects(conn, tenant)
    assert str(excinfo.value) == (
        f"Cannot read the local seed file {tmp_path / 'missing.sql'}: it does not exist. "
        "Fix: correct local_seed_file in the tenant's declarations (it is relative to the YAML "
        "file)."
    )


def test_create_local_objects_reports_a_failing_seed_statement(local_snowflake_connect, tmp_path):
    conn = local_snowflake_connect()
    seed = tmp_path / "seed.sql"
    seed.write_text("INSERT INTO BADSEED.RAW.NOPE VALUES (1);\n")
    tenant = Tenant(
        "badseed",
        sources=(SourceTable(name="t", table="BADSEED.RAW.T"),),
        local_seed_file=seed,
    )
    with pytest.raises(LocalSetupError) as excinfo:
        create_local_objects(conn, tenant)
    message = str(excinfo.value)
    assert message.startswith(f"The local seed file {seed} failed: ")
    assert "NOPE" in message.upper()
    assert message.endswith("so drop what a partial run created).")


def test_workspace_modules_reads_python_module_entries(tmp_path):
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        "  - python_module:\n"
        "      module_name: ecommerce.definitions\n"
        "      location_name: ecommerce\n"
        "  - python_module: other.definitions\n"
        "  - grpc_server: {host: 127.0.0.1, port: 4266, location_name: remote}\n"
    )
    assert workspace_modules(workspace) == [
        ("ecommerce", "ecommerce.definitions"),
        ("other.definitions", "other.definitions"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("load_from: nope\n", "{path}: expected a top-level 'load_from' list of code locations."),
        (
            "load_from:\n  - python_module: {location_name: x}\n",
            "{path}: load_from[0].python_module needs a module_name string.",
        ),
    ],
    ids=["not-a-list", "no-module-name"],
)
def test_workspace_modules_rejects_malformed_files(tmp_path, text, message):
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(text)
    with pytest.raises(WorkspaceError) as excinfo:
        workspace_modules(workspace)
    assert str(excinfo.value) == message.format(path=workspace)


def test_local_start_is_idempotent_plan_sees_nothing_pending_and_status_stop_behave(tmp_path):
    """The whole local loop as a user runs it: `local status`, `local start` twice, `plan`
    (nothing pending after a start; an unknown tenant is an error), `local stop` (each start
    loads every code location: about 8 s here, so one stand-in serves all of it)."""
    from support.processes import free_port

    env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    env |= {"LOCAL_SNOWFLAKE_PORT": str(free_port()), "LOCAL_SNOWFLAKE_DATA_DIR": str(tmp_path)}
    try:
        status = run_cli("local", "status", env=env)
        assert status.returncode == 3
        assert "not running" in status.stdout

        first = run_cli("local", "start", env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert (
            "ecommerce: 4 objects checked: 2 source tables (from seed.sql, with its rows) and "
            "2 Dynamic Tables created"
        ) in first.stdout

        second = run_cli("local", "start", env=env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert (
            "ecommerce: 4 objects checked: 2 source tables and 2 Dynamic Tables already there; "
            "nothing created"
        ) in second.stdout
        pid = first.stdout.split("(pid ")[1].split(")")[0]
        assert f"(pid {pid})" in second.stdout

        status = run_cli("local", "status", env=env)
        assert status.returncode == 0
        assert f"(pid {pid})" in status.stdout

        plan = run_cli("plan", "--tenant", "finance", env=env)
        assert plan.returncode == EXIT_OK, plan.stdout + plan.stderr
        assert any(
            line.split()[:2] == ["unchanged", "FINANCE.REPORTING.REVENUE_VS_BUDGET"]
            for line in plan.stdout.splitlines()
        ), plan.stdout
        assert plan.stdout.rstrip().splitlines()[-1].startswith("plan: no changes")
        unknown = run_cli("plan", "--tenant", "nobody", env=env)
        assert unknown.returncode == EXIT_ERROR
        assert "nobody" in unknown.stdout + unknown.stderr
    finally:
        stop = run_cli("local", "stop", env=env)
    assert stop.returncode == 0
    assert stop.stdout.strip() == "local Snowflake stand-in: stopped"
    assert run_cli("local", "status", env=env).returncode == 3


def test_local_start_with_missing_workspace_says_how_to_fix_and_starts_nothing(tmp_path):
    from support.processes import free_port

    env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    env |= {"LOCAL_SNOWFLAKE_PORT": str(free_port()), "LOCAL_SNOWFLAKE_DATA_DIR": str(tmp_path)}
    result = run_cli("local", "start", "-w", "nope.yaml", env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 4  # cli.EXIT_ERROR
    assert result.stderr.strip() == (
        "ERROR: Cannot read nope.yaml: No such file or directory. Fix: run from the repository "
        "root or pass --workspace PATH."
    )
    assert list(tmp_path.iterdir()) == []  # no server was started, nothing written
