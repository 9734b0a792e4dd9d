"""What importing the core costs, and what it leaves out.

- A submodule (`dagster_dynamic_tables.standin`, `.errors`, `.identifiers`) imports neither Dagster
  nor dagster-snowflake (nor pydantic): the package root loads its public names on first use
  (PEP 562), so the `dynamic-tables local status|stop` commands stay quick.
- The stand-in (`local_snowflake`) is an optional extra: nothing imports it unless a tenant has no
  Snowflake account, and without it such a tenant fails to load with one message saying what to
  set. Its absence is simulated honestly, in a child process whose import system cannot find it.

Each check runs in a fresh interpreter (`sys.modules` of this one already holds everything); the
two that import a tenant run side by side.
"""

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import dagster_dynamic_tables
import pytest
from support.processes import Background
from support.repo import REPO_ROOT

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


def _clean(env: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "SNOWFLAKE" not in k} | (env or {})


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=_clean(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


PRODUCTION_IMPORT = (
    HIDE_STAND_IN + "import ecommerce.definitions\n"
    "loaded = ('local_snowflake', 'fakesnow', 'duckdb')\n"
    "print(sorted(name for name in loaded if name in sys.modules), LOOKED_UP)\n"
)
NO_ACCOUNT_IMPORT = HIDE_STAND_IN + "import ecommerce.definitions\n"


@pytest.fixture(scope="module")
def tenant_imports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Background]]:
    """The two imports of a tenant below, each in a fresh interpreter, started together at the
    first that needs one: each loads Dagster and dagster-snowflake on one core (about 8 s), and
    the machine has two."""
    children = {
        name: Background(
            [sys.executable, "-c", code], REPO_ROOT, _clean(env), tmp_path_factory.mktemp(name)
        )
        for name, code, env in (
            ("production", PRODUCTION_IMPORT, PRODUCTION),
            ("no-account", NO_ACCOUNT_IMPORT, None),
        )
    }
    try:
        yield children
    finally:
        for child in children.values():
            child.stop()


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


def test_production_tenant_loads_without_the_stand_in_and_never_looks_for_it(
    tenant_imports: dict[str, Background],
):
    """One interpreter answers both (each import of a tenant costs seconds): the stand-in is
    hidden, so a tenant with an account loads without it installed; and the hiding finder
    records every lookup of it, so the tenant never even tries to import it (a lookup caught
    and ignored would still be recorded), nor its engines."""
    result = tenant_imports["production"].result()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[] []"


def test_tenant_without_account_nor_stand_in_fails_saying_what_to_set(
    tenant_imports: dict[str, Background],
):
    result = tenant_imports["no-account"].result()
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
