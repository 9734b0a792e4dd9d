"""`env create | drop | list` with the repository's tenants, on a stand-in of this module's own
(real connector, real server process): dev made as `local start --environment dev` makes it,
then a branch environment pr_7 cloned from it, used (an insert, a refresh, the freshness sensor
in pr_7 recording it), and dropped; prod and hostile names refused before any statement."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_dynamic_tables.declarations.environments import load_environments
from dagster_dynamic_tables.definitions.specs import build_asset_specs
from dagster_dynamic_tables.errors import EnvironmentsError, PlanError
from dagster_dynamic_tables.freshness.sensor import SENSOR_NAME, build_freshness_sensor
from dagster_dynamic_tables.health.checks import build_dynamic_table_checks
from dagster_dynamic_tables.platform.branches.create import create_branch
from dagster_dynamic_tables.platform.branches.drop import drop_branch, list_branches
from dagster_dynamic_tables.platform.branches.markers import age_text, marker
from dagster_dynamic_tables.platform.plan.declared import load_declared_files
from dagster_dynamic_tables.standin import create_local_objects
from local_snowflake import ServerInfo, connect, connection_args
from local_snowflake.pytest_plugin import start_test_server, stop_test_server
from support.repo import REPO_ROOT
from support.shop import stand_in_resource

ROLLUP = "ANALYTICS.DAILY_REVENUE_ROLLUP"


@dataclass
class Stand:
    info: ServerInfo
    env: dict[str, str]
    cur: Any

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        self.cur.execute(sql)
        return [tuple(r) for r in self.cur.fetchall()]

    def databases(self) -> dict[str, tuple[Any, ...]]:
        return {r[1]: r for r in self.rows("SHOW DATABASES")}

    def count(self) -> int:
        return int(self.rows("SELECT SYSTEM$LOCAL_SNOWFLAKE_STATEMENT_COUNT()")[0][0])

    def dynamic_tables(self, database: str) -> dict[str, tuple[Any, ...]]:
        return {r[1]: r for r in self.rows(f"SHOW DYNAMIC TABLES IN DATABASE {database}")}


@pytest.fixture(scope="module")
def stand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    info, process = start_test_server(tmp_path_factory.mktemp("branches"))
    env = {"LOCAL_SNOWFLAKE_PORT": str(info.port), "LOCAL_SNOWFLAKE_DATA_DIR": str(info.data_dir)}
    dev = load_environments(REPO_ROOT / "environments.yaml").get("dev")
    try:
        with connect(info.host, info.port) as conn:
            # dev as `local start --environment dev` makes it: every tenant mapped into dev
            files = load_declared_files(REPO_ROOT, None, {"DYNAMIC_TABLES_ENVIRONMENT": "dev"})
            for file in files:
                create_local_objects(conn, file.tenant, environment=dev)
            yield Stand(info, env, conn.cursor())
    finally:
        stop_test_server(process)


def _snapshot(stand: Stand, databases: list[str]) -> list[Any]:
    """Every row, Dynamic Table state and refresh of the databases (what must not change)."""
    taken: list[Any] = []
    for database in databases:
        tables = stand.rows(
            f"SELECT table_schema, table_name FROM {database}.INFORMATION_SCHEMA.TABLES "
            "WHERE table_schema <> 'INFORMATION_SCHEMA' ORDER BY 1, 2"
        )
        for schema, table in tables:
            taken.append(sorted(map(str, stand.rows(f"SELECT * FROM {database}.{schema}.{table}"))))
        taken.append(sorted((r[1], r[13], r[15]) for r in stand.dynamic_tables(database).values()))
        taken.append(
            stand.rows(
                f"SELECT QUALIFIED_NAME, DATA_TIMESTAMP, STATE FROM TABLE({database}."
                "INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(RESULT_LIMIT => 10000)) "
                "ORDER BY 1, 2"
            )
        )
    return taken


def _sensor_in(stand: Stand, environment: str, slug: str) -> tuple[Any, dg.DagsterInstance, Any]:
    """The tenant's freshness sensor, its declarations mapped into `environment`."""
    files = load_declared_files(REPO_ROOT, slug, {"DYNAMIC_TABLES_ENVIRONMENT": environment})
    tenant = files[0].tenant
    resource = stand_in_resource(connection_args(stand.info.host, stand.info.port))
    defs = dg.Definitions(
        assets=build_asset_specs(tenant),
        asset_checks=build_dynamic_table_checks(tenant),
        sensors=[build_freshness_sensor(tenant)],
        resources={"snowflake": resource},
    )
    return defs.resolve_sensor_def(SENSOR_NAME), dg.DagsterInstance.ephemeral(), resource


