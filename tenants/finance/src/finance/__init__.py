"""Finance's Dagster code location."""
