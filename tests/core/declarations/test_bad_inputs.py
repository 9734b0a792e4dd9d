"""A corpus of bad declaration files, each with the full message a user gets.

The message names the file, the YAML path and line, the bad value, what is allowed and the fix;
nothing of pydantic's wording leaks through.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from dagster_dynamic_tables.declarations.files import MAX_QUERY_FILE_BYTES
from dagster_dynamic_tables.declarations.loader import load_tenant
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.errors import DeclarationError
from support.processes import run, run_cli
from support.yaml_bombs import alias_bomb

# Line numbers of the DT fields in `_dt()`'s output, for reading the expected messages:
# 1 tenant, 2 sources, 3 - name, 4 table, 5 dynamic_tables, 6 - name, 7 table, 8 target_lag,
# 9 warehouse, 10 deps, 11 query, 12+ extra keys.
_DT_FIELDS = {
    "name": "orders_clean",
    "table": "SHOP.ANALYTICS.ORDERS_CLEAN",
    "target_lag": "1 minute",
    "warehouse": "TRANSFORMING",
    "deps": "[raw_orders]",
    "query": "select * from shop.raw.orders",
}
_MISSING = object()


def _dt(**fields: object) -> str:
    """A one-DT file; a field given replaces the default's text, `_MISSING` drops it, a new key
    is added at the end."""
    lines = ["tenant: shop", "sources:", "  - name: raw_orders", "    table: SHOP.RAW.ORDERS"]
    lines.append("dynamic_tables:")
    merged = {**_DT_FIELDS, **fields}
    body = [f"{key}: {value}".rstrip() for key, value in merged.items() if value is not _MISSING]
    lines.append(f"  - {body[0]}")
    lines += [f"    {line}" for line in body[1:]]
    return "\n".join(lines) + "\n"


LONG = "T" * 256
CYCLE = """\
dynamic_tables:
  - {name: a, table: S.A.A, target_lag: 1 minute, warehouse: W, deps: [b], query: select 1}
  - {name: b, table: S.A.B, target_lag: 1 minute, warehouse: W, deps: [a], query: select 1}
"""


VIEW_WITH_LAG = """\
views:
  - name: v
    table: SHOP.A.V
    query: select 1
    target_lag: 1 minute
