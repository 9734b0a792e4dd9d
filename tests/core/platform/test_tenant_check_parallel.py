"""Code locations load in forked children, several at once (`platform.parallel`): results in the
items' order whatever the order the children finish in, never more children than workers, every
child within its time bound (with what it started), and each failure reported in its place; the
same for `tenants validate` (`platform.validate`), which runs Dagster's own command in each child.

The runner is tested with plain functions; `load_tenant_views` with tenants made here, under
slugs no other test imports (a forked child sees the modules this process has imported): one that
loads, one that never finishes, one that raises and one that exits at import, with 1 worker and
with 4, and the same findings both times (about 12 s: this process imports Dagster once, as the
command does, and the slow tenant takes its 3 s time bound twice).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster_dynamic_tables.errors import ParallelSettingsError, WorkspaceError
from dagster_dynamic_tables.platform.parallel import available_cores, run_forked, settings_from_env
from dagster_dynamic_tables.platform.repo import TenantFolder
from dagster_dynamic_tables.platform.tenant_views import load_tenant_views
from dagster_dynamic_tables.platform.validate import validate_locations
from dagster_dynamic_tables.platform.workspace import render_workspace


def _sleep_then_report(seconds: float) -> list[float]:
    start = time.time()
    time.sleep(seconds)
    return [start, time.time()]


def test_outcomes_come_in_the_items_order_when_children_finish_in_reverse() -> None:
    delays = [0.6, 0.4, 0.2, 0.0]
    outcomes = run_forked(delays, _sleep_then_report, workers=4, timeout=30)
    assert [outcome.item for outcome in outcomes] == delays
    assert all(outcome.failure is None for outcome in outcomes), outcomes
    ends = [outcome.value[1] for outcome in outcomes]
    assert ends == sorted(ends, reverse=True), "the children did not finish in reverse"


def test_no_more_children_run_at_once_than_workers() -> None:
    outcomes = run_forked([0.3] * 6, _sleep_then_report, workers=2, timeout=30)
    spans = [outcome.value for outcome in outcomes]
    most = max(sum(1 for s, e in spans if s <= start < e) for start, _end in spans)
    assert most == 2, spans  # two at once, never three


def _hang_with_a_grandchild(pid_file: str) -> None:
    child = subprocess.Popen(["sleep", "60"])
    Path(pid_file).write_text(str(child.pid))
    time.sleep(60)


def test_a_child_out_of_time_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    start = time.monotonic()
    outcomes = run_forked([str(pid_file)], _hang_with_a_grandchild, workers=1, timeout=1)
    assert time.monotonic() - start < 10
    assert outcomes[0].failure == "did not finish within 1 s (stopped)"
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild), "the child's own subprocess outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead (init reaps it)


def _misbehave(how: str) -> object:
    if how == "raise":
        raise ValueError("boom\nsecond line")
    if how == "exit":
        os._exit(3)
    if how == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "sys.exit":
        sys.exit(0)
    if how == "not json":
        return object()
    print("printed by the child")
    return how


def test_each_failure_is_reported_in_its_place(capfd: pytest.CaptureFixture[str]) -> None:
    items = ["ok", "raise", "exit", "killed", "sys.exit", "not json", "ok again"]
    outcomes = run_forked(items, _misbehave, workers=3, timeout=30)
    assert [(o.item, o.value, o.failure) for o in outcomes] == [
        ("ok", "ok", None),
        ("raise", None, "failed: ValueError: boom"),
        ("exit", None, "exited with status 3 before reporting"),
        ("killed", None, "was killed by signal SIGKILL"),
        ("sys.exit", None, "failed: SystemExit: 0"),
        ("not json", None, "failed: TypeError: Object of type object is not JSON serializable"),
        ("ok again", "ok again", None),
    ]
    out, err = capfd.readouterr()
    assert "printed by the child" not in out  # a child's stdout goes to stderr
    assert err.count("printed by the child") == 2


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (available_cores(), 180.0)),
        ({"DYNAMIC_TABLES_WORKERS": "1", "DYNAMIC_TABLES_LOAD_TIMEOUT": "2.5"}, (1, 2.5)),
        ({"DYNAMIC_TABLES_WORKERS": " ", "DYNAMIC_TABLES_LOAD_TIMEOUT": ""}, (available_cores(), 180)),  # noqa: E501
    ],
    ids=["defaults", "overrides", "blank"],
)  # fmt: skip
def test_settings_from_the_environment(
    environ: dict[str, str], expected: tuple[int, float]
) -> None:
    assert settings_from_env(environ) == expected


@pytest.mark.parametrize(
    ("name", "value", "example"),
    [
        ("DYNAMIC_TABLES_WORKERS", "0", "a whole number, e.g. 4"),
        ("DYNAMIC_TABLES_WORKERS", "2.5", "a whole number, e.g. 4"),
        ("DYNAMIC_TABLES_LOAD_TIMEOUT", "-1", "seconds, e.g. 300"),
        ("DYNAMIC_TABLES_LOAD_TIMEOUT", "nan", "seconds, e.g. 300"),
        ("DYNAMIC_TABLES_LOAD_TIMEOUT", "inf", "seconds, e.g. 300"),
    ],
)
def test_a_bad_setting_is_named_with_its_fix(name: str, value: str, example: str) -> None:
    with pytest.raises(ParallelSettingsError) as raised:
        settings_from_env({name: value})
    assert str(raised.value) == (
        f"{name}={value!r} is not a positive number. Fix: set it to {example}, or unset it "
        f"(default: {available_cores()} cores for DYNAMIC_TABLES_WORKERS, 180 s for "
        "DYNAMIC_TABLES_LOAD_TIMEOUT)."
    )


_DEFINITIONS = {
    "ok": (
        "import dagster as dg\n\n"
        "spec = dg.AssetSpec(['{slug}', 'orders'], group_name='{slug}_g')\n"
        "defs = dg.Definitions(assets=[spec])\n"
    ),
    "slow": "import time\n\ntime.sleep(120)\n",
    "broken": "raise RuntimeError('no such table in the seed')\n",
    "exits": "import os\n\nos._exit(5)\n",
}


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[TenantFolder]]:
    root = tmp_path_factory.mktemp("parallel_tenants")
    folders: list[TenantFolder] = []
    tag = secrets.token_hex(3)
    for kind, source in _DEFINITIONS.items():
        slug = f"p{tag}_{kind}"
        package = root / "tenants" / slug / "src" / slug
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "definitions.py").write_text(source.replace("{slug}", slug))
        folders.append(TenantFolder(slug, root / "tenants" / slug))
        sys.path.insert(0, str(package.parent))
    yield folders
    for folder in folders:
        sys.path.remove(str(folder.path / "src"))


@pytest.mark.timeout(120)
def test_locations_are_reported_in_tenant_order_with_1_or_4_workers(
    tenants: list[TenantFolder],
) -> None:
    root = tenants[0].path.parents[1]
    results: list[list[str]] = []
    for workers in (1, 4):
        findings: list[str] = []
        views = load_tenant_views(root, tenants, findings, workers=workers, timeout=3)
        assert [view.loaded for view in views] == [True, False, False, False]
        ok = tenants[0].slug
        assert views[0].keys == {(ok, "orders"): f"tenants/{ok}/src/{ok}/definitions.py"}
        assert views[0].groups == {f"{ok}_g": f"tenants/{ok}/src/{ok}/definitions.py"}
        results.append(findings)
    slow, broken, exits = (folder.slug for folder in tenants[1:])
    assert results[0] == results[1]
    assert results[0] == [
        f"tenant {slow!r}: loading code location {slow}.definitions did not finish within 3 s "
        f"(stopped). Fix: run `uv run dagster definitions validate -m {slow}.definitions` and "
        "correct what it reports.",
        f"tenant {broken!r}: code location {broken}.definitions does not load: no such table in "
        f"the seed. Fix: run `uv run dagster definitions validate -m {broken}.definitions` and "
        "correct what it reports.",
        f"tenant {exits!r}: loading code location {exits}.definitions exited with status 5 "
        f"before reporting. Fix: run `uv run dagster definitions validate -m "
        f"{exits}.definitions` and correct what it reports.",
    ]


@pytest.mark.timeout(120)
def test_validate_runs_dagster_per_location_in_workspace_order(
    tenants: list[TenantFolder],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tenants[0].path.parents[1]
    (root / "workspace.yaml").write_text(render_workspace([folder.slug for folder in tenants]))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    ok, _slow, broken, _exits = (folder.slug for folder in tenants)
    assert validate_locations(root, [ok, broken]) == 1
    out = capsys.readouterr().out
    failed = out.index(f"Validation failed for code location {broken}:")
    passed = out.index(f"Validation successful for code location {ok}.")
    assert failed < passed  # workspace.yaml's order (sorted by slug), not the arguments'
    assert "RuntimeError: no such table in the seed" in out
    assert out.endswith(f"tenants validate: 1 of 2 code locations failed: {broken}\n")
    assert _slow not in out


def test_validate_names_an_unknown_location(tenants: list[TenantFolder]) -> None:
    root = tenants[0].path.parents[1]
    (root / "workspace.yaml").write_text(render_workspace([tenants[0].slug]))
    with pytest.raises(WorkspaceError) as raised:
        validate_locations(root, ["nope", tenants[0].slug])
    assert str(raised.value) == (
        f"workspace.yaml has no code location 'nope' (it has {tenants[0].slug}). Fix: name "
        "registered tenants, or run `uv run dynamic-tables tenants sync` after adding one."
    )
