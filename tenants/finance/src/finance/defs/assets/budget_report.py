"""Finance's budget report: a Python asset that runs after its own Dynamic Table refreshes."""

from pathlib import Path

import dagster as dg
from dagster_dynamic_tables import current_table
from dagster_snowflake import SnowflakeResource

REVENUE_VS_BUDGET = dg.AssetKey(["finance", "revenue_vs_budget"])


@dg.asset(
    key=["finance", "budget_report"],
    group_name="finance_reports",
    description="This month's revenue against its budget target, read from revenue_vs_budget.",
    deps=[REVENUE_VS_BUDGET],
    # Plain eager(): runs once the freshness sensor has recorded a refresh of revenue_vs_budget
    # that landed (which follows ecommerce's daily_revenue_rollup), never on a raw-table change.
    automation_condition=dg.AutomationCondition.eager(),
    kinds={"snowflake", "python"},
    owners=["team:finance"],
)
def budget_report(
    context: dg.AssetExecutionContext, snowflake: SnowflakeResource
) -> dg.MaterializeResult:
    # The declared (prod) name, mapped to the selected environment's (FINANCE_DEV... in dev).
    table = current_table("FINANCE.REPORTING.REVENUE_VS_BUDGET", start=Path(__file__))
    with snowflake.get_connection() as conn:
        cursor = conn.cursor()
        cursor.execute(
            f"SELECT revenue, target_revenue FROM {table} "
            "WHERE month = DATE_TRUNC('month', CURRENT_DATE())"
        )
        row = cursor.fetchone()
    revenue = float(row[0]) if row and row[0] is not None else 0.0
    target = float(row[1]) if row and row[1] is not None else 0.0
    share = revenue / target if target else 0.0
    context.log.info(f"revenue {revenue:.2f} of a {target:.2f} target ({share:.0%})")
    return dg.MaterializeResult(
        metadata={
            "revenue_month_to_date": dg.MetadataValue.float(revenue),
            "target_revenue": dg.MetadataValue.float(target),
            "share_of_target": dg.MetadataValue.float(share),
        }
    )
