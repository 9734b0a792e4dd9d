"""Run one piece of work per code location in forked children, several at once, results in order.

Why forked children: loading a code location is Python under the GIL (threads would take turns),
and what a location costs is almost all the import of Dagster and dagster-snowflake (measured here:
about 9 s; a tenant's own code after that, 0.3-0.5 s). A fresh process per location pays that
import every time (`dagster definitions validate -w` starts one code server per location, one
after the other: about 10 s per location). So the parent imports the modules every location
shares once (`preload`), then forks: each child starts with them loaded and pays only for its own
tenant. Children are isolated from one another as code servers are (one tenant's imports and
monkeypatches stay in its child).

- At most `workers` children run at once (default: the cores this process may use;
  `DYNAMIC_TABLES_WORKERS` overrides, 1 loads one location after the other).
- Each child has `timeout` seconds (`DYNAMIC_TABLES_LOAD_TIMEOUT`, default 180); a child still
  running then is killed with its process group (anything it started), and its outcome says so.
  A child that crashes or exits is reported the same way: the caller reports every location in
  its place, whatever happened to the others.
- Outcomes come back in the order of `items`, whatever order the children finish in, so what a
  command prints does not depend on the number of workers.
- A child's result travels as JSON over a pipe (the child runs tenant code: nothing it writes is
  unpickled). Its standard output goes to standard error, so a tenant that prints at import does
  not mix its text into the command's output.

Where `fork` does not exist (Windows), the work runs in this process, one item after another,
without the time bound.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import selectors
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dagster_dynamic_tables.errors import ParallelSettingsError

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_VARIABLE",
    "WORKERS_VARIABLE",
    "Outcome",
    "available_cores",
    "run_forked",
    "settings_from_env",
]

WORKERS_VARIABLE = "DYNAMIC_TABLES_WORKERS"
TIMEOUT_VARIABLE = "DYNAMIC_TABLES_LOAD_TIMEOUT"

DEFAULT_TIMEOUT = 180.0
"""Seconds a child may take: Dagster's own default for a code server to start
(`code_server_process_startup_timeout`)."""

Item = TypeVar("Item")


@dataclass(frozen=True)
class Outcome(Generic[Item]):
    """What became of one item: the work's JSON result, or why there is none."""

    item: Item
    value: Any = None
    failure: str | None = None
    """E.g. `did not finish within 180 s (stopped)`; None when the work returned."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def settings_from_env(environ: Mapping[str, str]) -> tuple[int, float]:
    """(workers, timeout in seconds): the environment's overrides, else the cores available and
    `DEFAULT_TIMEOUT`. Raises `ParallelSettingsError` for a value that is not a positive number."""
    workers, timeout = available_cores(), DEFAULT_TIMEOUT
    if environ.get(WORKERS_VARIABLE, "").strip():
        workers = int(_positive(environ, WORKERS_VARIABLE, int, "a whole number, e.g. 4"))
    if environ.get(TIMEOUT_VARIABLE, "").strip():
        timeout = _positive(environ, TIMEOUT_VARIABLE, float, "seconds, e.g. 300")
    return workers, timeout


def _positive(
    environ: Mapping[str, str], name: str, kind: Callable[[str], float], example: str
) -> float:
    value = environ[name]
    try:
        number = kind(value.strip())
    except ValueError:
        number = 0
    if not number > 0 or number == float("inf"):
        raise ParallelSettingsError(
            f"{name}={value!r} is not a positive number. Fix: set it to {example}, or unset it "
            f"(default: {available_cores()} cores for {WORKERS_VARIABLE}, "
            f"{DEFAULT_TIMEOUT:g} s for {TIMEOUT_VARIABLE})."
        )
    return number


def run_forked(
    items: Sequence[Item],
    work: Callable[[Item], Any],
    *,
    workers: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    preload: Sequence[str] = (),
) -> list[Outcome[Item]]:
    """`work(item)` for every item, each in its own forked child; outcomes in the items' order.

    `work` returns JSON-serialisable data; an exception it raises is the item's failure.
    `preload` names modules to import first, once, in this process."""
    for module in preload:
        with contextlib.suppress(Exception):  # a child that needs it fails on it, in its place
            importlib.import_module(module)
    if not hasattr(os, "fork"):
        return [_in_process(item, work) for item in items]
    return _Pool(work, workers or available_cores(), timeout).run(items)


def _in_process(item: Item, work: Callable[[Item], Any]) -> Outcome[Item]:
    try:
        return Outcome(item, json.loads(json.dumps(work(item))))
    except Exception as e:
        return Outcome(item, failure=_raised(e))


def _raised(e: BaseException) -> str:
    text = str(e).strip()
    first = text.splitlines()[0] if text else ""
    return f"failed: {type(e).__name__}" + (f": {first}" if first else "")


@dataclass
class _Child:
    index: int
    pid: int
    fd: int
    deadline: float
    data: bytearray


class _Pool(Generic[Item]):
    def __init__(self, work: Callable[[Item], Any], workers: int, timeout: float) -> None:
        self.work, self.workers, self.timeout = work, max(1, workers), timeout

    def run(self, items: Sequence[Item]) -> list[Outcome[Item]]:
        outcomes: dict[int, Outcome[Item]] = {}
        running: dict[int, _Child] = {}
        waiting = list(enumerate(items))
        with selectors.DefaultSelector() as selector:
            try:
                while waiting or running:
                    while waiting and len(running) < self.workers:
                        index, item = waiting.pop(0)
                        child = self._start(index, item)
                        running[child.fd] = child
                        selector.register(child.fd, selectors.EVENT_READ)
                    for child, late in self._step(selector, running):
                        outcomes[child.index] = self._finish(child, late, items[child.index])
            finally:
                for child in running.values():  # interrupted (Ctrl-C): leave no child behind
                    _kill(child.pid)
                    os.close(child.fd)
        return [outcomes[index] for index in range(len(items))]

    def _start(self, index: int, item: Item) -> _Child:
        sys.stdout.flush()  # nothing buffered here is written twice, once by the child
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code
            os.close(read_fd)
            _child_main(item, self.work, write_fd)
        os.close(write_fd)
        return _Child(index, pid, read_fd, time.monotonic() + self.timeout, bytearray())

    def _step(
        self, selector: selectors.BaseSelector, running: dict[int, _Child]
    ) -> list[tuple[_Child, bool]]:
        """Read what is ready; the children that are done, and whether each ran out of time
        (rather than closing its pipe)."""
        wait = max(0.0, min(child.deadline for child in running.values()) - time.monotonic())
        closed: list[_Child] = []
        for key, _events in selector.select(timeout=wait):
            child = running[key.fd]
            chunk = os.read(child.fd, 1 << 16)
            if chunk:
                child.data += chunk
            else:
                closed.append(child)
        now = time.monotonic()
        late = [c for c in running.values() if c.deadline <= now and c not in closed]
        done = [(child, False) for child in closed] + [(child, True) for child in late]
        for child, _late in done:
            selector.unregister(child.fd)
            del running[child.fd]
            os.close(child.fd)
        return done

    def _finish(self, child: _Child, late: bool, item: Item) -> Outcome[Item]:
        code = None if late else _exit_code(child.pid, child.deadline)
        if code is None:
            _kill(child.pid)
            return Outcome(item, failure=f"did not finish within {self.timeout:g} s (stopped)")
        if code != 0 or not child.data:
            return Outcome(item, failure=_exit_text(code))
        try:
            message: Any = json.loads(bytes(child.data))
            return Outcome(item, message["value"], message["failure"])
        except (ValueError, KeyError, TypeError):
            return Outcome(item, failure="sent a result that cannot be read")


def _exit_code(pid: int, deadline: float) -> int | None:
    """The child's exit code once it exits (it closed its pipe: it is exiting), None if it is
    still running at the deadline."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"was killed by signal {name}"
    return f"exited with status {code} before reporting"


def _kill(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        with contextlib.suppress(OSError):
            target()
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _child_main(item: Any, work: Callable[[Any], Any], write_fd: int) -> None:
    """Run the work, send `{"value": ..., "failure": ...}` as JSON, exit without cleanup."""
    code = 0
    try:
        os.setpgid(0, 0)  # its own process group: a timeout kills what it started too
        os.dup2(2, 1)
        sys.stdout = sys.stderr  # and Python's own stdout, whatever it writes to
        try:
            message = {"value": work(item), "failure": None}
        except BaseException as e:  # SystemExit at a tenant's import too: a failure, named
            message = {"value": None, "failure": _raised(e)}
        try:
            data = json.dumps(message).encode()
        except (TypeError, ValueError) as e:
            data = json.dumps({"value": None, "failure": _raised(e)}).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
    except BaseException:  # even then, never back into the caller's code
        code = 70
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)  # no atexit handlers: they belong to the parent
