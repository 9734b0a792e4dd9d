"""Declarations: target lags, Snowflake identifiers, loading a whole file into a `Tenant`."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from dagster_dynamic_tables.declarations.consistency import check_tenant
from dagster_dynamic_tables.declarations.identifiers import (
    parse_identifier,
    parse_qualified_name,
    quote_identifier,
)
from dagster_dynamic_tables.declarations.lags import parse_target_lag
from dagster_dynamic_tables.declarations.loader import build_tenant, load_tenant
from dagster_dynamic_tables.declarations.models import (
    DynamicTable,
    FileShell,
    SourceTable,
    Tenant,
    TenantDeclarations,
    View,
)
from dagster_dynamic_tables.declarations.sqlfiles import read_query_file
from dagster_dynamic_tables.errors import DeclarationError, DeclarationProblem
from support.shop import SHOP_DATA

# --- target lags ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds", "normalised", "sql"),
    [
        ("60 seconds", 60, "60 seconds", "'60 seconds'"),
        ("61 second", 61, "61 seconds", "'61 seconds'"),
        ("1 minute", 60, "1 minute", "'1 minute'"),
        ("1 minutes", 60, "1 minute", "'1 minute'"),
        ("90 Minutes", 5400, "90 minutes", "'90 minutes'"),
        ("1 HOUR", 3600, "1 hour", "'1 hour'"),
        ("2 hours", 7200, "2 hours", "'2 hours'"),
        ("1 day", 86400, "1 day", "'1 day'"),
        ("7 DAYS", 604800, "7 days", "'7 days'"),
        ("  5   minutes ", 300, "5 minutes", "'5 minutes'"),
        ("DOWNSTREAM", None, "DOWNSTREAM", "DOWNSTREAM"),
        ("downstream", None, "DOWNSTREAM", "DOWNSTREAM"),
        (" Downstream ", None, "DOWNSTREAM", "DOWNSTREAM"),
    ],
    ids=lambda value: str(value).strip().replace(" ", "_") if isinstance(value, str) else None,
)
def test_parse_target_lag(text: str, seconds: int | None, normalised: str, sql: str) -> None:
    lag = parse_target_lag(text)
    assert (lag.seconds, lag.text, lag.sql, lag.is_downstream) == (
        seconds,
        normalised,
        sql,
        seconds is None,
    )


def test_target_lag_is_stored_normalised_on_the_declaration() -> None:
    table = DynamicTable(name="a", table="D.S.A", target_lag="2 HOURS", warehouse="W", query="x")
    assert (table.target_lag, table.lag.seconds) == ("2 hours", 7200)


# --- identifiers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "resolved", "sql", "schema_prefix"),
    [
        ("DB.SCHEMA.T", "DB.SCHEMA.T", '"DB"."SCHEMA"."T"', "DB.SCHEMA"),
        ("db.schema.orders", "DB.SCHEMA.ORDERS", '"DB"."SCHEMA"."ORDERS"', "DB.SCHEMA"),
        ("_db.s$1.t_2", "_DB.S$1.T_2", '"_DB"."S$1"."T_2"', "_DB.S$1"),
        ('DB."Mixed Case".T', "DB.Mixed Case.T", '"DB"."Mixed Case"."T"', "DB.Mixed Case"),
        ('DB."my.schema"."t"', "DB.my.schema.t", '"DB"."my.schema"."t"', "DB.my.schema"),
        ('DB.S."say ""hi"""', 'DB.S.say "hi"', '"DB"."S"."say ""hi"""', "DB.S"),
        ('DB.S."; DROP TABLE X"', "DB.S.; DROP TABLE X", '"DB"."S"."; DROP TABLE X"', "DB.S"),
        (f"DB.S.{'T' * 255}", f"DB.S.{'T' * 255}", f'"DB"."S"."{"T" * 255}"', "DB.S"),
        (f'DB.S."{"t" * 255}"', f"DB.S.{'t' * 255}", f'"DB"."S"."{"t" * 255}"', "DB.S"),
    ],
    ids=[
        "upper",
        "lower_is_upper_cased",
        "underscore_dollar_digits",
        "quoted_mixed_case_with_space",
        "quoted_with_dot",
        "quoted_with_escaped_quotes",
        "quoted_injection_is_just_a_name",
        "255_characters",
        "255_characters_quoted",
    ],
)
def test_parse_qualified_name(text: str, resolved: str, sql: str, schema_prefix: str) -> None:
    name = parse_qualified_name(text)
    assert (name.resolved, name.sql, name.schema_prefix, str(name)) == (
        resolved,
        sql,
        schema_prefix,
        text,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "T" * 256,
            f"'{'T' * 40}'... is 256 characters long; Snowflake identifiers have at most 255",
        ),
        (
            "a b",
            "'a b' is not a valid Snowflake identifier: use letters, digits, '_' and '$' starting "
            "with a letter or '_', or a double-quoted name without control characters",
        ),
        (
            '"a\nb"',
            "'\"a\\nb\"' is not a valid Snowflake identifier: use letters, digits, '_' and '$' "
            "starting with a letter or '_', or a double-quoted name without control characters",
        ),
    ],
    ids=["256_characters", "space", "control_character"],
)
def test_quote_identifier_rejects_invalid_names(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="identifier") as info:
        quote_identifier(text)
    assert str(info.value) == message