"""


def _tenant(body: str) -> str:
    return "tenant: shop\nsources:\n  - name: raw_orders\n    table: SHOP.RAW.ORDERS\n" + body


# (id, file text, full message with the file's path written <file> and its folder <dir>)
CASES: list[tuple[str, str, str]] = [
    (
        "lag_integer",
        _dt(target_lag="60"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): expected a "
        "string, got an integer (60). Fix: write a string, e.g. `target_lag: 1 minute`; "
        "quote a value that YAML reads as a number, boolean or null.",
    ),
    (
        "lag_under_minimum",
        _dt(target_lag="30 seconds"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): '30 seconds' "
        "is 30 seconds, under Snowflake's minimum target lag of 60 seconds: use '1 "
        "minute' or more.",
    ),
    (
        "lag_59_seconds",
        _dt(target_lag="59 seconds"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): '59 seconds' "
        "is 59 seconds, under Snowflake's minimum target lag of 60 seconds: use '1 "
        "minute' or more.",
    ),
    (
        "lag_zero",
        _dt(target_lag="0 minutes"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): '0 minutes' is "
        "0 seconds, under Snowflake's minimum target lag of 60 seconds: use '1 minute' "
        "or more.",
    ),
    (
        "lag_number_only",
        _dt(target_lag="'5'"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): '5' is not a "
        "target lag: write '<number> <unit>' with unit seconds, minutes, hours or days "
        "(e.g. '1 minute', '2 hours'), or DOWNSTREAM.",
    ),
    (
        "lag_unknown_unit",
        _dt(target_lag="1 week"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): '1 week' is "
        "not a target lag: write '<number> <unit>' with unit seconds, minutes, hours or "
        "days (e.g. '1 minute', '2 hours'), or DOWNSTREAM.",
    ),
    (
        "lag_abbreviated_unit",
        _dt(target_lag="5 mins"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): '5 mins' is "
        "not a target lag: write '<number> <unit>' with unit seconds, minutes, hours or "
        "days (e.g. '1 minute', '2 hours'), or DOWNSTREAM.",
    ),
    (
        "lag_negative",
        _dt(target_lag="-1 minutes"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): '-1 minutes' "
        "is not a target lag: write '<number> <unit>' with unit seconds, minutes, hours "
        "or days (e.g. '1 minute', '2 hours'), or DOWNSTREAM.",
    ),
    (
        "lag_decimal",
        _dt(target_lag="1.5 hours"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): '1.5 hours' is "
        "not a target lag: write '<number> <unit>' with unit seconds, minutes, hours or "
        "days (e.g. '1 minute', '2 hours'), or DOWNSTREAM.",
    ),
    (
        "lag_empty_string",
        _dt(target_lag="''"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): '' is not a "
        "target lag: write '<number> <unit>' with unit seconds, minutes, hours or days "
        "(e.g. '1 minute', '2 hours'), or DOWNSTREAM.",
    ),
    (
        "lag_null",
        _dt(target_lag=""),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 8): expected a "
        "string, got nothing (null). Fix: write a string, e.g. `target_lag: 1 minute`; "
        "quote a value that YAML reads as a number, boolean or null.",
    ),
    (
        "lag_missing",
        _dt(target_lag=_MISSING),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].target_lag (line 6): required key "
        "'target_lag' is missing. Fix: add `target_lag: 1 minute` (How stale the table "
        "may get: '<n> seconds|minutes|hours|days' (at least 60 seconds) or DOWNSTREAM).",
    ),
    (
        "refresh_mode_lowercase",
        _dt(refresh_mode="incremental"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].refresh_mode (line 12): "
        "'incremental' is not allowed; allowed: AUTO, FULL, INCREMENTAL, ADAPTIVE. Fix: "
        "write INCREMENTAL.",
    ),
    (
        "refresh_mode_unknown",
        _dt(refresh_mode="FAST"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].refresh_mode (line 12): 'FAST' is "
        "not allowed; allowed: AUTO, FULL, INCREMENTAL, ADAPTIVE. Fix: use one of AUTO, "
        "FULL, INCREMENTAL, ADAPTIVE.",
    ),
    (
        "initialize_unknown",
        _dt(initialize="ON_DEMAND"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].initialize (line 12): 'ON_DEMAND' "
        "is not allowed; allowed: ON_CREATE, ON_SCHEDULE. Fix: use one of ON_CREATE, "
        "ON_SCHEDULE.",
    ),
    (
        "warehouse_integer",
        _dt(warehouse="5"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].warehouse (line 9): expected a "
        "string, got an integer (5). Fix: write a string, e.g. `warehouse: "
        "TRANSFORMING`; quote a value that YAML reads as a number, boolean or null.",
    ),
    (
        "warehouse_injection",
        _dt(warehouse="WH; DROP WAREHOUSE X"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].warehouse (line 9): 'WH; DROP "
        "WAREHOUSE X' is not a valid Snowflake identifier: use letters, digits, '_' and "
        "'$' starting with a letter or '_', or a double-quoted name without control "
        "characters.",
    ),
    (
        "warehouse_missing",
        _dt(warehouse=_MISSING),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].warehouse (line 6): required key "
        "'warehouse' is missing. Fix: add `warehouse: TRANSFORMING` (Warehouse that runs "
        "the refreshes (a Snowflake identifier)).",
    ),
    (
        "table_two_parts",
        _dt(table="SHOP.ORDERS_CLEAN"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 7): 'SHOP.ORDERS_CLEAN' "
        "is not a fully qualified name: write DATABASE.SCHEMA.NAME, for example "
        "ANALYTICS.ECOMMERCE.ORDERS.",
    ),
    (
        "table_four_parts",
        _dt(table="A.B.C.D"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 7): 'A.B.C.D' is not a "
        "fully qualified name: write DATABASE.SCHEMA.NAME, for example "
        "ANALYTICS.ECOMMERCE.ORDERS.",
    ),
    (
        "table_injection",
        _dt(table="SHOP.RAW.T; DROP TABLE X"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 7): 'SHOP.RAW.T; DROP "
        "TABLE X' is not a valid fully qualified name: 'T; DROP TABLE X' is not a valid "
        "Snowflake identifier: use letters, digits, '_' and '$' starting with a letter "
        "or '_', or a double-quoted name without control characters.",
    ),
    (
        "table_stray_quote",
        _dt(table='SHOP.RAW."a"b"'),
        "1 problem in <file>:\n"
        '  - dynamic_tables[0].table (line 7): \'SHOP.RAW."a"b"\' is '
        'not a valid fully qualified name: \'"a"b"\' is not a valid Snowflake identifier: '
        "use letters, digits, '_' and '$' starting with a letter or '_', or a "
        "double-quoted name without control characters.",
    ),
    (
        "table_empty_part",
        _dt(table="SHOP..T"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 7): 'SHOP..T' is not a "
        "fully qualified name: write DATABASE.SCHEMA.NAME, for example "
        "ANALYTICS.ECOMMERCE.ORDERS.",
    ),
    (
        "table_leading_digit",
        _dt(table="SHOP.RAW.1ORDERS"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 7): 'SHOP.RAW.1ORDERS' "
        "is not a valid fully qualified name: '1ORDERS' is not a valid Snowflake "
        "identifier: use letters, digits, '_' and '$' starting with a letter or '_', or "
        "a double-quoted name without control characters.",
    ),
    (
        "table_too_long",
        _dt(table=f"SHOP.RAW.{LONG}"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 7): "
        "'SHOP.RAW.TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT'... is not a "
        "valid fully qualified name: 'TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT'... is "
        "256 characters long; Snowflake identifiers have at most 255.",
    ),
    (
        "table_unterminated_quote",
        _dt(table='SHOP.RAW."abc'),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 7): 'SHOP.RAW.\"abc' is "
        "not a valid fully qualified name: '\"abc' is not a valid Snowflake identifier: "
        "use letters, digits, '_' and '$' starting with a letter or '_', or a "
        "double-quoted name without control characters.",
    ),
    (
        "table_empty_quoted",
        _dt(table='SHOP.RAW.""'),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 7): 'SHOP.RAW.\"\"' is "
        "not a valid fully qualified name: '\"\"' is not a valid Snowflake identifier: use "
        "letters, digits, '_' and '$' starting with a letter or '_', or a double-quoted "
        "name without control characters.",
    ),
    (
        "table_missing",
        _dt(table=_MISSING),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 6): required key "
        "'table' is missing. Fix: add `table: "
        "ANALYTICS.ECOMMERCE.CUSTOMER_LIFETIME_VALUE` (Fully qualified Snowflake name "
        'DATABASE.SCHEMA.NAME; double-quote a part to keep its case ("Mixed")).',
    ),
    (
        "name_uppercase",
        _dt(name="OrdersClean"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].name (line 6): 'OrdersClean' is not "
        "a valid asset name: use lowercase letters, digits and '_', starting with a "
        "letter (e.g. customer_lifetime_value).",
    ),
    (
        "name_dash",
        _dt(name="orders-clean"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].name (line 6): 'orders-clean' is "
        "not a valid asset name: use lowercase letters, digits and '_', starting with a "
        "letter (e.g. customer_lifetime_value).",
    ),
    (
        "name_leading_digit",
        _dt(name="1orders"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].name (line 6): '1orders' is not a "
        "valid asset name: use lowercase letters, digits and '_', starting with a letter "
        "(e.g. customer_lifetime_value).",
    ),
    (
        "name_integer",
        _dt(name="5"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].name (line 6): expected a string, "
        "got an integer (5). Fix: write a string, e.g. `name: customer_lifetime_value`; "
        "quote a value that YAML reads as a number, boolean or null.",
    ),
    (
        "name_missing",
        _dt(name=_MISSING),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].name (line 6): required key 'name' "
        "is missing. Fix: add `name: customer_lifetime_value` (Asset name inside the "
        "tenant: lowercase letters, digits and '_', starting with a letter).",
    ),
    (
        "unknown_key_close_match",
        _dt(targetlag="1 minute"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].targetlag (line 12): unknown key "
        "'targetlag'; allowed keys: name, table, description, owners, group, query, "
        "query_file, deps, target_lag, warehouse, refresh_mode, initialize, "
        "scheduler, initialization_warehouse, cluster_by, transient, comment, "
        "data_retention_time_in_days, frozen_where, automation_condition, data_tests. Fix: did you "
        "mean 'target_lag'?",
    ),
    (
        "unknown_key_camel_case",
        _dt(refreshMode="FULL"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].refreshMode (line 12): unknown key "
        "'refreshMode'; allowed keys: name, table, description, owners, group, query, "
        "query_file, deps, target_lag, warehouse, refresh_mode, initialize, "
        "scheduler, initialization_warehouse, cluster_by, transient, comment, "
        "data_retention_time_in_days, frozen_where, automation_condition, data_tests. Fix: did you "
        "mean 'refresh_mode'?",
    ),
    (
        "unknown_key_no_match",
        _dt(cron="daily"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].cron (line 12): unknown key "
        "'cron'; allowed keys: name, table, description, owners, group, query, "
        "query_file, deps, target_lag, warehouse, refresh_mode, initialize, "
        "scheduler, initialization_warehouse, cluster_by, transient, comment, "
        "data_retention_time_in_days, frozen_where, automation_condition, data_tests. Fix: remove "
        "it or use one of the allowed keys.",
    ),
    (
        "deps_not_a_list",
        _dt(deps="raw_orders"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].deps (line 10): expected a list, "
        "got a string ('raw_orders'). Fix: write a YAML list, e.g. `deps: [a, b]` "
        "(Upstream assets: a short name for this tenant's own objects, the full key "
        "(other_tenant/asset) for another tenant's).",
    ),
    (
        "deps_unknown",
        _dt(deps="[raw_order]"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].deps[0] (line 10): 'raw_order' is "
        "not declared in this tenant (declared: orders_clean, raw_orders). Fix: did you "
        "mean 'raw_orders'? Otherwise declare it, or name another tenant's asset by its "
        "full key (other_tenant/asset).",
    ),
    (
        "deps_bad_name",
        _dt(deps="[Raw Orders]"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].deps[0] (line 10): 'Raw Orders' is "
        "not a valid dep: name one of this tenant's objects (raw_orders) or another "
        "tenant's asset by its full key (other_tenant/asset), in lowercase letters, "
        "digits and '_'.",
    ),
    (
        "deps_bad_full_key",
        _dt(deps="[other//orders]"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].deps[0] (line 10): 'other//orders' "
        "is not a valid dep: name one of this tenant's objects (raw_orders) or another "
        "tenant's asset by its full key (other_tenant/asset), in lowercase letters, "
        "digits and '_'.",
    ),
    (
        "deps_duplicate",
        _dt(deps="[raw_orders, raw_orders]"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].deps[1] (line 10): 'raw_orders' is "
        "already listed at deps[0]. Fix: list each dep once.",
    ),
    (
        "deps_on_itself",
        _dt(deps="[orders_clean]"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].deps (line 10): dependency cycle: "
        "orders_clean -> orders_clean. Fix: remove one of these deps; Snowflake objects "
        "cannot depend on themselves.",
    ),
    (
        "query_and_query_file",
        _dt(query_file="sql/orders_clean.sql"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0] (line 6): give either query or "
        "query_file, not both.",
    ),
    (
        "no_query",
        _dt(query=_MISSING),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0] (line 6): give the SELECT as query, "
        "or a .sql file path as query_file.",
    ),
    (
        "query_blank",
        _dt(query="'  '"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0] (line 6): query is empty: give the "
        "SELECT that defines the object.",
    ),
    (
        "query_integer",
        _dt(query="5"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].query (line 11): expected a string, "
        "got an integer (5). Fix: write a string, e.g. `query: select customer_id, "
        "sum(amount) from ECOMMERCE.RAW.RAW_ORDERS group by 1`; quote a value that YAML "
        "reads as a number, boolean or null.",
    ),
    (
        "query_file_missing",
        _dt(query=_MISSING, query_file="sql/nope.sql"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].query_file (line 11): "
        "'sql/nope.sql' (<dir>/sql/nope.sql) does not exist. Fix: give a "
        "path relative to the YAML file, or inline the SELECT as query.",
    ),
    (
        "query_file_empty",
        _dt(query=_MISSING, query_file="sql/empty.sql"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].query_file (line 11): "
        "'sql/empty.sql' (<dir>/sql/empty.sql) is empty. Fix: put the SELECT that "
        "defines the object in the file.",
    ),
    (
        "owners_not_a_list",
        _dt(owners="team:analytics"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].owners (line 12): expected a list, "
        "got a string ('team:analytics'). Fix: write a YAML list, e.g. `owners: [a, b]` "
        "(Owners shown in the UI: e-mail addresses or 'team:<name>').",
    ),
    (
        "owner_invalid",
        _dt(owners="[bob]"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].owners[0] (line 12): 'bob' is not a "
        "valid owner: use an e-mail address (jane@example.com) or a team name prefixed "
        "with 'team:' (team:analytics).",
    ),
    (
        "group_invalid",
        _dt(group="My Group"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].group (line 12): 'My Group' is not "
        "a valid asset name: use lowercase letters, digits and '_', starting with a "
        "letter (e.g. customer_lifetime_value).",
    ),
    (
        "description_list",
        _dt(description="[a, b]"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].description (line 12): expected a "
        "string, got a list. Fix: write a string (What the object holds; shown in the "
        "Dagster UI); quote a value that YAML reads as a number, boolean or null.",
    ),
    (
        "empty_file",
        "",
        "1 problem in <file>:\n"
        "  - the file is empty. Fix: declare at least `tenant: "
        "<slug>` and the tenant's sources, dynamic_tables and views.",
    ),
    (
        "only_comments",
        "# nothing declared yet\n",
        "1 problem in <file>:\n"
        "  - the file is empty. Fix: declare at least `tenant: "
        "<slug>` and the tenant's sources, dynamic_tables and views.",
    ),
    (
        "not_yaml",
        "tenant: [shop\nsources: []\n",
        "1 problem in <file>:\n"
        "  - line 2: not valid YAML at column 8: while parsing a "
        "flow sequence; expected ',' or ']', but got ':'. Fix: fix the YAML syntax at "
        "that place.",
    ),
    (
        "tab_indentation",
        "tenant: shop\nsources:\n\t- name: raw\n",
        "1 problem in <file>:\n"
        "  - line 3: not valid YAML at column 1: while scanning "
        "for the next token; found character '\\t' that cannot start any token. Fix: fix "
        "the YAML syntax at that place.",
    ),
    (
        "top_level_list",
        "- tenant: shop\n",
        "1 problem in <file>:\n"
        "  - the top level must be a mapping with the keys tenant, "
        "local_seed_file, sources, dynamic_tables and views; got a list. Fix: start the "
        "file with `tenant: <slug>` and list the objects under sources:, dynamic_tables: "
        "and views:.",
    ),
    (
        "top_level_scalar",
        "shop\n",
        "1 problem in <file>:\n"
        "  - the top level must be a mapping with the keys tenant, "
        "local_seed_file, sources, dynamic_tables and views; got a string ('shop'). Fix: "
        "start the file with `tenant: <slug>` and list the objects under sources:, "
        "dynamic_tables: and views:.",
    ),
    (
        "two_documents",
        "tenant: shop\n---\ntenant: other\n",
        "1 problem in <file>:\n"
        "  - line 2: the file holds more than one YAML document (a "
        "second one starts here). Fix: keep one document: remove the `---` separator and "
        "what follows, or merge them.",
    ),
    (
        "duplicate_top_level_key",
        "tenant: shop\ntenant: other\n",
        "1 problem in <file>:\n"
        "  - tenant (line 2): duplicate key 'tenant' (first given "
        "at line 1). Fix: give each key once; YAML would silently keep only the last "
        "value.",
    ),
    (
        "duplicate_item_key",
        _dt(name="orders_clean\n    name: orders_again"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].name (line 7): duplicate key 'name' "
        "(first given at line 6). Fix: give each key once; YAML would silently keep only "
        "the last value.",
    ),
    (
        "tenant_missing",
        "sources: []\n",
        "1 problem in <file>:\n"
        "  - tenant: required key 'tenant' is missing. Fix: add "
        "`tenant: ecommerce` (The tenant's slug (a lowercase Python identifier); every "
        "asset key of the tenant starts with it).",
    ),
    (
        "tenant_bad_slug",
        "tenant: Shop-Team\n",
        "1 problem in <file>:\n"
        "  - tenant (line 1): 'Shop-Team' is not a valid asset "
        "name: use lowercase letters, digits and '_', starting with a letter (e.g. "
        "customer_lifetime_value). Fix: use the tenant's slug, a lowercase Python "
        "identifier (the package name).",
    ),
    (
        "tenant_integer",
        "tenant: 5\n",
        "1 problem in <file>:\n"
        "  - tenant (line 1): expected a string, got an integer "
        "(5). Fix: write a string, e.g. `tenant: ecommerce`; quote a value that YAML "
        "reads as a number, boolean or null.",
    ),
    (
        "sensor_interval_quoted",
        "tenant: shop\nsensor_interval_seconds: '60'\n",
        "1 problem in <file>:\n"
        "  - sensor_interval_seconds (line 2): expected an integer, got a string ('60'). Fix: "
        "write a whole number without quotes, e.g. `sensor_interval_seconds: 60` (Seconds "
        "between two ticks of the tenant's dynamic_table_freshness sensor (10 to 3600): a "
        "refresh is recorded, and downstream assets run, up to this long after it lands).",
    ),
    (
        "sensor_interval_fraction",
        "tenant: shop\nsensor_interval_seconds: 60.5\n",
        "1 problem in <file>:\n"
        "  - sensor_interval_seconds (line 2): expected an integer, got a number (60.5). Fix: "
        "write a whole number without quotes, e.g. `sensor_interval_seconds: 60` (Seconds "
        "between two ticks of the tenant's dynamic_table_freshness sensor (10 to 3600): a "
        "refresh is recorded, and downstream assets run, up to this long after it lands).",
    ),
    (
        "sensor_interval_too_short",
        "tenant: shop\nsensor_interval_seconds: 5\n",
        "1 problem in <file>:\n"
        "  - sensor_interval_seconds (line 2): 5 seconds is outside the allowed 10 to 3600: "
        "every tick sends two statements to Snowflake, and a refresh is recorded (and "
        "downstream assets run) up to one interval after it lands; use 60 (the default) or a "
        "value in that range.",
    ),
    (
        "sensor_interval_too_long",
        "tenant: shop\nsensor_interval_seconds: 7200\n",
        "1 problem in <file>:\n"
        "  - sensor_interval_seconds (line 2): 7200 seconds is outside the allowed 10 to 3600: "
        "every tick sends two statements to Snowflake, and a refresh is recorded (and "
        "downstream assets run) up to one interval after it lands; use 60 (the default) or a "
        "value in that range.",
    ),
    (
        "unknown_top_level_key",
        "tenant: shop\ndynamic_table: []\n",
        "1 problem in <file>:\n"
        "  - dynamic_table (line 2): unknown key 'dynamic_table'; "
        "allowed keys: tenant, local_seed_file, sources, dynamic_tables, views, "
        "sensor_interval_seconds, change_signal. Fix: did "
        "you mean 'dynamic_tables'?",
    ),
    (
        "change_signal_not_allowed",
        "tenant: shop\nchange_signal: bytes\n",
        "1 problem in <file>:\n"
        "  - change_signal (line 2): 'bytes' is not allowed; allowed: data_timestamp, "
        "rows_and_bytes. Fix: use one of data_timestamp, rows_and_bytes.",
    ),
    (
        "section_not_a_list",
        "tenant: shop\ndynamic_tables:\n  name: x\n",
        "1 problem in <file>:\n"
        "  - dynamic_tables (line 2): expected a list, got a "
        "mapping. Fix: write a YAML list, e.g. `dynamic_tables: [a, b]` (a list of "
        "dynamic tables (name:, table:, ...)).",
    ),
    (
        "section_null",
        "tenant: shop\nviews:\n",
        "1 problem in <file>:\n"
        "  - views (line 2): expected a list, got nothing (null). "
        "Fix: write a YAML list, e.g. `views: [a, b]` (a list of views (name:, table:, "
        "...)).",
    ),
    (
        "item_not_a_mapping",
        "tenant: shop\ndynamic_tables: [orders_clean]\n",
        "1 problem in <file>:\n"
        "  - dynamic_tables[0] (line 2): expected a mapping, got a "
        "string ('orders_clean'). Fix: write a mapping with the keys name, table, "
        "description, owners, group, query, query_file, deps, target_lag, warehouse, "
        "refresh_mode, initialize, "
        "scheduler, initialization_warehouse, cluster_by, transient, comment, "
        "data_retention_time_in_days, frozen_where, automation_condition, data_tests.",
    ),
    (
        "duplicate_name",
        _dt(name="raw_orders"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].name (line 6): 'raw_orders' is "
        "already declared at sources[0]. Fix: give every object of the tenant its own "
        "name.",
    ),
    (
        "duplicate_table_case_insensitive",
        _dt(table="shop.raw.orders"),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 7): 'shop.raw.orders' "
        "is already declared at sources[0] (both are SHOP.RAW.ORDERS). Fix: declare each "
        "Snowflake object once.",
    ),
    (
        "duplicate_table_quoted",
        _dt(table='\'"SHOP"."RAW"."ORDERS"\''),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].table (line 7): "
        '\'"SHOP"."RAW"."ORDERS"\' is already declared at sources[0] (both are '
        "SHOP.RAW.ORDERS). Fix: declare each Snowflake object once.",
    ),
    (
        "dependency_cycle",
        _tenant(CYCLE),
        "1 problem in <file>:\n"
        "  - dynamic_tables[0].deps (line 6): dependency cycle: a "
        "-> b -> a. Fix: remove one of these deps; Snowflake objects cannot depend on "
        "themselves.",
    ),
    (
        "local_seed_file_missing",
        "tenant: shop\nlocal_seed_file: local/seed.sql\n",
        "1 problem in <file>:\n"
        "  - local_seed_file (line 2): 'local/seed.sql' "
        "(<dir>/local/seed.sql) does not exist. Fix: give the path of the seed SQL "
        "relative to the YAML file, or remove the key.",
    ),
    (
        "view_with_target_lag",
        _tenant(VIEW_WITH_LAG),
        "1 problem in <file>:\n"
        "  - views[0].target_lag (line 9): unknown key "
        "'target_lag'; allowed keys: name, table, description, owners, group, query, "
        "query_file, deps. Fix: 'target_lag' belongs to dynamic_tables items: remove it, "
        "or declare the object under dynamic_tables.",
    ),
    (
        "source_with_deps",
        "tenant: shop\nsources:\n  - name: raw\n    table: SHOP.RAW.RAW\n    deps: [x]\n",
        "1 problem in <file>:\n"
        "  - sources[0].deps (line 5): unknown key 'deps'; allowed "
        "keys: name, table, description, owners, group, data_tests, data_tests_cron, "
        "data_tests_timezone. Fix: 'deps' belongs to "
        "dynamic_tables and views items: remove it, or declare the object under "
        "dynamic_tables.",
    ),
]


def _message(tmp_path: Path, text: str) -> str:
    (tmp_path / "sql").mkdir(exist_ok=True)
    (tmp_path / "sql" / "empty.sql").write_text("  ;\n")
    (tmp_path / "sql" / "orders_clean.sql").write_text("select * from shop.raw.orders\n")
    path = tmp_path / "defs.yaml"
    path.write_text(text)
    with pytest.raises(DeclarationError) as info:
        load_tenant(path)
    return str(info.value).replace(str(path), "<file>").replace(str(tmp_path), "<dir>")


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_message(tmp_path: Path, text: str, expected: str) -> None:
    assert _message(tmp_path, text) == expected


def test_bad_inputs_corpus_is_large_and_ids_are_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) >= 50
    assert len(set(ids)) == len(ids)


SEVERAL_MISTAKES = """\
tenant: shop
local_seed_file: local/missing.sql
sources:
  - name: raw_orders
    table: SHOP.RAW.ORDERS
    owners: [nobody]
  - name: raw_orders
    table: SHOP.RAW.ORDERS_AGAIN
