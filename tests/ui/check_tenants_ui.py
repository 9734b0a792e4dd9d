"""What a user sees of the tenants in the Dagster UI, in a real browser (Debian's chromium).

    uv run python tests/ui/check_tenants_ui.py [--out DIR]

    uv run python tests/ui/check_tenants_ui.py --lineage-only [--out DIR]

Generates a third tenant with the template (`cookiecutter --no-input`, a unique slug, into a
temporary folder: nothing is registered in the repository), starts `dagster dev` on the
repository's workspace plus that tenant, with a private stand-in (the e2e harness), waits until
both shipped tenants have recorded their first refreshes, checks through GraphQL what the pages
will show, and takes headless screenshots of:

- the code locations page (all three tenants loaded);
- the global asset lineage (`/asset-groups`): one box per group, each named after its tenant
  (`<slug>_sources`, `<slug>_dynamic_tables`, ...), none shared by two tenants, with the
  ecommerce -> finance edge between the collapsed groups;
- finance's Dynamic Table `revenue_vs_budget` in lineage view: ecommerce's `daily_revenue_rollup`
  upstream (another code location) and finance's `budget_report` downstream;
- the same table's overview (the recorded refresh's metadata) and its four health checks.

`--lineage-only` skips the wait for refreshes and the asset pages: it checks the locations and
the global lineage. Prints what it checked and where the screenshots are; look at them. Every
wait is bounded, and everything it started is stopped (by pid) before it exits.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import websockets.sync.client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `import support`

from support import dagster_dev as e2e
from support.processes import free_port, stop

HERE = Path(__file__).resolve().parent
RVB = ["finance", "revenue_vs_budget"]
ROLLUP = ["ecommerce", "daily_revenue_rollup"]
SHIPPED = ("ecommerce", "finance")


def lineage_pages(third: str) -> dict[str, list[str]]:
    """The locations page and the global lineage, with the generated tenant `third`."""
    slugs = (*SHIPPED, third)
    groups = [f"{slug}_{group}" for slug in slugs for group in ("sources", "dynamic_tables")]
    groups += ["ecommerce_analytics", "finance_reports", f"{third}_reports"]
    return {"/locations": [*SHIPPED, third, "Loaded"], "/asset-groups": groups}


# Page -> texts it must show (after the lineage pages).
PAGES = {
    "/assets/finance/revenue_vs_budget?view=lineage&lineageScope=neighbors": [
        "daily_revenue_rollup",  # upstream, in ecommerce's code location
        "budget_targets",
        "budget_report",  # downstream, finance's Python asset
    ],
    "/assets/finance/revenue_vs_budget": [
        "FINANCE.REPORTING.REVENUE_VS_BUDGET",  # the table, from the declaration
        "data_timestamp",  # the recorded refresh's metadata
        "Latest check results",
    ],
    "/assets/finance/revenue_vs_budget?view=checks": [
        "refresh_succeeded",
        "scheduling_active",
        "within_target_lag",
        "matches_declaration",
        "outcome",  # the kind the sensor compares to report a check only when it changes
    ],
}


def chromium() -> str | None:
    """The chromium executable, or None after saying how to install it."""
    found = shutil.which("chromium")
    if found is None:
        print("ERROR: chromium not found. Fix: apt-get install chromium (Debian's package).")
    return found


class Browser:
    """Headless chromium driven over the DevTools protocol: dismiss Dagster's first-visit
    community dialog, read what the page shows, take a screenshot."""

    def __init__(self, executable: str, profile: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1600,1000",
                f"--user-data-dir={profile}",
                f"--remote-debugging-port={self.port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.exit_stack = contextlib.ExitStack()
        self.socket = self.exit_stack.enter_context(
            websockets.sync.client.connect(self._page_socket(), max_size=2**26)
        )
        self.ids = itertools.count(1)

    def _page_socket(self) -> str:
        deadline = time.monotonic() + 30
        while True:
            try:
                url = f"http://127.0.0.1:{self.port}/json/list"
                with urllib.request.urlopen(url, timeout=5) as response:
                    pages = [t for t in json.load(response) if t["type"] == "page"]
                if pages:
                    return str(pages[0]["webSocketDebuggerUrl"])
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("chromium's DevTools endpoint did not answer in 30 s")
            time.sleep(0.5)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def text(self) -> str:
        result = self.call("Runtime.evaluate", expression="document.body.innerText")
        return str(result["result"].get("value", ""))

    def show(self, url: str, expected: list[str], path: Path) -> str:
        """Open `url`, dismiss the dialog, wait (bounded) until every expected text shows."""
        self.call("Page.navigate", url=url)
        deadline, text = time.monotonic() + 60, ""
        while time.monotonic() < deadline:
            time.sleep(2)
            self.call("Runtime.evaluate", expression=SKIP_DIALOG)
            text = self.text()
            if all(item in text for item in expected):
                break
        self.call("Runtime.evaluate", expression=SKIP_DIALOG)  # it may open after the first try
        time.sleep(2)  # let the dialog close and the graph settle
        shot = self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        missing = [item for item in expected if item not in text]
        if missing:
            raise AssertionError(f"{url} does not show {missing}; screenshot {path}")
        return text

    def close(self) -> None:
        self.exit_stack.close()
        stop(self.process)


SKIP_DIALOG = """
for (const b of document.querySelectorAll('button')) {
  if (b.innerText.trim() === 'Skip') { b.click(); }
}
"""


SLOWEST_WAIT = 600
"""Seconds any of the harness's waits may last here: three locations on a shared 2-core machine
under load took longer than its 120 s for `dagster dev` to serve."""


def patient_waits(e2e: ModuleType, at_least: float) -> None:
    """Make every bounded wait of the harness (`dagster dev` serving included) last up to
    `at_least` seconds: still bounded, but not failed by a busy machine."""
    original = e2e.wait_for

    def wait_for(what: str, probe: Any, timeout: float, every: float = 1.0) -> Any:
        return original(what, probe, max(timeout, at_least), every)

    setattr(e2e, "wait_for", wait_for)  # noqa: B010 (a module's attribute, unknown to pyright)


def third_tenant(workdir: Path) -> tuple[str, Path, Path]:
    """A tenant generated by the template with a unique slug, outside the repository (so
    nothing is registered), and a workspace: the repository's locations plus it. Returns (slug,
    workspace file, the tenant's src folder for the Python path)."""
    slug = f"ui_{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            str(HERE.parents[1] / "templates" / "tenant"),
            "--no-input",
            f"tenant_slug={slug}",
            "tenant_name=UI Check",
            "-o",
            str(workdir),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    workspace = workdir / "workspace.yaml"
    text = (HERE.parents[1] / "workspace.yaml").read_text(encoding="utf-8")
    text += (
        f"  - python_module:\n      module_name: {slug}.definitions\n      location_name: {slug}\n"
    )
    workspace.write_text(text, encoding="utf-8")
    return slug, workspace, workdir / slug / "src"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="ui_tenants_")))
    parser.add_argument(
        "--lineage-only",
        action="store_true",
        help="check the locations and the global lineage only (no wait for refreshes)",
    )
    args = parser.parse_args()
    browser = chromium()
    if browser is None:
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    patient_waits(e2e, SLOWEST_WAIT)
    with tempfile.TemporaryDirectory(prefix="ui_tenants_run_") as work:
        third, workspace, src = third_tenant(Path(work))
        print(f"generated a third tenant with the template: {third}")
        with e2e.run_dagster_dev(
            Path(work), workspace, [src], dagster_yaml=e2e.QUIET_INSTANCE
        ) as dev:
            check_pages(dev, third, browser, out, lineage_only=args.lineage_only, work=Path(work))
    return 0


