"""`dynamic-tables plan` / `apply`: read Snowflake, compare with the declarations, and show or
apply the difference.

- `run`: the two commands (`run_plan`, `run_apply`) and their contract;
- `declared`: the declaration files in scope, and what the grants refuse;
- `connect`: a tenant's connection (Snowflake or the local stand-in) and the bounded read;
- `snapshot`: what exists; `build`: the comparison and the DDL of each object;
- `show`: the plan as text; `apply`: running it.
"""
