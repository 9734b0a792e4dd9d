"""A quiet, healthy Dynamic Table in the Dagster UI, in a real browser (Debian's chromium).

    uv run python tests/ui/check_freshness_ui.py [--out DIR] [--quiet-minutes 10]
        [--attach URL SNOWFLAKE_PORT DATA_DIR]

Under `dagster dev`, ecommerce's `customer_lifetime_value` (target lag 1 minute) used to show
"Freshness policy: Failed" about 9 minutes after its last data change, while Snowflake kept it
within its lag with NO_DATA refreshes: Dagster evaluated the policy from materializations, which
the sensor records for data changes only. Dynamic Tables now have no Dagster freshness policy;
their freshness is the `within_target_lag` check (see the library README, "Freshness").

This script starts `dagster dev -w workspace.yaml` with a private stand-in (the e2e harness:
temporary DAGSTER_HOME, stand-in port and data dir, onboarding pop-up off), waits for the first
recorded refresh of `customer_lifetime_value`, then lets `--quiet-minutes` of real time pass with
no data change (Dagster's freshness daemon and the sensor run on the wall clock; the stand-in's
scheduler keeps refreshing the table, NO_DATA). It checks, through GraphQL and the stand-in's
refresh history: NO_DATA refreshes happened, no new materialization was recorded, the asset has
no freshness status that could say "Failed", and `within_target_lag` passes; then takes
screenshots of the asset's overview and of its `within_target_lag` check. Then refreshes stop
(the table is suspended in the stand-in): once its lag passes twice the target,
`within_target_lag` fails (ERROR) and the check's page says "Failed"; a last screenshot.
(The check's page is `?view=checks&checkDetail=within_target_lag`, the UI's own link.)

`--attach` uses a `dagster dev` already running on the repository's workspace (its URL, its
stand-in's port and data dir) instead of starting one: on a loaded machine `dagster dev` may take
longer to serve than the harness waits (120 s). Its tables are changed (suspended): give it a
private stand-in.

Prints what it checked and where the screenshots are; look at them. Every wait is bounded, and
everything it started is stopped (by pid) before it exits.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from support.ui import Browser, run_ui_check, ui_arguments, wait_loaded, wait_recorded

CLV = ["ecommerce", "customer_lifetime_value"]
TABLE = "ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE"
LAG_CHECK = "within_target_lag"
FRESHNESS = """
query Freshness($path: [String!]!) {
  assetNodes(assetKeys: [{path: $path}]) {
    freshnessStatusInfo { freshnessStatus }
    internalFreshnessPolicy { __typename }
  }
}
"""
PAGE = "/assets/" + "/".join(CLV)
CHECK_PAGE = f"{PAGE}?view=checks&checkDetail={LAG_CHECK}"


def refreshes_since(dev: Any, start: str) -> list[tuple[str, str]]:
    """(STATE, REFRESH_ACTION) of the table's refreshes with a data timestamp after `start`."""
    with dev.connect() as connection:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT STATE, REFRESH_ACTION FROM TABLE(ECOMMERCE.INFORMATION_SCHEMA."
            f"DYNAMIC_TABLE_REFRESH_HISTORY(NAME => '{TABLE}', DATA_TIMESTAMP_START => "
            "%s::TIMESTAMP_LTZ, RESULT_LIMIT => 10000))",
            (start,),
        )
        return [(str(state), str(action)) for state, action in cursor.fetchall()]


def stand_in_now(dev: Any) -> str:
    with dev.connect() as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT SYSTEM$LOCAL_SNOWFLAKE_ADVANCE_CLOCK(0)")
        return str(cursor.fetchall()[0][0])


def lag_check(dev: Any) -> tuple[str, str, str]:
    """(status, severity, description) of the latest `within_target_lag` evaluation."""
    found = dev.latest_check_execution(CLV, LAG_CHECK) or {}
    evaluation = found.get("evaluation") or {}
    return (
        str(found.get("status")),
        str(evaluation.get("severity")),
        str(evaluation.get("description")),
    )


