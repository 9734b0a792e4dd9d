"""The core package's import directions (README "Layout") are enforced, not only written down.

`.ci/run` runs `uv run lint-imports` over the repository; these tests run the same contracts (the
root pyproject.toml's `[tool.importlinter]`) over a copy of the two packages with one deliberate
wrong-way import added, and check that the contract it breaks fails, by name. The unchanged copy
passes, so a failure here is the import, not the set-up.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "dagster_dynamic_tables": REPO_ROOT / "packages/dagster-dynamic-tables/src",
    "local_snowflake": REPO_ROOT / "packages/local-snowflake/src",
}
LAYERS = "Core layers: each subpackage imports only the ones below it"
NO_DAGSTER = "Declarations, SQL, the platform tooling and the stand-in seam import no Dagster"
ONE_DOOR = "Only the stand-in seam (standin) imports local_snowflake"


@pytest.fixture(scope="module")
def contracts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config file holding only the root pyproject.toml's import-linter section."""
    text = (REPO_ROOT / "pyproject.toml").read_text()
    section = text[text.index("[tool.importlinter]") :]
    config = tmp_path_factory.mktemp("contracts") / "pyproject.toml"
    config.write_text(section)
    return config


def _copy(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    for name, path in PACKAGES.items():
        shutil.copytree(path / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    return src


def _lint(src: Path, contracts: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--no-cache", "--no-logo", str(contracts)],
        cwd=src,
        env={"PATH": str(lint.parent), "PYTHONPATH": str(src), "HOME": str(src)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_unchanged_packages_keep_every_contract(tmp_path: Path, contracts: Path) -> None:
    result = _lint(_copy(tmp_path), contracts)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "broken"),
    [
        # SQL-only code pulling in Dagster (and dagster-snowflake's 7-s import with it).
        ("dagster_dynamic_tables/sql/records.py", "import dagster", NO_DAGSTER),
        # A runtime module reaching up into the platform's repository tooling.
        (
            "dagster_dynamic_tables/freshness/tick.py",
            "import dagster_dynamic_tables.platform.repo",
            LAYERS,
        ),
        # A second door to the stand-in.
        ("dagster_dynamic_tables/health/checks.py", "import local_snowflake", ONE_DOOR),
    ],
    ids=["sql_imports_dagster", "runtime_imports_platform", "second_stand_in_door"],
)
def test_a_wrong_way_import_breaks_its_contract(
    tmp_path: Path, contracts: Path, module: str, wrong_import: str, broken: str
) -> None:
    src = _copy(tmp_path)
    target = src / module
    target.write_text(target.read_text() + f"\n{wrong_import}  # the wrong way\n")
    result = _lint(src, contracts)
    assert result.returncode != 0, result.stdout
    assert f"{broken} BROKEN" in " ".join(result.stdout.split()), result.stdout