def check_pages(
    dev: Any, third: str, browser: str, out: Path, *, lineage_only: bool, work: Path
) -> None:
    """Wait for the locations (and, unless `lineage_only`, the first refreshes), then show each
    page in chromium and take its screenshot."""
    slugs = (*SHIPPED, third)
    locations = dev.wait_for(
        "the three tenants to load",
        lambda: (found := dev.locations())
        and all(found.get(n, {}).get("loadStatus") == "LOADED" for n in slugs)
        and found,
        SLOWEST_WAIT,
        2,
    )
    print(f"checked: locations loaded: {sorted(locations)}")
    pages = lineage_pages(third)
    if not lineage_only:
        try:
            dev.wait_for("a finance refresh recorded", lambda: dev.materializations_of(RVB), 360, 3)
        except TimeoutError:
            print(f"--- dagster dev log (last lines) ---\n{dev.log_tail(120)}")
            raise
        dev.wait_for("an ecommerce rollup refresh", lambda: dev.materializations_of(ROLLUP), 60, 2)
        print("checked: revenue_vs_budget and daily_revenue_rollup have materializations")
        pages |= PAGES
    chromium = Browser(browser, work / "chromium")
    try:
        for index, (page, expected) in enumerate(pages.items()):
            path = out / f"{index + 1}-{page.strip('/').split('?')[0].replace('/', '-')}.png"
            chromium.show(dev.url + page, expected, path)
            print(f"checked: {page} shows {expected}; screenshot {path}")
    finally:
        chromium.close()


if __name__ == "__main__":
    sys.exit(main())
