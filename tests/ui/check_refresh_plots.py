"""A Dynamic Table's refresh statistics as plots, and its columns, in the Dagster UI, in a real
browser (Debian's chromium).

    uv run python tests/ui/check_refresh_plots.py [--out DIR] [--changes 3]
        [--attach URL SNOWFLAKE_PORT DATA_DIR]

Issue 20: each refresh the freshness sensor records carries the refresh history's STATISTICS as
numbers (rows inserted, deleted and copied, partitions added and removed, queued, compilation
and execution time), which Dagster draws as plots (Dagster 1.13 plots every int and float
metadata entry of an asset's materializations and observations: the Plots toggle of the Metadata
section of the asset's Overview), and the table's columns (`dagster/column_schema`, the
Overview's Columns section, read from the latest materialization).

This script starts `dagster dev -w workspace.yaml` with a private stand-in (the e2e harness:
temporary DAGSTER_HOME, stand-in port and data dir, onboarding pop-up off), waits for the first
recorded refresh of ecommerce's `customer_lifetime_value`, then makes `--changes` data changes
(a completed order each, then `ALTER DYNAMIC TABLE ... REFRESH`), each waited for until the
sensor records it. It checks through GraphQL that the latest materialization carries every
statistic as an int entry and the column schema, and that the source `raw_orders` has an
observation with its columns; then takes screenshots of the Overview's Columns, of the Metadata
section's Plots, and of the source's Events, and checks the page shows them.

`--attach` uses a `dagster dev` already running on the repository's workspace (its URL, its
stand-in's port and data dir) instead of starting one. Its data is changed (orders added): give
it a private stand-in.

Prints what it checked and where the screenshots are; look at them. Every wait is bounded, and
everything it started is stopped (by pid) before it exits.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from support import dagster_dev as e2e
from support.refresh_statistics import STATISTICS
from support.ui import (
    SKIP_DIALOG,
    SLOWEST_WAIT,
    Browser,
    patient_waits,
    run_ui_check,
    ui_arguments,
    wait_loaded,
    wait_recorded,
)

CLV = ["ecommerce", "customer_lifetime_value"]
RAW_ORDERS = ["ecommerce", "raw_orders"]
TABLE = "ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE"
COLUMNS = ["CUSTOMER_ID", "EMAIL", "LIFETIME_VALUE", "LATEST_ORDER_DATE"]
LATEST = """
query Latest($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset {
      assetMaterializations(limit: 1) { metadataEntries { ...Entry } }
      assetObservations(limit: 1) { metadataEntries { ...Entry } }
    }
  }
}
fragment Entry on MetadataEntry {
  __typename
  label
  ... on IntMetadataEntry { intValue }
  ... on FloatMetadataEntry { floatValue }
  ... on TableSchemaMetadataEntry {
    schema { columns { name type constraints { nullable } } }
  }
}
"""
PAGE = "/assets/" + "/".join(CLV)
SOURCE_EVENTS = "/assets/" + "/".join(RAW_ORDERS) + "?view=events"
CLICK_PLOTS = """
(() => {
  const button = [...document.querySelectorAll('button')]
    .find((b) => b.innerText.trim() === 'Plots');
  if (button) { button.click(); button.scrollIntoView({block: 'start'}); }
  return !!button;
})()
"""


def latest_entries(dev: Any, path: list[str], kind: str) -> dict[str, dict[str, Any]]:
    """The metadata entries of the asset's latest materialization or observation, by label."""
    asset = dev.graphql(LATEST, {"path": path})["assetOrError"]
    events = asset.get(kind) or []
    return {entry["label"]: entry for entry in (events[0]["metadataEntries"] if events else [])}


def change_data(dev: Any, order: int) -> None:
    """A new customer with a completed order (the table gains a row), then a manual refresh."""
    with dev.connect() as connection:
        cursor = connection.cursor()
        cursor.execute(
            "INSERT INTO ECOMMERCE.RAW.RAW_CUSTOMERS (customer_id, email, first_name, last_name) "
            f"VALUES ('UI{order}', 'ui{order}@example.com', 'Ui', 'Check {order}')"
        )
        cursor.execute(
            "INSERT INTO ECOMMERCE.RAW.RAW_ORDERS (order_id, customer_id, order_date, revenue, "
            f"status) VALUES ('UI{order}', 'UI{order}', CURRENT_DATE(), {10 * order}, "
            "'completed')"
        )
        cursor.execute(f"ALTER DYNAMIC TABLE {TABLE} REFRESH")


