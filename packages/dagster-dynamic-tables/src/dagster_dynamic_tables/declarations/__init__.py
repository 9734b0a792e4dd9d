"""What a tenant declares: models, identifiers, lags, the bounded YAML loader and its problems,
the files a declaration names, and the checks across one tenant's declarations. No Dagster.
"""
