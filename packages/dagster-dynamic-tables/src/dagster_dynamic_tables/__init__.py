"""dagster_dynamic_tables: Snowflake Dynamic Tables as virtual Dagster assets.

Callers import from here: the spec builders (`source_table`, `dynamic_table`, `view`), the
`DynamicTablesComponent` for `defs.yaml`, the per-tenant builders (sensor, checks, resource,
definitions) and the errors. `dagster_dynamic_tables.metadata` holds the metadata key constants.
"""

from dagster_dynamic_tables.checks import build_check_specs, build_dynamic_table_checks
from dagster_dynamic_tables.component import DynamicTablesComponent
from dagster_dynamic_tables.declarations import (
    DynamicTable,
    SourceTable,
    Tenant,
    TenantDeclarations,
    View,
)
from dagster_dynamic_tables.definitions import AUTOMATION_SENSOR_NAME, build_tenant_definitions
from dagster_dynamic_tables.errors import (
    DeclarationError,
    DeclarationProblem,
    DynamicTablesError,
    SnowflakeSettingsError,
)
from dagster_dynamic_tables.health import CHECK_NAMES
from dagster_dynamic_tables.loader import load_tenant
from dagster_dynamic_tables.resources import build_snowflake_resource
from dagster_dynamic_tables.sensor import SENSOR_NAME, build_freshness_sensor
from dagster_dynamic_tables.specs import (
    build_asset_specs,
    dynamic_table,
    freshness_policy_for_lag,
    source_table,
    view,
)

__all__ = [
    "AUTOMATION_SENSOR_NAME",
    "CHECK_NAMES",
    "SENSOR_NAME",
    "DeclarationError",
    "DeclarationProblem",
    "DynamicTable",
    "DynamicTablesComponent",
    "DynamicTablesError",
    "SnowflakeSettingsError",
    "SourceTable",
    "Tenant",
    "TenantDeclarations",
    "View",
    "build_asset_specs",
    "build_check_specs",
    "build_dynamic_table_checks",
    "build_freshness_sensor",
    "build_snowflake_resource",
    "build_tenant_definitions",
    "dynamic_table",
    "freshness_policy_for_lag",
    "load_tenant",
    "source_table",
    "view",
]
