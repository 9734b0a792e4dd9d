"""dagster_dynamic_tables: Snowflake Dynamic Tables as virtual Dagster assets.

Callers import from here: the spec builders (`source_table`, `dynamic_table`, `view`), the
`DynamicTablesComponent` for `defs.yaml`, the per-tenant builders (sensor, checks, resource,
definitions), `current_table` (a declared table's name in the selected environment, for a
tenant's own SQL) and the errors. `dagster_dynamic_tables.metadata` holds the metadata key
constants.

The names are loaded on first use (PEP 562 `__getattr__`), so importing one submodule
(`dagster_dynamic_tables.standin`, `.errors`, `.identifiers`) does not import Dagster and
dagster-snowflake (about 7 s here, mostly dagster-snowflake pulling in Snowpark): the
`dynamic-tables local status|stop` commands answer without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster_dynamic_tables.declarations.loader import load_tenant
    from dagster_dynamic_tables.declarations.models import (
        DynamicTable,
        SourceTable,
        Tenant,
        TenantDeclarations,
        View,
    )
    from dagster_dynamic_tables.definitions.component import DynamicTablesComponent
    from dagster_dynamic_tables.definitions.location import load_tenant_definitions
    from dagster_dynamic_tables.definitions.resources import build_snowflake_resource
    from dagster_dynamic_tables.definitions.specs import (
        build_asset_specs,
        dynamic_table,
        source_table,
        view,
    )
    from dagster_dynamic_tables.definitions.tenant import (
        AUTOMATION_SENSOR_NAME,
        build_tenant_definitions,
    )
    from dagster_dynamic_tables.errors import (
        DeclarationError,
        DeclarationProblem,
        DynamicTablesError,
        SnowflakeSettingsError,
    )
    from dagster_dynamic_tables.freshness.sensor import SENSOR_NAME, build_freshness_sensor
    from dagster_dynamic_tables.health.checks import build_check_specs, build_dynamic_table_checks
    from dagster_dynamic_tables.metadata import CHECK_NAMES
    from dagster_dynamic_tables.sql.environments import current_table

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
    "current_table",
    "dynamic_table",
    "load_tenant",
    "load_tenant_definitions",
    "source_table",
    "view",
]

# Public name -> the submodule that defines it (the same pairs as the imports above).
_SUBMODULES: dict[str, str] = {
    "AUTOMATION_SENSOR_NAME": "definitions.tenant",
    "CHECK_NAMES": "metadata",
    "SENSOR_NAME": "freshness.sensor",
    "DeclarationError": "errors",
    "DeclarationProblem": "errors",
    "DynamicTable": "declarations.models",
    "DynamicTablesComponent": "definitions.component",
    "DynamicTablesError": "errors",
    "SnowflakeSettingsError": "errors",
    "SourceTable": "declarations.models",
    "Tenant": "declarations.models",
    "TenantDeclarations": "declarations.models",
    "View": "declarations.models",
    "build_asset_specs": "definitions.specs",
    "build_check_specs": "health.checks",
    "build_dynamic_table_checks": "health.checks",
    "build_freshness_sensor": "freshness.sensor",
    "build_snowflake_resource": "definitions.resources",
    "build_tenant_definitions": "definitions.tenant",
    "current_table": "sql.environments",
    "dynamic_table": "definitions.specs",
    "load_tenant": "declarations.loader",
    "load_tenant_definitions": "definitions.location",
    "source_table": "definitions.specs",
    "view": "definitions.specs",
}


def __getattr__(name: str) -> Any:
    submodule = _SUBMODULES.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    # `dir()` lists the lazy names too: dg finds the component by iterating dir(module).
    return sorted({*globals(), *__all__})
