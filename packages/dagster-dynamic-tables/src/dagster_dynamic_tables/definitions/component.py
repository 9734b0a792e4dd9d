"""`DynamicTablesComponent`: a tenant's declarations as a Dagster component in `defs.yaml`.

```yaml
type: dagster_dynamic_tables.DynamicTablesComponent
attributes:
  tenant: ecommerce
  sources: [...]
  dynamic_tables: [...]
  views: [...]
```

The component's JSON schema (used by `dg check yaml`, `dg utils inspect-component` and editors)
is the schema of `TenantDeclarations`: the real fields with their descriptions. Validation is not
left to Dagster's pydantic pass, though: Dagster only hands the raw mapping over, and `load`
validates it with `build_tenant`, so a mistake surfaces as this package's `DeclarationError`
(file, YAML path, line, bad value, what is allowed, the fix; every problem at once).

`query_file` and `local_seed_file` must resolve inside the project's `defs/` folder (Dagster's
`defs_module_path`). Dagster parses `defs.yaml` before `load` runs; its result is checked for
depth and alias expansion (`yamlbounds.check_data`) before anything here walks it, so an alias
bomb fails at once. Through `location.load_tenant_definitions` (a tenant's code location) the
file's text is checked before Dagster even parses it.

The tenant is then mapped into the selected environment (`DYNAMIC_TABLES_ENVIRONMENT`, a Dagster+
branch deployment; see `declarations.environments`): every Snowflake name, never an asset key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self, cast

import dagster as dg
import yaml
from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from dagster_dynamic_tables.declarations.environments import current_environment
from dagster_dynamic_tables.declarations.loader import (
    YAML_LOADER,
    build_tenant,
    read_declaration_file,
    walk_yaml_node,
)
from dagster_dynamic_tables.declarations.models import Tenant, TenantDeclarations
from dagster_dynamic_tables.declarations.yamlbounds import check_data, check_yaml_text
from dagster_dynamic_tables.errors import DeclarationProblem
from dagster_dynamic_tables.gc_pause import without_gc
from dagster_dynamic_tables.sql.environments import in_environment

DEFS_FILE_NAMES = ("defs.yaml", "defs.yml", "component.yaml")


class DynamicTablesAttributes(BaseModel):
    """The `attributes:` of the component, kept raw for `build_tenant` to validate.

    Its JSON schema is `TenantDeclarations`'s, so tools and editors see the real fields.
    """

    model_config = ConfigDict(frozen=True)

    raw: Any = None

    @model_validator(mode="before")
    @classmethod
    def _keep_raw(cls, data: Any) -> Any:
        # Accept anything here: `DynamicTablesComponent.load` validates it, with our messages.
        return {"raw": data}

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        del core_schema  # the schema users need is the declarations', not this wrapper's
        return handler(TenantDeclarations.__pydantic_core_schema__)


class DynamicTablesComponent(dg.Component):
    """Snowflake sources, Dynamic Tables and views of one tenant, as Dagster assets.

    Builds virtual specs for the Dynamic Tables and views, one executable multi-asset that
    refreshes the `scheduler: DISABLE` Dynamic Tables, the freshness sensor that records each
    landed refresh as a materialization, health checks, the declared data tests and the
    `snowflake` resource.
    `query_file` and `local_seed_file` are relative to the folder of the `defs.yaml`.
    """

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return DynamicTablesAttributes

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> Self:
        raw: Any = attributes.raw if isinstance(attributes, DynamicTablesAttributes) else {}
        file = _defs_file(context)
        check_data(raw, file=file or context.path)  # before any walk: it may be an alias bomb
        lines: dict[str, int] = {}
        problems = _duplicate_keys(file, context, lines) if file is not None else []
        tenant = build_tenant(
            _render_templates(raw, context),
            file=file or context.path,
            base_dir=context.path,
            lines=lines,
            problems=problems,
            defs_root=context.defs_module_path,
        )
        # The declarations name prod objects; the selected environment (environments.yaml)
        # maps every Snowflake name, never an asset key (`sql.environments.in_environment`).
        environment = current_environment(context.path)
        return cls(in_environment(tenant, environment, file=file or context.path))

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        # Imported here: the definitions module pulls in the sensor, checks and resources, which
        # `dg` does not need to list the component type or show its schema.
        from dagster_dynamic_tables.definitions.tenant import build_tenant_definitions

        del context
        return build_tenant_definitions(self.tenant)


def _defs_file(context: dg.ComponentLoadContext) -> Path | None:
    tree = context.resolution_context.source_position_tree
    if tree is not None and tree.position.filename not in ("", "<string>"):
        return Path(tree.position.filename)
    return next((context.path / n for n in DEFS_FILE_NAMES if (context.path / n).is_file()), None)


def _duplicate_keys(
    file: Path, context: dg.ComponentLoadContext, lines: dict[str, int]
) -> list[DeclarationProblem]:
    """Lines of the component's attributes and their duplicate keys (Dagster's YAML parser
    silently keeps the last of duplicate keys)."""
    tree = context.resolution_context.source_position_tree
    start = tree.position.start.line if tree is not None else 1
    text = read_declaration_file(file)  # bounded, never blocking
    check_yaml_text(text, file=file)  # before libyaml's recursive composer sees it
    try:
        with without_gc():
            documents = cast("list[yaml.Node | None]", list(yaml.compose_all(text, YAML_LOADER)))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType] (PyYAML is untyped)
    except yaml.YAMLError:
        return []  # Dagster has parsed the file already; lines are a nicety
    for document in documents:
        if document is None or document.start_mark.line + 1 > start:
            continue
        if document.end_mark.line + 1 < start or not isinstance(document, yaml.MappingNode):
            continue
        pairs = cast("list[tuple[yaml.Node, yaml.Node]]", document.value)
        for key, value in pairs:
            if key.value == "attributes":  # pyright: ignore[reportUnknownMemberType] (PyYAML nodes are untyped)
                return list(walk_yaml_node(value, "", lines))
    return []


def _render_templates(value: Any, context: dg.ComponentLoadContext) -> Any:
    """Render Dagster's `{{ env.NAME }}`-style templates in strings; leave other text alone."""
    scope = context.resolution_context.at_path("attributes")
    return _render(value, scope)


def _render(value: Any, scope: Any) -> Any:
    if isinstance(value, str) and "{{" in value:
        return scope.resolve_value(value)
    if isinstance(value, Mapping):
        items = cast("Mapping[Any, Any]", value).items()
        return {key: _render(item, scope.at_path(key)) for key, item in items}
    if isinstance(value, list):
        return [_render(item, scope.at_path(i)) for i, item in enumerate(cast("list[Any]", value))]
    return value
