"""The tenant template through real cookiecutter runs, into temporary folders.

Outside the repository the hooks validate and register nothing, so these bakes touch no repo.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from dagster_dynamic_tables.declarations.loader import build_tenant
from dagster_dynamic_tables.platform.repo import RESERVED_SLUGS, slug_problem
from support.repo import BIN, REPO_ROOT

TEMPLATE = REPO_ROOT / "templates" / "tenant"

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
        "snowflake_warehouse": '"Research Wh"',
        "snowflake_role": '"It\'s Mixed"',
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


LONG_SLUG = "a" * 100_000
INJECTION = "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}"
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
    # Too long for a file name: refused before cookiecutter creates the folder (was OSError).
    "slug-100000-characters": (
        {"tenant_slug": LONG_SLUG},
        f"ERROR: tenant_slug {LONG_SLUG[:40]!r}... (100000 characters) is 100000 characters "
        "long: use at most 40 (it names a Python package, environment variables and a "
        "Kubernetes deployment).",
    ),
    "database": (
        {"snowflake_database": "my-db"},
        "snowflake_database 'my-db' is not a valid Snowflake identifier",
    ),
    # Valid in Snowflake, but `local start` could not create it in the stand-in.
    "database-quoted": (
        {"snowflake_database": '"Mixed DB"'},
        "ERROR: snowflake_database '\"Mixed DB\"' is a quoted name, which the local Snowflake "
        "stand-in cannot host (`dynamic-tables local start` would refuse it): use letters, "
        "digits, '_' and '$' starting with a letter or '_' (e.g. GROWTH).",
    ),
    "schema-quoted": (
        {"snowflake_schema": '"Mixed"'},
        "snowflake_schema '\"Mixed\"' is a quoted name, which the local Snowflake stand-in",
    ),
    "database-reserved-by-the-stand-in": (
        {"snowflake_database": "memory"},
        "snowflake_database 'memory' is reserved by the local Snowflake stand-in",
    ),
    "schema-control-char": (
        {"snowflake_schema": '"bad\x7fname"'},
        "snowflake_schema '\"bad\\x7fname\"' is not a valid Snowflake identifier",
    ),
    "warehouse": (
        {"snowflake_warehouse": "WH;DROP"},
        "snowflake_warehouse 'WH;DROP' is not a valid Snowflake identifier",
    ),
    "warehouse-single-quote": (
        {"snowflake_warehouse": '"It\'s"'},
        "snowflake_warehouse '\"It\\'s\"' contains a single quote, which the local Snowflake",
    ),
    "role": ({"snowflake_role": "1ROLE"}, "snowflake_role '1ROLE' is not a valid Snowflake"),
    "owner": ({"owner": "the growth team"}, "owner 'the growth team' is not a CODEOWNERS owner"),
    "name-quote": ({"tenant_name": 'The "A" Team'}, "tenant_name 'The \"A\" Team' contains"),
    # Template syntax in an answer is refused before cookiecutter renders it (it ran as code).
    "name-jinja-expression": (
        {"tenant_name": INJECTION},
        f"ERROR: tenant_name {INJECTION!r} contains Jinja "
        "template syntax ('{{', '{%' or '{#'), which cookiecutter would run: answers are plain "
        "text, remove it.",
    ),
    "slug-jinja-concatenation": (
        {"tenant_slug": "{{ 'grow' ~ 'th' }}"},
        "tenant_slug \"{{ 'grow' ~ 'th' }}\" contains Jinja template syntax",
    ),
    "owner-jinja-statement": (
        {"owner": "@a{% if true %}b{% endif %}"},
        "owner '@a{% if true %}b{% endif %}' contains Jinja template syntax",
    ),
    "database-jinja-comment": (
        {"snowflake_database": "DB{# x #}"},
        "snowflake_database 'DB{# x #}' contains Jinja template syntax",
    ),
    # Private keys are rendered too, and a command line can set them.
    "private-key-jinja": (
        {"__dagster_owner": INJECTION},
        f"__dagster_owner {INJECTION!r} contains Jinja",
    ),
}


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("ERROR:")]


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
    # The answer check's line is all cookiecutter prints: no traceback, no line of its own.
    assert result.returncode == 1, output[:2000]
    assert len(output.strip().splitlines()) == 1, output[:2000]
    (line,) = _errors(output)
    assert (line == message) if message.startswith("ERROR:") else (message in line), line
    assert list(out.iterdir()) == [], "generation left files behind"
    assert not (tmp_path / "MARKER").exists(), "an answer ran as code"


def test_template_syntax_in_api_answers_is_refused_before_it_runs(tmp_path: Path) -> None:
    """A self-service form would call cookiecutter's API: its answers are checked the same."""
    marker = tmp_path / "MARKER"
    extra = {"tenant_name": INJECTION.replace("MARKER", str(marker))}
    with pytest.raises(FailedHookException) as raised:
        cookiecutter(str(TEMPLATE), no_input=True, extra_context=extra, output_dir=str(tmp_path))
    assert str(raised.value).startswith("ERROR: tenant_name '{{ cycler.__init__.__globals__.os.s")
    assert str(raised.value).endswith("answers are plain text, remove it.")
    assert not marker.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_typed_answer_with_template_syntax_is_refused(tmp_path: Path) -> None:
    """Answers typed at the prompts are not rendered, but are refused as well."""
    args = [sys.executable, "-m", "cookiecutter", "-o", str(tmp_path / "out"), str(TEMPLATE)]
    typed = "{{ 7 * 7 }}\n" + "\n" * 10
    result = subprocess.run(
        args, input=typed, capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    # The prompts end without a newline: the error line follows the last one.
    assert output.count("ERROR:") == 1, output
    assert output.rstrip().endswith(
        "ERROR: tenant_name '{{ 7 * 7 }}' contains Jinja template syntax ('{{', '{%' or '{#'), "
        "which cookiecutter would run: answers are plain text, remove it."
    ), output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("tests", "ERROR: tenant_slug 'tests' is reserved (a folder of this repository"),
        ("docs", "ERROR: tenant_slug 'docs' names a folder that already exists: {out}/docs."),
    ],
)
def test_a_slug_naming_an_existing_folder_gets_our_error_not_cookiecutters(
    slug: str, message: str, tmp_path: Path, sh
) -> None:
    """From the repository root `tests` is a folder already (cookiecutter said "directory
    already exists"); any existing folder is refused before generation, by the answer check."""
    out = tmp_path / "out"
    (out / slug).mkdir(parents=True)
    (out / slug / "keep.txt").write_text("mine")
    args = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out), str(TEMPLATE)]
    result = sh([*args, f"tenant_slug={slug}"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    (line,) = _errors(output)
    assert line.startswith(message.format(out=out)), output
    assert sorted(p.name for p in out.rglob("*")) == sorted([slug, "keep.txt"])


def _answer_rules() -> ModuleType:
    """The template's answer check, imported as cookiecutter imports it (from the template)."""
    spec = importlib.util.spec_from_file_location("tenant_answers", TEMPLATE / "tenant_answers.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
        LONG_SLUG,
        "A" * 100,
    ],
    ids=lambda slug: slug if len(slug) < 50 else f"{slug[0]}x{len(slug)}",
)
def test_template_slug_rule_is_the_cores(slug: str) -> None:
    rules = _answer_rules()
    assert rules.RESERVED_SLUGS == RESERVED_SLUGS
    assert rules.slug_problem(slug) == slug_problem(slug)
