"""The run of data tests a tick requests: after the sensor records refreshes, the declared data
tests of those Dynamic Tables run once, in one run per tenant per tick.

- `data_test_keys(tenant)`: per Dynamic Table asset key, the check keys of its declared data tests
  (named as `declarations.data_tests` names them, the names `health.data_tests` gives the checks).
- `data_tests_run_request(tenant, events, keys)`: given what a tick recorded, one `RunRequest`
  selecting exactly the data tests of the tables it recorded a materialization for (a refresh
  that changed data, or the data a table holds when the sensor first sees it), no asset; None
  when none of them declares a test. The tenant's one `@multi_asset_check` executes the selection
  in one step over one connection (`health.data_tests`), in the run's own process (the tenant's
  executor runs a run of checks only in process: `health.checks`).

The run key is `<tenant>:data-tests:<digest>`, the digest of the (asset key, data version) pairs
recorded: a tick evaluated again with the same cursor records the same refreshes and gets the same
key, which Dagster's sensor daemon never launches twice; each new refresh gives a new key.

What the sensor does not record it does not test: a refresh Dagster made itself (an orchestrated
`scheduler: DISABLE` table, `definitions.orchestrated`) is materialized by its run, which runs the
table's checks with it (Dagster includes an asset's checks in the run that materializes it), and
the sensor records no second materialization for it (same data version), so no second test run.
A refresh made outside Dagster of such a table is recorded, and tested, as any other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import dagster as dg

from dagster_dynamic_tables import metadata as md
from dagster_dynamic_tables.declarations.models import Tenant
from dagster_dynamic_tables.freshness.events import AssetEvent


def data_test_keys(tenant: Tenant) -> dict[dg.AssetKey, list[dg.AssetCheckKey]]:
    """The check keys of each Dynamic Table's declared data tests, by the table's asset key
    (tables without a test left out)."""
    keys: dict[dg.AssetKey, list[dg.AssetCheckKey]] = {}
    for dt in tenant.dynamic_tables:
        if dt.data_tests:
            key = dg.AssetKey(tenant.key_path(dt))
            keys[key] = [dg.AssetCheckKey(key, test.check_name) for test in dt.data_tests]
    return keys


def data_tests_selection(
    keys: Mapping[dg.AssetKey, Sequence[dg.AssetCheckKey]],
) -> dg.AssetSelection | None:
    """What the sensor may request: every data test of the tenant's Dynamic Tables (None when
    none declares one: the sensor then targets nothing, as before data tests)."""
    checks = [check for checks in keys.values() for check in checks]
    return dg.AssetSelection.checks(*checks) if checks else None


def _run_key(tenant_slug: str, recorded: Sequence[tuple[str, str]]) -> str:
    text = "\n".join(f"{key}@{version}" for key, version in sorted(recorded))
    return f"{tenant_slug}:data-tests:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def data_tests_run_request(
    tenant: Tenant,
    events: Sequence[AssetEvent],
    keys: Mapping[dg.AssetKey, Sequence[dg.AssetCheckKey]],
) -> dg.RunRequest | None:
    """One run of the data tests of the tables `events` materialized (see the module docstring)."""
    recorded: list[tuple[str, str]] = []
    tested: dict[dg.AssetKey, None] = {}
    for event in events:
        if isinstance(event, dg.AssetMaterialization) and event.asset_key in keys:
            version = (event.tags or {}).get(md.DATA_VERSION_TAG, "")
            recorded.append((event.asset_key.to_user_string(), version))
            tested[event.asset_key] = None
    if not tested:
        return None
    return dg.RunRequest(
        run_key=_run_key(tenant.slug, recorded),
        asset_selection=[],
        asset_check_keys=[check for key in tested for check in keys[key]],
    )