dynamic_tables:
  - name: orders_clean
    table: SHOP.ANALYTICS.ORDERS_CLEAN; DROP TABLE X
    targetlag: 1 minute
    warehouse: TRANSFORMING
    query: select 1
  - name: revenue
    table: SHOP.ANALYTICS.REVENUE
    target_lag: 10 seconds
    refresh_mode: incremental
    warehouse: TRANSFORMING
    deps: [raw_order, orders_clean]
    query_file: sql/missing.sql
views:
  - name: dashboard
    table: SHOP.ANALYTICS.DASHBOARD
    deps: [dashboard]
    query: select 1
"""


def test_several_mistakes_are_reported_at_once_in_file_order(tmp_path: Path) -> None:
    assert _message(tmp_path, SEVERAL_MISTAKES) == (
        "11 problems in <file>:\n"
        "  - local_seed_file (line 2): 'local/missing.sql' (<dir>/local/missing.sql) does not "
        "exist. Fix: give the path of the seed SQL relative to the YAML file, or remove the key.\n"
        "  - sources[0].owners[0] (line 6): 'nobody' is not a valid owner: use an e-mail address "
        "(jane@example.com) or a team name prefixed with 'team:' (team:analytics).\n"
        "  - sources[1].name (line 7): 'raw_orders' is already declared at sources[0]. Fix: give "
        "every object of the tenant its own name.\n"
        "  - dynamic_tables[0].target_lag (line 10): required key 'target_lag' is missing. Fix: "
        "add `target_lag: 1 minute` (How stale the table may get: "
        "'<n> seconds|minutes|hours|days' (at least 60 seconds) or DOWNSTREAM).\n"
        "  - dynamic_tables[0].table (line 11): 'SHOP.ANALYTICS.ORDERS_CLEAN; DROP TABLE X' is "
        "not a valid fully qualified name: 'ORDERS_CLEAN; DROP TABLE X' is not a valid Snowflake "
        "identifier: use letters, digits, '_' and '$' starting with a letter or '_', or a "
        "double-quoted name without control characters.\n"
        "  - dynamic_tables[0].targetlag (line 12): unknown key 'targetlag'; allowed keys: name, "
        "table, description, owners, group, query, query_file, deps, target_lag, warehouse, "
        "refresh_mode, initialize, "
        "scheduler, initialization_warehouse, cluster_by, transient, comment, "
        "data_retention_time_in_days, frozen_where, automation_condition, data_tests. Fix: did "
        "you mean 'target_lag'?\n"
        "  - dynamic_tables[1].target_lag (line 17): '10 seconds' is 10 seconds, under "
        "Snowflake's minimum target lag of 60 seconds: use '1 minute' or more.\n"
        "  - dynamic_tables[1].refresh_mode (line 18): 'incremental' is not allowed; allowed: "
        "AUTO, FULL, INCREMENTAL, ADAPTIVE. Fix: write INCREMENTAL.\n"
        "  - dynamic_tables[1].deps[0] (line 20): 'raw_order' is not declared in this tenant "
        "(declared: dashboard, orders_clean, raw_orders, revenue). Fix: did you mean "
        "'raw_orders'? Otherwise declare it, or name another tenant's asset by its full key "
        "(other_tenant/asset).\n"
        "  - dynamic_tables[1].query_file (line 21): 'sql/missing.sql' "
        "(<dir>/sql/missing.sql) does not exist. Fix: give a path relative to the "
        "YAML file, or inline the SELECT as query.\n"
        "  - views[0].deps (line 25): dependency cycle: dashboard -> dashboard. Fix: remove one "
        "of these deps; Snowflake objects cannot depend on themselves."
    )


# --- Files a declaration names, and hostile YAML, through every load path --------------------
#
# The three ways declarations are loaded: the code location (`<slug>.definitions`, through
# `load_tenant_definitions` and Dagster's component loader), `dynamic-tables plan` and
# `dynamic-tables tenants check`. Each must refuse what the declaration may not read, and fail fast
# with the same message on YAML built to exhaust it.

SECRET = "SNOWFLAKE_PASSWORD=hunter2-do-not-print"
QUERY_LINE = 13  # the line of `query_file:` in _component()'s text


def _component(slug: str, query_file: str, seed: str | None, extra: str) -> str:
    seed_line = f"  local_seed_file: {seed}\n" if seed is not None else ""
    return (
        "type: dagster_dynamic_tables.DynamicTablesComponent\n"
        "attributes:\n"
        f"  tenant: {slug}\n"
        "  sources:\n"
        "    - name: raw_orders\n"
        f"      table: {slug.upper()}.RAW.ORDERS\n"
        "  dynamic_tables:\n"
        "    - name: orders_clean\n"
        f"      table: {slug.upper()}.ANALYTICS.ORDERS_CLEAN\n"
        "      target_lag: 1 minute\n"
        "      warehouse: TRANSFORMING\n"
        "      deps: [raw_orders]\n"
        f"      query_file: {query_file}\n" + seed_line + extra
    )


def _platform(root: Path, slugs: Sequence[str]) -> None:
    """A platform repository at `root` (uv workspace, grants.yaml) for `slugs`' tenants."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "platform"\nversion = "0"\n\n'
        '[tool.uv.workspace]\nmembers = ["tenants/*"]\n'
    )
    grants = "".join(
        f"  {slug}:\n    owner: '@acme/{slug}'\n    schemas: [{slug.upper()}.RAW, "
        f"{slug.upper()}.ANALYTICS]\n"
        for slug in slugs
    )
    (root / "grants.yaml").write_text(f"platform_owner: '@acme/platform'\ntenants:\n{grants}")
    (root / "tenants").mkdir(exist_ok=True)


