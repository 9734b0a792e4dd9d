"""The freshness sensor's tick history in the Dagster UI, in a real browser (Debian's chromium).

    uv run python tests/ui/check_sensor_ticks_ui.py [--out DIR] [--tenant ecommerce]

Dagster 1.13 shows every sensor tick that requests no run as SKIPPED; without a skip reason the
UI says "Sensor function returned an empty result", even for a tick that recorded
materializations and check evaluations. The sensor gives such ticks a skip reason that says
what they recorded. This script starts `dagster dev -w workspace.yaml` with a private stand-in
(temporary DAGSTER_HOME, LOCAL_SNOWFLAKE_PORT, LOCAL_SNOWFLAKE_DATA_DIR, as the e2e harness
does, with the onboarding pop-up off), waits
for the tenant's sensor to record its first refreshes and then for a later tick, checks through
GraphQL what the tick list will show (each tick's status and text), and takes headless
screenshots of the sensor's page (its tick history) and of one tick's details.

Prints what it checked and where the screenshots are; look at them. Every wait is bounded, and
everything it started is stopped (by pid) before it exits.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from support import dagster_dev as e2e
from support.ui import Browser, chromium_and_out, ui_arguments, wait_loaded

HERE = Path(__file__).resolve().parent
SENSOR = "dynamic_table_freshness"
EMPTY = "Sensor function returned an empty result"
TICKS = """
query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      sensorState { ticks(limit: 25) { id tickId status timestamp skipReason error { message } } }
    }
  }
}
"""


def ticks(dev: Any, tenant: str) -> list[dict[str, Any]]:
    selector = {
        "repositoryLocationName": tenant,
        "repositoryName": "__repository__",
        "sensorName": SENSOR,
    }
    found = dev.graphql(TICKS, {"selector": selector})["sensorOrError"]
    if found["__typename"] != "Sensor":
        return []
    return list(found["sensorState"]["ticks"])


def recording(tick: dict[str, Any]) -> bool:
    return (tick.get("skipReason") or "").startswith("Recorded")


def main() -> int:
    parser = ui_arguments(__doc__, "ui_ticks_", attach=False)
    parser.add_argument("--tenant", default="ecommerce")
    args = parser.parse_args()
    out: Path = args.out
    tenant: str = args.tenant
    browser = chromium_and_out(out)
    if browser is None:
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="ui_ticks_run_", ignore_cleanup_errors=True) as work,
        e2e.run_dagster_dev(Path(work), dagster_yaml=e2e.QUIET_INSTANCE) as dev,
    ):
        wait_loaded(dev, tenant)
        first = dev.wait_for(
            "a tick that recorded refreshes",
            lambda: [t for t in ticks(dev, tenant) if recording(t)],
            240,
            3,
        )[-1]
        dev.wait_for(
            "a later tick",
            lambda: [t for t in ticks(dev, tenant) if float(t["timestamp"]) > first["timestamp"]],
            150,
            3,
        )
        seen = ticks(dev, tenant)
        print(f"checked: {len(seen)} ticks of {tenant}'s {SENSOR}, newest first:")
        for tick in seen:
            text = tick["skipReason"] or (tick["error"] or {}).get("message") or ""
            print(f"  {tick['status']:<8} {text[:150]}")
        failures = [t for t in seen if t["status"] == "FAILURE"]
        empty = [t for t in seen if EMPTY in (t["skipReason"] or "")]
        recorded = [t for t in seen if recording(t)]
        print(
            f"checked: {len(recorded)} ticks say what they recorded; {len(empty)} say "
            f"{EMPTY!r}; {len(failures)} failed"
        )
        page = f"/locations/{tenant}/sensors/{SENSOR}"
        details = f"{page}?tickId={first['tickId']}"
        pages = {  # name: (page, texts it must show)
            "sensor-ticks": (page, [SENSOR, "Latest tick", "runs requested"]),
            "sensor-tick-details": (details, ["Skip reason", "Recorded"]),
        }
        shown = True
        with Browser(browser, Path(work) / "chromium") as chromium:
            for name, (page, expected) in pages.items():
                path = out / f"{name}.png"
                try:
                    chromium.show(dev.url + page, expected, path)
                except AssertionError as error:
                    print(f"NOT OK: {error}")
                    shown = False
                print(f"screenshot: {path} ({page})")
    ok = recorded and not empty and not failures and shown
    print("OK" if ok else "NOT OK: see the ticks above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
