"""The plan as lines a reviewer reads (`format_plan`), and each object's headline, which
`apply_plan` also uses when it asks before a change that reinitializes."""

from __future__ import annotations

from dagster_dynamic_tables.platform.plan.build import Action, PlannedObject, TenantPlan
from dagster_dynamic_tables.sql import ddl

__all__ = ["LABELS", "format_plan", "headline"]

LABELS = {
    Action.CREATE: "create",
    Action.ALTER: "alter",
    Action.RECREATE: "re-create",
    Action.UNCHANGED: "unchanged",
    Action.CONFLICT: "CONFLICT",
    Action.SOURCE_PRESENT: "source",
    Action.SOURCE_MISSING: "MISSING",
}


def headline(item: PlannedObject) -> str:
    label = LABELS[item.action]
    what = f"{label:<10} {item.name} ({item.kind})"
    if item.action is Action.ALTER:
        what += (
            ": reinitializes the active region"
            if item.reinitializes
            else ": in place, keeps its data"
        )
    elif item.action is Action.RECREATE:
        what += (
            ": REINITIALIZES (recomputes all its data)"
            if item.reinitializes
            else ": replaced (no data to recompute)"
        )
    elif item.action is Action.SOURCE_PRESENT:
        what += ": exists"
    elif item.action is Action.SOURCE_MISSING:
        what += ": does not exist"
    return what


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def format_plan(plan: TenantPlan, where: str) -> list[str]:
    """The plan as lines a reviewer reads: one headline per object, its changes and notes, the
    DDL apply would run, the grants, a summary."""
    lines = [
        f"tenant {plan.tenant.slug} ({where}): read {_count(plan.databases, 'database')} with "
        f"{_count(plan.statements_read, 'statement')}"
    ]
    for item in plan.objects:
        lines.append(f"  {headline(item)}")
        lines += [f"      {change.render()}" for change in item.changes]
        lines += [f"      note: {note}" for note in item.notes]
        for statement in item.statements:
            lines += [f"      | {line}" for line in f"{statement};".splitlines()]
    created = [
        item.declaration.qualified_name for item in plan.objects if item.action is Action.CREATE
    ]
    if created:
        lines.append("  before the creates, apply makes sure their databases and schemas exist:")
        lines += [f"      | {statement};" for statement in ddl.render_namespaces(created)]
    lines += [f"  note: {note}" for note in plan.notes]
    lines += [f"  UNDECLARED READ {read}" for read in plan.reads]
    if plan.grants:
        lines.append(
            "  grants the role needs for the sensor, checks, refreshes and data tests "
            "(an administrator runs them):"
        )
        lines += [f"      {grant};" for grant in plan.grants]
    counts = dict.fromkeys(Action, 0)
    for item in plan.objects:
        counts[item.action] += 1
    summary = (
        f"  {counts[Action.CREATE]} to create, {counts[Action.ALTER]} to alter, "
        f"{counts[Action.RECREATE]} to re-create, {counts[Action.UNCHANGED]} unchanged"
    )
    if counts[Action.CONFLICT]:
        summary += f", {counts[Action.CONFLICT]} in conflict"
    if counts[Action.SOURCE_MISSING]:
        summary += f", {_count(counts[Action.SOURCE_MISSING], 'source')} missing"
    lines.append(summary)
    return lines
