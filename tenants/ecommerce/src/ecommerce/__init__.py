"""E-commerce's Dagster code location."""
