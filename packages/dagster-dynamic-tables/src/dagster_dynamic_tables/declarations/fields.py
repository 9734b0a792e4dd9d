"""The types of the declaration fields and their checks: what one value may be, in our words.

Each check raises `ValueError` saying what is wrong and how to write it; pydantic carries the
message to `problems.translate_validation_error`. The whole set of a tenant's declarations is
checked in `consistency`; the models that use these types are in `models`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field, Strict

from dagster_dynamic_tables.declarations.identifiers import parse_identifier, parse_qualified_name
from dagster_dynamic_tables.declarations.lags import parse_target_lag

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _any_case(word: str) -> str:
    return "".join(f"[{char.lower()}{char.upper()}]" for char in word)


_UNITS = "|".join(_any_case(unit) for unit in ("second", "minute", "hour", "day"))
LAG_PATTERN = rf"^\s*([0-9]+\s+({_UNITS})[sS]?|{_any_case('downstream')})\s*$"
_NAME_PATTERN = "^[a-z][a-z0-9_]*$"
# Dagster's own owner rule (dagster._core.definitions.utils.is_valid_owner), checked here so a bad
# owner is reported with the other declaration problems instead of failing when specs are built.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,7}")


def check_asset_name(value: str) -> str:
    if not value or not value[0].isalpha() or not set(value) <= _NAME_CHARS:
        raise ValueError(
            f"{value!r} is not a valid asset name: use lowercase letters, digits and '_', "
            "starting with a letter (e.g. customer_lifetime_value)"
        )
    return value


def _check_qualified_name(value: str) -> str:
    parse_qualified_name(value)
    return value


def _check_target_lag(value: str) -> str:
    return parse_target_lag(value).text


def _check_identifier(value: str) -> str:
    parse_identifier(value)
    return value


def _check_dep(value: str) -> str:
    parts = value.split("/")
    if not all(part and part[0].isalpha() and set(part) <= _NAME_CHARS for part in parts):
        raise ValueError(
            f"{value!r} is not a valid dep: name one of this tenant's objects (raw_orders) or "
            "another tenant's asset by its full key (other_tenant/asset), in lowercase letters, "
            "digits and '_'"
        )
    return value


MINIMUM_SENSOR_INTERVAL_SECONDS = 10
MAXIMUM_SENSOR_INTERVAL_SECONDS = 3600
DEFAULT_SENSOR_INTERVAL_SECONDS = 60


def _check_sensor_interval(value: int) -> int:
    if not MINIMUM_SENSOR_INTERVAL_SECONDS <= value <= MAXIMUM_SENSOR_INTERVAL_SECONDS:
        raise ValueError(
            f"{value} seconds is outside the allowed {MINIMUM_SENSOR_INTERVAL_SECONDS} to "
            f"{MAXIMUM_SENSOR_INTERVAL_SECONDS}: every tick sends two statements to Snowflake, and "
            "a refresh is recorded (and downstream assets run) up to one interval after it lands; "
            f"use {DEFAULT_SENSOR_INTERVAL_SECONDS} (the default) or a value in that range"
        )
    return value


MAXIMUM_DATA_RETENTION_DAYS = 90
"""Snowflake's longest Time Travel retention (Enterprise Edition; Standard allows 0 or 1)."""
MAXIMUM_TRANSIENT_RETENTION_DAYS = 1
"""A transient table keeps Time Travel data for at most one day."""


def check_sql_fragment(value: str) -> str:
    """A SQL expression written into DDL as it is (`cluster_by`, `frozen_where`): one expression,
    with closed quotes and balanced parentheses, no `;` and no comment that could swallow the rest
    of the statement. Raise ValueError saying what is wrong."""
    text = value.strip()
    if not text:
        raise ValueError("the expression is empty: give a SQL expression such as order_date")
    depth = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char in "'\"":
            end = closing_quote(text, index)
            if end < 0:
                kind = "string" if char == "'" else "quoted identifier"
                raise ValueError(f"{value!r} has an unclosed {kind} (a {char} without its pair)")
            index = end + 1
            continue
        if text.startswith(("--", "/*", "//"), index):
            raise ValueError(
                f"{value!r} holds a SQL comment ({text[index : index + 2]}): remove it"
            )
        if char == ";":
            raise ValueError(f"{value!r} holds a ';': give one expression, not a statement")
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise ValueError(f"{value!r} closes a parenthesis it never opened")
        index += 1
    if depth:
        raise ValueError(f"{value!r} leaves {depth} parenthesis(es) open")
    return text


