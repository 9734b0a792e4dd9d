"""A tenant's code location, loaded from its `defs` package: the one call in `definitions.py`.

`dg.load_from_defs_folder` finds the project by walking up to its `pyproject.toml`, which a
production image does not have (the tenant is installed there, non-editable, without its project
files): the code server then fails with "Could not find config file". Building the component tree
from the imported `defs` package works the same from a checkout and from an image.

Before Dagster parses anything, every `defs.yaml` (`defs.yml`, `component.yaml`) under the
package is read bounded and checked for size, nesting depth and alias expansion: Dagster's YAML
parser is recursive (RecursionError at 1,000 levels) and its result is walked expanded by the
component (an 11-line alias bomb is 9^9 values), so a hostile or broken file fails the location
at once with a `DeclarationError` naming the file, the line, the limit and the fix.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType

import dagster as dg

from dagster_dynamic_tables.declarations.loader import read_declaration_file
from dagster_dynamic_tables.declarations.yamlbounds import check_yaml_text
from dagster_dynamic_tables.definitions.automation import hold_back_on_blocking_checks
from dagster_dynamic_tables.definitions.component import DEFS_FILE_NAMES


def load_tenant_definitions(defs_package: ModuleType) -> dg.Definitions:
    """Every definition under the tenant's `defs/` folder: components (`defs.yaml`) and Python
    modules, as `dg.load_from_defs_folder` loads them; every automation condition also waits for
    the blocking checks of the asset's deps (`automation.hold_back_on_blocking_checks`)."""
    if defs_package.__file__ is None:
        raise TypeError(f"{defs_package.__name__} is not a package with an __init__.py")
    package_dir = Path(defs_package.__file__).parent
    check_defs_files(package_dir)
    with warnings.catch_warnings():
        # As dg.load_from_defs_folder does (Dagster's suppress_dagster_warnings): no preview,
        # beta, supersession or deprecation notices from Dagster's own loading machinery.
        for category in (
            DeprecationWarning,
            dg.PreviewWarning,
            dg.BetaWarning,
            dg.SupersessionWarning,
        ):
            warnings.simplefilter("ignore", category)
        tree = dg.ComponentTree(defs_module=defs_package, project_root=package_dir.parent)
        return hold_back_on_blocking_checks(tree.build_defs())


def check_defs_files(defs_dir: Path) -> None:
    """Raise `DeclarationError` for the first component file under `defs_dir` that is not a
    regular UTF-8 file within the size limit, or whose YAML nests too deep or is an alias bomb."""
    for path in sorted(defs_dir.rglob("*")):
        if path.name in DEFS_FILE_NAMES:
            check_yaml_text(read_declaration_file(path), file=path)
