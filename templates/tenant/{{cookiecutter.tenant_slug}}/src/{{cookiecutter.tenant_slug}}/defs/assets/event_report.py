"""An example Python asset downstream of the team's Dynamic Table: replace it with your own."""

from pathlib import Path

import dagster as dg
from dagster_dynamic_tables import current_table
from dagster_snowflake import SnowflakeResource

DAILY_EVENT_COUNTS = dg.AssetKey(["{{ cookiecutter.tenant_slug }}", "daily_event_counts"])
{%- set table = cookiecutter.snowflake_database ~ "." ~ cookiecutter.snowflake_schema ~ ".DAILY_EVENT_COUNTS" %}
{#- A Python literal as ruff formats it: single quotes when that needs fewer escapes. #}
{%- if table.count('"') > table.count("'") %}
DAILY_EVENT_COUNTS_TABLE = '{{ table | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- else %}
DAILY_EVENT_COUNTS_TABLE = "{{ table | replace("\\", "\\\\") | replace('"', '\\"') }}"
{%- endif %}


@dg.asset(
    key=["{{ cookiecutter.tenant_slug }}", "event_report"],
    group_name="{{ cookiecutter.tenant_slug }}_reports",
    description="Events over the last 7 days, read from the daily_event_counts Dynamic Table.",
    deps=[DAILY_EVENT_COUNTS],
    # Plain eager(), not eager().resolve_through_virtual(): a Dynamic Table is an asynchronous
    # cache, not a view. This asset runs once the freshness sensor has recorded a refresh that
    # landed, never when a source table changes before Snowflake has refreshed the table.
    automation_condition=dg.AutomationCondition.eager(),
    kinds={"snowflake", "python"},
    owners=["{{ cookiecutter.__dagster_owner }}"],
)
def event_report(
    context: dg.AssetExecutionContext, snowflake: SnowflakeResource
) -> dg.MaterializeResult:
    # The declared (prod) name, mapped to the selected environment's (environments.yaml).
    table = current_table(DAILY_EVENT_COUNTS_TABLE, start=Path(__file__))
    with snowflake.get_connection() as conn:
        cursor = conn.cursor()
        cursor.execute(
            f"SELECT SUM(event_count) FROM {table} "
            "WHERE event_date >= DATEADD('day', -7, CURRENT_DATE())"
        )
        row = cursor.fetchone()
    events = int(row[0]) if row and row[0] is not None else 0
    context.log.info(f"{events} events over the last 7 days")
    return dg.MaterializeResult(metadata={"events_7d": dg.MetadataValue.int(events)})
