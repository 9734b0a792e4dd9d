"""Validate the answers before anything is generated or registered.

Runs with the (still empty) tenant folder as working directory. Each bad answer gets one `ERROR:`
line naming the answer and the rule; the exit status is then 1, and cookiecutter removes the empty
folder, so nothing is left behind. Standard library only: this runs in whatever Python runs
cookiecutter. The slug rule is `dagster_dynamic_tables.repo.slug_problem`'s (a test keeps the two
equal); the identifier rule is `dagster_dynamic_tables.identifiers.parse_identifier`'s.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import tomllib
import unicodedata
from pathlib import Path

# Rendered by cookiecutter before the hook runs: the answers as JSON (tojson escapes quotes).
ANSWERS: dict[str, str] = json.loads(r"""{{ cookiecutter | tojson }}""")

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_SLUG_LENGTH = 40
RESERVED_SLUGS = frozenset(
    {
        "packages",
        "tenants",
        "templates",
        "tests",
        "deploy",
        "dagster",
        "dagster_dynamic_tables",
        "dagster_snowflake",
        "dagster_webserver",
        "dagster_dg_cli",
        "local_snowflake",
        "snowflake",
        "fakesnow",
        "duckdb",
        "pydantic",
        "yaml",
        "sqlglot",
        "pytest",
        "cookiecutter",
    }
)
UNQUOTED_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
OWNER = re.compile(
    r"@[A-Za-z0-9-]+(/[A-Za-z0-9_.-]+)?|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
)


def slug_problem(slug: str) -> str | None:
    if not SLUG_PATTERN.match(slug):
        return (
            f"tenant_slug {slug!r} is not a lowercase Python identifier: use lowercase letters, "
            "digits and '_', starting with a letter (e.g. growth, data_science)"
        )
    if len(slug) > MAX_SLUG_LENGTH:
        return (
            f"tenant_slug {slug!r} is {len(slug)} characters long: use at most "
            f"{MAX_SLUG_LENGTH} (it names a Python package, environment variables and a "
            "Kubernetes deployment)"
        )
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return f"tenant_slug {slug!r} is a Python keyword: choose another name"
    if slug in RESERVED_SLUGS or slug in sys.stdlib_module_names:
        return (
            f"tenant_slug {slug!r} is reserved (a folder of this repository, a package the "
            "platform imports or a standard-library module): choose another name, e.g. "
            f"{slug}_team"
        )
    return None


def identifier_problem(answer: str, value: str) -> str | None:
    """Snowflake's identifier rule, as the platform's declarations apply it."""
    if UNQUOTED_IDENTIFIER.fullmatch(value):
        body = value
    elif len(value) >= 2 and value[0] == value[-1] == '"':
        body = value[1:-1]
        inner = body.replace('""', "")
        if not body or '"' in inner or any(unicodedata.category(c) == "Cc" for c in body):
            body = ""
    else:
        body = ""
    if not body:
        return (
            f"{answer} {value!r} is not a valid Snowflake identifier: use letters, digits, '_' "
            "and '$' starting with a letter or '_' (e.g. ANALYTICS), or a double-quoted name "
            'without control characters (e.g. "Mixed Case")'
        )
    if len(body) > 255:
        return f"{answer} is {len(body)} characters long: Snowflake identifiers have at most 255"
    return None


def name_problem(value: str) -> str | None:
    if not value.strip() or len(value) > 80:
        return f"tenant_name {value!r} must be 1 to 80 characters"
    if any(c in value for c in '"\\`') or any(unicodedata.category(c) == "Cc" for c in value):
        return (
            f"tenant_name {value!r} contains a quote, backslash, backtick or control character: "
            "use plain words (e.g. Growth Analytics)"
        )
    return None


def owner_problem(value: str) -> str | None:
    if OWNER.fullmatch(value):
        return None
    return (
        f"owner {value!r} is not a CODEOWNERS owner: use a GitHub team (@org/team), a GitHub "
        "user (@name) or an e-mail address"
    )


def platform_root(start: Path) -> Path | None:
    """The repository holding tenants/ and a uv workspace pyproject.toml, above `start`."""
    for folder in start.resolve().parents:
        pyproject = folder / "pyproject.toml"
        if not ((folder / "tenants").is_dir() and pyproject.is_file()):
            continue
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if "workspace" in data.get("tool", {}).get("uv", {}):
            return folder
    return None


def problems() -> list[str]:
    slug = ANSWERS["tenant_slug"]
    bad_slug = slug_problem(slug)
    identifiers = (
        "snowflake_database",
        "snowflake_schema",
        "snowflake_warehouse",
        "snowflake_role",
    )
    found = [
        name_problem(ANSWERS["tenant_name"]),
        bad_slug,
        owner_problem(ANSWERS["owner"]),
        *(
            identifier_problem(answer, ANSWERS[answer])
            for answer in identifiers
            # A bad slug makes the defaults derived from it bad too: report the slug alone.
            if not (bad_slug and slug.upper() in ANSWERS[answer])
        ),
    ]
    here = Path.cwd()
    root = platform_root(here)
    if root is not None:
        existing = root / "tenants" / slug
        if existing.exists() and existing.resolve() != here.resolve():
            found.append(
                f"tenant_slug {slug!r} is taken: tenants/{slug} already exists. Choose another "
                "slug (or update that tenant with `cruft update` instead)"
            )
        elif (root / "packages" / slug).exists():
            found.append(f"tenant_slug {slug!r} is taken by packages/{slug}: choose another slug")
    return [problem for problem in found if problem]


def main() -> int:
    found = problems()
    for problem in found:
        print(f"ERROR: {problem}.", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
