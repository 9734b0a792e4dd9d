"""The four health checks of a Dynamic Table, evaluated from what Snowflake reports.

Pure functions of (declaration, typed state, now): the freshness sensor and the checks' own
execution (from the UI) share them, so both give the same answer for the same state.

- `refresh_succeeded`: the last completed refresh is not FAILED / UPSTREAM_FAILED / CANCELLED
  (a SKIPPED refresh passes: Snowflake skips a refresh when the previous one is still running or
  nothing is due, which is normal).
- `scheduling_active`: the table is not SUSPENDED (RUNNING and ACTIVE both count as active).
- `within_target_lag`: now - latest data timestamp against the declared target lag: WARN above
  `LAG_WARN_FACTOR` (1.5x), ERROR above 2x. Not 1x: Snowflake lets the lag approach the target
  before a refresh lands, so a 1-minute table sampled every tick would swing between pass and
  warn (each swing an event). Snowflake's own statistics (mean and maximum lag, time within
  target ratio) and the lag in seconds go in the metadata, as numbers.
  A DOWNSTREAM table has no lag of its own to meet (Snowflake refreshes it
  only when a downstream table needs it), so it passes and reports its lag as metadata.
- `matches_declaration`: target lag, refresh mode, warehouse and the query as declared (the
  query normalised, `query_text.same_query`: whitespace, comments and keyword case do not count). A
  declared AUTO refresh mode matches the mode Snowflake chose, which the check names.

A table declared with `scheduler: DISABLE` refreshes only when asked (ALTER DYNAMIC TABLE ...
REFRESH): `scheduling_active` and `within_target_lag` pass for it, saying so; its failed
`refresh_succeeded` says how to fix it (metadata `fix`), in the words of the orchestrated step
that failed (`sql.manual_refresh.failed_refresh_fix`).

A table Snowflake does not list, or whose metadata it hides (no MONITOR privilege), fails all
four with a message saying so: unknown is never reported as healthy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

import dagster as dg

from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.declarations.identifiers import parse_identifier
from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.metadata import (  # the check names live with the other names
    CHECK_NAMES as CHECK_NAMES,
)
from dagster_dynamic_tables.metadata import (
    MATCHES_DECLARATION as MATCHES_DECLARATION,
)
from dagster_dynamic_tables.metadata import (
    REFRESH_SUCCEEDED as REFRESH_SUCCEEDED,
)
from dagster_dynamic_tables.metadata import (
    SCHEDULING_ACTIVE as SCHEDULING_ACTIVE,
)
from dagster_dynamic_tables.metadata import (
    WITHIN_TARGET_LAG as WITHIN_TARGET_LAG,
)
from dagster_dynamic_tables.sql.manual_refresh import failed_refresh_fix
from dagster_dynamic_tables.sql.query_text import extract_query, same_query
from dagster_dynamic_tables.sql.records import (
    DOWNSTREAM,
    FAILED_STATES,
    SUCCEEDED,
    DynamicTableState,
    as_utc,
)

SIGNATURE_BYTES = 2
LAG_WARN_FACTOR = 1.5
"""`within_target_lag` warns above this multiple of the target lag (and errors above 2x)."""
SKIPPED = "SKIPPED"
Severity = Literal["WARN", "ERROR"]
MetadataScalar = str | int | float | bool | None


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check on one Dynamic Table.

    `kind` names the situation without the numbers that change every tick (`ok`, `warn`,
    `failed:FAILED:002003`, `suspended:USER_SUSPENDED`, ...): the sensor reports a check again only
    when its pass/fail, severity or kind changes.
    """

    check_name: str
    passed: bool
    severity: Severity
    kind: str
    description: str
    metadata: Mapping[str, MetadataScalar] = field(default_factory=dict[str, MetadataScalar])

    @property
    def signature(self) -> str:
        """Short stable digest (4 hex digits) of (passed, severity, kind): what the sensor
        compares to decide whether a check's outcome changed."""
        return signature_of(self.passed, self.severity, self.kind)

    def dagster_metadata(self) -> dict[str, dg.MetadataValue]:
        values: dict[str, dg.MetadataValue] = {md.OUTCOME: dg.MetadataValue.text(self.kind)}
        for key, value in self.metadata.items():
            if value is None:
                continue
            if isinstance(value, bool):
                values[key] = dg.MetadataValue.bool(value)
            elif isinstance(value, int):
                values[key] = dg.MetadataValue.int(value)
            elif isinstance(value, float):
                values[key] = dg.MetadataValue.float(value)
            else:
                values[key] = dg.MetadataValue.text(value)
        return values


