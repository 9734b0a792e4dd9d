"""The per-tenant health checks as Dagster definitions.

One `@multi_asset_check(can_subset=True)` per DT declares its four checks, so they show in the UI
before any evaluation. The freshness sensor supplies evaluations on its own; running a DT's checks
from the UI asks Snowflake once (the state statement) and evaluates with the same code.

Why one definition per DT and not one per tenant: Dagster rebuilds an `AssetChecksDefinition`
for every check key over all the specs of the definition that holds it when it resolves the asset
graph of a YAML component (`RepositoryData.get_asset_checks_defs_by_key`). One definition for the
whole tenant makes loading quadratic in the number of DTs (about a minute for 1,000 DTs); one per
DT keeps it linear (`tests/benchmarks/bench_specs.py`).

One definition per DT means one step per DT when a run executes many DTs' checks (the UI's
"Execute all checks" of a tenant). Two things keep such a run from costing one Snowflake login
and one statement per DT:

- `check_runs_in_process_executor` (the tenant's default executor) executes a run made only of
  asset checks in the run's own process; any other run goes to Dagster's default executor as
  before (one process per step, unless its config says `in_process`). Under the multiprocess
  executor every step would start a Python process that loads the whole code location.
- The first health step of a run reads the states of all the tenant's DTs whose health steps this
  process executes in the run (one connection, one statement: `fetch_states`) and keeps them for
  the run: the other steps of the run evaluate from that read, with the time of the read, so each
  DT's results are those its own step would have computed at that moment. The read is keyed by
  run id (never served to another run) and dropped a few runs later. A step that is alone in its
  process (a DT's checks run alone, or any step under the multiprocess executor) reads its DT by
  name as before. A Snowflake fault during the shared read fails every step of the run with the
  same message, without asking Snowflake again.
"""

# No `from __future__ import annotations`: Dagster reads the check function's annotations
# (context type, resource type) at definition time.
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import dagster as dg
from dagster_snowflake import SnowflakeResource

from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.health.rules import (
    CHECK_NAMES,
    MATCHES_DECLARATION,
    REFRESH_SUCCEEDED,
    SCHEDULING_ACTIVE,
    WITHIN_TARGET_LAG,
    evaluate_dynamic_table,
    to_check_event,
)
from dagster_dynamic_tables.snowflake_io.faults import EXPECTED_FAULTS, describe_fault
from dagster_dynamic_tables.snowflake_io.session import read_snowflake
from dagster_dynamic_tables.sql.records import DynamicTableState
from dagster_dynamic_tables.sql.statements import fetch_states

CHECK_DESCRIPTIONS = {
    REFRESH_SUCCEEDED: (
        "The last completed refresh is not FAILED, UPSTREAM_FAILED or CANCELLED (SKIPPED passes)."
    ),
    SCHEDULING_ACTIVE: (
        "Snowflake schedules refreshes: the table is not SUSPENDED (a table declared with "
        "scheduler: DISABLE passes: it refreshes only when asked)."
    ),
    WITHIN_TARGET_LAG: (
        "Now minus the latest data timestamp is within the target lag "
        "(WARN above 1.5x, ERROR above 2x; DOWNSTREAM tables and tables with scheduler: "
        "DISABLE pass)."
    ),
    MATCHES_DECLARATION: (
        "Target lag, refresh mode (a declared AUTO matches the mode Snowflake chose), warehouse "
        "and query (whitespace and keyword case aside) in Snowflake match the YAML."
    ),
}

RUNS_KEPT = 4
"""How many runs' shared reads a process keeps (a run worker executes one run; more only when
runs execute in one process, as in tests)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_check_specs(tenant: Tenant, dt: DynamicTable) -> list[dg.AssetCheckSpec]:
    """The four check specs of one DT of the tenant."""
    return [
        dg.AssetCheckSpec(
            name=check,
            asset=dg.AssetKey(tenant.key_path(dt)),
            description=CHECK_DESCRIPTIONS[check],
        )
        for check in CHECK_NAMES
    ]


def check_name(tenant: Tenant, dt: DynamicTable) -> str:
    """The name of a DT's health-check definition, which is also its step key in a run."""
    return f"{tenant.slug}__{dt.name}__health"


def build_dynamic_table_checks(
    tenant: Tenant, *, clock: Callable[[], datetime] = _utc_now
) -> list[dg.AssetChecksDefinition]:
    """The tenant's DT health checks: one definition per DT, none when it declares no DT.

    Executing them (from the UI, or a job) reads the DTs' states from Snowflake through the
    `snowflake` resource, once per run for the steps that share a process (see the module
    docstring); the freshness sensor reports the same evaluations without a run.
    """
    reads = RunReads(tenant, clock)
    return [_build_checks_of(tenant, dt, reads) for dt in tenant.dynamic_tables]


@dataclass(frozen=True)
class StateRead:
    """One read of DT states: what Snowflake answered, when, or the fault that stopped it."""

    states: Mapping[str, DynamicTableState]
    """By qualified name; a DT that was read and is absent does not exist (or is hidden)."""
    read_at: datetime
    """The clock right after the read: the time the checks are evaluated at."""
    fault: str | None = None
    """Why the read failed (an expected fault, said with its fix), or None."""
    error: Exception | None = None
    """The fault itself, the cause of every step's failure."""


