"""The end-to-end test's private tenant of orchestrated (`scheduler: DISABLE`) Dynamic Tables:
one refreshed by Dagster on a cron that fires every 2 minutes (the repository's example, finance's
`monthly_revenue`, runs every 15 minutes on the daemon's clock, which no test can move), one after
each recorded refresh of ecommerce's rollup (eager)."""

from __future__ import annotations

from pathlib import Path

ORCHESTRATED_TENANT = "e2e_orchestrated"
ORCHESTRATED_DEFS = """\
type: dagster_dynamic_tables.DynamicTablesComponent
attributes:
  tenant: e2e_orchestrated
  local_seed_file: local/seed.sql
  sources:
    - name: events
      table: E2E_ORCHESTRATED.RAW.EVENTS
  dynamic_tables:
    # Refreshed by Dagster at every other minute's cron tick (its one dep is a source).
    - name: event_counts
      table: E2E_ORCHESTRATED.ANALYTICS.EVENT_COUNTS
      target_lag: 1 hour
      refresh_mode: FULL
      warehouse: E2E_WH
      scheduler: DISABLE
      automation_condition: {on_cron: "*/2 * * * *"}
      deps: [events]
      query: SELECT kind, COUNT(*) AS n FROM E2E_ORCHESTRATED.RAW.EVENTS GROUP BY kind
    # Refreshed by Dagster after each recorded refresh of ecommerce's rollup (eager, the default).
    - name: revenue_on_change
      table: E2E_ORCHESTRATED.ANALYTICS.REVENUE_ON_CHANGE
      target_lag: 1 hour
      refresh_mode: FULL
      warehouse: E2E_WH
      scheduler: DISABLE
      deps: [ecommerce/daily_revenue_rollup]
      query: SELECT SUM(revenue) AS revenue FROM ECOMMERCE.ANALYTICS.DAILY_REVENUE_ROLLUP
"""
ORCHESTRATED_SEED = """\
CREATE TABLE IF NOT EXISTS E2E_ORCHESTRATED.RAW.EVENTS (kind VARCHAR(20));
INSERT INTO E2E_ORCHESTRATED.RAW.EVENTS (kind) VALUES ('click'), ('view');
"""


def orchestrated_tenant(src: Path, workspace: Path) -> None:
    """The private tenant's package in `src`, loaded as the repository's tenants are, and its
    location in `workspace`."""
    package = src / ORCHESTRATED_TENANT
    (package / "defs" / "snowflake" / "local").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        "from dagster_dynamic_tables import load_tenant_definitions\n\n"
        f"import {ORCHESTRATED_TENANT}.defs\n\n"
        f"defs = load_tenant_definitions({ORCHESTRATED_TENANT}.defs)\n"
    )
    (package / "defs" / "snowflake" / "defs.yaml").write_text(ORCHESTRATED_DEFS)
    (package / "defs" / "snowflake" / "local" / "seed.sql").write_text(ORCHESTRATED_SEED)
    with workspace.open("a") as file:
        file.write(
            f"  - python_module:\n      module_name: {ORCHESTRATED_TENANT}.definitions\n"
            f"      location_name: {ORCHESTRATED_TENANT}\n"
        )
