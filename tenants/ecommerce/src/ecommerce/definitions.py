"""Code location `ecommerce`: everything is loaded from the `defs/` folder.

- `defs/snowflake/defs.yaml`: source tables and Dynamic Tables (a `DynamicTablesComponent`, which
  also brings the freshness sensor, the health checks, the automation sensor and the `snowflake`
  resource);
- `defs/assets/`: Python assets, e.g. downstream of the Dynamic Tables.
"""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
