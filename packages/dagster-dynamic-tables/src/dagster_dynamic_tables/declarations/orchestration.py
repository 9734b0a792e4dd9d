"""The `automation_condition` field of a Dynamic Table declared with `scheduler: DISABLE`: when
Dagster refreshes the table (issue 18, "Orchestrated Dynamic Tables"). No Dagster here: the
Dagster conditions are built from these values in `definitions.orchestrated`.

In YAML, one of:

- `automation_condition: eager`: refresh after an upstream source or table is materialized, or
  its refresh recorded (another tenant's included). The default for a `scheduler: DISABLE` table.
- `automation_condition: {on_cron: "0 6 * * *", timezone: Europe/Paris}`: refresh on a cron
  schedule, once the upstream assets have updated since the last tick of the cron (Dagster's
  `AutomationCondition.on_cron`). `timezone` is an IANA name; default `UTC`.

Entry API (for the model and the loader):

- `AutomationConditionField`: the annotated type of the field (`AutomationConditionDeclaration`,
  i.e. `"eager"` or an `OnCron`), whose validator reports a bad value as one `ValueError` in this
  package's words; `automation_condition_field()` gives the pydantic `Field` (default None,
  description and examples for the JSON schema).
- `automation_condition_problem(value, path)`: the same check as a `DeclarationProblem` (path,
  message with the bad value, fix), for callers that hold raw YAML.
- `scheduler_problem(scheduler, declared, path)`: the problem of an `automation_condition` on a
  table Snowflake schedules (`scheduler: ENABLE`): only DISABLE tables are refreshed by Dagster.
- `effective_automation_condition(scheduler, declared)`: what a table runs on (DISABLE: the
  declared condition, else `eager`; ENABLE: None, Snowflake refreshes it).
- `CronText`, `TimezoneName`: the types of a source's `data_tests_cron` and `data_tests_timezone`
  (the same checks as `on_cron` and `timezone`); `data_tests_schedule_problems(cron, timezone,
  has_tests, path)` reports them for the loader, with the fix apart.

The cron is checked here without Dagster (croniter is not installed on its own; Dagster vendors
it): five fields (minute, hour, day of month, month, day of week) of numbers, `*`, ranges `a-b`,
steps `/n` and lists `a,b`, month and weekday names (`jan`, `mon`). This is narrower than what
Dagster's vendored croniter accepts: `@daily`-style aliases, `L`, `W`, `#` and `?` are refused
with the five-field form to write instead, so that what passes here always passes Dagster.
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from dagster_dynamic_tables.errors import DeclarationProblem

EAGER = "eager"
DEFAULT_TIMEZONE = "UTC"
FIELD = "automation_condition"
SCHEDULER_DISABLE = "DISABLE"


class OnCron(BaseModel):
    """`{on_cron: "<cron>", timezone: "<IANA name>"}`: refresh on a cron schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_cron: str = Field(
        description="Five-field cron (minute hour day-of-month month day-of-week).",
        examples=["0 6 * * *"],
    )
    timezone: str = Field(
        default=DEFAULT_TIMEZONE,
        description="IANA time zone of the cron (default UTC).",
        examples=["Europe/Paris"],
    )


AutomationConditionDeclaration = Literal["eager"] | OnCron
"""A validated `automation_condition`: `"eager"` or an `OnCron`."""


@dataclass(frozen=True)
class _Bad:
    message: str
    fix: str


# --- cron ------------------------------------------------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _CronField:
    name: str
    low: int
    high: int
    names: Mapping[str, int]


_CRON_FIELDS = (
    _CronField("minute", 0, 59, {}),
    _CronField("hour", 0, 23, {}),
    _CronField("day of month", 1, 31, {}),
    _CronField("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    _CronField("day of week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),
)
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_CRON_FIX = (
    'write five fields separated by spaces, minute hour day-of-month month day-of-week, e.g. "0 6 '
    '* * *" (06:00 every day) or "*/15 * * * 1-5" (every 15 minutes on weekdays)'
)


def _cron_value(text: str, spec: _CronField) -> int:
    value = spec.names.get(text.lower())
    if value is None:
        if not text.isdigit():
            raise ValueError(f"{text!r} is not a number")
        value = int(text)
    if not spec.low <= value <= spec.high:
        raise ValueError(f"{value} is outside {spec.low}-{spec.high}")
    return value


def _cron_item(item: str, spec: _CronField) -> set[int]:
    """The values one comma-separated item of a cron field stands for."""
    base, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"the step {step_text!r} is not a whole number above 0")
        step = int(step_text)
    if base == "*":
        low, high = spec.low, spec.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _cron_value(first, spec), _cron_value(last, spec)
        if low > high:
            raise ValueError(f"the range {base!r} runs backwards: write the lower value first")
    else:
        low = _cron_value(base, spec)
        high = spec.high if step_text else low
    return set(range(low, high + 1, step))