def signature_of(passed: bool, severity: str, kind: str) -> str:
    text = f"{passed}|{severity}|{kind}"
    return hashlib.blake2s(text.encode(), digest_size=SIGNATURE_BYTES).hexdigest()


def stored_signature(evaluation: dg.AssetCheckEvaluation) -> str | None:
    """The signature of an evaluation the instance holds (its `outcome` metadata is the kind);
    None for one without it (reported before the kind was stored): it then counts as changed."""
    outcome = evaluation.metadata.get(md.OUTCOME)
    kind = outcome.value if isinstance(outcome, dg.TextMetadataValue) else None
    if not isinstance(kind, str):
        return None
    return signature_of(evaluation.passed, evaluation.severity.value, kind)


def _severity(severity: Severity) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.WARN if severity == "WARN" else dg.AssetCheckSeverity.ERROR


CheckEvent = TypeVar("CheckEvent", dg.AssetCheckEvaluation, dg.AssetCheckResult)


def to_check_event(
    kind: type[CheckEvent], asset_key: dg.AssetKey, outcome: CheckOutcome
) -> CheckEvent:
    """One outcome as the event the sensor reports, runless (`dg.AssetCheckEvaluation`), or as
    the result the checks' own execution yields (`dg.AssetCheckResult`): the same fields."""
    return kind(
        asset_key=asset_key,
        check_name=outcome.check_name,
        passed=outcome.passed,
        severity=_severity(outcome.severity),
        description=outcome.description,
        metadata=outcome.dagster_metadata(),
    )


def evaluate_dynamic_table(
    dt: DynamicTable, state: DynamicTableState | None, now: datetime
) -> tuple[CheckOutcome, ...]:
    """All four checks for one DT; `state` is None when Snowflake does not list the table."""
    name = dt.qualified_name.resolved
    if state is None:
        description = (
            f"{name} does not exist in Snowflake, or this role cannot see it. Fix: create it "
            "(`uv run dynamic-tables local start` on the local stand-in, a deployment otherwise) "
            "or grant the role access to it."
        )
        return _all_failed("missing", description, name)
    if state.metadata_hidden:
        description = (
            f"Snowflake hides the metadata of {name} from this role (only the name columns are "
            "filled), so its health is unknown. Fix: GRANT MONITOR ON DYNAMIC TABLE "
            f"{dt.qualified_name.sql} TO ROLE <the sensor's role>."
        )
        return _all_failed("no_monitor", description, name)
    return (
        refresh_succeeded(dt, state),
        scheduling_active(dt, state),
        within_target_lag(dt, state, now),
        matches_declaration(dt, state),
    )


def _all_failed(kind: str, description: str, name: str) -> tuple[CheckOutcome, ...]:
    return tuple(
        CheckOutcome(check, False, "ERROR", kind, description, {md.QUALIFIED_NAME: name})
        for check in CHECK_NAMES
    )


def refresh_succeeded(dt: DynamicTable, state: DynamicTableState) -> CheckOutcome:
    name = dt.qualified_name.resolved
    last = state.last_completed_refresh_state
    code = state.last_completed_refresh_state_code
    message = state.last_completed_refresh_state_message
    meta: dict[str, MetadataScalar] = {
        md.QUALIFIED_NAME: name,
        md.STATE: last,
        md.STATE_CODE: code,
        md.STATE_MESSAGE: message,
    }
    if last == SUCCEEDED:
        return CheckOutcome(
            REFRESH_SUCCEEDED, True, "ERROR", "ok", "The last completed refresh succeeded.", meta
        )
    if last == SKIPPED:
        description = (
            f"The last refresh of {name} was SKIPPED ({message or 'no message'}): Snowflake "
            "skips a refresh when the previous one is still running or nothing is due."
        )
        return CheckOutcome(REFRESH_SUCCEEDED, True, "ERROR", "skipped", description, meta)
    if last in FAILED_STATES:
        description = (
            f"The last completed refresh of {name} is {last} (state code {code or 'none'}): "
            f"{message or 'Snowflake gave no message'}"
        )
        if dt.scheduler == "DISABLE":  # Dagster refreshes it: the orchestrated step's fix
            meta[md.FIX] = failed_refresh_fix(last, code)
            description = f"{description.rstrip('.')}. Fix: {meta[md.FIX]}."
        return CheckOutcome(REFRESH_SUCCEEDED, False, "ERROR", f"{last}:{code}", description, meta)
    if last is None:
        description = (
            f"{name} has no completed refresh in Snowflake's 7-day history, so whether its "
            "refreshes succeed is unknown."
        )
        return CheckOutcome(REFRESH_SUCCEEDED, False, "WARN", "none", description, meta)
    description = f"The last completed refresh of {name} is {last}: {message or 'no message'}"
    return CheckOutcome(REFRESH_SUCCEEDED, False, "WARN", f"{last}:{code}", description, meta)


