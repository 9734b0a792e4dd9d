"""Pausing the cyclic garbage collector around allocation-heavy work whose objects stay alive."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def without_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: parsing a large file allocates tens of thousands of
    objects that all stay alive, and the full collections they trigger (each scanning every
    object of the process, Dagster's included) cost more than the parse itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
