"""Reading the connector's requests, and answering faults in Snowflake's JSON error shape.

Snowflake answers a request it cannot serve with HTTP 200 and `{"data": ..., "code": "<code>",
"message": "...", "success": false}`; the connector raises that as an error with the code as
errno. A bare HTTP 500 (or 400) would instead make the connector retry the request for minutes.
So every malformed request gets the JSON shape here: code 390400 (the code the connector names
BAD_REQUEST) with a message that says what is wrong, and bodies are read with limits:
`MAX_BODY_BYTES` on the wire and `MAX_INFLATED_BYTES` once a gzip body is inflated.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from fakesnow.converter import from_binding
from starlette.requests import Request

from local_snowflake.errors import HttpError

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_INFLATED_BYTES = 64 * 1024 * 1024
BAD_REQUEST = "390400"
_DRAIN_BYTES = 16 * MAX_BODY_BYTES


def bad_request(message: str) -> HttpError:
    return HttpError(BAD_REQUEST, f"Bad request: {message}.")


def token(request: Request) -> str:
    auth = request.headers.get("Authorization")
    if not auth:
        raise HttpError("390103", "Session token not found in the request data.", 401)
    return auth[17:-1]  # Snowflake Token="<token>"


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, read within the size limits (gzip inflated if declared)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        elif size > _DRAIN_BYTES:
            break
        # past the limit the rest is read and dropped, so that the client reads the answer
        # instead of a broken pipe
    if size > MAX_BODY_BYTES:
        raise _too_large("body", MAX_BODY_BYTES)
    body = b"".join(chunks)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        body = _inflate(body)
    try:
        parsed: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("the request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise bad_request("the request body is not a JSON object")
    return parsed  # pyright: ignore[reportUnknownVariableType] -- JSON: checked per field by callers


def _inflate(body: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
    try:
        inflated = inflater.decompress(body, MAX_INFLATED_BYTES + 1)
    except zlib.error:
        raise bad_request("the body is declared gzip (Content-Encoding) but is not gzip") from None
    if len(inflated) > MAX_INFLATED_BYTES:
        raise _too_large("inflated body", MAX_INFLATED_BYTES)
    if not inflater.eof or inflater.unused_data:
        raise bad_request("the gzip body is truncated or has trailing data")
    return inflated


def _too_large(what: str, limit: int) -> HttpError:
    return bad_request(
        f"the request {what} is larger than local-snowflake's limit of {limit} bytes"
    )


def sql_text(body: dict[str, Any]) -> str:
    sql = body.get("sqlText")
    if not isinstance(sql, str):
        raise bad_request("the query request has no sqlText string")
    if not sql.strip():
        raise HttpError("000900", "SQL compilation error:\nEmpty SQL statement.")
    return sql


def session_parameters(body: dict[str, Any]) -> dict[str, Any]:
    data: Any = body.get("data")
    if not isinstance(data, dict):
        raise bad_request("the login request has no data object")
    fields: dict[str, Any] = data  # pyright: ignore[reportUnknownVariableType] -- JSON object
    params: Any = fields.get("SESSION_PARAMETERS")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise bad_request("SESSION_PARAMETERS is not an object")
    checked: dict[str, Any] = params  # pyright: ignore[reportUnknownVariableType] -- JSON object
    autocommit: Any = checked.get("AUTOCOMMIT", True)
    if not isinstance(autocommit, bool):
        raise bad_request(f"AUTOCOMMIT must be true or false, got {autocommit!r}")
    return checked


def bindings(body: dict[str, Any]) -> tuple[Any, list[tuple[Any, ...]] | None]:
    """Bindings as fakesnow's server decodes them: named, array (a batch) or positional."""
    raw: Any = body.get("bindings")
    if not raw:
        return None, None
    if not isinstance(raw, dict) or not all(
        isinstance(b, dict) and isinstance(b.get("type"), str) and "value" in b  # pyright: ignore[reportUnknownMemberType] -- JSON
        for b in raw.values()  # pyright: ignore[reportUnknownVariableType, reportUnknownMemberType] -- JSON
    ):
        raise bad_request('bindings must be an object of {"type": ..., "value": ...} objects')
    checked: dict[str, dict[str, Any]] = raw  # pyright: ignore[reportUnknownVariableType] -- checked above
    try:
        return _decode(checked)
    except (ValueError, TypeError, KeyError, ArithmeticError) as e:
        raise bad_request(f"a binding cannot be decoded ({type(e).__name__}: {e})") from None


def _decode(raw: dict[str, dict[str, Any]]) -> tuple[Any, list[tuple[Any, ...]] | None]:
    if not all(k.isdigit() for k in raw):
        return {name: from_binding(b) for name, b in raw.items()}, None
    if sorted(int(k) for k in raw) != list(range(1, len(raw) + 1)):
        raise ValueError("positional bindings must be numbered 1..n")
    ordered = [raw[str(pos)] for pos in range(1, len(raw) + 1)]
    if any(isinstance(b["value"], list) for b in ordered):
        if not all(isinstance(b["value"], list) for b in ordered):
            raise ValueError("array bindings must all be arrays")
        columns = [[from_binding({**b, "value": v}) for v in b["value"]] for b in ordered]
        return None, list(zip(*columns, strict=True))
    return tuple(from_binding(b) for b in ordered), None
