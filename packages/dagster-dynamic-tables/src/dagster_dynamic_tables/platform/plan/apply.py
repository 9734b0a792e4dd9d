"""`apply_plan`: run one tenant's plan upstream first, asking before what reinitializes; and
`confirm_on_terminal`, the question an interactive `apply` asks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from dagster_dynamic_tables.declarations.models import SourceTable
from dagster_dynamic_tables.errors import PlanError
from dagster_dynamic_tables.platform.plan.build import PENDING, Action, Cursor, TenantPlan
from dagster_dynamic_tables.platform.plan.show import LABELS, headline
from dagster_dynamic_tables.sql import ddl

__all__ = ["ApplyResult", "apply_plan", "confirm_on_terminal"]


@dataclass
class ApplyResult:
    applied: list[str] = field(default_factory=lambda: list[str]())
    declined: list[str] = field(default_factory=lambda: list[str]())
    conflicts: list[str] = field(default_factory=lambda: list[str]())
    blocked: list[str] = field(default_factory=lambda: list[str]())
    """Objects not applied because an upstream object of the tenant was declined or conflicts."""
    statements: int = 0

    @property
    def left(self) -> int:
        """How many objects are still pending after the run."""
        return len(self.declined) + len(self.conflicts) + len(self.blocked)


def apply_plan(
    cursor: Cursor, plan: TenantPlan, *, yes: bool, ask: Callable[[str], bool], out: TextIO
) -> ApplyResult:
    """Run the plan upstream first. Asks (`ask(question) -> bool`) before every change that
    reinitializes, unless `yes`; never drops anything. A failing statement stops the tenant with a
    `PlanError` saying what ran before it."""
    from snowflake.connector.errors import Error as SnowflakeError

    result = ApplyResult()
    namespaces_done: set[str] = set()
    held: set[str] = set()  # short names of objects left as they are, so their readers wait
    tenant = plan.tenant
    for item in plan.objects:
        declaration = item.declaration
        if item.action is Action.CONFLICT:
            result.conflicts.append(item.name)
            held.add(declaration.name)
            continue
        if item.action not in PENDING:
            continue
        waits_for = [
            key[-1]
            for key in (
                [] if isinstance(declaration, SourceTable) else tenant.dep_keys(declaration)
            )
            if key[0] == tenant.slug and key[-1] in held
        ]
        if waits_for:
            out.write(f"  skipped  {item.name} (waits for {', '.join(waits_for)})\n")
            result.blocked.append(item.name)
            held.add(declaration.name)
            continue
        if item.reinitializes and not yes:
            question = (
                f"{item.name}: {headline(item).split(': ', 1)[-1]} "
                f"({', '.join(change.prop for change in item.changes)} changed). Run it?"
            )
            if not ask(question):
                out.write(f"  skipped  {item.name} (not confirmed)\n")
                result.declined.append(item.name)
                held.add(declaration.name)
                continue
        statements = list(item.statements)
        if item.action is Action.CREATE:
            statements = [
                s
                for s in ddl.render_namespaces([item.declaration.qualified_name])
                if s not in namespaces_done
            ] + statements
        for statement in statements:
            try:
                cursor.execute(statement)
            except SnowflakeError as e:
                done = ", ".join(result.applied) or "nothing"
                raise PlanError(
                    f"apply stopped at {item.name}: {statement.splitlines()[0]} ... failed: {e}. "
                    f"Applied before it: {done}. Fix the cause and run apply again (it starts "
                    "from what exists)."
                ) from e
            result.statements += 1
            if statement.startswith("CREATE DATABASE") or statement.startswith("CREATE SCHEMA"):
                namespaces_done.add(statement)
        out.write(f"  applied  {item.name} ({LABELS[item.action]})\n")
        result.applied.append(item.name)
    return result


def confirm_on_terminal(question: str) -> bool:
    """The `ask` of an interactive `apply`: prints the question, reads y/N from the terminal.

    Without a terminal (CI) nothing can answer: the change is not confirmed (pass --yes)."""
    import sys

    if not sys.stdin.isatty():
        print(f"{question} [y/N] no terminal to answer: not confirmed (use --yes)")
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
