"""The refresh history's STATISTICS that the freshness sensor records as int metadata of a
materialization (issue 20), spelled out as the tests expect them: the Plots of an asset's
Overview draw each one."""

from __future__ import annotations

STATISTICS = (
    "rows_inserted",
    "rows_deleted",
    "rows_copied",
    "partitions_added",
    "partitions_removed",
    "queued_time_ms",
    "compilation_time_ms",
    "execution_time_ms",
)