def _tenant_folder(
    root: Path,
    slug: str,
    *,
    query_file: str = "sql/orders.sql",
    seed: str | None = None,
    extra: str = "",
) -> Path:
    """tenants/<slug>/ as the template makes it; returns its component folder (defs/snowflake)."""
    tenant = root / "tenants" / slug
    package = tenant / "src" / slug
    folder = package / "defs" / "snowflake"
    (folder / "sql").mkdir(parents=True)
    (tenant / "pyproject.toml").write_text(f'[project]\nname = "{slug}"\nversion = "0.1.0"\n')
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        "from dagster_dynamic_tables import load_tenant_definitions\n\n"
        f"import {slug}.defs\n\ndefs = load_tenant_definitions({slug}.defs)\n"
    )
    (folder / "sql" / "orders.sql").write_text(f"select * from {slug}.raw.orders\n")
    (folder / "defs.yaml").write_text(_component(slug, query_file, seed, extra))
    return folder


# (id, how to make the named file (component folder, a folder outside the tenant) -> the value,
#  the problem with the component folder written <dir>, the tenant's defs/ <defs>, the tenant's
#  package <pkg> and the outside folder <out>)
def _outside(folder: Path, out: Path, name: str) -> Path:
    del folder
    (out / name).write_text(f"select 1 -- {SECRET}\n")
    return out / name