class RunReads:
    """The tenant's shared state reads, one per run, for the DTs whose health steps this process
    executes in the run."""

    def __init__(self, tenant: Tenant, clock: Callable[[], datetime]) -> None:
        self._by_step = {check_name(tenant, dt): dt for dt in tenant.dynamic_tables}
        self._clock = clock
        self._lock = threading.Lock()
        self._reads: OrderedDict[str, StateRead] = OrderedDict()

    def read(
        self, context: dg.AssetCheckExecutionContext, snowflake: SnowflakeResource, dt: DynamicTable
    ) -> StateRead:
        """The state read that `dt`'s step evaluates: the run's shared read when this process
        executes other health steps of the tenant in the run, else a read of `dt` alone."""
        step_keys = context.get_step_execution_context().execution_plan.step_keys_to_execute
        batch = [self._by_step[key] for key in step_keys if key in self._by_step]
        if len(batch) < 2 or dt not in batch:
            return self._read_states(snowflake, [dt])
        run_id = context.run.run_id
        with self._lock:  # one read per run even if steps run on threads
            shared = self._reads.get(run_id)
            if shared is None:
                shared = self._read_states(snowflake, batch)
                self._reads[run_id] = shared
                while len(self._reads) > RUNS_KEPT:
                    self._reads.popitem(last=False)
            return shared

    def _read_states(self, snowflake: SnowflakeResource, dts: Sequence[DynamicTable]) -> StateRead:
        try:
            states = read_snowflake(snowflake, lambda connection: fetch_states(connection, dts))
        except EXPECTED_FAULTS as error:
            reason = describe_fault(error, snowflake)
            if reason is None:
                raise
            return StateRead({}, self._clock(), reason, error)
        return StateRead(states, self._clock())


def _build_checks_of(tenant: Tenant, dt: DynamicTable, reads: RunReads) -> dg.AssetChecksDefinition:
    key = dg.AssetKey(tenant.key_path(dt))

    @dg.multi_asset_check(
        specs=build_check_specs(tenant, dt),
        can_subset=True,
        name=check_name(tenant, dt),
        description=f"Health of the Snowflake Dynamic Table {dt.qualified_name.resolved}.",
    )
    def dynamic_table_health(
        context: dg.AssetCheckExecutionContext, snowflake: SnowflakeResource
    ) -> Iterator[dg.AssetCheckResult]:
        selected = context.selected_asset_check_keys
        read = reads.read(context, snowflake, dt)
        if read.fault is not None:
            # Unknown health is not a failed check: the run fails, saying why and how to fix it.
            raise dg.Failure(description=read.fault) from read.error
        state = read.states.get(dt.qualified_name.resolved)
        for outcome in evaluate_dynamic_table(dt, state, read.read_at):
            if dg.AssetCheckKey(key, outcome.check_name) in selected:
                yield to_check_event(dg.AssetCheckResult, key, outcome)

    return dynamic_table_health


# The executor ------------------------------------------------------------------------------------
# Dagster exports `Executor` but not the types its `execute` receives (`PlanOrchestrationContext`,
# `ExecutionPlan`, from `dagster._core`): they are `Any` here, and only what the public docs of
# `Executor` describe is used of them (the plan's steps and their outputs).


def _only_asset_checks(execution_plan: Any) -> bool:
    """Whether every step of the plan only evaluates asset checks (no asset, no plain op)."""
    steps = execution_plan.get_steps_to_execute_in_topo_order()
    return bool(steps) and all(
        step.step_outputs
        and all(output.properties.asset_check_key is not None for output in step.step_outputs)
        for step in steps
    )


class CheckRunsInProcessExecutor(dg.Executor):
    """Dagster's default executor, except that a run made only of asset checks executes in the
    run's process."""

    def __init__(self, default: dg.Executor, in_process: dg.Executor) -> None:
        self._default = default
        self._in_process = in_process

    @property
    def retries(self) -> Any:
        return self._default.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._default.step_dependency_config

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        chosen = self._in_process if _only_asset_checks(execution_plan) else self._default
        return chosen.execute(plan_context, execution_plan)


def _create_check_runs_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    config = init_context.executor_config
    default = _create(dg.multi_or_in_process_executor, init_context, config)
    # {"multiprocess": {...}} or {"in_process": {...}}: both modes have retries and step
    # dependencies, which the in-process executor of a checks-only run keeps.
    (mode,) = config.values()
    mode_config = cast("Mapping[str, object]", mode)
    same = {k: v for k, v in mode_config.items() if k in ("retries", "step_dependency_config")}
    in_process = _create(dg.in_process_executor, init_context, same)
    return CheckRunsInProcessExecutor(default, in_process)


def _create(
    definition: dg.ExecutorDefinition,
    init_context: dg.InitExecutorContext,
    config: Mapping[str, object],
) -> dg.Executor:
    creation = definition.executor_creation_fn
    if creation is None:  # never for Dagster's own executors
        raise TypeError(f"executor {definition.name!r} has no creation function")
    return creation(
        dg.InitExecutorContext(
            job=init_context.job,
            executor_def=definition,
            executor_config=config,
            instance=init_context.instance,
        )
    )


check_runs_in_process_executor = dg.ExecutorDefinition(
    name="check_runs_in_process_else_default",
    config_schema=dg.multi_or_in_process_executor.config_schema.as_field(),
    requirements=dg.multi_or_in_process_executor.get_requirements,
    executor_creation_fn=_create_check_runs_executor,
    description=(
        "Dagster's default executor (multiprocess unless configured `in_process`), except that "
        "a run made only of asset checks executes in the run's process, where the Dynamic Table "
        "health checks share one Snowflake read."
    ),
)
