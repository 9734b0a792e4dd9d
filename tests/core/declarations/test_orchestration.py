"""The `automation_condition` field of a `scheduler: DISABLE` Dynamic Table: eager or on_cron,
checked without Dagster, every bad value reported with its path, the value and the fix."""

from typing import Annotated

import pytest
from dagster_dynamic_tables.declarations.orchestration import (
    EAGER,
    AutomationConditionDeclaration,
    AutomationConditionField,
    OnCron,
    automation_condition_field,
    automation_condition_problem,
    effective_automation_condition,
    parse_automation_condition,
    scheduler_problem,
)
from dagster_dynamic_tables.errors import DeclarationProblem
from pydantic import BaseModel, ConfigDict, ValidationError

PATH = "dynamic_tables[0].automation_condition"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("eager", EAGER),
        ({"on_cron": "0 6 * * *"}, OnCron(on_cron="0 6 * * *", timezone="UTC")),
        (
            {"on_cron": " */15  *  * * mon-fri ", "timezone": "Europe/Paris"},
            OnCron(on_cron="*/15 * * * mon-fri", timezone="Europe/Paris"),
        ),
        ({"on_cron": "0 0 1,15 jan-jun 0-7/2"}, OnCron(on_cron="0 0 1,15 jan-jun 0-7/2")),
        ({"on_cron": "5/10 * * * *"}, OnCron(on_cron="5/10 * * * *")),
    ],
    ids=["eager", "cron_utc", "cron_zone_spaces_names", "lists_ranges_steps", "start_step"],
)
def test_parse_accepts_eager_and_on_cron(value: object, expected: AutomationConditionDeclaration):
    assert parse_automation_condition(value) == expected
    assert automation_condition_problem(value, PATH) is None


CRON_FIX = (
    'write five fields separated by spaces, minute hour day-of-month month day-of-week, e.g. "0 6 '
    '* * *" (06:00 every day) or "*/15 * * * 1-5" (every 15 minutes on weekdays)'
)
SHAPE_FIX = (
    'write `automation_condition: eager` or `automation_condition: {on_cron: "0 6 * * *", '
    "timezone: UTC}`"
)


@pytest.mark.parametrize(
    ("value", "message", "fix"),
    [
        ("Eager", "'Eager' is not an automation condition; allowed: eager, {on_cron: ...}.",
         "write eager"),
        ("on_cron", "'on_cron' is not an automation condition; allowed: eager, {on_cron: ...}.",
         SHAPE_FIX),
        (60, "expected eager or a mapping with on_cron, got 60.", SHAPE_FIX),
        (None, "expected eager or a mapping with on_cron, got null.", SHAPE_FIX),
        ({"cron": "0 6 * * *"}, "unknown key 'cron'; allowed keys: on_cron, timezone.",
         "remove it; give the schedule as on_cron and its zone as timezone"),
        ({"timezone": "UTC"}, "on_cron is missing; it must be a cron string.", CRON_FIX),
        ({"on_cron": "0 6 * *"}, "on_cron: '0 6 * *' has 4 field(s), a cron has 5.", CRON_FIX),
        ({"on_cron": "60 * * * *"}, "on_cron: '60 * * * *': minute '60': 60 is outside 0-59.",
         CRON_FIX),
        ({"on_cron": "0 6-2 * * *"},
         "on_cron: '0 6-2 * * *': hour '6-2': the range '6-2' runs backwards: write the lower "
         "value first.", CRON_FIX),
        ({"on_cron": "*/0 * * * *"},
         "on_cron: '*/0 * * * *': minute '*/0': the step '0' is not a whole number above 0.",
         CRON_FIX),
        ({"on_cron": "0 0 * foo *"}, "on_cron: '0 0 * foo *': month 'foo': 'foo' is not a number.",
         CRON_FIX),
        ({"on_cron": "0 0 30 2 *"}, "on_cron: '0 0 30 2 *' never fires: February has no day 30.",
         CRON_FIX),
        ({"on_cron": "@daily"},
         "on_cron: '@daily' is an alias; write its five fields instead: '0 0 * * *'.", CRON_FIX),
        ({"on_cron": "0 6 * * *", "timezone": "europe/paris"},
         "timezone 'europe/paris' is not a known IANA time zone.", "write 'Europe/Paris'"),
        ({"on_cron": "0 6 * * *", "timezone": "Mars/Olympus"},
         "timezone 'Mars/Olympus' is not a known IANA time zone.",
         "use an IANA time zone name such as 'UTC', 'Europe/Paris' or 'America/New_York'"),
        ({"on_cron": "0 6 * * *", "timezone": 1},
         "timezone is 1; it must be an IANA time zone name.",
         "write a name such as UTC or Europe/Paris, or leave timezone out (UTC)"),
    ],
    ids=[
        "case", "bare_key", "number", "null", "unknown_key", "no_cron", "four_fields",
        "minute_range", "backwards", "zero_step", "month_name", "february_30", "alias",
        "zone_case", "zone_unknown", "zone_type",
    ],
)  # fmt: skip
def test_bad_values_are_reported_with_path_value_and_fix(value: object, message: str, fix: str):
    assert automation_condition_problem(value, PATH) == DeclarationProblem(PATH, message, fix)
    with pytest.raises(ValueError, match=r"^") as raised:  # the whole message, just below
        parse_automation_condition(value)
    assert str(raised.value) == f"{message.rstrip('.')}: {fix}"