def _link(folder: Path, name: str, target: Path | str) -> str:
    (folder / "sql" / name).symlink_to(target)
    return f"sql/{name}"


def _make_absolute(folder: Path, out: Path) -> str:
    del folder, out
    return "/proc/self/environ"


def _make_dev_zero(folder: Path, out: Path) -> str:
    del folder, out
    return "/dev/zero"


def _make_escape(folder: Path, out: Path) -> str:
    del out
    (folder.parent.parent / "secret.sql").write_text(f"select 1 -- {SECRET}\n")
    return "../../secret.sql"


def _make_link_outside(folder: Path, out: Path) -> str:
    return _link(folder, "link.sql", _outside(folder, out, "secret.sql"))


def _make_link_to_dev_zero(folder: Path, out: Path) -> str:
    del out
    return _link(folder, "zero.sql", "/dev/zero")


def _make_fifo(folder: Path, out: Path) -> str:
    del out
    os.mkfifo(folder / "sql" / "pipe.sql")
    return "sql/pipe.sql"


def _make_directory(folder: Path, out: Path) -> str:
    del out
    (folder / "sql" / "folder.sql").mkdir()
    return "sql/folder.sql"


def _make_oversize(folder: Path, out: Path) -> str:
    del out
    (folder / "sql" / "big.sql").write_text("select 1 " + " " * MAX_QUERY_FILE_BYTES)
    return "sql/big.sql"


