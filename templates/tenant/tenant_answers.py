"""Check the tenant template's answers before cookiecutter renders or writes anything.

cookiecutter renders every value of the context as a Jinja template while it prompts: the
defaults of cookiecutter.json, but also each answer given on the command line
(`tenant_name=...`), through its API (`extra_context`) or in a user config file. An answer holding
`{{ ... }}` would run as code, before any hook. So this module is loaded as a Jinja extension
(`_extensions` in cookiecutter.json): cookiecutter creates its Jinja environment, and with it this
extension, before rendering anything, and the extension checks the context it is created for:

1. every time (before the answers are rendered, then before files are written and before each
   hook): no value holds template syntax (`{{`, `{%`, `{#`) unless it is the template's own text
   from cookiecutter.json. An answer typed at a prompt is not rendered, but is refused the same.
2. once the answers are final (the context has `_template`, before the tenant folder is created):
   the answer rules (slug, name, owner, Snowflake identifiers) and, when generating into the
   platform repository, that the slug is not taken. Checked before the folder exists, so a slug
   too long for a file name or naming an existing folder gets this module's error, not an OSError
   or cookiecutter's own.

Each problem is one `ERROR:` line naming the answer and the rule; they are raised together as
`AnswerError`, a `FailedHookException`: cookiecutter's command line prints its message (the lines)
and exits 1, and its API raises it. Nothing has been rendered or written then.

The extension is created inside cookiecutter's `ExtensionLoaderMixin.__init__(context=...)`,
which does not hand the context to extensions: it is read from that frame (cookiecutter 2.7.1, the
locked version). If the frame is not found, generation stops (fail closed).

Standard library, jinja2 and cookiecutter only: this runs in whatever Python runs cookiecutter.
The slug rule is `dagster_dynamic_tables.platform.repo.slug_problem`'s (a test keeps the two
equal); the identifier rule is `dagster_dynamic_tables.declarations.identifiers.parse_identifier`'s,
narrowed for database and schema to the names the local Snowflake stand-in can host.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

from cookiecutter.environment import ExtensionLoaderMixin
from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

TEMPLATE_DIR = Path(__file__).resolve().parent
DEFAULTS: dict[str, Any] = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text("utf-8"))
TEMPLATE_SYNTAX = ("{{", "{%", "{#")
ANSWERS = (
    "tenant_name",
    "tenant_slug",
    "owner",
    "snowflake_database",
    "snowflake_schema",
    "snowflake_warehouse",
    "snowflake_role",
)
CHECKED = "_tenant_answers_checked"  # top-level context key: the final checks ran

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
# Database names the stand-in (DuckDB) reserves: local-snowflake's names.py.
STAND_IN_RESERVED_DATABASES = frozenset(
    {"MAIN", "TEMP", "SYSTEM", "MEMORY", "_FS_GLOBAL", "_FS_LOCAL_SNOWFLAKE"}
)
OWNER = re.compile(
    r"@[A-Za-z0-9-]+(/[A-Za-z0-9_.-]+)?|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
)


class AnswerError(FailedHookException):
    """Answers the template refuses; the message is one `ERROR:` line per problem."""


def show(value: str) -> str:
    """The value as messages quote it: whole when short, else its start and its length."""
    if len(value) <= 60:
        return repr(value)
    return f"{value[:40]!r}... ({len(value)} characters)"


def slug_problem(slug: str) -> str | None:
    if not SLUG_PATTERN.match(slug):
        return (
            f"tenant_slug {show(slug)} is not a lowercase Python identifier: use lowercase "
            "letters, digits and '_', starting with a letter (e.g. growth, data_science)"
        )
    if len(slug) > MAX_SLUG_LENGTH:
        return (
            f"tenant_slug {show(slug)} is {len(slug)} characters long: use at most "
            f"{MAX_SLUG_LENGTH} (it names a Python package, environment variables and a "
            "Kubernetes deployment)"
        )
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return f"tenant_slug {show(slug)} is a Python keyword: choose another name"
    if slug in RESERVED_SLUGS or slug in sys.stdlib_module_names:
        return (
            f"tenant_slug {show(slug)} is reserved (a folder of this repository, a package the "
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
            f"{answer} {show(value)} is not a valid Snowflake identifier: use letters, digits, "
            "'_' and '$' starting with a letter or '_' (e.g. ANALYTICS), or a double-quoted name "
            'without control characters (e.g. "Mixed Case")'
        )
    if len(body) > 255:
        return f"{answer} is {len(body)} characters long: Snowflake identifiers have at most 255"
    if answer == "snowflake_warehouse" and "'" in body:
        return (
            f"snowflake_warehouse {show(value)} contains a single quote, which the local "
            "Snowflake stand-in cannot name: use letters, digits, '_' and '$' (e.g. GROWTH_WH)"
        )
    return None


def container_problem(answer: str, value: str) -> str | None:
    """Databases and schemas are created in the local stand-in at `local start`: it hosts plain
    identifiers only (its database files and DuckDB statements name them unquoted)."""
    problem = identifier_problem(answer, value)
    if problem is not None:
        return problem
    if not UNQUOTED_IDENTIFIER.fullmatch(value):
        return (
            f"{answer} {show(value)} is a quoted name, which the local Snowflake stand-in cannot "
            "host (`dynamic-tables local start` would refuse it): use letters, digits, '_' and "
            "'$' starting with a letter or '_' (e.g. GROWTH)"
        )
    if answer == "snowflake_database" and value.upper() in STAND_IN_RESERVED_DATABASES:
        return (
            f"snowflake_database {show(value)} is reserved by the local Snowflake stand-in "
            f"({', '.join(sorted(STAND_IN_RESERVED_DATABASES))}): choose another name"
        )
    return None


def name_problem(value: str) -> str | None:
    if not value.strip() or len(value) > 80:
        return f"tenant_name {show(value)} must be 1 to 80 characters"
    if any(c in value for c in '"\\`') or any(unicodedata.category(c) == "Cc" for c in value):
        return (
            f"tenant_name {show(value)} contains a quote, backslash, backtick or control "
            "character: use plain words (e.g. Growth Analytics)"
        )
    return None


def owner_problem(value: str) -> str | None:
    if OWNER.fullmatch(value):
        return None
    return (
        f"owner {show(value)} is not a CODEOWNERS owner: use a GitHub team (@org/team), a GitHub "
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


def has_template_syntax(value: object) -> bool:
    if isinstance(value, str):
        return any(marker in value for marker in TEMPLATE_SYNTAX)
    if isinstance(value, dict):
        return any(has_template_syntax(k) or has_template_syntax(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_template_syntax(item) for item in value)
    return False


def syntax_problems(values: dict[str, Any]) -> list[str]:
    """Values holding template syntax that is not the template's own text."""
    return [
        f"{key} {show(value) if isinstance(value, str) else '(a ' + type(value).__name__ + ')'} "
        "contains Jinja template syntax ('{{', '{%' or '{#'), which cookiecutter would run: "
        "answers are plain text, remove it"
        for key, value in values.items()
        if value != DEFAULTS.get(key) and has_template_syntax(value)
    ]


