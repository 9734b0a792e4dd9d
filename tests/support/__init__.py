"""Helpers shared by the tests, benchmarks and UI scripts, written once (conftests hold fixtures
only).

Importable as `support` because the root pytest configuration puts `tests/` on the Python path
(`pythonpath = ["tests"]`; test modules themselves still load with --import-mode=importlib).
Scripts run outside pytest (tests/benchmarks, tests/ui) put `tests/` on `sys.path` in one line.

- `repo`: the repository root, this environment's bin folder, the shipped tenants, copies.
- `processes`: free ports, bounded waits, processes started in their own session and stopped by
  pid, log tails, commands (and the platform CLI, `run_cli`) run with captured output.
- `environment`: a clean environment for child processes, the uv executable.
- `image`: a tenant's image environment built without Docker (the Dockerfile's builder stage).
- `code_server`: a tenant's `dagster code-server` on a loopback port.
- `postgres`: a private PostgreSQL server for Dagster's storage.
- `dagster_dev`: `dagster dev` against a private stand-in, read through GraphQL.
- `stand_in_cursor`: a cursor on a test's own stand-in database, with small helpers.
- `shop`: the shop tenant of the core tests (orders -> totals), its objects in the stand-in and
  its resource.
- `sensor_rows`: typed refresh rows and SHOW states for the sensor's tests without a server.
- `sensor_statements`: the sensor's metadata statements, verbatim as a client sends them.
- `snowflake_resources`: resources that count their logins, or reach nothing.
- `check_runs`: runs of a tenant's health checks, as the UI's "Execute checks" starts them.
- `fake_endpoints`: loopback account endpoints that misbehave (silent, dropping, ...).
- `loopback_only`: an audit hook that refuses any traffic beyond the loopback (child processes).
- `yaml_bombs`: YAML the declaration loaders must refuse.
- `own_server`: a local-snowflake server of a test's own (its data directory, its port), stopped
  by pid when the block ends.
- `stand_in_pipeline`: the small pipelines the stand-in's tests build (orders -> totals ->
  doubled; a one-row src under one Dynamic Table).
- `platform_repo`: a tiny platform repository in a real git repo (`tenants affected`, `dev`, the
  CI's selection).
- `e2e_tenants`: the end-to-end test's private tenant of orchestrated Dynamic Tables.
- `refresh_statistics`: the refresh STATISTICS keys the sensor records, as the tests expect them.
- `bench`: what the benchmarks share (the stand-in's statement count).
- `ui`: the UI check scripts' frame (arguments, `dagster dev`, headless chromium, screenshots).

A step process Dagster starts imports a test module again with sys.path minus its first entry,
pytest's `tests/`: a test running a multiprocess job prepends it once more (see test_checks).
"""