def scheduling_active(dt: DynamicTable, state: DynamicTableState) -> CheckOutcome:
    name = dt.qualified_name.resolved
    scheduling = state.scheduling_state
    if dt.scheduler == "DISABLE":
        reported = scheduling.state if scheduling is not None else "nothing"
        description = (
            f"Scheduler DISABLE (declared): Snowflake refreshes {name} only when asked "
            f"(ALTER DYNAMIC TABLE {dt.qualified_name.sql} REFRESH), so it is not scheduled "
            f"(Snowflake reports {reported})."
        )
        meta = {md.QUALIFIED_NAME: name, md.SCHEDULING_STATE: reported}
        return CheckOutcome(
            SCHEDULING_ACTIVE, True, "ERROR", "scheduler_disabled", description, meta
        )
    if scheduling is None:
        description = f"Snowflake reported no scheduling state for {name}."
        return CheckOutcome(
            SCHEDULING_ACTIVE, False, "WARN", "unknown", description, {md.QUALIFIED_NAME: name}
        )
    meta: dict[str, MetadataScalar] = {
        md.QUALIFIED_NAME: name,
        md.SCHEDULING_STATE: scheduling.state,
        md.REASON_CODE: scheduling.reason_code,
        md.REASON_MESSAGE: scheduling.reason_message,
    }
    if not scheduling.suspended:
        description = f"Scheduling is {scheduling.state}."
        return CheckOutcome(SCHEDULING_ACTIVE, True, "ERROR", "ok", description, meta)
    reason = scheduling.reason_message or "Snowflake gave no reason"
    description = (
        f"{name} is SUSPENDED ({scheduling.reason_code or 'no reason code'}): {reason}. "
        "Snowflake will not refresh it. Fix the cause, then "
        f"ALTER DYNAMIC TABLE {dt.qualified_name.sql} RESUME."
    )
    return CheckOutcome(
        SCHEDULING_ACTIVE, False, "ERROR", f"suspended:{scheduling.reason_code}", description, meta
    )


def within_target_lag(dt: DynamicTable, state: DynamicTableState, now: datetime) -> CheckOutcome:
    name = dt.qualified_name.resolved
    latest = state.latest_data_timestamp
    lag = None if latest is None else max((as_utc(now) - latest).total_seconds(), 0.0)
    target = dt.lag.seconds
    meta: dict[str, MetadataScalar] = {
        md.QUALIFIED_NAME: name,
        md.LAG_SECONDS: None if lag is None else round(lag, 3),
        md.TARGET_LAG_SECONDS: target,
        md.LATEST_DATA_TIMESTAMP: None if latest is None else latest.isoformat(),
        md.MEAN_LAG_SECONDS: state.mean_lag_sec,
        md.MAXIMUM_LAG_SECONDS: state.maximum_lag_sec,
        md.TIME_WITHIN_TARGET_LAG_RATIO: state.time_within_target_lag_ratio,
    }
    if dt.scheduler == "DISABLE":
        description = (
            "Scheduler DISABLE (declared): the table refreshes only when asked, so its lag is "
            "not held to the target lag" + ("." if lag is None else f" (current lag {lag:.0f} s).")
        )
        return CheckOutcome(
            WITHIN_TARGET_LAG, True, "ERROR", "scheduler_disabled", description, meta
        )
    if target is None:
        description = (
            "Target lag is DOWNSTREAM: Snowflake refreshes this table only when a downstream "
            "Dynamic Table needs it, so it has no lag of its own to meet"
            + ("." if lag is None else f" (current lag {lag:.0f} s).")
        )
        return CheckOutcome(WITHIN_TARGET_LAG, True, "ERROR", "downstream", description, meta)
    if lag is None:
        description = (
            f"{name} has no data timestamp: it has not refreshed successfully yet, so its lag "
            f"cannot be held to the target of {dt.lag.text}."
        )
        return CheckOutcome(WITHIN_TARGET_LAG, False, "ERROR", "no_data", description, meta)
    summary = f"Lag {lag:.0f} s against a target lag of {dt.lag.text} ({target} s)"
    if lag > 2 * target:
        description = f"{summary}: more than twice the target."
        return CheckOutcome(WITHIN_TARGET_LAG, False, "ERROR", "above_2x", description, meta)
    if lag > LAG_WARN_FACTOR * target:
        description = f"{summary}: more than {LAG_WARN_FACTOR:g} times the target."
        return CheckOutcome(WITHIN_TARGET_LAG, False, "WARN", "above_margin", description, meta)
    return CheckOutcome(WITHIN_TARGET_LAG, True, "WARN", "ok", f"{summary}.", meta)