def _make_not_utf8(folder: Path, out: Path) -> str:
    del out
    (folder / "sql" / "latin1.sql").write_bytes(b"select 'caf\xe9' -- " + SECRET.encode())
    return "sql/latin1.sql"


_OUTSIDE = (
    "must stay inside it, symbolic links included. Fix: move the file under <defs> and give its "
    "path relative to the YAML file's folder (<dir>)."
)
_ABSOLUTE = (
    "is an absolute path; query_file must name a file inside the tenant's defs/ folder (<defs>). "
    "Fix: move the file under <defs> and give its path relative to the YAML file's folder (<dir>)."
)
Q = f"dynamic_tables[0].query_file (line {QUERY_LINE}): "
FILE_CASES: list[tuple[str, Callable[[Path, Path], str], str]] = [
    ("absolute", _make_absolute, f"{Q}'/proc/self/environ' {_ABSOLUTE}"),
    ("dev_zero", _make_dev_zero, f"{Q}'/dev/zero' {_ABSOLUTE}"),
    (
        "dotdot_escape",
        _make_escape,
        f"{Q}'../../secret.sql' resolves to <pkg>/secret.sql, outside the tenant's defs/ "
        f"folder (<defs>); query_file {_OUTSIDE}",
    ),
    (
        "link_outside",
        _make_link_outside,
        f"{Q}'sql/link.sql' resolves to <out>/secret.sql, outside the tenant's defs/ folder "
        f"(<defs>); query_file {_OUTSIDE}",
    ),
    (
        "link_to_dev_zero",
        _make_link_to_dev_zero,
        f"{Q}'sql/zero.sql' resolves to /dev/zero, outside the tenant's defs/ folder (<defs>); "
        f"query_file {_OUTSIDE}",
    ),
    (
        "fifo",
        _make_fifo,
        f"{Q}'sql/pipe.sql' (<dir>/sql/pipe.sql) is a named pipe (FIFO), not a regular file. "
        "Fix: point it at a regular file inside defs/.",
    ),
    (
        "directory",
        _make_directory,
        f"{Q}'sql/folder.sql' (<dir>/sql/folder.sql) is a directory, not a regular file. Fix: "
        "point it at a regular file inside defs/.",
    ),
    (
        "oversize",
        _make_oversize,
        f"{Q}'sql/big.sql' (<dir>/sql/big.sql) is larger than 1 MiB, the limit "
        "(MAX_QUERY_FILE_BYTES). Fix: keep the file under 1 MiB.",
    ),
    (
        "not_utf8",
        _make_not_utf8,
        f"{Q}'sql/latin1.sql' (<dir>/sql/latin1.sql) is not UTF-8 text (invalid byte at offset "
        "11). Fix: save the file as UTF-8.",
    ),
]
SEED_CASES: list[tuple[str, Callable[[Path, Path], str], str]] = [
    (
        "seed_absolute",
        _make_absolute,
        "local_seed_file (line 14): '/proc/self/environ' is an absolute path; local_seed_file "
        "must name a file inside the tenant's defs/ folder (<defs>). Fix: move the file under "
        "<defs> and give its path relative to the YAML file's folder (<dir>).",
    ),
    (
        "seed_link_outside",
        _make_link_outside,
        "local_seed_file (line 14): 'sql/link.sql' resolves to <out>/secret.sql, outside the "
        f"tenant's defs/ folder (<defs>); local_seed_file {_OUTSIDE}",
    ),
    (
        "seed_fifo",
        _make_fifo,
        "local_seed_file (line 14): 'sql/pipe.sql' (<dir>/sql/pipe.sql) is a named pipe (FIFO), "
        "not a regular file. Fix: point it at a regular file inside defs/.",
    ),
]
ALL_FILE_CASES = FILE_CASES + SEED_CASES


