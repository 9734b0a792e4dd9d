"""`DynamicTablesComponent` loaded through real Dagster: a tmp dg project with a defs folder."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from dagster.components.core.component_tree import ComponentTreeException
from dagster_dynamic_tables.declarations.loader import load_tenant
from dagster_dynamic_tables.declarations.models import TenantDeclarations
from dagster_dynamic_tables.definitions.component import (
    DynamicTablesAttributes,
    DynamicTablesComponent,
)
from dagster_dynamic_tables.errors import DeclarationError
from support.shop import SHOP_DATA
from support.yaml_bombs import alias_bomb

pytestmark = [
    # Dagster 1.13.27 parses every defs.yaml with pydantic's deprecated `parse_obj_as`
    # (dagster/_utils/pydantic_yaml.py): not ours to fix.
    pytest.mark.filterwarnings(
        "ignore:`parse_obj_as` is deprecated:pydantic.warnings.PydanticDeprecatedSince20"
    ),
]

COMPONENT_TYPE = "dagster_dynamic_tables.DynamicTablesComponent"

Project = Callable[[str], Path]


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Project:
    """Make a dg project whose `defs/shop/defs.yaml` holds the given attributes (YAML text)."""
    module = f"dtproject_{request.node.name.split('[')[0]}"

    def make(attributes: str) -> Path:
        (tmp_path / "pyproject.toml").write_text(
            f'[project]\nname = "{module}"\nversion = "0.1.0"\n\n'
            '[tool.dg]\ndirectory_type = "project"\n\n'
            f'[tool.dg.project]\nroot_module = "{module}"\n'
            'registry_modules = ["dagster_dynamic_tables"]\n'
        )
        package = tmp_path / "src" / module
        folder = package / "defs" / "shop"
        shutil.copytree(SHOP_DATA / "sql", folder / "sql")
        (package / "__init__.py").write_text("")
        (package / "defs" / "__init__.py").write_text("")
        (folder / "defs.yaml").write_text(f"type: {COMPONENT_TYPE}\nattributes:\n{attributes}")
        return tmp_path

    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    return make


def _indented(text: str) -> str:
    return "".join(f"  {line}\n" if line.strip() else "\n" for line in text.splitlines())


SHOP_ATTRIBUTES = _indented(
    "\n".join(
        line for line in (SHOP_DATA / "defs.yaml").read_text().splitlines() if line[:1] != "#"
    )
)


def test_component_loads_the_same_tenant_as_the_declaration_file(project: Project) -> None:
    root = project(SHOP_ATTRIBUTES)
    tree = dg.ComponentTree.for_project(root)
    component = tree.load_component("shop", DynamicTablesComponent)
    expected = load_tenant(SHOP_DATA / "defs.yaml")
    assert component.tenant == expected
    assert (
        component.tenant.base_dir
        == root / "src" / tree.defs_module_name.split(".")[0] / "defs" / "shop"
    )


def test_component_builds_the_tenant_definitions(project: Project) -> None:
    defs = dg.load_from_defs_folder(path_within_project=project(SHOP_ATTRIBUTES))
    graph = defs.resolve_asset_graph()
    assert graph.get_all_asset_keys() == {
        dg.AssetKey(["shop", "raw_orders"]),
        dg.AssetKey(["shop", "orders_clean"]),
        dg.AssetKey(["shop", "orders_view"]),
    }
    assert not graph.get(dg.AssetKey(["shop", "orders_clean"])).is_executable
    assert {sensor.name for sensor in defs.sensors or []} >= {
        "dynamic_table_freshness",
        "automation_condition_sensor",
    }


TEMPLATED = """\
  tenant: shop
  sources:
    - name: raw_orders
      table: '{{ env.SHOP_DATABASE }}.RAW.ORDERS'