CONTROL_CHARACTERS = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"]


def test_quoted_identifier_rejects_every_unicode_control_character() -> None:
    # The README: a quoted name may hold any character but control characters. That is Unicode
    # category Cc, 65 characters: C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F, NEL).
    assert len(CONTROL_CHARACTERS) == 65
    accepted = [f"U+{ord(char):04X}" for char in CONTROL_CHARACTERS if _valid(f'"a{char}b"')]
    assert accepted == []
    with pytest.raises(ValueError, match="without control characters"):
        parse_identifier('"a\x7fb"')


def _valid(text: str) -> bool:
    try:
        parse_identifier(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "char",
    ["\u00a0", "\u00a1", "\u00ff", "\u2028", "\u200b", "\ufeff", "\U0001f600", "'", "\\"],
    ids=[
        "nbsp",
        "inverted_exclamation",
        "y_diaeresis",
        "line_separator",
        "zero_width_space",
        "bom",
        "emoji",
        "apostrophe",
        "backslash",
    ],
)
def test_quoted_identifier_accepts_other_characters(char: str) -> None:
    # Not category Cc (Zs, Po, Ll, Zl, Cf, So...): Snowflake takes them in a quoted name.
    assert parse_identifier(f'"a{char}b"').resolved == f"a{char}b"


# --- loading a file -------------------------------------------------------------------------

ECOMMERCE_YAML = """\
tenant: ecommerce
local_seed_file: local/seed.sql
sources:
  - name: raw_orders
    table: ECOMMERCE.RAW.RAW_ORDERS
    description: Raw orders.
  - name: raw_customers
    table: ECOMMERCE.RAW.RAW_CUSTOMERS
dynamic_tables:
  - name: customer_lifetime_value
    table: ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE
    target_lag: 1 minute
    refresh_mode: INCREMENTAL
    warehouse: TRANSFORMING
    deps: [raw_orders, raw_customers]
    query_file: sql/customer_lifetime_value.sql
  - name: revenue
    table: ECOMMERCE.ANALYTICS.REVENUE
    target_lag: DOWNSTREAM
    warehouse: TRANSFORMING
    deps: [ecommerce/raw_orders, billing/invoices]
    query: select sum(amount) from ECOMMERCE.RAW.RAW_ORDERS
views:
  - name: dashboard
    table: ECOMMERCE.BI.DASHBOARD
    deps: [customer_lifetime_value]
    query: select * from ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE
"""

CLV_SQL = "select customer_id, sum(amount) as value\nfrom ECOMMERCE.RAW.RAW_ORDERS\ngroup by 1"


