"""SQL without Dagster: the statements over Snowflake's Dynamic Table metadata, the typed rows they
return, the DDL the declarations render to, query text compared across layout and case, the tables
a query reads, the connection settings, and what setting up a tenant's objects in the stand-in
runs and reports (`local_setup`).
"""