def _tick(sensor: Any, instance: dg.DagsterInstance, resource: Any, cursor: str | None) -> Any:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"snowflake": resource}
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult), result
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return result


def test_env_create_pr_7_from_dev_then_use_and_drop_it(stand: Stand):
    dev_before = _snapshot(stand, ["ECOMMERCE_DEV", "FINANCE_DEV"])
    out = io.StringIO()
    assert create_branch(REPO_ROOT, "pr_7", "dev", [], stand.env, out) == 0
    report = out.getvalue()
    assert "cloned   ECOMMERCE_DEV -> ECOMMERCE_PR_7" in report
    assert report.index("ECOMMERCE_DEV -> ECOMMERCE_PR_7") < report.index("FINANCE_DEV -> ")
    assert (
        f"ECOMMERCE_PR_7.{ROLLUP}: its definition read the source environment: re-pointed to "
        "the branch (re-created, reinitialized); " in report
    )
    databases = stand.databases()
    assert databases["ECOMMERCE_PR_7"][6] == marker("pr_7", "dev", "ECOMMERCE_DEV")
    rollup = stand.dynamic_tables("ECOMMERCE_PR_7")["DAILY_REVENUE_ROLLUP"]
    assert "ECOMMERCE_PR_7.RAW.RAW_ORDERS" in rollup[13]  # re-pointed: reads the branch
    assert "ECOMMERCE_DEV" not in rollup[13]
    # the shipped environments.yaml says resume: every declared Dynamic Table runs
    for database in ("ECOMMERCE_PR_7", "FINANCE_PR_7"):
        assert {r[15] for r in stand.dynamic_tables(database).values()} == {"RUNNING"}

    sensor, instance, resource = _sensor_in(stand, "pr_7", "ecommerce")
    first = _tick(sensor, instance, resource, None)
    stand.cur.execute(
        "INSERT INTO ECOMMERCE_PR_7.RAW.RAW_ORDERS VALUES "
        "('O900', 'C001', '2031-01-01', 99.50, 'completed')"
    )
    stand.cur.execute(f"ALTER DYNAMIC TABLE ECOMMERCE_PR_7.{ROLLUP} REFRESH")
    (latest,) = stand.rows(
        "SELECT max(DATA_TIMESTAMP) FROM TABLE(ECOMMERCE_PR_7.INFORMATION_SCHEMA."
        f"DYNAMIC_TABLE_REFRESH_HISTORY(NAME => 'ECOMMERCE_PR_7.{ROLLUP}'))"
    )[0:1][0]
    second = _tick(sensor, instance, resource, first.cursor)
    key = dg.AssetKey(["ecommerce", "daily_revenue_rollup"])
    recorded = [
        e
        for e in second.asset_events
        if isinstance(e, dg.AssetMaterialization) and e.asset_key == key
    ]
    assert len(recorded) == 1
    assert recorded[0].metadata["snowflake_table"].value == f"ECOMMERCE_PR_7.{ROLLUP}"
    assert instance.get_latest_materialization_event(key) is not None
    assert (recorded[0].tags or {})["dagster/data_version"] == latest.isoformat()
    # nothing in dev changed
    assert _snapshot(stand, ["ECOMMERCE_DEV", "FINANCE_DEV"]) == dev_before

    listed = io.StringIO()
    list_branches(REPO_ROOT, stand.env, listed)
    assert "pr_7  from dev  age 0m  2 databases" in listed.getvalue()
    assert "  ECOMMERCE_PR_7  clone of ECOMMERCE_DEV  created " in listed.getvalue()

    # create again (a later push): kept, re-pointing converges with nothing to do
    again = io.StringIO()
    assert create_branch(REPO_ROOT, "pr_7", "dev", ["ecommerce"], stand.env, again) == 0
    assert "  kept     ECOMMERCE_PR_7 (made by env create 0m ago)" in again.getvalue()
    assert "FINANCE" not in again.getvalue()

    dropped = io.StringIO()
    assert drop_branch(REPO_ROOT, "pr_7", stand.env, dropped) == 0
    assert "dropped  ECOMMERCE_PR_7 (clone of ECOMMERCE_DEV from dev" in dropped.getvalue()
    databases = stand.databases()
    assert not [name for name in databases if name.endswith("_PR_7")]
    left = [r for r in stand.rows("SHOW DYNAMIC TABLES IN ACCOUNT") if r[2].endswith("_PR_7")]
    assert left == []
    assert not list((stand.info.data_dir).glob("*_PR_7.db*"))
    assert _snapshot(stand, ["ECOMMERCE_DEV", "FINANCE_DEV"]) == dev_before
    idle = io.StringIO()
    assert drop_branch(REPO_ROOT, "pr_7", stand.env, idle) == 0  # idempotent
    assert idle.getvalue().endswith("): nothing to drop\n")