def main() -> int:
    parser = ui_arguments(__doc__, "ui_plots_")
    parser.add_argument("--changes", type=int, default=3, help="data changes to record")
    args = parser.parse_args()
    patient_waits(e2e, SLOWEST_WAIT)  # a loaded machine may take minutes to serve
    return run_ui_check(
        args,
        "ui_plots_run_",
        lambda dev, browser, out, work: check(dev, browser, out, work, args.changes),
    )


def check_graphql(dev: Any) -> list[str]:
    problems: list[str] = []
    entries = latest_entries(dev, CLV, "assetMaterializations")
    numbers = {
        label: entry.get("intValue", entry.get("floatValue"))
        for label, entry in entries.items()
        if entry["__typename"] in ("IntMetadataEntry", "FloatMetadataEntry")
    }
    print(f"checked: numeric metadata of the latest materialization: {numbers}")
    missing = [
        name
        for name in STATISTICS
        if entries.get(name, {}).get("__typename") != ("IntMetadataEntry")
    ]
    if missing:
        problems.append(f"statistics missing or not int entries: {missing}")
    schema = entries.get("dagster/column_schema", {}).get("schema") or {}
    columns = [column["name"] for column in schema.get("columns", [])]
    print(f"checked: columns of the latest materialization: {columns}")
    if not all(name in columns for name in COLUMNS):
        problems.append(f"the materialization's column schema lacks {COLUMNS}: {columns}")
    observed = latest_entries(dev, RAW_ORDERS, "assetObservations")
    source = observed.get("dagster/column_schema", {}).get("schema") or {}
    source_columns = [column["name"] for column in source.get("columns", [])]
    print(f"checked: columns of raw_orders' latest observation: {source_columns}")
    if "ORDER_ID" not in source_columns:
        problems.append(f"raw_orders has no observation with its columns: {observed}")
    return problems


def check(dev: Any, browser: str, out: Path, work: Path, changes: int) -> list[str]:
    wait_loaded(dev, "ecommerce")
    recorded = wait_recorded(dev, CLV)
    for change in range(1, changes + 1):
        count = len(dev.materializations_of(CLV))
        change_data(dev, change)
        recorded = dev.wait_for(
            f"the sensor to record data change {change}",
            lambda count=count: len(found := dev.materializations_of(CLV)) > count and found,
            420,
            3,
        )
        print(f"checked: data change {change} recorded ({len(recorded)} materializations)")
    problems = check_graphql(dev)

    with Browser(browser, work / "chromium") as chromium:
        path = out / "1-overview-columns.png"
        text = chromium.show(dev.url + PAGE, ["Columns", *COLUMNS], path)
        print(f"screenshot: {path} ({PAGE})")
        print("   page text: " + " | ".join(text.split("\n"))[:1500])

        # A tall window, so that every plot of the Metadata section is on the screenshot.
        chromium.call(
            "Emulation.setDeviceMetricsOverride",
            width=1600,
            height=3200,
            deviceScaleFactor=1,
            mobile=False,
        )
        chromium.evaluate(SKIP_DIALOG)
        if not chromium.evaluate(CLICK_PLOTS):
            problems.append("the Overview's Metadata section has no Plots button")
        text = chromium.wait_for_text(list(STATISTICS))
        time.sleep(2)  # let the charts draw
        path = out / "2-metadata-plots.png"
        chromium.capture(path)
        print(f"screenshot: {path} ({PAGE}, Metadata: Plots)")
        plotted = [name for name in [*STATISTICS, "refresh_duration_seconds"] if name in text]
        print(f"checked: plots titled {plotted}")
        missing = [name for name in STATISTICS if name not in text]
        if missing:
            problems.append(f"no plot of {missing}")
        if "No numeric metadata entries" in text:
            problems.append("the Plots view says there is no numeric metadata")
        chromium.call("Emulation.clearDeviceMetricsOverride")

        path = out / "3-source-events.png"
        chromium.show(dev.url + SOURCE_EVENTS, ["dagster/column_schema"], path)
        print(f"screenshot: {path} ({SOURCE_EVENTS})")
    return problems


if __name__ == "__main__":
    sys.exit(main())