def _reported_lag(state: DynamicTableState) -> str:
    if state.target_lag_type == DOWNSTREAM:
        return DOWNSTREAM
    if state.target_lag_sec is None:
        return "nothing"
    return f"{state.target_lag_sec} s"


def _query_drift(dt: DynamicTable, state: DynamicTableState) -> str | None:
    """Where to look (the query file, or the YAML) when the SELECT Snowflake runs differs from
    the declared one; None when they match or cannot be compared."""
    running = extract_query(state.text) if state.text else None
    if running is None or dt.query is None or same_query(dt.query, running):
        return None
    return dt.query_file or "the query in the tenant's defs.yaml"


def matches_declaration(dt: DynamicTable, state: DynamicTableState) -> CheckOutcome:
    """Declared target lag, refresh mode and warehouse against what Snowflake reports.

    A declared AUTO refresh mode matches whatever mode Snowflake chose (SHOW DYNAMIC TABLES
    reports the resolved FULL or INCREMENTAL).
    """
    name = dt.qualified_name.resolved
    differences: list[str] = []
    declared_lag = dt.lag
    if declared_lag.seconds is None:
        lag_matches = state.target_lag_type == DOWNSTREAM
        declared_lag_text = DOWNSTREAM
    else:
        lag_matches = (
            state.target_lag_type != DOWNSTREAM and state.target_lag_sec == declared_lag.seconds
        )
        declared_lag_text = f"{declared_lag.seconds} s"
    if not lag_matches:
        differences.append(
            f"target_lag: declared {declared_lag.text!r} ({declared_lag_text}), "
            f"Snowflake has {_reported_lag(state)}"
        )
    reported_mode = (state.refresh_mode or "").upper() or None
    if dt.refresh_mode != "AUTO" and reported_mode != dt.refresh_mode:
        differences.append(
            f"refresh_mode: declared {dt.refresh_mode}, Snowflake has {reported_mode or 'nothing'}"
        )
    query_where = _query_drift(dt, state)
    if query_where is not None:
        differences.append(f"query: the SELECT running in Snowflake differs from {query_where}")
    declared_warehouse = parse_identifier(dt.warehouse).resolved
    if state.warehouse != declared_warehouse:
        reported_warehouse = state.warehouse or "nothing"
        differences.append(
            f"warehouse: declared {declared_warehouse}, Snowflake has {reported_warehouse}"
        )
    meta: dict[str, MetadataScalar] = {
        md.QUALIFIED_NAME: name,
        md.TARGET_LAG: declared_lag.text,
        md.REFRESH_MODE: dt.refresh_mode,
        md.WAREHOUSE: declared_warehouse,
        f"snowflake_{md.TARGET_LAG}": state.target_lag or _reported_lag(state),
        f"snowflake_{md.REFRESH_MODE}": reported_mode,
        f"snowflake_{md.WAREHOUSE}": state.warehouse,
    }
    if not differences:
        mode = (
            f"refresh mode (AUTO: Snowflake chose {reported_mode})"
            if dt.refresh_mode == "AUTO" and reported_mode
            else "refresh mode"
        )
        compared = "" if state.text is None or dt.query is None else ", query"
        return CheckOutcome(
            MATCHES_DECLARATION,
            True,
            "WARN",
            "ok",
            f"Target lag, {mode}, warehouse{compared} match the declaration.",
            meta,
        )
    meta[md.DIFFERENCES] = "; ".join(differences)
    if query_where is not None:
        fix = (
            "run `uv run dynamic-tables plan` to see the change and `uv run dynamic-tables "
            f"apply` to deploy the declared query (it reinitializes the table), or change "
            f"{query_where} to what Snowflake runs."
        )
    else:
        fix = (
            "deploy the declaration again (CREATE OR REPLACE / ALTER DYNAMIC TABLE ... SET), or "
            "change the YAML to what Snowflake has."
        )
    description = f"{name} differs from its declaration: {'; '.join(differences)}. Fix: {fix}"
    kind = "drift:" + ",".join(difference.split(":", 1)[0] for difference in differences)
    return CheckOutcome(MATCHES_DECLARATION, False, "WARN", kind, description, meta)
