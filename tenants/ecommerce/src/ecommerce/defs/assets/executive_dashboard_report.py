"""The executive dashboard: a Python asset downstream of the team's two Dynamic Tables."""

from pathlib import Path

import dagster as dg
from dagster_dynamic_tables import current_table
from dagster_snowflake import SnowflakeResource

CUSTOMER_LIFETIME_VALUE = dg.AssetKey(["ecommerce", "customer_lifetime_value"])
DAILY_REVENUE_ROLLUP = dg.AssetKey(["ecommerce", "daily_revenue_rollup"])


@dg.asset(
    key=["ecommerce", "executive_dashboard_report"],
    group_name="ecommerce_analytics",
    description="Customer count and 30-day revenue, read from both Dynamic Tables.",
    deps=[CUSTOMER_LIFETIME_VALUE, DAILY_REVENUE_ROLLUP],
    # Plain eager(), not eager().resolve_through_virtual(): a Dynamic Table is an asynchronous
    # cache, not a view. Looking through it to the raw tables would run this asset as soon as a raw
    # table changes, before Snowflake has refreshed the Dynamic Table, i.e. on stale data. The
    # trigger is the materialization the freshness sensor reports once a refresh has landed.
    automation_condition=dg.AutomationCondition.eager(),
    kinds={"snowflake", "python"},
    owners=["team:ecommerce-analytics"],
)
def executive_dashboard_report(
    context: dg.AssetExecutionContext, snowflake: SnowflakeResource
) -> dg.MaterializeResult:
    # Declared (prod) names, mapped to the selected environment's (ECOMMERCE_DEV... in dev).
    here = Path(__file__)
    lifetime_value = current_table("ECOMMERCE.ANALYTICS.CUSTOMER_LIFETIME_VALUE", start=here)
    daily_revenue = current_table("ECOMMERCE.ANALYTICS.DAILY_REVENUE_ROLLUP", start=here)
    with snowflake.get_connection() as conn:
        cursor = conn.cursor()
        cursor.execute(
            f"""
            SELECT
                (SELECT COUNT(DISTINCT customer_id) FROM {lifetime_value}) AS total_customers,
                (SELECT SUM(revenue)
                 FROM {daily_revenue}
                 WHERE order_date >= DATEADD('day', -30, CURRENT_DATE())) AS total_revenue_30d
            """
        )
        row = cursor.fetchone()
    total_customers = int(row[0]) if row and row[0] is not None else 0
    total_revenue = float(row[1]) if row and row[1] is not None else 0.0
    context.log.info(f"{total_customers} customers, {total_revenue:.2f} revenue over 30 days")
    return dg.MaterializeResult(
        metadata={
            "total_customers": dg.MetadataValue.int(total_customers),
            "total_revenue_30d": dg.MetadataValue.float(total_revenue),
        }
    )
