"""The tenant template through real cookiecutter runs, into temporary folders.

Outside the repository the hooks validate and register nothing, so these bakes touch no repo.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from cookiecutter.main import cookiecutter
from dagster_dynamic_tables.loader import build_tenant
from dagster_dynamic_tables.repo import RESERVED_SLUGS, slug_problem

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "templates" / "tenant"
BIN = Path(sys.executable).parent

MATRIX = {
    "defaults-from-name": {"tenant_name": "Growth"},
    "two-word-name": {"tenant_name": "Data Science", "owner": "ds-leads@example.com"},
    "all-answers": {
        "tenant_name": "Marketing Ops",
        "tenant_slug": "mops",
        "owner": "@acme/marketing-ops",
        "snowflake_database": "MARKETING",
        "snowflake_schema": "OPS",
        "snowflake_warehouse": "MARKETING_XS",
        "snowflake_role": "MOPS_DAGSTER",
    },
    "quoted-identifiers": {
        "tenant_name": "Research",
        "snowflake_database": '"Research Db"',
        "snowflake_schema": '"It\'s Mixed"',
    },
}
EXPECTED_SLUG = {
    "defaults-from-name": "growth",
    "two-word-name": "data_science",
    "all-answers": "mops",
    "quoted-identifiers": "research",
}


@pytest.mark.parametrize("case", list(MATRIX), ids=list(MATRIX))
def test_template_bakes_a_loadable_lint_clean_tenant(case: str, tmp_path: Path, sh) -> None:
    project = Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=MATRIX[case], output_dir=str(tmp_path)
        )
    )
    slug = EXPECTED_SLUG[case]
    assert project == tmp_path / slug
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == sorted(
        [
            ".env.example",
            "README.md",
            "pyproject.toml",
            f"src/{slug}/__init__.py",
            f"src/{slug}/definitions.py",
            f"src/{slug}/py.typed",
            f"src/{slug}/defs/__init__.py",
            f"src/{slug}/defs/assets/__init__.py",
            f"src/{slug}/defs/assets/event_report.py",
            f"src/{slug}/defs/snowflake/defs.yaml",
            f"src/{slug}/defs/snowflake/local/seed.sql",
            f"src/{slug}/defs/snowflake/sql/daily_event_counts.sql",
            "tests/test_definitions.py",
        ]
    )
    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "{{" not in text, path
            assert "{%" not in text, path
    # The declarations load as the platform loads them, with the answers in them.
    defs_file = project / "src" / slug / "defs" / "snowflake" / "defs.yaml"
    component = yaml.safe_load(defs_file.read_text())
    tenant = build_tenant(component["attributes"], file=defs_file, base_dir=defs_file.parent)
    assert tenant.slug == slug
    answers = MATRIX[case]
    database = answers.get("snowflake_database", slug.upper())
    schema = answers.get("snowflake_schema", "ANALYTICS")
    (table,) = tenant.dynamic_tables
    assert table.table == f"{database}.{schema}.DAILY_EVENT_COUNTS"
    assert table.warehouse == answers.get("snowflake_warehouse", f"{slug.upper()}_WH")
    assert table.query is not None
    assert "RAW_EVENTS" in table.query
    env_example = (project / ".env.example").read_text()
    assert f"{slug.upper()}_SNOWFLAKE_ACCOUNT=" in env_example
    role = answers.get("snowflake_role", f"{slug.upper()}_DAGSTER")
    assert f"{slug.upper()}_SNOWFLAKE_ROLE={role}" in env_example
    # The generated Python passes the repository's own lint and format rules.
    config = str(REPO_ROOT / "pyproject.toml")
    # The root config's per-file ignores name tenants/*/tests by path: say it for this folder.
    tests_ignore = ["--extend-per-file-ignores", "**/tests/**:ANN"]
    for args in (["check", *tests_ignore], ["format", "--check"]):
        result = sh([str(BIN / "ruff"), *args, "--config", config, str(project)], tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr


BAD_ANSWERS = {
    "slug-uppercase": ({"tenant_slug": "Growth"}, "tenant_slug 'Growth' is not a lowercase"),
    "slug-digit-first": ({"tenant_slug": "1team"}, "tenant_slug '1team' is not a lowercase"),
    "slug-dash": ({"tenant_slug": "data-science"}, "tenant_slug 'data-science' is not"),
    "slug-keyword": ({"tenant_slug": "class"}, "tenant_slug 'class' is a Python keyword"),
    "slug-reserved-folder": ({"tenant_slug": "packages"}, "tenant_slug 'packages' is reserved"),
    "slug-core-module": (
        {"tenant_slug": "dagster_dynamic_tables"},
        "tenant_slug 'dagster_dynamic_tables' is reserved",
    ),
    "slug-stdlib": ({"tenant_slug": "json"}, "tenant_slug 'json' is reserved"),
    "slug-too-long": ({"tenant_slug": "a" * 41}, "characters long: use at most 40"),
    "database": (
        {"snowflake_database": "my-db"},
        "snowflake_database 'my-db' is not a valid Snowflake identifier",
    ),
    "schema-control-char": (
        {"snowflake_schema": '"bad\x7fname"'},
        "snowflake_schema '\"bad\\x7fname\"' is not a valid Snowflake identifier",
    ),
    "warehouse": (
        {"snowflake_warehouse": "WH;DROP"},
        "snowflake_warehouse 'WH;DROP' is not a valid Snowflake identifier",
    ),
    "role": ({"snowflake_role": "1ROLE"}, "snowflake_role '1ROLE' is not a valid Snowflake"),
    "owner": ({"owner": "the growth team"}, "owner 'the growth team' is not a CODEOWNERS owner"),
    "name-quote": ({"tenant_name": 'The "A" Team'}, "tenant_name 'The \"A\" Team' contains"),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS), ids=list(BAD_ANSWERS))
def test_bad_answer_stops_with_one_error_line_and_leaves_nothing(
    case: str, tmp_path: Path, sh
) -> None:
    answers, message = BAD_ANSWERS[case]
    answers = {"tenant_name": "Growth", "tenant_slug": "growth", **answers}
    out = tmp_path / "out"
    out.mkdir()
    args = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out), str(TEMPLATE)]
    result = sh(args + [f"{key}={value}" for key, value in answers.items()], tmp_path)
    output = result.stdout + result.stderr
    # cookiecutter adds its own "ERROR: Stopping generation because pre_gen_project hook script
    # didn't exit successfully" and a traceback; ours is the one line that names the answer.
    errors = [
        line
        for line in output.splitlines()
        if line.startswith("ERROR:") and "Stopping generation" not in line
    ]
    assert result.returncode != 0, output
    assert len(errors) == 1, output
    assert message in errors[0], errors[0]
    assert list(out.iterdir()) == [], "generation left files behind"


def _hook_functions() -> dict[str, object]:
    """The pre-gen hook's functions, without cookiecutter's rendering of its answers."""
    source = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text()
    source = re.sub(r"json\.loads\(r\"\"\".*?\"\"\"\)", "{}", source)
    namespace: dict[str, object] = {"__name__": "pre_gen_project"}
    exec(compile(source, "pre_gen_project.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize(
    "slug",
    [
        "growth",
        "data_science",
        "a" * 40,
        "a" * 41,
        "Growth",
        "_x",
        "x-y",
        "class",
        "match",
        "packages",
        "json",
        "local_snowflake",
        "growth2",
    ],
)
def test_hook_slug_rule_is_the_cores(slug: str) -> None:
    hook = _hook_functions()
    assert hook["RESERVED_SLUGS"] == RESERVED_SLUGS
    assert hook["slug_problem"](slug) == slug_problem(slug)  # type: ignore[operator]