def test_refresh_on_demand_leaves_clones_suspended(stand: Stand, tmp_path: Path):
    text = (REPO_ROOT / "environments.yaml").read_text()
    custom = tmp_path / "environments.yaml"
    custom.write_text(
        text.replace("cloned_dynamic_tables: resume", "cloned_dynamic_tables: refresh_on_demand")
    )
    env = {**stand.env, "DYNAMIC_TABLES_ENVIRONMENTS_FILE": str(custom)}
    out = io.StringIO()
    assert create_branch(REPO_ROOT, "pr_8", "dev", ["ecommerce"], env, out) == 0
    assert {r[15] for r in stand.dynamic_tables("ECOMMERCE_PR_8").values()} == {"SUSPENDED"}
    assert "suspended (cloned_dynamic_tables: refresh_on_demand)" in out.getvalue()
    assert "FINANCE_PR_8" not in stand.databases()
    assert drop_branch(REPO_ROOT, "pr_8", env, io.StringIO()) == 0
    assert "ECOMMERCE_PR_8" not in stand.databases()


@pytest.mark.parametrize(
    "name",
    ["pr_7; DROP DATABASE ECOMMERCE_DEV", "pr_'7", 'pr_"7', "pr 7", "PR_7", "pr_7--"],
    ids=["semicolon", "single-quote", "double-quote", "space", "upper", "comment"],
)
def test_hostile_names_are_refused_before_any_statement(stand: Stand, name: str):
    before = stand.count()
    with pytest.raises(EnvironmentsError, match="Nothing was sent to Snowflake"):
        create_branch(REPO_ROOT, name, "dev", [], stand.env, io.StringIO())
    with pytest.raises(EnvironmentsError, match="Nothing was sent to Snowflake"):
        drop_branch(REPO_ROOT, name, stand.env, io.StringIO())
    with pytest.raises(EnvironmentsError, match="unknown environment"):
        create_branch(REPO_ROOT, "pr_9", name, [], stand.env, io.StringIO())
    with pytest.raises(PlanError, match="Nothing was sent to Snowflake"):
        create_branch(REPO_ROOT, "pr_9", "dev", [name], stand.env, io.StringIO())
    assert stand.count() == before + 1  # only the count itself


def test_drop_refuses_prod_and_a_marked_prod_database(stand: Stand):
    before = stand.count()
    with pytest.raises(EnvironmentsError, match="'prod' is not a branch environment"):
        drop_branch(REPO_ROOT, "prod", stand.env, io.StringIO())
    assert stand.count() == before + 1
    # a prod database whose comment claims env create made it for pr_5: refused, kept
    stand.cur.execute("CREATE DATABASE FINANCE")
    stand.cur.execute(f"COMMENT ON DATABASE FINANCE IS '{marker('pr_5', 'dev', 'FINANCE_DEV')}'")
    with pytest.raises(EnvironmentsError, match="refused, nothing dropped: FINANCE is used by"):
        drop_branch(REPO_ROOT, "pr_5", stand.env, io.StringIO())
    assert "FINANCE" in stand.databases()
    # and env create will not clone onto a database something else made
    stand.cur.execute("CREATE DATABASE ECOMMERCE_PR_6")
    with pytest.raises(PlanError, match="ECOMMERCE_PR_6 exists already, made not by env create"):
        create_branch(REPO_ROOT, "pr_6", "dev", [], stand.env, io.StringIO())
    assert "FINANCE_PR_6" not in stand.databases()
    stand.cur.execute("DROP DATABASE ECOMMERCE_PR_6")
    stand.cur.execute("DROP DATABASE FINANCE")