def _make_case(root: Path, case: str, make: Callable[[Path, Path], str]) -> tuple[str, Path]:
    """A tenant named after the case whose query_file (or local_seed_file) is the bad file."""
    slug = f"t_{case}_{uuid.uuid4().hex[:8]}"
    out = root.parent / f"outside_{slug}"
    out.mkdir()
    folder = _tenant_folder(root, slug)
    value = make(folder, out)
    if case.startswith("seed_"):
        text = _component(slug, "sql/orders.sql", value, "")
    else:
        text = _component(slug, value, None, "")
    (folder / "defs.yaml").write_text(text)
    return slug, folder


def _shown(text: str, root: Path, slug: str) -> str:
    folder = root / "tenants" / slug / "src" / slug / "defs" / "snowflake"
    for path, mark in (
        (folder, "<dir>"),
        (folder.parent, "<defs>"),
        (folder.parent.parent, "<pkg>"),
        (root.parent / f"outside_{slug}", "<out>"),
    ):
        text = text.replace(str(path), mark)
    return text


def _declaration_error(error: BaseException) -> DeclarationError:
    """The DeclarationError that caused `error` (Dagster wraps a component's errors)."""
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, DeclarationError):
        seen = seen.__cause__ or seen.__context__
    assert isinstance(seen, DeclarationError), repr(error)
    return seen


def _load_location(root: Path, slug: str) -> None:
    """Build the code location's definitions in this process, as a code server does."""
    src = str(root / "tenants" / slug / "src")
    sys.path.insert(0, src)
    try:
        from dagster_dynamic_tables.definitions.location import load_tenant_definitions

        load_tenant_definitions(importlib.import_module(f"{slug}.defs"))
    finally:
        sys.path.remove(src)
        for name in [name for name in sys.modules if name == slug or name.startswith(f"{slug}.")]:
            del sys.modules[name]


