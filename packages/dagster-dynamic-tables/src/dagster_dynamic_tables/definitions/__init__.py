"""A tenant's Dagster definitions: asset specs, the `defs.yaml` component, the `snowflake`
resource and the code location that puts them together (the only subpackage that assembles).
"""
