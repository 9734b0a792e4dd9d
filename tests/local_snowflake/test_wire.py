"""Malformed requests get Snowflake's JSON error shape (HTTP 200, success false, a code), never a
bare HTTP 500 that the connector would retry for minutes; bodies are read within limits."""

from __future__ import annotations

import gzip
import json
import urllib.request

import pytest
from local_snowflake.wire import MAX_BODY_BYTES, MAX_INFLATED_BYTES


def post(server, path, body, *, token=None, gzipped=False):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f'Snowflake Token="{token}"'
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    request = urllib.request.Request(
        f"http://{server.host}:{server.port}{path}", data=body, headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


LOGIN = "/session/v1/login-request?databaseName=WIRE&schemaName=S"
QUERY = "/queries/v1/query-request?requestId=1"


@pytest.fixture(scope="module")
def token(local_snowflake_server):
    body = json.dumps({"data": {"SESSION_PARAMETERS": {}}}).encode()
    status, answer = post(local_snowflake_server, LOGIN, body)
    assert (status, answer["success"]) == (200, True)
    return answer["data"]["token"]


def bad_request(message):
    return {
        "data": {"errorCode": "390400", "internalError": False},
        "code": "390400",
        "message": f"Bad request: {message}.",
        "success": False,
    }


def query(sql, **extra):
    return json.dumps({"sqlText": sql, **extra}).encode()


@pytest.mark.parametrize(
    ("path", "body", "gzipped", "message"),
    [
        (LOGIN, b"{not json", False, "the request body is not valid JSON"),
        (LOGIN, b"[1, 2]", False, "the request body is not a JSON object"),
        (LOGIN, b"{}", False, "the login request has no data object"),
        (
            LOGIN,
            b'{"data": {"SESSION_PARAMETERS": []}}',
            False,
            "SESSION_PARAMETERS is not an object",
        ),
        (
            LOGIN,
            b'{"data": {"SESSION_PARAMETERS": {"AUTOCOMMIT": "yes"}}}',
            False,
            "AUTOCOMMIT must be true or false, got 'yes'",
        ),
        (
            LOGIN,
            b'{"data": {}}',
            True,
            "the body is declared gzip (Content-Encoding) but is not gzip",
        ),
        (QUERY, b"\xff\xfe garbage", False, "the request body is not valid JSON"),
        (QUERY, b'{"sqlTxt": "SELECT 1"}', False, "the query request has no sqlText string"),
        (
            QUERY,
            gzip.compress(query("SELECT 1"))[:-4],
            True,
            "the gzip body is truncated or has trailing data",
        ),
        (
            QUERY,
            query("SELECT ?", bindings={"1": {"type": "FIXED"}}),
            False,
            'bindings must be an object of {"type": ..., "value": ...} objects',
        ),
        (
            QUERY,
            query("SELECT ?", bindings={"2": {"type": "FIXED", "value": "1"}}),
            False,
            "a binding cannot be decoded (ValueError: positional bindings must be numbered 1..n)",
        ),
        (
            QUERY,
            query("SELECT ?", bindings={"1": {"type": "FIXED", "value": "one"}}),
            False,
            "a binding cannot be decoded (ValueError: invalid literal for int() with base 10: "
            "'one')",
        ),
        (QUERY, b"x" * (5 * 1024 * 1024), False, "the request body is not valid JSON"),
        (
            QUERY,
            b"x" * (MAX_BODY_BYTES + 1),
            False,
            f"the request body is larger than local-snowflake's limit of {MAX_BODY_BYTES} bytes",
        ),
        (
            QUERY,
            gzip.compress(b" " * (MAX_INFLATED_BYTES + 1)),
            True,
            "the request inflated body is larger than local-snowflake's limit of "
            f"{MAX_INFLATED_BYTES} bytes",
        ),
    ],
    ids=[
        "login-invalid-json",
        "login-not-an-object",
        "login-no-data",
        "login-bad-session-parameters",
        "login-bad-autocommit",
        "login-not-gzip",
        "query-garbage",
        "query-no-sql-text",
        "query-truncated-gzip",
        "query-binding-without-value",
        "query-binding-gap",
        "query-binding-bad-value",
        "query-5-mib-garbage",
        "query-too-large",
        "query-gzip-bomb",
    ],
)
def test_malformed_requests_get_snowflakes_json_error(
    local_snowflake_server, token, path, body, gzipped, message
):
    assert post(local_snowflake_server, path, body, token=token, gzipped=gzipped) == (
        200,
        bad_request(message),
    )


def test_an_empty_statement_is_snowflakes_empty_sql_error(local_snowflake_server, token):
    assert post(local_snowflake_server, QUERY, query("  "), token=token) == (
        200,
        {
            "data": {"errorCode": "000900", "internalError": False},
            "code": "000900",
            "message": "SQL compilation error:\nEmpty SQL statement.",
            "success": False,
        },
    )


def test_a_well_formed_gzip_request_with_bindings_still_works(local_snowflake_server, token):
    body = gzip.compress(
        query("SELECT ? + 1 AS x", bindings={"1": {"type": "FIXED", "value": "41"}})
    )
    status, answer = post(local_snowflake_server, QUERY, body, token=token, gzipped=True)
    assert (status, answer["success"]) == (200, True)
    assert answer["data"]["total"] == 1
