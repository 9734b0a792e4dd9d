"""Repository tooling the platform team runs: tenant registration and checks, deployment files,
and `plan`/`apply`. No Dagster: none of it is imported by a code location.
"""
