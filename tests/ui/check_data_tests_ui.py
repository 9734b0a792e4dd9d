"""A failing data test and an orchestrated Dynamic Table in the Dagster UI, in a real browser
(Debian's chromium).

    uv run python tests/ui/check_data_tests_ui.py [--out DIR]
        [--attach URL SNOWFLAKE_PORT DATA_DIR]

Starts `dagster dev -w workspace.yaml` with a private stand-in (the e2e harness: temporary
DAGSTER_HOME, stand-in port and data dir, onboarding pop-up off), waits until finance's
`revenue_vs_budget` is recorded and its blocking data test `no_negative_revenue` has passed, then
inserts a completed order with a large negative amount into ecommerce's raw orders: the refresh
flows through ecommerce's rollup into `revenue_vs_budget`, whose test fails. It checks through
GraphQL that the failing evaluation carries its failing-row count and a sample, then takes
screenshots of:

1. the check's page (`?view=checks&checkDetail=no_negative_revenue`, the UI's own link): the
   failed evaluation, its description and metadata (failing rows, the sample, the SQL);
2. the same page with the latest evaluation's `sample` opened (the UI shows markdown metadata
   behind a "[Show Markdown]" link): the failing row, its negative revenue;
3. finance's orchestrated table `monthly_revenue` (`scheduler: DISABLE`): its asset page offers
   "Materialize" and its description says Dagster refreshes it.

The negative order is deleted at the end. `--attach` uses a `dagster dev` already running on the
repository's workspace (its URL, its stand-in's port and data dir) instead of starting one: its
data is changed (the order is inserted, then deleted).

Prints what it checked and where the screenshots are; look at them. Every wait is bounded, and
everything it started is stopped (by pid) before it exits.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from support.ui import Browser, run_ui_check, ui_arguments, wait_loaded

REVENUE_VS_BUDGET = ["finance", "revenue_vs_budget"]
MONTHLY_REVENUE = ["finance", "monthly_revenue"]
CHECK = "no_negative_revenue"
BAD_ORDER = "UI_NEGATIVE"
CHECK_PAGE = "/assets/" + "/".join(REVENUE_VS_BUDGET) + f"?view=checks&checkDetail={CHECK}"
ORCHESTRATED_PAGE = "/assets/" + "/".join(MONTHLY_REVENUE)


def latest(dev: Any) -> dict[str, Any]:
    history = dev.check_history(REVENUE_VS_BUDGET, CHECK, 5)
    return history[0] if history else {}


def metadata(execution: dict[str, Any]) -> dict[str, Any]:
    entries = (execution.get("evaluation") or {}).get("metadataEntries") or []
    return {e["label"]: e.get("mdStr") or e.get("intValue") or e.get("text") for e in entries}


def main() -> int:
    args = ui_arguments(__doc__, "ui_tests_").parse_args()
    return run_ui_check(args, "ui_tests_run_", check)


def check(dev: Any, browser: str, out: Path, work: Path) -> list[str]:
    problems: list[str] = []
    wait_loaded(dev, "finance")
    passed = dev.wait_for(
        f"{CHECK} to pass on revenue_vs_budget's first recorded refresh",
        lambda: latest(dev).get("status") == "SUCCEEDED" and latest(dev),
        420,
        3,
    )
    print(f"checked: {CHECK} passed (run {passed['runId']})")
    started = time.time()
    with dev.connect() as connection:
        connection.cursor().execute(
            "INSERT INTO ECOMMERCE.RAW.RAW_ORDERS VALUES "
            f"('{BAD_ORDER}', 'C001', CURRENT_DATE(), -1000000.00, 'completed')"
        )
    try:
        failed = dev.wait_for(
            f"{CHECK} to fail on the negative order",
            lambda: latest(dev).get("status") == "FAILED" and latest(dev),
            420,
            3,
        )
        print(f"checked: {CHECK} failed {time.time() - started:.0f} s after the insert")
        values = metadata(failed)
        print(f"   metadata: {sorted(values)}")
        print(f"   failing_rows: {values.get('failing_rows')}; sample:\n{values.get('sample')}")
        if not values.get("failing_rows") or "-" not in str(values.get("sample")):
            problems.append(f"the failed evaluation has no failing rows or sample: {values}")
        node = dev.asset_node(MONTHLY_REVENUE)
        print(
            f"checked: monthly_revenue executable {node['isExecutable']}, "
            f"materializable {node['isMaterializable']}"
        )
        if not node["isMaterializable"]:
            problems.append("monthly_revenue is not materializable")
        problems += screenshots(dev, browser, out, work)
    finally:
        with dev.connect() as connection:
            connection.cursor().execute(
                f"DELETE FROM ECOMMERCE.RAW.RAW_ORDERS WHERE order_id = '{BAD_ORDER}'"
            )
        print("deleted the negative order")
    return problems


SHOW_SAMPLE = """
(() => {
  for (const row of document.querySelectorAll('tr')) {
    const cells = row.querySelectorAll('td');
    if (cells.length < 2 || cells[0].innerText.trim() !== 'sample') continue;
    const links = [...row.querySelectorAll('*')].filter(
      (element) => element.innerText && element.innerText.trim() === '[Show Markdown]');
    if (links.length) {
      links[links.length - 1].click();  // the innermost: the link itself, not its cell
      return 'clicked ' + links[links.length - 1].tagName;
    }
  }
  return 'not found';
})()
"""
"""Opens the `sample` metadata entry of the check's latest execution (the UI shows markdown
metadata behind a "[Show Markdown]" link)."""


def screenshots(dev: Any, browser: str, out: Path, work: Path) -> list[str]:
    problems: list[str] = []
    try:
        with Browser(browser, work / "chromium") as chromium:
            path = out / "1-failing-check.png"
            text = chromium.show(dev.url + CHECK_PAGE, [CHECK, "Failed", "blocking"], path)
            print(f"screenshot: {path} ({CHECK_PAGE})")
            print("   page text: " + " | ".join(text.split("\n"))[:1500])
            clicked = chromium.evaluate(SHOW_SAMPLE)
            time.sleep(2)
            text = chromium.text()
            path = out / "2-failing-check-sample.png"
            chromium.capture(path)
            print(f"screenshot: {path} (the sample: {clicked})")
            print("   page text: " + " | ".join(text.split("\n"))[-800:])
            if "-999" not in text:
                problems.append("the sample's negative revenue does not show in the UI")
            path = out / "3-orchestrated-table.png"
            expected = ["monthly_revenue", "Materialize", "refreshed by Dagster"]
            text = chromium.show(dev.url + ORCHESTRATED_PAGE, expected, path)
            print(f"screenshot: {path} ({ORCHESTRATED_PAGE})")
            print("   page text: " + " | ".join(text.split("\n"))[:1500])
    except AssertionError as error:
        problems.append(str(error))
    return problems


if __name__ == "__main__":
    sys.exit(main())
