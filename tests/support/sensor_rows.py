"""Typed rows for the freshness sensor's tests without a server: one Dynamic Table of the shop
(ANALYTICS.S.TOTALS, lag 1 minute), refresh history rows and SHOW states around T0, and `Memory`,
what a Dagster instance holds once a tick's events are stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from dagster_dynamic_tables.declarations.models import DynamicTable, Tenant
from dagster_dynamic_tables.freshness.cursor import parse_data_version
from dagster_dynamic_tables.freshness.tick import TickContext, TickResult, evaluate_tick
from dagster_dynamic_tables.health.rules import (
    stored_signature,
)
from dagster_dynamic_tables.sql.records import DynamicTableState, RefreshRecord, SchedulingState

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DT = DynamicTable(
    name="totals",
    table="ANALYTICS.S.TOTALS",
    target_lag="1 minute",
    warehouse="WH",
    refresh_mode="INCREMENTAL",
    query="SELECT 1",
)
TENANT = Tenant("shop", dynamic_tables=(DT,))
KEY = dg.AssetKey(["shop", "totals"])
NAME = "ANALYTICS.S.TOTALS"


def refresh(minutes: int, state: str = "SUCCEEDED", action: str = "INCREMENTAL") -> RefreshRecord:
    return RefreshRecord(NAME, state, T0 + timedelta(minutes=minutes), refresh_action=action)


def state(minutes: int = 0, **changes: Any) -> DynamicTableState:
    fields: dict[str, Any] = {
        "qualified_name": NAME,
        "target_lag_sec": 60,
        "target_lag_type": "USER_DEFINED",
        "scheduling_state": SchedulingState("ACTIVE"),
        "latest_data_timestamp": T0 + timedelta(minutes=minutes),
        "last_completed_refresh_state": "SUCCEEDED",
        "refresh_mode": "INCREMENTAL",
        "warehouse": "WH",
    }
    return DynamicTableState(**{**fields, **changes})


def nothing_recorded(keys):
    return dict.fromkeys(keys)


@dataclass
class Memory:
    """What a Dagster instance holds once a tick's events are stored: the latest data version
    per asset, the signature of the latest evaluation per check."""

    versions: dict[dg.AssetKey, datetime] = field(default_factory=dict)
    checks: dict[dg.AssetCheckKey, str | None] = field(default_factory=dict)

    def recorded_versions(self, keys):
        return {key: self.versions.get(key) for key in keys}

    def recorded_checks(self, keys):
        return {key: self.checks.get(key) for key in keys}

    def tick(self, cursor, refreshes, states, now, tenant=TENANT, **options) -> TickResult:
        context = TickContext(tenant, now, self.recorded_versions, self.recorded_checks)
        result = evaluate_tick(context, cursor, refreshes, states, **options)
        for event in result.events:
            if isinstance(event, dg.AssetMaterialization):
                version = parse_data_version((event.tags or {})["dagster/data_version"])
                assert version is not None
                self.versions[event.asset_key] = version
            elif isinstance(event, dg.AssetCheckEvaluation):
                self.checks[dg.AssetCheckKey(event.asset_key, event.check_name)] = stored_signature(
                    event
                )
        return result


def materialized_versions(events) -> list[str]:
    return [
        (e.tags or {})["dagster/data_version"]
        for e in events
        if isinstance(e, dg.AssetMaterialization)
    ]


def check_names(events) -> list[str]:
    return [e.check_name for e in events if isinstance(e, dg.AssetCheckEvaluation)]
