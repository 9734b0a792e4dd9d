"""What a tenant declares: models and the types of their fields, identifiers, lags, the bounded YAML
loader and its problems in our words, the files a declaration names, and the checks across one
tenant's declarations. No Dagster.
"""