def main() -> int:
    parser = ui_arguments(__doc__, "ui_fresh_")
    parser.add_argument(
        "--quiet-minutes",
        type=float,
        default=10,
        help="real minutes without a data change (the old policy failed a 1-minute DT after 9)",
    )
    args = parser.parse_args()
    return run_ui_check(
        args,
        "ui_fresh_run_",
        lambda dev, browser, out, work: check(dev, browser, out, work, args.quiet_minutes),
    )


def check(dev: Any, browser: str, out: Path, work: Path, quiet_minutes: float) -> list[str]:
    problems: list[str] = []
    wait_loaded(dev, "ecommerce")
    recorded = wait_recorded(dev, CLV)
    start = stand_in_now(dev)
    print(f"checked: {len(recorded)} materialization(s) of {'/'.join(CLV)}; quiet from {start}")
    sys.stdout.flush()
    print(f"waiting {quiet_minutes:g} minutes without a data change (wall clock)...")
    time.sleep(quiet_minutes * 60)

    quiet = refreshes_since(dev, start)
    no_data = sum(1 for row in quiet if row == ("SUCCEEDED", "NO_DATA"))
    changed = [row for row in quiet if row[0] == "SUCCEEDED" and row[1] != "NO_DATA"]
    print(f"checked: the stand-in refreshed the table {len(quiet)} times: {no_data} NO_DATA")
    if no_data == 0 or changed:
        problems.append(f"expected only NO_DATA refreshes while quiet, got {quiet}")
    after = dev.materializations_of(CLV)
    print(f"checked: materializations {len(recorded)} before, {len(after)} after the quiet time")
    if len(after) != len(recorded):
        problems.append("a NO_DATA refresh was recorded as a materialization")
    (node,) = dev.graphql(FRESHNESS, {"path": CLV})["assetNodes"]
    status, policy = node["freshnessStatusInfo"], node["internalFreshnessPolicy"]
    print(f"checked: freshness status {status}, freshness policy {policy}")
    if node["freshnessStatusInfo"] is not None:
        problems.append(f"a freshness status is shown: {node['freshnessStatusInfo']}")
    status, severity, description = lag_check(dev)
    print(f"checked: {LAG_CHECK} {status} ({severity}): {description}")
    if status != "SUCCEEDED":
        problems.append(f"{LAG_CHECK} is {status} after a quiet period within the lag")

    with Browser(browser, work / "chromium") as chromium:
        for name, page, expected in (
            ("1-quiet-overview", PAGE, ["customer_lifetime_value", LAG_CHECK]),
            ("2-quiet-checks", CHECK_PAGE, [LAG_CHECK]),
        ):
            path = out / f"{name}.png"
            text = chromium.show(dev.url + page, expected, path)
            print(f"screenshot: {path} ({page})")
            print("   page text: " + " | ".join(text.split("\n"))[:3000])

        # Refreshes stop: the data timestamp stays while time passes.
        with dev.connect() as connection:
            connection.cursor().execute(f"ALTER DYNAMIC TABLE {TABLE} SUSPEND")
        print("suspended the table in the stand-in: its data timestamp stops advancing")
        found = dev.wait_for(
            f"{LAG_CHECK} to fail (lag past twice the target)",
            lambda: (c := lag_check(dev))[0] == "FAILED" and c[1] == "ERROR" and c,
            300,
            5,
        )
        print(f"checked: {LAG_CHECK} {found[0]} ({found[1]}): {found[2]}")
        path = out / "3-stopped-checks.png"
        chromium.show(dev.url + CHECK_PAGE, [LAG_CHECK, "Failed"], path)
        print(f"screenshot: {path} ({CHECK_PAGE})")
    return problems


if __name__ == "__main__":
    sys.exit(main())