def _cron_problem(cron: str) -> str | None:
    """What is wrong with a cron, or None."""
    text = cron.strip()
    if text.lower() in _ALIASES:
        return f"{cron!r} is an alias; write its five fields instead: {_ALIASES[text.lower()]!r}"
    parts = text.split()
    if len(parts) != len(_CRON_FIELDS):
        return f"{cron!r} has {len(parts)} field(s), a cron has {len(_CRON_FIELDS)}"
    values: list[set[int]] = []
    for part, spec in zip(parts, _CRON_FIELDS, strict=True):
        found: set[int] = set()
        for item in part.split(","):
            try:
                found |= _cron_item(item, spec)
            except ValueError as e:
                return f"{cron!r}: {spec.name} {part!r}: {e}"
        values.append(found)
    if values[3] == {2} and len(values[2]) == 1 and values[2] <= {30, 31}:
        return f"{cron!r} never fires: February has no day {next(iter(values[2]))}"
    return None


# --- time zone -------------------------------------------------------------------------------


@functools.cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _timezone_problem(name: str) -> _Bad | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    else:
        return None
    names = _zone_names()
    same_case = [zone for zone in names if zone.lower() == name.strip().lower()]
    close = same_case or difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    fix = (
        f"write {close[0]!r}"
        if close
        else "use an IANA time zone name such as 'UTC', 'Europe/Paris' or 'America/New_York'"
    )
    return _Bad(f"timezone {name!r} is not a known IANA time zone.", fix)


# --- the field -------------------------------------------------------------------------------

_SHAPE_FIX = (
    'write `automation_condition: eager` or `automation_condition: {on_cron: "0 6 * * *", '
    "timezone: UTC}`"
)


def _shown(value: object) -> str:
    # Not `problems.describe`: problems imports the models, which import this module.
    return "null" if value is None else repr(value)


def _parse(value: object) -> AutomationConditionDeclaration | _Bad:
    if isinstance(value, OnCron):
        value = value.model_dump()
    if isinstance(value, str):
        if value == EAGER:
            return EAGER
        fix = "write eager" if value.strip().lower() == EAGER else _SHAPE_FIX
        return _Bad(
            f"{value!r} is not an automation condition; allowed: eager, {{on_cron: ...}}.", fix
        )
    if not isinstance(value, Mapping):
        return _Bad(f"expected eager or a mapping with on_cron, got {_shown(value)}.", _SHAPE_FIX)
    raw = cast("Mapping[object, Any]", value)
    unknown = [str(key) for key in raw if key not in OnCron.model_fields]
    if unknown:
        return _Bad(
            f"unknown key {unknown[0]!r}; allowed keys: on_cron, timezone.",
            "remove it; give the schedule as on_cron and its zone as timezone",
        )
    cron = raw.get("on_cron")
    if not isinstance(cron, str):
        shown = "is missing" if cron is None else f"is {_shown(cron)}"
        return _Bad(f"on_cron {shown}; it must be a cron string.", _CRON_FIX)
    problem = _cron_problem(cron)
    if problem is not None:
        return _Bad(f"on_cron: {problem}.", _CRON_FIX)
    timezone = raw.get("timezone", DEFAULT_TIMEZONE)
    if not isinstance(timezone, str):
        return _Bad(
            f"timezone is {_shown(timezone)}; it must be an IANA time zone name.",
            "write a name such as UTC or Europe/Paris, or leave timezone out (UTC)",
        )
    bad_zone = _timezone_problem(timezone)
    if bad_zone is not None:
        return bad_zone
    return OnCron(on_cron=" ".join(cron.split()), timezone=timezone)


def parse_automation_condition(value: object) -> AutomationConditionDeclaration:
    """The validated condition; raise `ValueError` saying what is wrong and how to write it."""
    parsed = _parse(value)
    if isinstance(parsed, _Bad):
        raise ValueError(f"{parsed.message.rstrip('.')}: {parsed.fix}")
    return parsed


def automation_condition_problem(value: object, path: str) -> DeclarationProblem | None:
    """The problem of a raw `automation_condition` value at YAML path `path` (the field's own
    path, `dynamic_tables[2].automation_condition`), or None when it is valid."""
    parsed = _parse(value)
    if isinstance(parsed, _Bad):
        return DeclarationProblem(path, parsed.message, parsed.fix)
    return None


