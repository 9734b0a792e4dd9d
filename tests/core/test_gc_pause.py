"""without_gc pauses the cyclic collector for a block and restores what it found."""

import gc

import pytest
from dagster_dynamic_tables.gc_pause import without_gc


def test_without_gc_pauses_and_restores_an_enabled_collector():
    assert gc.isenabled()
    with without_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_without_gc_restores_the_collector_when_the_block_fails():
    with pytest.raises(ValueError, match="boom"), without_gc():
        raise ValueError("boom")
    assert gc.isenabled()


def test_without_gc_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with without_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