@pytest.fixture
def ecommerce_file(tmp_path: Path) -> Path:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "customer_lifetime_value.sql").write_text(f"\n{CLV_SQL};\n\n")
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "seed.sql").write_text("create table x (a int);\n")
    path = tmp_path / "defs.yaml"
    path.write_text(ECOMMERCE_YAML)
    return path


def test_load_tenant_reads_every_section_and_the_query_files(ecommerce_file: Path) -> None:
    tenant = load_tenant(ecommerce_file)
    assert tenant == Tenant(
        slug="ecommerce",
        sources=(
            SourceTable(
                name="raw_orders", table="ECOMMERCE.RAW.RAW_ORDERS", description="Raw orders."
            ),
            SourceTable(name="raw_customers", table="ECOMMERCE.RAW.RAW_CUSTOMERS"),
        ),
        dynamic_tables=(
            # After loading, `query` holds the file's SELECT (trimmed, without the final `;`).
            DynamicTable(
                name="customer_lifetime_value",
                table="ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE",
                target_lag="1 minute",
                refresh_mode="INCREMENTAL",
                warehouse="TRANSFORMING",
                deps=["raw_orders", "raw_customers"],
                query_file="sql/customer_lifetime_value.sql",
            ).model_copy(update={"query": CLV_SQL}),
            DynamicTable(
                name="revenue",
                table="ECOMMERCE.ANALYTICS.REVENUE",
                target_lag="DOWNSTREAM",
                warehouse="TRANSFORMING",
                deps=["ecommerce/raw_orders", "billing/invoices"],
                query="select sum(amount) from ECOMMERCE.RAW.RAW_ORDERS",
            ),
        ),
        views=(
            View(
                name="dashboard",
                table="ECOMMERCE.BI.DASHBOARD",
                deps=["customer_lifetime_value"],
                query="select * from ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE",
            ),
        ),
    )
    assert tenant.base_dir == ecommerce_file.parent
    assert tenant.local_seed_file == ecommerce_file.parent / "local" / "seed.sql"
    assert tenant.dep_keys(tenant.dynamic_tables[1]) == [
        ["ecommerce", "raw_orders"],
        ["billing", "invoices"],
    ]


def test_build_tenant_from_parsed_attributes_equals_load_tenant(ecommerce_file: Path) -> None:
    import yaml

    attributes = yaml.safe_load(ecommerce_file.read_text())
    built = build_tenant(attributes, file=None, base_dir=ecommerce_file.parent)
    assert built == load_tenant(ecommerce_file)


def test_a_minimal_file_declares_a_tenant_with_nothing(tmp_path: Path) -> None:
    path = tmp_path / "defs.yaml"
    path.write_text("tenant: empty\nsources: []\n")
    assert load_tenant(path) == Tenant(slug="empty")


def test_a_file_that_cannot_be_read_is_a_declaration_error(tmp_path: Path) -> None:
    with pytest.raises(DeclarationError) as info:
        load_tenant(tmp_path / "nope.yaml")
    assert str(info.value) == (
        f"1 problem in {tmp_path / 'nope.yaml'}:\n"
        "  - the declaration file does not exist. Fix: give the path of an existing file."
    )


def test_the_file_format_model_and_the_loader_agree_on_the_top_level_keys() -> None:
    assert list(FileShell.model_fields) == list(TenantDeclarations.model_fields)


def test_the_data_folder_example_loads(tmp_path: Path) -> None:
    tenant = load_tenant(SHOP_DATA / "defs.yaml")
    assert [item.name for item in tenant.all()] == ["raw_orders", "orders_clean", "orders_view"]
    assert tenant.dynamic_tables[0].query == "select * from SHOP.RAW.ORDERS where status = 'done'"


# --- cross-declaration checks and helpers ---------------------------------------------------


