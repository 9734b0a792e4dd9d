"""The shared frame of the UI check scripts (tests/ui/): their arguments (`--out`, `--attach` to a
running `dagster dev`), `dagster dev` started with the quiet instance otherwise, the waits for a
code location and a first recorded refresh, headless chromium driven over the DevTools protocol
(open a page, wait for its texts, take a screenshot); each problem printed, exit 0 (none) or 1."""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import websockets.sync.client

from support import dagster_dev as e2e
from support.processes import free_port, stop

SLOWEST_WAIT = 600
"""Seconds any of the harness's waits may last here: three locations on a shared 2-core machine
under load took longer than its 120 s for `dagster dev` to serve."""

SKIP_DIALOG = """
for (const b of document.querySelectorAll('button')) {
  if (b.innerText.trim() === 'Skip') { b.click(); }
}
"""
"""Dismisses Dagster's first-visit community dialog (it covers pages in screenshots)."""


def ui_arguments(
    doc: str | None, out_prefix: str, *, attach: bool = True
) -> argparse.ArgumentParser:
    """A UI script's parser: its docstring's first line, `--out` (a new temporary folder unless
    given) and, with `attach`, `--attach`."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix=out_prefix)))
    if attach:
        add_attach_argument(parser)
    return parser


def add_attach_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--attach",
        nargs=3,
        metavar=("URL", "SNOWFLAKE_PORT", "DATA_DIR"),
        help="use this running dagster dev and its private stand-in",
    )


def chromium() -> str | None:
    """The chromium executable, or None after saying how to install it."""
    found = shutil.which("chromium")
    if found is None:
        print("ERROR: chromium not found. Fix: apt-get install chromium (Debian's package).")
    return found


def chromium_and_out(out: Path) -> str | None:
    """The chromium executable (None after saying how to install it), with the screenshots'
    folder `out` made."""
    browser = chromium()
    if browser is not None:
        out.mkdir(parents=True, exist_ok=True)
    return browser


def run_ui_check(
    args: argparse.Namespace, prefix: str, check: Callable[[Any, str, Path, Path], list[str]]
) -> int:
    """`check(dev, chromium executable, out, work)` on the attached `dagster dev` or on one
    started for it (`run_attachable`); 2 where chromium is missing."""
    browser = chromium_and_out(args.out)
    if browser is None:
        return 2
    out: Path = args.out
    return run_attachable(args.attach, prefix, lambda dev, work: check(dev, browser, out, work))


def run_attachable(
    attach: list[str] | None, prefix: str, check: Callable[[Any, Path], list[str]]
) -> int:
    """Run `check(dev, work)` on the attached `dagster dev`, or on one started for it; report."""
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as work:
        if attach:
            url, port, data_dir = attach
            dev = e2e.DagsterDev(url, int(port), Path(data_dir), Path(work) / "no.log")
            problems = check(dev, Path(work))
        else:
            with e2e.run_dagster_dev(Path(work), dagster_yaml=e2e.QUIET_INSTANCE) as dev:
                problems = check(dev, Path(work))
    for problem in problems:
        print(f"NOT OK: {problem}")
    print("OK" if not problems else f"NOT OK: {len(problems)} problem(s)")
    return 0 if not problems else 1


def patient_waits(harness: ModuleType, at_least: float) -> None:
    """Make every bounded wait of the harness (`dagster dev` serving included) last up to
    `at_least` seconds: still bounded, but not failed by a busy machine."""
    original = harness.wait_for

    def wait_for(what: str, probe: Any, timeout: float, every: float = 1.0) -> Any:
        return original(what, probe, max(timeout, at_least), every)

    setattr(harness, "wait_for", wait_for)  # noqa: B010 (a module's attribute, unknown to pyright)


def wait_loaded(dev: Any, location: str) -> None:
    """Wait (up to 3 minutes) until the code location `location` has loaded."""
    dev.wait_for(
        f"{location} to load",
        lambda: dev.locations().get(location, {}).get("loadStatus") == "LOADED",
        180,
        2,
    )


def wait_recorded(dev: Any, path: list[str]) -> list[dict[str, Any]]:
    """Wait (up to 6 minutes) until the asset at `path` has a materialization (the sensor
    recorded a refresh); its materializations."""
    return dev.wait_for(
        f"{path[-1]}'s first recorded refresh", lambda: dev.materializations_of(path), 360, 3
    )


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
        deadline = time.monotonic() + 60  # events of other ids may keep coming: bound the wait
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
        raise TimeoutError(f"{method}: chromium did not answer within 60 s")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (None where it has none)."""
        return self.call("Runtime.evaluate", expression=expression)["result"].get("value")

    def text(self) -> str:
        return str(self.evaluate("document.body.innerText") or "")

    def wait_for_text(self, expected: list[str], seconds: float = 60) -> str:
        """The page's text once every expected text shows, or after `seconds` (bounded);
        the dialog dismissed on the way."""
        deadline, text = time.monotonic() + seconds, ""
        while time.monotonic() < deadline:
            time.sleep(2)
            self.evaluate(SKIP_DIALOG)
            text = self.text()
            if all(item in text for item in expected):
                break
        return text

    def capture(self, path: Path) -> None:
        """A screenshot of what the window shows now, as a PNG at `path`."""
        shot = self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))

    def show(self, url: str, expected: list[str], path: Path) -> str:
        """Open `url`, dismiss the dialog, wait (bounded) until every expected text shows."""
        self.call("Page.navigate", url=url)
        text = self.wait_for_text(expected)
        self.evaluate(SKIP_DIALOG)  # it may open after the first try
        time.sleep(2)  # let the dialog close and the graph settle
        self.capture(path)
        missing = [item for item in expected if item not in text]
        if missing:
            raise AssertionError(f"{url} does not show {missing}; screenshot {path}")
        return text

    def close(self) -> None:
        self.exit_stack.close()
        stop(self.process)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
