# fakesnow's cursor internals (its Arrow table, its DESCRIBE rows) are untyped, so the
# unknown-type rules are off in this one module, which is all the code that touches them;
# pyarrow (no type information either) is imported as Any below.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false, reportPrivateUsage=false
"""Result sets in the shape the real connector reads: fakesnow's conversion, with two faults fixed.

- NULL timestamps: fakesnow builds the epoch/fraction struct without a validity mask, so the
  connector reads a NULL timestamp as 1970-01-01. Here the struct carries the column's nulls.
- TIMESTAMP_LTZ: DuckDB has one time-zone-aware type, which fakesnow reports as TIMESTAMP_TZ.
  Columns known to be TIMESTAMP_LTZ (all metadata-function timestamps, and statements that ask
  for TIMESTAMP_LTZ) are reported as TIMESTAMP_LTZ, which the connector returns in the session
  time zone (UTC here).
"""

from __future__ import annotations

import importlib
from base64 import b64encode
from typing import Any

from fakesnow.arrow import to_ipc
from fakesnow.conn import FakeSnowflakeConnection
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.rowtype import ColumnInfo, describe_as_rowtype
from fakesnow.statement_type import DML_TYPE_IDS

RESULTS_KEPT_PER_SESSION = 20
"""Results a session can read again (RESULT_SCAN, the connector's async polling): the newest."""

pa: Any = importlib.import_module("pyarrow")
pc: Any = importlib.import_module("pyarrow.compute")


class SessionResults(dict[str, tuple[Any, ...]]):
    """One session's results cache, bounded to the newest `RESULTS_KEPT_PER_SESSION`.

    fakesnow keeps one cache for every connection of an instance, forever: any session could
    RESULT_SCAN another's query id, and memory grew with every result. Each session (and each
    of the engine's own) gets one of these instead."""

    def __setitem__(self, key: str, value: tuple[Any, ...]) -> None:
        super().__setitem__(key, value)
        while len(self) > RESULTS_KEPT_PER_SESSION:
            del self[next(iter(self))]


def describe_only(cur: FakeSnowflakeCursor, sql: str) -> list[ColumnInfo] | None:
    """The result columns of sql without running it (fakesnow's describe-only entry point)."""
    described = cur._describe_only(sql)
    return None if described is None else describe_as_rowtype(described)


def has_result(conn: FakeSnowflakeConnection, sfqid: str) -> bool:
    return bool(conn.results_cache.get(sfqid))


def encode_result(
    cur: FakeSnowflakeCursor,
    type_id: int,
    batch_rowcount: int | None,
    ltz: bool,
    semi_structured: dict[str, str],
) -> tuple[list[ColumnInfo], dict[str, Any], int]:
    """(rowtype, result fields, total rows) of the cursor's last statement, as fakesnow's
    server encodes them: DML counts as a JSON rowset, everything else as Arrow IPC."""
    rowtype = fix_rowtype(describe_as_rowtype(cur._describe_last_sql()), ltz, semi_structured)
    table = cur._arrow_table
    if batch_rowcount is not None and table is not None and type_id in DML_TYPE_IDS:
        return rowtype, {"queryResultFormat": "json", "rowset": [[str(batch_rowcount)]]}, 1
    if table is None:
        return rowtype, {"queryResultFormat": "arrow", "rowsetBase64": ""}, 0
    if type_id in DML_TYPE_IDS:
        rows = zip(*[c.to_pylist() for c in table.columns], strict=True)
        rowset = [[None if v is None else str(v) for v in row] for row in rows]
        return rowtype, {"queryResultFormat": "json", "rowset": rowset}, table.num_rows
    ipc = b64encode(to_ipc(to_sf(table, rowtype))).decode()
    return rowtype, {"queryResultFormat": "arrow", "rowsetBase64": ipc}, table.num_rows


def fix_rowtype(
    rowtype: list[ColumnInfo], ltz: bool, semi_structured: dict[str, str]
) -> list[ColumnInfo]:
    fixed: list[ColumnInfo] = []
    for column in rowtype:
        sf_type = column["type"]
        if ltz and sf_type == "timestamp_tz":
            sf_type = "timestamp_ltz"
        elif column["name"].upper() in semi_structured and sf_type in {"text", "variant"}:
            sf_type = semi_structured[column["name"].upper()]
        fixed.append({**column, "type": sf_type})
    return fixed


def to_sf(table: Any, rowtype: list[ColumnInfo]) -> Any:
    arrays: list[Any] = []
    for column, info in zip(table.columns, rowtype, strict=True):
        if pa.types.is_timestamp(column.type):
            arrays.append(_timestamp_struct(column, with_tz=info["type"] == "timestamp_tz"))
        elif pa.types.is_time(column.type):
            arrays.append(pc.multiply(column.cast(pa.int64()), 1000))  # as nanoseconds
        elif pa.types.is_null(column.type):
            arrays.append(column.cast(pa.string()))  # Snowflake returns untyped NULL as TEXT
        elif pa.types.is_uint64(column.type):
            arrays.append(column.cast(pa.int64()))  # the connector expects signed ints
        else:
            arrays.append(column)
    fields = [
        pa.field(name, array.type).with_metadata(_metadata(info))
        for name, array, info in zip(table.column_names, arrays, rowtype, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _metadata(c: ColumnInfo) -> dict[str, str]:
    return {
        "logicalType": c["type"].upper(),
        "precision": str(c["precision"] or 38),
        "scale": str(c["scale"] or 0),
        "charLength": str(c["length"] or 0),
    }


def _timestamp_struct(ts: Any, with_tz: bool) -> Any:
    array: Any = ts.combine_chunks()
    seconds = pc.floor_temporal(array, unit="second")
    epoch = pc.divide(seconds.cast(pa.int64()), 1_000_000)
    fraction = pc.round(pc.multiply(pc.subsecond(array), 1_000_000_000)).cast(pa.int32())
    arrays: list[Any] = [pc.fill_null(epoch, 0), pc.fill_null(fraction, 0)]
    fields = [
        pa.field("epoch", pa.int64(), nullable=False),
        pa.field("fraction", pa.int32(), nullable=False),
    ]
    if with_tz:
        arrays.append(pa.array([1440] * len(array), type=pa.int32()))  # UTC: 1440 minutes offset
        fields.append(pa.field("timezone", pa.int32(), nullable=False))
    mask = pc.is_null(array)
    return pa.StructArray.from_arrays(arrays, fields=fields, mask=mask)