def test_check_tenant_names_default_paths_and_accepts_other_tenants_assets() -> None:
    tenant = Tenant(
        slug="shop",
        sources=(SourceTable(name="a", table="D.S.A"),),
        dynamic_tables=(
            DynamicTable(
                name="a",
                table="D.S.B",
                target_lag="1 hour",
                warehouse="W",
                deps=["billing/invoices", "shop/a", "missing"],
                query="x",
            ),
        ),
    )
    assert check_tenant(tenant) == [
        DeclarationProblem(
            "dynamic_tables[0].name",
            "'a' is already declared at sources[0].",
            "give every object of the tenant its own name",
        ),
        DeclarationProblem(
            "dynamic_tables[0].deps[2]",
            "'missing' is not declared in this tenant (declared: a).",
            "declare it, or name another tenant's asset by its full key (other_tenant/asset)",
        ),
    ]


def test_read_query_file_reads_files_and_reports_unreadable_ones(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("select 1;")
    items = [
        View(name="a", table="D.S.A", query_file="a.sql"),
        View(name="b", table="D.S.B", query_file="b.sql"),
        View(name="c", table="D.S.C", query="select 3"),
    ]
    results = [read_query_file(item, tmp_path, f"views[{i}]") for i, item in enumerate(items)]
    resolved = [item for item, problem in results if problem is None]
    problems = [problem for _, problem in results if problem is not None]
    assert [(item.name, item.query) for item in resolved] == [("a", "select 1"), ("c", "select 3")]
    assert [problem.path for problem in problems] == ["views[1].query_file"]


@pytest.mark.parametrize(
    ("problems", "file", "message"),
    [
        (
            [DeclarationProblem("a", "bad.", "do this")],
            None,
            "1 problem:\n  - a: bad. Fix: do this.",
        ),
        (
            [DeclarationProblem("a", "bad.", line=3), DeclarationProblem("", "worse.", "ok?")],
            "f.yaml",
            "2 problems in f.yaml:\n  - a (line 3): bad.\n  - worse. Fix: ok?",
        ),
        ([DeclarationProblem("", "x.", line=2)], "f.yaml", "1 problem in f.yaml:\n  - line 2: x."),
    ],
    ids=["no_file", "several", "line_without_path"],
)
def test_declaration_error_message(
    problems: list[DeclarationProblem], file: str | None, message: str
) -> None:
    assert str(DeclarationError(file, problems)) == message


def _shared_bomb() -> list[object]:
    """What a YAML parser returns for an alias bomb: nine levels of one list shared nine times
    (9^9 values once expanded, 90 objects in memory)."""
    level: list[object] = ["x"] * 9
    for _ in range(8):
        level = [level] * 9
    return level


def _recursive() -> list[object]:
    loop: list[object] = [1]
    loop.append(loop)
    return loop


def _deep(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            _shared_bomb(),
            "aliases expand the document past 500,000 values (MAX_YAML_NODES): a YAML alias "
            "bomb? Fix: write the values out instead of aliases of aliases (&anchor / *anchor), "
            "or split the file; a document may hold 500,000 values with its aliases expanded "
            "(MAX_YAML_NODES).",
        ),
        (
            _recursive(),
            "a mapping or list contains itself (a recursive YAML alias), a structure without "
            "end. Fix: remove the alias that points into its own anchor.",
        ),
        (
            _deep(50_000),
            "mappings and lists nest deeper than 64 levels (MAX_YAML_DEPTH). Fix: declarations "
            "nest a few levels; keep every file under 64 levels of mappings and lists "
            "(MAX_YAML_DEPTH).",
        ),
    ],
    ids=["alias_bomb", "recursive", "nested_50000"],
)
def test_build_tenant_refuses_parsed_data_too_big_to_walk(data: object, expected: str) -> None:
    """Attributes parsed elsewhere (Dagster's parser hands a component shared objects) are
    bounded before pydantic or any walk sees them."""
    with pytest.raises(DeclarationError) as info:
        build_tenant({"tenant": "shop", "extra": data}, file="defs.yaml", base_dir=None)
    assert str(info.value) == f"1 problem in defs.yaml:\n  - {expected}"
