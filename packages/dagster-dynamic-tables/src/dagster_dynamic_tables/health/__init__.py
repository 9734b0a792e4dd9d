"""The health checks of a Dynamic Table: rules evaluated from what Snowflake reports (`rules`) and
the Dagster asset checks that run them (`checks`).
"""
