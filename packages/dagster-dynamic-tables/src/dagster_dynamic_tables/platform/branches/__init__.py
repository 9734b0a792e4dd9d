"""Branch environments: `dynamic-tables env create | drop | list` (issue 19).

- `scope`: the names checked and the declarations loaded before any statement; the connection;
- `markers`: the comment `env create` puts on each database it makes, and reading it back;
- `create`: zero-copy clones of the source environment's databases, the cloned Dynamic Tables
  re-pointed (through `platform.plan`) and resumed or left for refreshes on demand;
- `drop`: dropping exactly what create made; listing the branch environments.
"""