def test_create_names_every_missing_source_database(stand: Stand):
    with pytest.raises(PlanError) as raised:
        create_branch(REPO_ROOT, "pr_4", "prod", [], stand.env, io.StringIO())
    assert "the source databases ECOMMERCE, FINANCE do not exist. Nothing was cloned." in str(
        raised.value
    )
    assert not [name for name in stand.databases() if name.endswith("_PR_4")]


def test_age_text():
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert age_text(datetime(2026, 12, 6, 11, 53, tzinfo=UTC), now) == "7m"
    assert age_text(datetime(2026, 12, 6, 9, 55, tzinfo=UTC), now) == "2h 5m"
    assert age_text(datetime(2026, 12, 3, 8, 0, tzinfo=UTC), now) == "3d 4h"
    assert age_text(None, now) == "unknown"


def test_a_failing_clone_undoes_the_clones_of_its_run(stand: Stand):
    # a stray file where FINANCE_PR_3's would go: its CLONE fails after ECOMMERCE_PR_3's
    stray = stand.info.data_dir / "FINANCE_PR_3.db"
    stray.write_bytes(b"")
    try:
        with pytest.raises(PlanError) as raised:
            create_branch(REPO_ROOT, "pr_3", "dev", [], stand.env, io.StringIO())
    finally:
        stray.unlink()
    message = str(raised.value)
    assert message.startswith("env create pr_3: cloning FINANCE_DEV to FINANCE_PR_3 failed: ")
    assert "Nothing of this run is left (dropped again: ECOMMERCE_PR_3)." in message
    assert not [name for name in stand.databases() if name.endswith("_PR_3")]


def test_cli_env_commands(stand: Stand, monkeypatch: pytest.MonkeyPatch, capsys):
    from dagster_dynamic_tables.cli import main

    monkeypatch.chdir(REPO_ROOT)
    for key, value in stand.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SNOWFLAKE_ACCOUNT", raising=False)
    assert main(["env", "create", "pr_7; DROP", "--from", "dev"]) == 4
    assert capsys.readouterr().err.startswith("ERROR: env create: 'pr_7; DROP' is not an")
    assert main(["env", "create", "pr_2", "--from", "dev", "--tenant", "ecommerce"]) == 0
    assert "cloned   ECOMMERCE_DEV -> ECOMMERCE_PR_2" in capsys.readouterr().out
    assert main(["env", "list"]) == 0
    assert "pr_2  from dev  age 0m  1 database\n" in capsys.readouterr().out
    assert main(["env", "drop", "pr_2"]) == 0
    assert "dropped  ECOMMERCE_PR_2" in capsys.readouterr().out
    assert main(["env", "drop", "prod"]) == 4


def test_a_named_tenant_brings_the_tenants_it_reads(stand: Stand):
    out = io.StringIO()
    assert create_branch(REPO_ROOT, "pr_11", "dev", ["finance"], stand.env, out) == 0
    assert "2 databases (with ecommerce: read by the tenants named)" in out.getvalue()
    assert out.getvalue().index("ECOMMERCE_PR_11") < out.getvalue().index("FINANCE_PR_11")
    revenue = stand.dynamic_tables("FINANCE_PR_11")["REVENUE_VS_BUDGET"]
    assert "ECOMMERCE_PR_11.ANALYTICS.DAILY_REVENUE_ROLLUP" in revenue[13]
    assert drop_branch(REPO_ROOT, "pr_11", stand.env, io.StringIO()) == 0


def test_create_refuses_declarations_outside_the_grants(stand: Stand, tmp_path: Path):
    from support.repo import copy_repo

    repo = copy_repo(tmp_path / "repo")
    grants = (repo / "grants.yaml").read_text()
    (repo / "grants.yaml").write_text(grants.replace("FINANCE.REPORTING", "FINANCE.ELSEWHERE"))
    before = stand.count()
    with pytest.raises(
        PlanError, match="outside their tenant's grants; nothing was sent"
    ) as raised:
        create_branch(repo, "pr_12", "dev", [], stand.env, io.StringIO())
    assert "REFUSED tenant 'finance'" in str(raised.value)
    assert stand.count() == before + 1
