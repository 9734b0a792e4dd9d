"""A stand-in connection does not look for a cloud.

On every login the connector probes AWS, Azure and GCP metadata endpoints (169.254.169.254,
metadata.google.internal) to report the platform it runs on. For the stand-in on the loopback that
is pointless traffic, and a delay wherever those addresses do not answer. The probes are observed
without letting them out: a child process installs an audit hook that records and refuses every
name lookup and connection to anything but the loopback, then logs in to the stand-in.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from support.repo import TESTS_ROOT

CHILD = textwrap.dedent(
    """
    import json, sys

    from support.loopback_only import refuse_non_loopback

    attempts = refuse_non_loopback()

    import snowflake.connector
    from dagster_dynamic_tables.standin import stand_in_connection_args

    port, how = int(sys.argv[1]), sys.argv[2]
    if how == "stand_in_connection_args":  # what the tenant's resource and local setup pass
        args = stand_in_connection_args(port)
    else:  # the connector's defaults, as before: only what it takes to reach the stand-in
        args = {"host": "127.0.0.1", "port": port, "protocol": "http",
                "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False}}
    conn = snowflake.connector.connect(account="local", user="local", password="local", **args)
    assert conn.cursor().execute("SELECT 1").fetchall() == [(1,)]
    conn.close()
    print(json.dumps(sorted(set(attempts))))
    """
)


def _hosts_probed(port: int, how: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(port), how],
        env={**os.environ, "PYTHONPATH": str(TESTS_ROOT)},  # `import support`
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("how", "probes_cloud"),
    [("connector_defaults", True), ("stand_in_connection_args", False)],
    ids=["connector-defaults-probe", "stand-in-does-not"],
)
def test_stand_in_login_looks_for_no_cloud(local_snowflake_server, how, probes_cloud):
    probed = _hosts_probed(local_snowflake_server.port, how)
    if probes_cloud:  # shows the hook sees the probes, so an empty list below means something
        assert "169.254.169.254" in probed or "metadata.google.internal" in probed, probed
    else:
        assert probed == []
