"""Readiness of a code server: ready only when it serves its definitions.

`dagster api grpc-health-check` (the Helm chart's default readiness probe) asks the gRPC health
service, which answers SERVING as soon as the server listens, also when the code location failed
to load (a bad declaration, a `SnowflakeSettingsError`): such a pod would be Ready and receive
traffic while it cannot serve a single asset. This probe asks the server for its repositories, as
the webserver does (`ListRepositories`), and fails when the answer is the load error:

    python -m dagster_dynamic_tables.readiness --port 4000

Exit 0 and one line when the definitions load; exit 1 and one line otherwise: the first line of
the load error's root cause (our errors name the file or variable and the fix, never a secret)
or the connection problem. The generated Helm values run it as the readiness
probe (`platform.deploy.values`). Imports only Dagster's gRPC client (~1 s).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

DEFAULT_TIMEOUT_SECONDS = 8  # under the probe's timeoutSeconds (10), so the message gets out


def check_code_server(host: str, port: int, timeout: int = DEFAULT_TIMEOUT_SECONDS) -> str | None:
    """None when the server at host:port serves its definitions, else what is wrong (one line)."""
    from dagster._grpc.__generated__ import dagster_api_pb2
    from dagster._grpc.client import DagsterGrpcClient
    from dagster._grpc.types import ListRepositoriesResponse
    from dagster._serdes import deserialize_value
    from dagster_shared.error import SerializableErrorInfo

    client = DagsterGrpcClient(port=port, host=host)
    try:
        # `_query`: the public list_repositories() takes no timeout, and a probe must not hang.
        response = client._query(  # pyright: ignore[reportPrivateUsage, reportUnknownMemberType]
            "ListRepositories", dagster_api_pb2.ListRepositoriesRequest, timeout=timeout
        )
    except Exception as e:  # any transport fault means "not ready"; the reason is printed
        return f"code server at {host}:{port} does not answer: {_first_line(str(e))}"
    result = deserialize_value(
        response.serialized_list_repositories_response_or_error,
        (ListRepositoriesResponse, SerializableErrorInfo),
    )
    if isinstance(result, SerializableErrorInfo):
        while result.cause is not None:  # the root cause says what to fix; wrappers say "load"
            result = result.cause
        return f"code location failed to load: {_first_line(result.message)}"
    return None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dagster_dynamic_tables.readiness",
        description="Exit 0 only when the code server serves its definitions.",
    )
    parser.add_argument("--host", default="localhost")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_SECONDS)
    args = parser.parse_args(argv)
    problem = check_code_server(args.host, args.port, args.timeout)
    if problem:
        print(f"not ready: {problem}")
        return 1
    print(f"ready: code server at {args.host}:{args.port} serves its definitions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