def answer_problems(answers: dict[str, Any]) -> list[str]:
    """The rules for the final answers (rendered, before anything is written)."""
    missing = [key for key in ANSWERS if not isinstance(answers.get(key), str)]
    if missing:
        return [f"{key} must be given as text" for key in missing]
    slug = answers["tenant_slug"]
    bad_slug = slug_problem(slug)
    found = [name_problem(answers["tenant_name"]), bad_slug, owner_problem(answers["owner"])]
    for answer in ("snowflake_database", "snowflake_schema"):
        # A bad slug makes the defaults derived from it bad too: report the slug alone.
        if not (bad_slug and slug.upper() in answers[answer]):
            found.append(container_problem(answer, answers[answer]))
    for answer in ("snowflake_warehouse", "snowflake_role"):
        if not (bad_slug and slug.upper() in answers[answer]):
            found.append(identifier_problem(answer, answers[answer]))
    return [problem for problem in found if problem]


def taken_problem(slug: str, output_dir: Path) -> str | None:
    """The slug names a folder that exists where the tenant would go."""
    target = output_dir / slug
    root = platform_root(target)
    if root is not None:
        if (root / "tenants" / slug).exists():
            return (
                f"tenant_slug {show(slug)} is taken: tenants/{slug} already exists. Choose another "
                "slug (or update that tenant with `cruft update` instead)"
            )
        if (root / "packages" / slug).exists():
            return f"tenant_slug {show(slug)} is taken by packages/{slug}: choose another slug"
    if target.exists():
        return (
            f"tenant_slug {show(slug)} names a folder that already exists: {target}. Choose "
            "another slug or output folder"
        )
    return None


def check_context(context: dict[str, Any]) -> None:
    """Raise AnswerError for every problem of the context cookiecutter is about to render."""
    values: dict[str, Any] = context.get("cookiecutter") or {}
    found = syntax_problems(values)
    raw = context.get("_cookiecutter")
    if isinstance(raw, dict):  # the answers as given, before rendering
        found += [p for p in syntax_problems(raw) if p not in found]
    if not found and "_template" in values and not context.get(CHECKED):
        found = answer_problems(values)
        output_dir = values.get("_output_dir")
        if not found and isinstance(output_dir, str):
            found = [p for p in [taken_problem(values["tenant_slug"], Path(output_dir))] if p]
        context[CHECKED] = True
    if found:
        raise AnswerError("\n".join(f"ERROR: {problem}." for problem in found))


def cookiecutter_context() -> dict[str, Any]:
    """The context of the environment being created, from cookiecutter's loader frame."""
    loader = ExtensionLoaderMixin.__init__.__code__
    frame = sys._getframe(1)  # cookiecutter hands extensions no context: read its frame
    while frame is not None:
        if frame.f_code is loader:
            context = frame.f_locals.get("context")
            if isinstance(context, dict):
                return context
        frame = frame.f_back
    raise AnswerError(
        "ERROR: the tenant template cannot check its answers: cookiecutter did not create its "
        "Jinja environment the way cookiecutter 2.7.1 does. Fix: run `uv run cookiecutter "
        "templates/tenant` from the repository root (the locked cookiecutter)."
    )


class CheckAnswers(Extension):
    """Checks the answers whenever cookiecutter creates its Jinja environment."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        check_context(cookiecutter_context())
