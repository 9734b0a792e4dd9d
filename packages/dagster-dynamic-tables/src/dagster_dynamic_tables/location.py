"""A tenant's code location, loaded from its `defs` package: the one call in `definitions.py`.

`dg.load_from_defs_folder` finds the project by walking up to its `pyproject.toml`, which a
production image does not have (the tenant is installed there, non-editable, without its project
files): the code server then fails with "Could not find config file". Building the component tree
from the imported `defs` package works the same from a checkout and from an image.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType

import dagster as dg


def load_tenant_definitions(defs_package: ModuleType) -> dg.Definitions:
    """Every definition under the tenant's `defs/` folder: components (`defs.yaml`) and Python
    modules, as `dg.load_from_defs_folder` loads them."""
    if defs_package.__file__ is None:
        raise TypeError(f"{defs_package.__name__} is not a package with an __init__.py")
    package_dir = Path(defs_package.__file__).parent
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
        return tree.build_defs()
