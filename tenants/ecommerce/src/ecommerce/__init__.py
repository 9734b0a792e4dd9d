"""The e-commerce team's Dagster code location."""
