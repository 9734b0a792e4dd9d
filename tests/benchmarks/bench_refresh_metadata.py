"""What the refresh statistics and column schemas (issue 20) add to each recorded refresh: the
stored size of one materialization event, and a day of them (a script that prints figures; not
collected by pytest).

    uv run python tests/benchmarks/bench_refresh_metadata.py [--columns 8,50,200]
        [--refreshes-per-day 1440]

Builds the freshness sensor's materialization of one refresh (`freshness.events.materialization`)
as it was before issue 20 (rows inserted and deleted only), with every STATISTICS figure, and
with the column schema of a table of N columns (`freshness.columns.with_columns`: every
materialization carries it, since Dagster shows an asset's Columns from its latest
materialization), and prints the size Dagster stores for each (`serialize_value`, the event's
JSON in the event log), and per day for a table whose data changes `--refreshes-per-day` times
(1,440: every minute).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import dagster as dg
from dagster._serdes import serialize_value
from dagster_dynamic_tables.declarations.models import DynamicTable
from dagster_dynamic_tables.freshness.columns import table_schema, with_columns
from dagster_dynamic_tables.freshness.events import materialization
from dagster_dynamic_tables.sql.columns import Column
from dagster_dynamic_tables.sql.records import RefreshRecord

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
DT = DynamicTable(
    name="t", table="ANALYTICS.S.T", target_lag="1 minute", warehouse="WH", query="SELECT 1"
)
KEY = dg.AssetKey(["tenant", "t"])
COMMON = {
    "query_id": "01b2c3d4-0000-1111-2222-333344445555",
    "refresh_start_time": T0,
    "refresh_end_time": T0,
    "refresh_action": "INCREMENTAL",
    "refresh_trigger": "SCHEDULED",
    "rows_inserted": 5,
    "rows_deleted": 2,
}


def size(event: dg.AssetMaterialization) -> int:
    return len(serialize_value(event).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--columns", default="8,50,200")
    parser.add_argument("--refreshes-per-day", type=int, default=1440)
    args = parser.parse_args()
    per_day: int = args.refreshes_per_day

    before = materialization(KEY, DT, RefreshRecord("ANALYTICS.S.T", "SUCCEEDED", T0, **COMMON))
    statistics = RefreshRecord(
        "ANALYTICS.S.T", "SUCCEEDED", T0, **COMMON, rows_copied=40, partitions_added=3,
        partitions_removed=1, queued_time_ms=12, compilation_time_ms=340, execution_time_ms=1250,
    )  # fmt: skip
    with_statistics = materialization(KEY, DT, statistics)
    rows = [("before issue 20", size(before)), ("with the statistics", size(with_statistics))]
    for count in (int(n) for n in args.columns.split(",")):
        columns = [Column(f"COLUMN_NUMBER_{i}", "NUMBER(38,0)", True) for i in range(count)]
        event = with_columns(with_statistics, table_schema(columns), T0)
        rows.append((f"with the statistics and {count} columns", size(event)))
    print(
        f"One materialization event as stored; per day at {per_day:,} refreshes that change data:"
    )
    for label, stored in rows:
        print(f"   {label:<40} {stored:7,d} bytes   {stored * per_day / 1e6:7.1f} MB/day")


if __name__ == "__main__":
    main()
