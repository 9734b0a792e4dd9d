"""{{ cookiecutter.tenant_name }}'s Dagster code location."""
