"""The fields of issue 18 as the loader reads them: `automation_condition` (only on a
`scheduler: DISABLE` table), `data_tests` on sources and Dynamic Tables, a source's
`data_tests_cron` / `data_tests_timezone`, and `relationships` targets resolved in the tenant.
Every problem with its path, line, value and fix, all at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from dagster_dynamic_tables.declarations.loader import load_tenant
from dagster_dynamic_tables.declarations.models import Tenant, TenantDeclarations
from dagster_dynamic_tables.declarations.orchestration import OnCron
from dagster_dynamic_tables.errors import DeclarationError

HEAD = """\
tenant: shop
sources:
  - name: customers
    table: SHOP.RAW.CUSTOMERS
"""
DT = """\
dynamic_tables:
  - name: orders
    table: SHOP.A.ORDERS
    target_lag: 1 minute
    warehouse: WH
    query: select 1 as id
"""


def _load(tmp_path: Path, text: str) -> Tenant:
    path = tmp_path / "defs.yaml"
    path.write_text(text)
    return load_tenant(path)


def _message(tmp_path: Path, text: str) -> str:
    with pytest.raises(DeclarationError) as raised:
        _load(tmp_path, text)
    return str(raised.value).replace(str(tmp_path / "defs.yaml"), "<file>")


def _more(text: str, indent: int = 4) -> str:
    return textwrap.indent(textwrap.dedent(text), " " * indent)


def test_good_fields_are_parsed_and_tests_named(tmp_path: Path):
    tenant = _load(
        tmp_path,
        HEAD
        + _more("""\
            data_tests:
              - unique: {column: id}
            data_tests_cron: "0  7 * * *"
            data_tests_timezone: Europe/Paris
            """)
        + DT
        + _more("""\
            scheduler: DISABLE
            automation_condition: {on_cron: "0 6 * * *"}
            data_tests:
              - not_null: {column: id}
              - relationships: {column: id, to: customers, field: id}
                blocking: true
            """),
    )
    source, dt = tenant.sources[0], tenant.dynamic_tables[0]
    assert [t.check_name for t in source.data_tests] == ["unique_id"]
    assert (source.data_tests_cron, source.data_tests_timezone) == ("0 7 * * *", "Europe/Paris")
    assert dt.automation_condition == OnCron(on_cron="0 6 * * *", timezone="UTC")
    assert [(t.check_name, t.blocking) for t in dt.data_tests] == [
        ("not_null_id", False),
        ("relationships_id", True),
    ]


def test_eager_is_read_and_no_condition_is_none(tmp_path: Path):
    tenant = _load(
        tmp_path, HEAD + DT + "    scheduler: DISABLE\n    automation_condition: eager\n"
    )
    assert tenant.dynamic_tables[0].automation_condition == "eager"
    assert _load(tmp_path, HEAD + DT).dynamic_tables[0].automation_condition is None


def test_every_problem_of_the_new_fields_at_once(tmp_path: Path):
    text = (
        HEAD
        + _more("""\
            data_tests_cron: "0 25 * * *"
            data_tests_timezone: Europe/Pariss
            """)
        + DT
        + _more("""\
            automation_condition: {on_cron: "0 6 * * *"}
            data_tests:
              - not_null: {column: id}
              - unique: {}
              - relationships: {column: id, to: customer, field: id}
              - relationships: {column: id, to: crm/people, field: id}
                name: people
            """)
        + "  - name: later\n    table: SHOP.A.LATER\n    target_lag: 1 minute\n    warehouse: WH\n"
        "    query: select 1\n    scheduler: DISABLE\n    automation_condition: Eager\n"
    )
    assert _message(tmp_path, text) == (
        "8 problems in <file>:\n"
        "  - sources[0].data_tests_cron (line 5): '0 25 * * *': hour '25': 25 is outside 0-23. "
        "Fix: write five fields separated by spaces, minute hour day-of-month month "
        'day-of-week, e.g. "0 6 * * *" (06:00 every day) or "*/15 * * * 1-5" (every 15 '
        "minutes on weekdays).\n"
        "  - sources[0].data_tests_cron (line 5): data_tests_cron is set, but the source "
        "declares no data_tests: nothing would run on it. Fix: declare the source's tests under "
        "data_tests:, or remove data_tests_cron.\n"
        "  - sources[0].data_tests_timezone (line 6): timezone 'Europe/Pariss' is not a known "
        "IANA time zone. Fix: write 'Europe/Paris'.\n"
        "  - dynamic_tables[0].automation_condition (line 13): automation_condition is set, but "
        "the table has scheduler: ENABLE: Snowflake refreshes it on its target lag and Dagster "
        "never runs it. Fix: remove automation_condition, or set scheduler: DISABLE so that "
        "Dagster refreshes the table (ALTER DYNAMIC TABLE ... REFRESH) when the condition says.\n"
        "  - dynamic_tables[0].data_tests[1].unique (line 16): give column (one column) or "
        "columns (a combination), not both.\n"
        "  - dynamic_tables[0].data_tests[2].relationships.to (line 17): 'customer' is not "
        "declared in this tenant (declared: customers, later, orders). Fix: did you mean "
        "'customers'? Otherwise name one of the tenant's objects, or another tenant's asset by "
        "its full key (other_tenant/asset) with its table.\n"
        "  - dynamic_tables[0].data_tests[3].relationships.to (line 18): 'crm/people' is another "
        "tenant's asset, whose Snowflake table this tenant's code location cannot know. Fix: add "
        "`table: <its DATABASE.SCHEMA.NAME>` beside `to: crm/people` (`uv run dynamic-tables "
        "tenants check` says if it is not the table that tenant declares).\n"
        "  - dynamic_tables[1].automation_condition (line 26): 'Eager' is not an automation "
        "condition; allowed: eager, {on_cron: ...}. Fix: write eager."
    )


def test_a_relationships_table_must_be_the_own_targets(tmp_path: Path):
    text = (
        HEAD
        + DT
        + _more("""\
            data_tests:
              - relationships: {column: id, to: customers, field: id, table: SHOP.RAW.OTHER}
              - relationships: {column: id, to: crm/people, field: id, table: CRM.P.PEOPLE}
                name: people
            """)
    )
    assert _message(tmp_path, text) == (
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].data_tests[0].relationships.table (line 12): 'SHOP.RAW.OTHER' is "
        "not the table of 'customers' (SHOP.RAW.CUSTOMERS). Fix: remove `table:` (the tenant's "
        "own 'customers' is known), or name SHOP.RAW.CUSTOMERS."
    )


def test_views_take_no_data_tests(tmp_path: Path):
    text = (
        HEAD + "views:\n  - name: v\n    table: SHOP.A.V\n    query: select 1\n    data_tests: []\n"
    )
    assert "views[0].data_tests (line 9): unknown key 'data_tests'" in _message(tmp_path, text)


def test_the_json_schema_has_the_new_fields():
    defs = TenantDeclarations.model_json_schema()["$defs"]
    assert {"data_tests", "data_tests_cron", "data_tests_timezone"} <= set(
        defs["SourceTable"]["properties"]
    )
    assert {"automation_condition", "data_tests"} <= set(defs["DynamicTable"]["properties"])
    assert "table" in defs["Relationships"]["properties"]
