"""Reading Snowflake from a Dagster resource: one bounded read session and the faults it expects."""
