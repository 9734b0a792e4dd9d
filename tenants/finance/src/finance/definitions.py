"""Code location `finance`: everything is loaded from the `defs/` folder.

- `defs/snowflake/defs.yaml`: source tables and Dynamic Tables (a `DynamicTablesComponent`, which
  also brings the freshness sensor, the health checks, the automation sensor and the `snowflake`
  resource);
- `defs/assets/`: Python assets, e.g. downstream of the Dynamic Tables.
"""

from dagster_dynamic_tables import load_tenant_definitions

import finance.defs

defs = load_tenant_definitions(finance.defs)
