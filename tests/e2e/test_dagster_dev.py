"""End to end: under `dagster dev`, a raw-table change reaches the dashboard only through a refresh.

Nothing is started by hand: the tenant's `snowflake` resource starts the stand-in and creates the
ecommerce objects on the freshness sensor's first tick. The test then inserts orders, lets the
stand-in's scheduler refresh `customer_lifetime_value` (target lag 1 minute), and waits until the
sensor has recorded that refresh and the dashboard has run after it.
"""

import time

import pytest

CHECKS = ("refresh_succeeded", "scheduling_active", "within_target_lag", "matches_declaration")
CLV = ["ecommerce", "customer_lifetime_value"]
ROLLUP = ["ecommerce", "daily_revenue_rollup"]
DASHBOARD = ["ecommerce", "executive_dashboard_report"]


def _table_count(dev, table):
    try:
        with dev.connect() as conn:
            return conn.cursor().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except Exception:
        return None


@pytest.mark.e2e
def test_dashboard_runs_after_dynamic_table_refresh_lands(dagster_dev):
    dev = dagster_dev
    # The first sensor tick starts the stand-in, seeds the raw tables and creates the DTs.
    dev.wait_for(
        "the ecommerce objects in the stand-in",
        lambda: _table_count(dev, "ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE"),
        240,
        2,
    )
    # Cold start: each DT gets one materialization for its creation refresh; then the dashboard
    # (missing, deps updated) runs once.
    dev.wait_for("a first CLV materialization", lambda: dev.materializations_of(CLV), 240, 2)
    dev.wait_for("a first rollup materialization", lambda: dev.materializations_of(ROLLUP), 240, 2)
    first = dev.wait_for("a first dashboard run", lambda: dev.succeeded_runs_of(DASHBOARD), 300, 2)
    seen_runs = {run["runId"] for run in first}
    seen_clv = {m["timestamp"] for m in dev.materializations_of(CLV)}

    inserted_at = time.time()
    with dev.connect() as conn:
        conn.cursor().execute(
            "INSERT INTO ECOMMERCE.RAW.RAW_ORDERS VALUES "
            "('E2E1', 'C003', CURRENT_DATE(), 99.00, 'completed')"
        )

    def new_clv():
        return [m for m in dev.materializations_of(CLV) if m["timestamp"] not in seen_clv]

    refreshed = dev.wait_for("the CLV refresh to be recorded", new_clv, 300, 2)
    recorded_at = int(refreshed[0]["timestamp"]) / 1000
    assert recorded_at > inserted_at
    tags = {t["key"]: t["value"] for t in refreshed[0]["tags"]}
    assert tags.get("dagster/data_version")

    def new_dashboard_runs():
        return [r for r in dev.succeeded_runs_of(DASHBOARD) if r["runId"] not in seen_runs]

    runs = dev.wait_for("the dashboard to run after the refresh", new_dashboard_runs, 300, 2)
    created = min(run["creationTime"] for run in runs)
    assert created >= recorded_at - 1
    # The sensor reported the health checks of both DTs, and they are green.
    for path in (CLV, ROLLUP):
        for check in CHECKS:
            execution = dev.latest_check_execution(path, check)
            assert execution is not None, f"no evaluation of {check} on {path}"
            assert execution["status"] == "SUCCEEDED", (path, check, execution)
    print(
        f"insert -> refresh recorded: {recorded_at - inserted_at:.1f} s; "
        f"refresh recorded -> dashboard run created: {created - recorded_at:.1f} s"
    )