class Declared(BaseModel):
    """A model holding the field as `DynamicTable` will (integration)."""

    model_config = ConfigDict(extra="forbid")
    automation_condition: Annotated[
        AutomationConditionField | None, automation_condition_field()
    ] = None


def test_the_field_validates_in_a_model_with_one_error_in_our_words():
    assert Declared().automation_condition is None
    assert Declared.model_validate({"automation_condition": "eager"}).automation_condition == EAGER
    declared = Declared.model_validate({"automation_condition": {"on_cron": "0 6 * * *"}})
    assert declared.automation_condition == OnCron(on_cron="0 6 * * *")
    with pytest.raises(ValidationError) as raised:
        Declared.model_validate({"automation_condition": {"on_cron": "0 6 * *"}})
    errors = raised.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [(("automation_condition",), "value_error")]
    assert str(errors[0].get("ctx", {}).get("error")) == (
        f"on_cron: '0 6 * *' has 4 field(s), a cron has 5: {CRON_FIX}"
    )


def test_the_json_schema_offers_eager_and_on_cron():
    schema = Declared.model_json_schema()
    text = str(schema)
    assert "'const': 'eager'" in text
    assert "on_cron" in text
    assert "Only for scheduler: DISABLE" in text


def test_only_disable_tables_take_a_condition_and_eager_is_their_default():
    on_cron = OnCron(on_cron="0 6 * * *")
    assert effective_automation_condition("DISABLE", None) == EAGER
    assert effective_automation_condition("DISABLE", on_cron) == on_cron
    assert effective_automation_condition("ENABLE", None) is None
    assert scheduler_problem("DISABLE", on_cron, "dynamic_tables[1]") is None
    assert scheduler_problem("ENABLE", None, "dynamic_tables[1]") is None
    assert scheduler_problem("ENABLE", EAGER, "dynamic_tables[1]") == DeclarationProblem(
        "dynamic_tables[1].automation_condition",
        "automation_condition is set, but the table has scheduler: ENABLE: Snowflake refreshes it "
        "on its target lag and Dagster never runs it.",
        "remove automation_condition, or set scheduler: DISABLE so that Dagster refreshes the "
        "table (ALTER DYNAMIC TABLE ... REFRESH) when the condition says",
    )


@pytest.mark.parametrize(
    "cron",
    ["0 6 * * *", "*/15 * * * 1-5", "0 0 1,15 jan-jun 0-7/2", "5/10 * * * *", "0 0 29 2 *",
     "59 23 31 12 7", "0 9 * * mon,wed,fri"],
)  # fmt: skip
def test_every_cron_accepted_here_is_valid_for_dagster(cron: str):
    from dagster._utils.schedules import is_valid_cron_string  # the check on_cron relies on

    parse_automation_condition({"on_cron": cron})
    assert is_valid_cron_string(cron)