def closing_quote(text: str, start: int) -> int:
    """Index of the quote closing the string or quoted identifier opened at `start`, -1 if none.

    A doubled quote (`''`, `""`) is part of the text; in strings a backslash escapes the next
    character, as in Snowflake."""
    quote = text[start]
    index = start + 1
    while index < len(text):
        char = text[index]
        if quote == "'" and char == "\\":
            index += 2
            continue
        if char == quote:
            if index + 1 < len(text) and text[index + 1] == quote:
                index += 2
                continue
            return index
        index += 1
    return -1


def _check_retention(value: int) -> int:
    if not 0 <= value <= MAXIMUM_DATA_RETENTION_DAYS:
        raise ValueError(
            f"{value} days is outside Snowflake's 0 to {MAXIMUM_DATA_RETENTION_DAYS} days of "
            "Time Travel retention: use a whole number of days in that range (0 turns Time "
            "Travel off)"
        )
    return value


def _check_comment(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" and char not in "\n\t" for char in value):
        raise ValueError(
            f"{value[:40]!r} holds a control character: write plain text (line breaks and tabs "
            "are allowed)"
        )
    return value


def _check_owner(value: str) -> str:
    if not (_EMAIL.fullmatch(value) or (value.startswith("team:") and len(value) > 5)):
        raise ValueError(
            f"{value!r} is not a valid owner: use an e-mail address (jane@example.com) or a team "
            "name prefixed with 'team:' (team:analytics)"
        )
    return value


AssetName = Annotated[
    str,
    AfterValidator(check_asset_name),
    Field(
        description="Asset name inside the tenant: lowercase letters, digits and '_', starting "
        "with a letter.",
        examples=["customer_lifetime_value"],
        json_schema_extra={"pattern": _NAME_PATTERN},
    ),
]
TableName = Annotated[
    str,
    AfterValidator(_check_qualified_name),
    Field(
        description="Fully qualified Snowflake name DATABASE.SCHEMA.NAME; "
        'double-quote a part to keep its case ("Mixed")',
        examples=["ANALYTICS.ECOMMERCE.CUSTOMER_LIFETIME_VALUE"],
    ),
]
DepName = Annotated[
    str,
    AfterValidator(_check_dep),
    Field(json_schema_extra={"pattern": "^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*$"}),
]
Owner = Annotated[str, AfterValidator(_check_owner)]
SensorInterval = Annotated[
    int,
    Strict(),
    AfterValidator(_check_sensor_interval),
    Field(
        description="Seconds between two ticks of the tenant's dynamic_table_freshness sensor "
        f"({MINIMUM_SENSOR_INTERVAL_SECONDS} to {MAXIMUM_SENSOR_INTERVAL_SECONDS}): a refresh is "
        "recorded, and downstream assets run, up to this long after it lands.",
        examples=[DEFAULT_SENSOR_INTERVAL_SECONDS],
        # In the schema only: the range itself is checked by _check_sensor_interval, in our words.
        json_schema_extra={
            "minimum": MINIMUM_SENSOR_INTERVAL_SECONDS,
            "maximum": MAXIMUM_SENSOR_INTERVAL_SECONDS,
        },
    ),
]
WarehouseName = Annotated[
    str,
    AfterValidator(_check_identifier),
    Field(description="A warehouse (a Snowflake identifier).", examples=["TRANSFORMING"]),
]
SqlExpression = Annotated[str, AfterValidator(check_sql_fragment)]

TargetLagText = Annotated[str, AfterValidator(_check_target_lag)]
"""A target lag as written (`'2 hours'`, `DOWNSTREAM`), checked by `lags.parse_target_lag`."""
Identifier = Annotated[str, AfterValidator(_check_identifier)]
"""One Snowflake identifier (a warehouse)."""
Comment = Annotated[str, AfterValidator(_check_comment)]
"""Plain text for a Snowflake COMMENT: no control character but line breaks and tabs."""
RetentionDays = Annotated[
    int,
    Strict(),
    AfterValidator(_check_retention),
    Field(json_schema_extra={"minimum": 0, "maximum": MAXIMUM_DATA_RETENTION_DAYS}),
]
"""Days of Time Travel (0 to `MAXIMUM_DATA_RETENTION_DAYS`)."""
