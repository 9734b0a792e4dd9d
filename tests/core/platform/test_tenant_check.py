"""`tenants check` on a copy of the repository where ecommerce steps outside its lane.

One copy, one run of the real command (a subprocess importing the copy's tenants, as the code
locations would load them, two at once), four kinds of findings, each a test:

- ecommerce's defs.yaml names its component by the module path
  (`dagster_dynamic_tables.definitions.component.DynamicTablesComponent`, which Dagster loads)
  and declares a
  Dynamic Table on finance's table: before the fix, 0 findings;
- a Dynamic Table reads finance's table without naming it in deps: before the fix, 0 findings;
- a query sqlglot cannot parse: a finding, not a crash;
- finance's Python asset uses ecommerce's group name: both tenants named, with the fix.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.processes import run_cli
from support.repo import REPO_ROOT

ECOMMERCE_YAML = "tenants/ecommerce/src/ecommerce/defs/snowflake/defs.yaml"
FINANCE_ASSET = "tenants/finance/src/finance/defs/assets/budget_report.py"
_SKIP = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".local_snowflake",
    ".dagster_home", "tmp*",
)  # fmt: skip
_EXTRA_TABLES = """\
    - name: spy
      table: FINANCE.REPORTING.REVENUE_VS_BUDGET_COPY
      target_lag: 1 minute
      warehouse: ECOMMERCE_WH
      query: select 1 as x
    - name: peek
      table: ECOMMERCE.ANALYTICS.PEEK
      target_lag: 1 minute
      warehouse: ECOMMERCE_WH
      deps: [raw_orders]
      query: >-
        select o.*, b.target from RAW.RAW_ORDERS o
        join FINANCE.REPORTING.BUDGET_TARGETS b on true
    - name: broken
      table: ECOMMERCE.ANALYTICS.BROKEN
      target_lag: 1 minute
      warehouse: ECOMMERCE_WH
      deps: [raw_orders]
      query: select ( from RAW.RAW_ORDERS
"""


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("tenantcheck") / "repo"
    shutil.copytree(REPO_ROOT, root, ignore=_SKIP)
    ecommerce = root / ECOMMERCE_YAML
    _edit(
        ecommerce,
        "type: dagster_dynamic_tables.DynamicTablesComponent",
        "type: dagster_dynamic_tables.definitions.component.DynamicTablesComponent",
    )
    ecommerce.write_text(ecommerce.read_text(encoding="utf-8") + _EXTRA_TABLES, encoding="utf-8")
    _edit(root / FINANCE_ASSET, 'group_name="finance_reports"', 'group_name="ecommerce_analytics"')
    env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    env["DYNAMIC_TABLES_WORKERS"] = "2"  # the locations load at once, whatever the machine
    env["PYTHONPATH"] = os.pathsep.join(
        str(path / "src") for path in sorted((root / "tenants").iterdir())
    )
    result = run_cli("tenants", "check", env=env, cwd=root, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("ERROR: ")]


def _only(findings: list[str], start: str) -> str:
    found = [line for line in findings if line.startswith(start)]
    assert len(found) == 1, "\n".join(findings)
    return found[0]


def test_a_component_named_by_its_module_path_is_checked(findings: list[str]) -> None:
    line = _only(findings, "ERROR: tenant 'ecommerce': " + ECOMMERCE_YAML + " declares FINANCE")
    assert line == (
        f"ERROR: tenant 'ecommerce': {ECOMMERCE_YAML} declares "
        "FINANCE.REPORTING.REVENUE_VS_BUDGET_COPY in schema FINANCE.REPORTING, outside its "
        "grants (ECOMMERCE.RAW, ECOMMERCE.ANALYTICS). Fix: declare it in a granted schema, or "
        "ask the platform team to extend grants.yaml (`uv run dynamic-tables tenants grant "
        "ecommerce --schema FINANCE.REPORTING`); plan and apply refuse the tenant until then."
    )


def test_a_read_that_is_not_a_dep_is_reported(findings: list[str]) -> None:
    line = _only(findings, f"ERROR: tenant 'ecommerce': {ECOMMERCE_YAML} dynamic_tables[3] ")
    assert line == (
        f"ERROR: tenant 'ecommerce': {ECOMMERCE_YAML} dynamic_tables[3] (ecommerce/peek) reads "
        "FINANCE.REPORTING.BUDGET_TARGETS (finance/budget_targets), which is not among its deps, "
        "so the lineage graph does not show it and nothing downstream waits for it. Fix: add "
        "finance/budget_targets to its deps."
    )


def test_a_query_sqlglot_cannot_parse_is_a_finding(findings: list[str]) -> None:
    line = _only(findings, f"ERROR: tenant 'ecommerce': {ECOMMERCE_YAML} dynamic_tables[4]")
    assert line == (
        f"ERROR: tenant 'ecommerce': {ECOMMERCE_YAML} dynamic_tables[4].query (ecommerce/broken) "
        "cannot be checked for undeclared reads: sqlglot (Snowflake dialect) cannot parse it: "
        "Expecting ). Line 1, Col: 28. Fix: write the query as one plain SELECT naming its tables "
        "(sqlglot's Snowflake dialect must parse it), or report the parse failure to the platform "
        "team."
    )


def test_two_tenants_sharing_a_group_name_are_reported(findings: list[str]) -> None:
    line = _only(findings, "ERROR: asset group ")
    assert line == (
        "ERROR: asset group 'ecommerce_analytics' is used by 2 tenants: ecommerce "
        "(tenants/ecommerce/src/ecommerce/defs/assets/executive_dashboard_report.py), finance "
        f"({FINANCE_ASSET}). Dagster's global lineage draws one box per group name across code "
        "locations, so it mixes their assets. Fix: every tenant's group names start with its "
        "slug: keep 'ecommerce_analytics' in ecommerce and rename it (finance_analytics in "
        "finance), with `group:` in defs.yaml or `group_name=` in Python assets."
    )