def _env(root: Path, tenants: Sequence[str]) -> dict[str, str]:
    """This environment without its Snowflake settings, the tenants' src folders its
    PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    env["PYTHONPATH"] = os.pathsep.join(str(root / "tenants" / s / "src") for s in tenants)
    return env


def _cli(root: Path, *args: str, tenants: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=_env(root, tenants), cwd=root, timeout=240)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("case", "make", "expected"), ALL_FILE_CASES, ids=[c[0] for c in ALL_FILE_CASES]
)
def test_code_location_refuses_a_named_file_it_may_not_read(
    tmp_path: Path, case: str, make: Callable[[Path, Path], str], expected: str
) -> None:
    root = tmp_path / "repo"
    _platform(root, [])
    slug, _folder = _make_case(root, case, make)
    with pytest.raises(Exception) as info:  # noqa: PT011 (Dagster wraps ours: checked below)
        _load_location(root, slug)
    error = _declaration_error(info.value)
    assert _shown(str(error), root, slug) == (f"1 problem in <dir>/defs.yaml:\n  - {expected}")
    assert "hunter2" not in str(info.value)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("case", "make", "expected"), ALL_FILE_CASES, ids=[c[0] for c in ALL_FILE_CASES]
)
def test_plan_refuses_a_named_file_it_may_not_read(
    tmp_path: Path, case: str, make: Callable[[Path, Path], str], expected: str
) -> None:
    root = tmp_path / "repo"
    _platform(root, [])
    slug, _folder = _make_case(root, case, make)
    result = _cli(root, "plan", "--tenant", slug)
    assert result.returncode == 4, result.stdout + result.stderr  # cli.EXIT_ERROR
    assert _shown(result.stderr, root, slug) == (
        f"ERROR: 1 problem in <dir>/defs.yaml:\n  - {expected}\n"
    )
    assert "hunter2" not in result.stdout + result.stderr


@pytest.mark.timeout(300)
def test_tenants_check_refuses_every_named_file_it_may_not_read(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    made = [(_make_case(root, case, make)[0], expected) for case, make, expected in ALL_FILE_CASES]
    _platform(root, [slug for slug, _expected in made])
    result = _cli(root, "tenants", "check", tenants=[slug for slug, _expected in made])
    assert result.returncode == 1, result.stdout + result.stderr  # findings
    for slug, expected in made:
        assert _shown(expected, root, slug) in _shown(result.stdout, root, slug), slug
    assert "hunter2" not in result.stdout + result.stderr


def test_a_link_inside_defs_to_a_file_inside_defs_is_read(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _platform(root, [])
    slug = f"t_link_inside_{uuid.uuid4().hex[:8]}"
    folder = _tenant_folder(root, slug, query_file="sql/link.sql")
    shared = folder.parent / "shared"
    shared.mkdir()
    (shared / "orders.sql").write_text("select 42 as answer\n")
    (folder / "sql" / "link.sql").symlink_to(Path("..") / ".." / "shared" / "orders.sql")
    tenant = load_tenant_through_plan(root, slug)
    assert tenant.dynamic_tables[0].query == "select 42 as answer"


def load_tenant_through_plan(root: Path, slug: str) -> Tenant:
    from dagster_dynamic_tables.platform.plan.declared import load_declared_tenants

    (tenant,) = load_declared_tenants(root, slug)
    return tenant


def _alias_bomb() -> str:
    """11 lines, 9^9 values once expanded (the probe's file, under `attributes:`)."""
    return "  bomb:\n" + alias_bomb("    ")


def _nested(depth: int) -> str:
    return "  deep: " + "[" * depth + "]" * depth + "\n"


_DEPTH = (
    "line 14: mappings and lists nest deeper than 64 levels here (MAX_YAML_DEPTH). Fix: "
    "declarations nest a few levels; keep every file under 64 levels of mappings and lists "
    "(MAX_YAML_DEPTH)."
)
# (id, YAML added under `attributes:`, the problem)
YAML_CASES: list[tuple[str, str, str]] = [
    (
        "alias_bomb",
        _alias_bomb(),
        "line 20: aliases expand the document past 500,000 values here (MAX_YAML_NODES): a YAML "
        "alias bomb? Fix: write the values out instead of aliases of aliases (&anchor / "
        "*anchor), or split the file; a document may hold 500,000 values with its aliases "
        "expanded (MAX_YAML_NODES).",
    ),
    ("nested_1000", _nested(1000), _DEPTH),
    ("nested_50000", _nested(50_000), _DEPTH),
    (
        "recursive_alias",
        "  loop: &loop [1, *loop]\n",
        "line 14: the alias *loop refers to a node that contains it, a structure without end. "
        "Fix: remove the alias *loop from inside &loop.",
    ),
    (
        "oversize",
        "# " + "x" * (4 * 1024 * 1024) + "\n",
        "the file is larger than 4 MiB, the limit for declaration files "
        "(MAX_DECLARATION_FILE_BYTES). Fix: keep it under 4 MiB: move long queries to "
        "query_file, or split the declarations into several components.",
    ),
]

# Loads a code location in a fresh interpreter (a segfault is an exit status, not a crashed test
# run) and prints the DeclarationError behind the failure, as a code server would log it.
_LOAD_LOCATION = """\
import importlib, sys
from dagster_dynamic_tables.errors import DeclarationError
try:
    importlib.import_module(sys.argv[1] + ".definitions")
except Exception as e:
    while e is not None and not isinstance(e, DeclarationError):
        e = e.__cause__ or e.__context__
    print(e)
    sys.exit(3)
"""


def _yaml_case(root: Path, case: str, extra: str) -> str:
    slug = f"y_{case}_{uuid.uuid4().hex[:8]}"
    _tenant_folder(root, slug, extra=extra)
    return slug


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("case", "extra", "expected"), YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_code_location_fails_fast_on_hostile_yaml(
    tmp_path: Path, case: str, extra: str, expected: str
) -> None:
    root = tmp_path / "repo"
    _platform(root, [])
    slug = _yaml_case(root, case, extra)
    result = run(
        [sys.executable, "-c", _LOAD_LOCATION, slug],
        cwd=Path.cwd(),
        env=_env(root, [slug]),
        timeout=110,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert _shown(result.stdout, root, slug) == f"1 problem in <dir>/defs.yaml:\n  - {expected}\n"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("case", "extra", "expected"), YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_plan_fails_fast_on_hostile_yaml_with_the_error_status(
    tmp_path: Path, case: str, extra: str, expected: str
) -> None:
    root = tmp_path / "repo"
    _platform(root, [])
    slug = _yaml_case(root, case, extra)
    result = _cli(root, "plan", "--tenant", slug)
    assert result.returncode == 4, result.stdout + result.stderr  # cli.EXIT_ERROR, not 1
    assert _shown(result.stderr, root, slug) == (
        f"ERROR: 1 problem in <dir>/defs.yaml:\n  - {expected}\n"
    )


@pytest.mark.timeout(300)
def test_tenants_check_reports_hostile_yaml_and_ends(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    made = [(_yaml_case(root, case, extra), expected) for case, extra, expected in YAML_CASES]
    _platform(root, [slug for slug, _expected in made])
    result = _cli(root, "tenants", "check", tenants=[slug for slug, _expected in made])
    assert result.returncode == 1, result.stdout + result.stderr  # findings
    for slug, expected in made:
        assert expected in result.stdout, slug


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda path: os.mkfifo(path), "a named pipe (FIFO)"),
        (lambda path: path.symlink_to("/dev/zero"), "a character device"),
    ],
    ids=["fifo", "link_to_dev_zero"],
)
def test_a_defs_yaml_that_is_not_a_regular_file_blocks_no_load_path(
    tmp_path: Path, make: Callable[[Path], None], kind: str
) -> None:
    root = tmp_path / "repo"
    slug = f"t_defs_{uuid.uuid4().hex[:8]}"
    _platform(root, [slug])
    defs_yaml = _tenant_folder(root, slug) / "defs.yaml"
    defs_yaml.unlink()
    make(defs_yaml)
    with pytest.raises(DeclarationError) as info:
        _load_location(root, slug)
    assert str(info.value) == (
        f"1 problem in {defs_yaml}:\n  - the declaration file is {kind}, not a regular file. "
        "Fix: point it at a regular file inside defs/."
    )
    plan = _cli(root, "plan", "--tenant", slug)  # not a declaration file: nothing to plan
    assert (plan.returncode, plan.stdout.splitlines()[0]) == (0, "no declared tenants found")
    check = _cli(root, "tenants", "check", tenants=[slug])
    assert check.returncode == 1
    # the location's load fails, and the finding quotes the first line of our error
    assert f"does not load: 1 problem in {defs_yaml}:." in check.stdout


def test_local_start_reads_the_seed_file_confined_again(local_snowflake_connect, tmp_path: Path):
    """The stand-in's setup reads local_seed_file when it runs, the way the loader does: a seed
    replaced after loading by a link to a file outside defs/ is refused, not run."""
    from dagster_dynamic_tables.errors import LocalSetupError
    from dagster_dynamic_tables.standin import create_local_objects

    root = tmp_path / "repo"
    _platform(root, [])
    slug = f"t_seed_{uuid.uuid4().hex[:8]}"
    folder = _tenant_folder(root, slug, seed="local/seed.sql")
    (folder / "local").mkdir()
    seed = folder / "local" / "seed.sql"
    seed.write_text(f"CREATE TABLE {slug}.RAW.ORDERS (id INTEGER);\n")
    tenant = load_tenant_through_plan(root, slug)
    seed.unlink()
    seed.symlink_to(_outside(folder, tmp_path, "secret.sql"))
    with pytest.raises(LocalSetupError) as info:
        create_local_objects(local_snowflake_connect(), tenant, lock_dir=tmp_path)
    defs = folder.parent
    assert str(info.value) == (
        f"Tenant {slug!r}'s local seed file is refused: local_seed_file: 'local/seed.sql' "
        f"resolves to {tmp_path / 'secret.sql'}, outside the tenant's defs/ folder ({defs}); "
        "local_seed_file must stay inside it, symbolic links included. Fix: move the file under "
        f"{defs} and give its path relative to the YAML file's folder ({folder})."
    )