AutomationConditionField = Annotated[
    AutomationConditionDeclaration, BeforeValidator(parse_automation_condition)
]
"""The type of `DynamicTable.automation_condition` (with `automation_condition_field()`)."""


def automation_condition_field() -> Any:
    """The pydantic `Field` of `automation_condition` on `DynamicTable` (default None)."""
    return Field(
        default=None,
        description="When Dagster refreshes a scheduler: DISABLE table: eager (default: after "
        "an upstream source or table is updated) or {on_cron: '<cron>', timezone: '<IANA "
        "zone>'} (on a schedule, default zone UTC). Only for scheduler: DISABLE.",
        examples=[EAGER, {"on_cron": "0 6 * * *", "timezone": "Europe/Paris"}],
    )


def scheduler_problem(
    scheduler: str, declared: AutomationConditionDeclaration | None, path: str
) -> DeclarationProblem | None:
    """The problem of an `automation_condition` declared on a table Snowflake schedules; `path`
    is the table's YAML path (`dynamic_tables[2]`)."""
    if declared is None or scheduler == SCHEDULER_DISABLE:
        return None
    return DeclarationProblem(
        f"{path}.{FIELD}" if path else FIELD,
        f"automation_condition is set, but the table has scheduler: {scheduler}: Snowflake "
        "refreshes it on its target lag and Dagster never runs it.",
        "remove automation_condition, or set scheduler: DISABLE so that Dagster refreshes the "
        "table (ALTER DYNAMIC TABLE ... REFRESH) when the condition says",
    )


def effective_automation_condition(
    scheduler: str, declared: AutomationConditionDeclaration | None
) -> AutomationConditionDeclaration | None:
    """What the table runs on: for scheduler DISABLE the declared condition, else eager; for a
    table Snowflake schedules, None (Dagster does not refresh it)."""
    if scheduler != SCHEDULER_DISABLE:
        return None
    return EAGER if declared is None else declared


# --- a source's data test schedule -------------------------------------------------------------

CRON_FIELD = "data_tests_cron"
TIMEZONE_FIELD = "data_tests_timezone"


def _check_cron(value: str) -> str:
    problem = _cron_problem(value)
    if problem is not None:
        raise ValueError(f"{problem}: {_CRON_FIX}")
    return " ".join(value.split())


def _check_timezone(value: str) -> str:
    bad = _timezone_problem(value)
    if bad is not None:
        raise ValueError(f"{bad.message.rstrip('.')}: {bad.fix}")
    return value


CronText = Annotated[str, AfterValidator(_check_cron)]
"""A five-field cron, checked as `on_cron` is (spaces normalized)."""
TimezoneName = Annotated[str, AfterValidator(_check_timezone)]
"""An IANA time zone name, checked as `timezone` is."""


def data_tests_schedule_problems(
    cron: object, timezone: object, *, has_tests: bool, path: str
) -> list[DeclarationProblem]:
    """The problems of a source's raw `data_tests_cron` / `data_tests_timezone` (None when not
    given) at the source's YAML path `path` (`sources[0]`); `has_tests` says whether the source
    declares data tests (a cron without any is a mistake)."""
    problems: list[DeclarationProblem] = []
    cron_path, zone_path = f"{path}.{CRON_FIELD}", f"{path}.{TIMEZONE_FIELD}"
    if cron is not None:
        if not isinstance(cron, str):
            problems.append(
                DeclarationProblem(
                    cron_path, f"expected a cron string, got {_shown(cron)}.", _CRON_FIX
                )
            )
        else:
            problem = _cron_problem(cron)
            if problem is not None:
                problems.append(DeclarationProblem(cron_path, f"{problem}.", _CRON_FIX))
        if not has_tests:
            problems.append(
                DeclarationProblem(
                    cron_path,
                    "data_tests_cron is set, but the source declares no data_tests: nothing "
                    "would run on it.",
                    "declare the source's tests under data_tests:, or remove data_tests_cron",
                )
            )
    if timezone is not None:
        if not isinstance(timezone, str):
            problems.append(
                DeclarationProblem(
                    zone_path,
                    f"expected an IANA time zone name, got {_shown(timezone)}.",
                    "write a name such as UTC or Europe/Paris, or leave it out (UTC)",
                )
            )
        else:
            bad = _timezone_problem(timezone)
            if bad is not None:
                problems.append(DeclarationProblem(zone_path, bad.message, bad.fix))
        if cron is None:
            problems.append(
                DeclarationProblem(
                    zone_path,
                    "data_tests_timezone is set without data_tests_cron: it is the time zone "
                    "of that cron.",
                    'add data_tests_cron: "<cron>", or remove data_tests_timezone',
                )
            )
    return problems