"""


def test_component_renders_dagster_templates(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_DATABASE", "SHOP_DEV")
    attributes = TEMPLATED
    component = dg.ComponentTree.for_project(project(attributes)).load_component(
        "shop", DynamicTablesComponent
    )
    assert component.tenant.sources[0].table == "SHOP_DEV.RAW.ORDERS"


BAD_ATTRIBUTES = """\
  tenant: shop
  sources:
    - name: raw_orders
      table: SHOP.RAW.ORDERS
  dynamic_tables:
    - name: orders_clean
      table: SHOP.ANALYTICS.ORDERS_CLEAN
      target_lag: 30 seconds
      refreshmode: FULL
      warehouse: TRANSFORMING
      deps: [raw_order]
      query: select 1
      query: select 2
"""


def test_bad_defs_yaml_fails_with_every_problem_in_our_words(project: Project) -> None:
    root = project(BAD_ATTRIBUTES)
    with pytest.raises(ComponentTreeException) as info:
        dg.load_from_defs_folder(path_within_project=root)
    error = info.value.__cause__
    assert isinstance(error, DeclarationError)
    defs_yaml = next(root.glob("src/*/defs/shop/defs.yaml"))
    assert str(error) == (
        f"4 problems in {defs_yaml}:\n"
        "  - dynamic_tables[0].target_lag (line 10): '30 seconds' is 30 seconds, under "
        "Snowflake's minimum target lag of 60 seconds: use '1 minute' or more.\n"
        "  - dynamic_tables[0].refreshmode (line 11): unknown key 'refreshmode'; allowed keys: "
        "name, table, description, owners, group, query, query_file, deps, target_lag, "
        "warehouse, refresh_mode, initialize, "
        "scheduler, initialization_warehouse, cluster_by, transient, comment, "
        "data_retention_time_in_days, frozen_where, automation_condition, data_tests. Fix: did "
        "you mean 'refresh_mode'?\n"
        "  - dynamic_tables[0].deps[0] (line 13): 'raw_order' is not declared in this tenant "
        "(declared: orders_clean, raw_orders). Fix: did you mean 'raw_orders'? Otherwise "
        "declare it, or name another tenant's asset by its full key (other_tenant/asset).\n"
        "  - dynamic_tables[0].query (line 15): duplicate key 'query' (first given at line 14). "
        "Fix: give each key once; YAML would silently keep only the last value."
    )
    assert "pydantic" not in str(info.value)


def test_defs_yaml_without_attributes_says_what_is_missing(project: Project) -> None:
    root = project("")
    with pytest.raises(ComponentTreeException) as info:
        dg.load_from_defs_folder(path_within_project=root)
    defs_yaml = next(root.glob("src/*/defs/shop/defs.yaml"))
    assert str(info.value.__cause__) == (
        f"1 problem in {defs_yaml}:\n"
        "  - tenant: required key 'tenant' is missing. Fix: add `tenant: ecommerce` (The "
        "tenant's slug (a lowercase Python identifier); every asset key of the tenant starts "
        "with it)."
    )


def test_component_schema_is_the_declarations_schema() -> None:
    schema = DynamicTablesComponent.get_model_cls().model_json_schema()
    assert schema == TenantDeclarations.model_json_schema()
    assert schema["required"] == ["tenant"]
    assert schema["additionalProperties"] is False
    table = schema["$defs"]["DynamicTable"]
    assert table["additionalProperties"] is False
    assert table["properties"]["refresh_mode"]["enum"] == [
        "AUTO",
        "FULL",
        "INCREMENTAL",
        "ADAPTIVE",
    ]
    assert table["properties"]["target_lag"]["description"].startswith("How stale the table")
    assert set(table["required"]) == {"name", "table", "target_lag", "warehouse"}
    lag_pattern = table["properties"]["target_lag"]["pattern"]
    assert [bool(re.search(lag_pattern, lag)) for lag in ("2 HOURS", "downstream", "1 week")] == [
        True,
        True,
        False,
    ]


def test_component_attributes_keep_the_raw_mapping_for_our_validation() -> None:
    assert DynamicTablesAttributes.model_validate({"tenant": 5}).raw == {"tenant": 5}
    assert DynamicTablesAttributes.model_validate(["x"]).raw == ["x"]


def _dg(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "dg"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_dg_check_yaml_uses_the_component_schema(project: Project) -> None:
    root = project(BAD_ATTRIBUTES.replace("target_lag: 30 seconds", "target_lag: 30"))
    result = _dg(root, "check", "yaml")
    assert result.returncode != 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "attributes.dynamic_tables.0.refreshmode Additional properties are not allowed" in output
    assert "attributes.dynamic_tables.0.target_lag 30 is not of type 'string'" in output


def _bomb_attributes() -> str:
    """The tenant plus an 11-line alias bomb (9^9 values once expanded) under `attributes:`."""
    return "  tenant: shop\n  bomb:\n" + alias_bomb("    ")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            _bomb_attributes(),
            "line 10: aliases expand the document past 500,000 values here (MAX_YAML_NODES): a "
            "YAML alias bomb? Fix: write the values out instead of aliases of aliases (&anchor / "
            "*anchor), or split the file; a document may hold 500,000 values with its aliases "
            "expanded (MAX_YAML_NODES).",
        ),
        (
            "  tenant: shop\n  loop: &loop [1, *loop]\n",
            "line 4: the alias *loop refers to a node that contains it, a structure without end. "
            "Fix: remove the alias *loop from inside &loop.",
        ),
    ],
    ids=["alias_bomb", "recursive_alias"],
)
def test_code_location_refuses_hostile_yaml_before_dagster_parses_it(
    project: Project, attributes: str, expected: str
) -> None:
    """`load_tenant_definitions` (every tenant's definitions.py) checks each defs.yaml before
    Dagster's loader, which walks an alias bomb expanded (dg's own commands, which skip it, hang
    in Dagster's source-position walk: an upstream limit the README states)."""
    from dagster_dynamic_tables.definitions.location import load_tenant_definitions

    root = project(attributes)
    defs_yaml = next(root.glob("src/*/defs/shop/defs.yaml"))
    module = defs_yaml.parents[2].name
    for name in [n for n in sys.modules if n == module or n.startswith(f"{module}.")]:
        del sys.modules[name]  # the same module name for every case of this test
    package = importlib.import_module(f"{module}.defs")
    with pytest.raises(DeclarationError) as info:
        load_tenant_definitions(package)
    assert str(info.value) == f"1 problem in {defs_yaml}:\n  - {expected}"


def test_query_file_outside_the_defs_folder_is_refused(project: Project) -> None:
    """The component confines files to Dagster's defs folder (defs_module_path), which holds
    more than the component's own folder: ../other/ is fine, ../../ is not."""
    root = project(
        "  tenant: shop\n  views:\n    - name: v\n      table: SHOP.A.V\n"
        "      query_file: ../shared/v.sql\n    - name: w\n      table: SHOP.A.W\n"
        "      query_file: ../../secret.sql\n"
    )
    defs = next(root.glob("src/*/defs"))
    (defs / "shared").mkdir()
    (defs / "shared" / "v.sql").write_text("select 1 as v\n")
    (defs.parent / "secret.sql").write_text("select 'hunter2'\n")
    with pytest.raises(ComponentTreeException) as info:
        dg.load_from_defs_folder(path_within_project=root)
    assert str(info.value.__cause__) == (
        f"1 problem in {defs / 'shop' / 'defs.yaml'}:\n"
        f"  - views[1].query_file (line 10): '../../secret.sql' resolves to "
        f"{defs.parent / 'secret.sql'}, outside the tenant's defs/ folder ({defs}); query_file "
        f"must stay inside it, symbolic links included. Fix: move the file under {defs} and "
        f"give its path relative to the YAML file's folder ({defs / 'shop'})."
    )
