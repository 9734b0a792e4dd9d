"""What importing the core costs, and what it leaves out.

- A submodule (`dagster_dynamic_tables.standin`, `.errors`, `.identifiers`) imports neither Dagster
  nor dagster-snowflake (nor pydantic): the package root loads its public names on first use
  (PEP 562), so the `dynamic-tables local status|stop` commands stay quick.
- The stand-in (`local_snowflake`) is an optional extra: nothing imports it unless a tenant has no
  Snowflake account, and without it such a tenant fails to load with one message saying what to
  set. Its absence is simulated honestly, in a child process whose import system cannot find it.

Each check runs in a fresh interpreter (`sys.modules` of this one already holds everything).
"""

import os
import subprocess
import sys
import textwrap

import dagster_dynamic_tables
import pytest

HIDE_STAND_IN = textwrap.dedent(
    """
    import sys

    LOOKED_UP = []

    class HideStandIn:  # as if dagster-dynamic-tables[local] were not installed
        def find_spec(self, name, path=None, target=None):
            if name == "local_snowflake" or name.startswith("local_snowflake."):
                LOOKED_UP.append(name)
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, HideStandIn())
    """
)
PRODUCTION = {
    "SNOWFLAKE_ACCOUNT": "acme-prod",
    "SNOWFLAKE_USER": "DAGSTER",
    "SNOWFLAKE_PASSWORD": "not-used-at-load",
}


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_submodules_import_without_dagster_or_snowflake():
    result = _python(
        "import sys\n"
        "import dagster_dynamic_tables.errors, dagster_dynamic_tables.declarations.identifiers\n"
        "from dagster_dynamic_tables.standin import (\n"
        "    LocalSetupError, create_local_objects, local_stand_in_location)\n"
        "heavy = ('dagster', 'dagster_snowflake', 'snowflake.connector', 'local_snowflake',\n"
        "         'pydantic')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_package_root_names_load_on_first_use():
    names = dagster_dynamic_tables.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))  # ruff's RUF022 order
    assert set(names) <= set(dir(dagster_dynamic_tables))  # dg finds components through dir()
    for name in names:
        value = getattr(dagster_dynamic_tables, name)
        module = sys.modules[f"dagster_dynamic_tables.{dagster_dynamic_tables._SUBMODULES[name]}"]
        assert getattr(module, name) is value, name
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = dagster_dynamic_tables.nope


def test_dg_finds_the_component_in_the_lazy_package_root():
    from dagster.components.core.package_entry import get_package_objects_in_module

    found = dict(get_package_objects_in_module(dagster_dynamic_tables))
    assert list(found) == ["DynamicTablesComponent"]
    assert found["DynamicTablesComponent"] is dagster_dynamic_tables.DynamicTablesComponent


def test_production_tenant_loads_without_the_stand_in_and_never_looks_for_it():
    """One interpreter answers both (each import of a tenant costs seconds): the stand-in is
    hidden, so a tenant with an account loads without it installed; and the hiding finder
    records every lookup of it, so the tenant never even tries to import it (a lookup caught
    and ignored would still be recorded), nor its engines."""
    result = _python(
        HIDE_STAND_IN + "import ecommerce.definitions\n"
        "loaded = ('local_snowflake', 'fakesnow', 'duckdb')\n"
        "print(sorted(name for name in loaded if name in sys.modules), LOOKED_UP)\n",
        env=PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[] []"


def test_tenant_without_account_nor_stand_in_fails_saying_what_to_set():
    result = _python(HIDE_STAND_IN + "import ecommerce.definitions\n")
    assert result.returncode != 0
    message = (
        "No Snowflake account is configured for tenant 'ecommerce' (ECOMMERCE_SNOWFLAKE_ACCOUNT "
        "or SNOWFLAKE_ACCOUNT), and the local Snowflake stand-in is not installed in this "
        "environment. Fix: set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PASSWORD or "
        "SNOWFLAKE_PRIVATE_KEY_PATH (per tenant: ECOMMERCE_SNOWFLAKE_ACCOUNT, ...); for local "
        "development install dagster-dynamic-tables[local]."
    )
    assert f"dagster_dynamic_tables.errors.SnowflakeSettingsError: {message}" in result.stderr
    # One message: the cause Dagster shows, not a chain of import errors behind it.
    assert result.stderr.count("No Snowflake account is configured") == 1
    assert "ModuleNotFoundError" not in result.stderr
