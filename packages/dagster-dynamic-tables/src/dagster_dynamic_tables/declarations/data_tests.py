"""Data tests: what a source or a Dynamic Table declares under `data_tests:`.

One entry holds exactly one kind key, plus optional `name`, `severity` and `blocking`:

    data_tests:
      - not_null: {column: order_id}
      - unique: {columns: [customer_id, order_date]}
      - accepted_values: {column: status, values: [open, shipped]}
      - relationships: {column: customer_id, to: ecommerce/customers, field: id}
      - row_count: {min: 1, max: 1000000}
      - sql: "select * from ANALYTICS.ECOMMERCE.ORDERS where amount < 0"
        name: no_negative_amounts
        blocking: true                 # severity error (the default): holds back downstream
      - not_null: {column: email}
        severity: warn                 # a warning never blocks

Contract:
- Columns are Snowflake identifiers as written (`order_id`, `"Mixed Case"`), checked with
  `identifiers.parse_identifier`; `to` is an asset key (`orders`, `ecommerce/orders` or
  `[ecommerce, orders]`), short names meaning the tenant's own asset, as in `deps`; for another
  tenant's asset, `table` gives its Snowflake table (a code location knows only its own tenant's
  declarations; `tenants check` compares it with the other tenant's).
- `row_count` takes `min`, `max` or both (whole numbers >= 0, min <= max); `unique` takes `column`
  or `columns`, not both; `sql` is one SELECT (or WITH ... SELECT) returning the failing rows.
- Each test becomes a Dagster asset check named `name`, by default `not_null_<column>`,
  `unique_<col>[_<col>...]`, `accepted_values_<column>`, `relationships_<column>`, `row_count` or
  `sql_<index>` (the column's resolved name, lowercased, other characters than letters, digits and
  `_` as `_`). Names match `^[A-Za-z0-9_]+$`, are unique per table and never one of the four health
  checks (`RESERVED_CHECK_NAMES`: `metadata.CHECK_NAMES`).
- `data_test_problems.parse_data_tests(raw, path)` validates a raw `data_tests:` value and
  reports every problem at once, with the YAML path, the bad value, what is allowed and the fix.
  The models can also be built in Python (`DataTest(not_null=NotNull(column="id"))`);
  `name_data_tests` then fills in the default names.

The SQL of each kind is in `sql.data_tests`; the checks are in `health.data_tests`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Annotated, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from dagster_dynamic_tables.declarations.fields import TableName, closing_quote
from dagster_dynamic_tables.declarations.identifiers import Identifier, parse_identifier
from dagster_dynamic_tables.metadata import CHECK_NAMES

RESERVED_CHECK_NAMES = CHECK_NAMES
"""The health checks' names (`metadata.CHECK_NAMES`): a data test may not take one."""
CHECK_NAME_PATTERN = "^[A-Za-z0-9_]+$"
"""Dagster's rule for asset check names."""
KINDS = ("not_null", "unique", "accepted_values", "relationships", "row_count", "sql")
"""The kind keys of a data test, one per entry."""
DataTestSeverity = Literal["warn", "error"]

_CHECK_NAME = re.compile(CHECK_NAME_PATTERN)
_KEY_PART = re.compile(r"[a-z][a-z0-9_]*")
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9_]")


def _check_column(value: str) -> str:
    parse_identifier(value)
    return value


def _check_test_name(value: str) -> str:
    if not _CHECK_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid check name: use letters, digits and '_' only "
            "(e.g. orders_not_empty)"
        )
    if value in RESERVED_CHECK_NAMES:
        raise ValueError(
            f"{value!r} is the name of a health check of every Dynamic Table "
            f"({', '.join(RESERVED_CHECK_NAMES)}): give the test another name"
        )
    return value


def _check_count(value: int) -> int:
    if value < 0:
        raise ValueError(f"{value} is negative: give a whole number of rows, 0 or more")
    return value


def _check_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a value a column holds: give a finite number")
    if value is None or not isinstance(value, str | int | float):
        raise ValueError(
            f"expected a string, a number or a boolean, got {_shape(value)}: list the allowed "
            "values themselves (NULL is never checked: add a not_null test for it)"
        )
    return value


def _shape(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    return "a list" if isinstance(value, list) else type(value).__name__


def _asset_key_text(value: object) -> object:
    """`to` given as a list of key parts (`[ecommerce, orders]`) is read as `ecommerce/orders`."""
    if isinstance(value, list):
        parts = cast("list[object]", value)
        if all(isinstance(part, str) for part in parts):
            return "/".join(str(part) for part in parts)
    return cast("object", value)


def _check_asset_key(value: str) -> str:
    if not all(_KEY_PART.fullmatch(part) for part in value.split("/")):
        raise ValueError(
            f"{value!r} is not an asset key: name one of this tenant's objects (customers) or "
            "another tenant's by its full key (ecommerce/customers), in lowercase letters, "
            "digits and '_'"
        )
    return value


def _skeleton(text: str) -> str:
    """`text` with its comments, strings and quoted identifiers blanked out."""
    kept: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith(("--", "//"), index):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            index = len(text) if end < 0 else end + 2
        elif text[index] in "'\"":
            end = closing_quote(text, index)
            if end < 0:
                raise ValueError("the query has an unclosed string or quoted identifier")
            kept.append(" x ")
            index = end + 1
            continue
        else:
            kept.append(text[index])
            index += 1
            continue
        kept.append(" ")
    return "".join(kept)


def _check_query(value: str) -> str:
    """One SELECT (or WITH ... SELECT): no second statement, nothing but a query."""
    skeleton = _skeleton(value).strip().rstrip(";").strip()
    if not skeleton:
        raise ValueError("the query is empty: give a SELECT returning the failing rows")
    if ";" in skeleton:
        raise ValueError(
            "the query holds more than one statement: give one SELECT returning the failing rows"
        )
    first = re.match(r"\(|[A-Za-z]+", skeleton)
    word = first.group().upper() if first else skeleton[:20]
    if word not in ("SELECT", "WITH", "("):
        raise ValueError(
            f"the query starts with {word}: give one SELECT (or WITH ... SELECT) returning the "
            "failing rows"
        )
    return value


Column = Annotated[
    str,
    AfterValidator(_check_column),
    Field(
        description="A column of the table (a Snowflake identifier; double-quote it to keep "
        'its case: "Mixed")',
        examples=["order_id"],
    ),
]
RowCount = Annotated[StrictInt, AfterValidator(_check_count)]
AcceptedValue = Annotated[str | int | float | bool, BeforeValidator(_check_value)]
AssetKeyText = Annotated[str, BeforeValidator(_asset_key_text), AfterValidator(_check_asset_key)]
TestQuery = Annotated[str, AfterValidator(_check_query)]
TestName = Annotated[str, AfterValidator(_check_test_name)]


class _Kind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotNull(_Kind):
    """No row has NULL in `column`."""

    column: Column


class Unique(_Kind):
    """No two rows share `column` (or the combination of `columns`); rows with a NULL in one of
    them are not compared, as with a SQL UNIQUE constraint."""

    column: Column | None = Field(default=None, description="The column that must be unique.")
    columns: list[Column] | None = Field(
        default=None,
        description="Columns whose combination must be unique (instead of column).",
        examples=[["customer_id", "order_date"]],
    )

    @model_validator(mode="after")
    def _one_key(self) -> Unique:
        if (self.column is None) == (self.columns is None):
            raise ValueError("give column (one column) or columns (a combination), not both")
        if self.columns is not None and not self.columns:
            raise ValueError("columns is empty: list the columns whose combination is unique")
        return self

    @property
    def key_columns(self) -> list[str]:
        return [self.column] if self.column is not None else list(self.columns or ())


class AcceptedValues(_Kind):
    """Every non-NULL `column` value is one of `values`."""

    column: Column
    values: list[AcceptedValue] = Field(
        min_length=1,
        description="The allowed values (strings, numbers or booleans).",
        examples=[["open", "shipped"]],
    )


class Relationships(_Kind):
    """Every non-NULL `column` value is a `field` value of the table of asset `to`."""

    column: Column
    to: AssetKeyText = Field(
        description="The parent asset: a short name for this tenant's objects, the full key "
        "(other_tenant/asset) for another tenant's.",
        examples=["ecommerce/customers"],
    )
    field: Column = Field(description="The parent's column the values refer to.", examples=["id"])
    table: TableName | None = Field(
        default=None,
        description="The parent's Snowflake table (DATABASE.SCHEMA.NAME). Needed only when `to` "
        "is another tenant's asset: a code location knows only its own tenant's tables. "
        "`tenants check` compares it with what that tenant declares.",
        examples=["ANALYTICS.ECOMMERCE.CUSTOMERS"],
    )

    def to_key(self, tenant_slug: str) -> list[str]:
        """The parent's asset key path: a short name gets the tenant's prefix."""
        return self.to.split("/") if "/" in self.to else [tenant_slug, self.to]

    def own_target(self, tenant_slug: str) -> str | None:
        """The name of the parent when it is one of the tenant's own objects, else None."""
        key = self.to_key(tenant_slug)
        return key[1] if len(key) == 2 and key[0] == tenant_slug else None


class RowCountRange(_Kind):
    """The table holds between `min` and `max` rows (either bound may be left out)."""

    min: RowCount | None = Field(default=None, description="Fewest rows allowed.", examples=[1])
    max: RowCount | None = Field(default=None, description="Most rows allowed.", examples=[1000])

    @model_validator(mode="after")
    def _bounds(self) -> RowCountRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both: without a bound the test always passes")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(
                f"min ({self.min}) is above max ({self.max}): no row count can pass; swap them"
            )
        return self


KIND_MODELS: dict[str, type[_Kind]] = {
    "not_null": NotNull,
    "unique": Unique,
    "accepted_values": AcceptedValues,
    "relationships": Relationships,
    "row_count": RowCountRange,
}
"""The kinds written as a mapping, and their models (`sql` is a string)."""
EXAMPLES = {
    "not_null": "not_null: {column: order_id}",
    "unique": "unique: {column: order_id}",
    "accepted_values": "accepted_values: {column: status, values: [open, shipped]}",
    "relationships": "relationships: {column: customer_id, to: customers, field: id}",
    "row_count": "row_count: {min: 1}",
    "sql": 'sql: "select * from <table> where amount < 0"',
}
"""One example of each kind, for messages."""


class DataTest(BaseModel):
    """One entry of `data_tests:`: exactly one kind key, and how a failure counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    not_null: NotNull | None = Field(default=None, description="No NULL in a column.")
    unique: Unique | None = Field(default=None, description="No duplicate value (combination).")
    accepted_values: AcceptedValues | None = Field(
        default=None, description="A column holds only the listed values."
    )
    relationships: Relationships | None = Field(
        default=None, description="A column's values exist in another asset's table."
    )
    row_count: RowCountRange | None = Field(
        default=None, description="The number of rows is within bounds."
    )
    sql: TestQuery | None = Field(
        default=None,
        description="A SELECT returning the failing rows: the test passes when it returns none.",
        examples=["select * from ANALYTICS.ECOMMERCE.ORDERS where amount < 0"],
    )
    name: TestName | None = Field(
        default=None,
        description="The check's name (letters, digits and '_'); default: the kind and columns.",
        examples=["orders_not_empty"],
    )
    severity: DataTestSeverity = Field(
        default="error", description="warn or error: how a failure shows in Dagster."
    )
    blocking: StrictBool = Field(
        default=False,
        description="true: a failure (of severity error) holds back the table's downstream assets.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> DataTest:
        given = [kind for kind in KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            shown = f"{' and '.join(given)} together" if given else "no kind key"
            raise ValueError(
                f"a data test has exactly one of the keys {', '.join(KINDS)}; got {shown}: "
                "write one test per list entry"
            )
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in KINDS if getattr(self, kind) is not None)

    @property
    def columns(self) -> list[Identifier]:
        """The table's columns the test reads (none for row_count and sql)."""
        spec = getattr(self, self.kind)
        if isinstance(spec, Unique):
            return [parse_identifier(column) for column in spec.key_columns]
        column = getattr(spec, "column", None)
        return [parse_identifier(column)] if isinstance(column, str) else []

    def default_name(self, index: int) -> str:
        """The check name when `name` is not given: `index` is the entry's position."""
        if self.kind == "sql":
            return f"sql_{index}"
        parts = [self.kind, *(c.resolved.lower() for c in self.columns)]
        return _NOT_NAME_CHARS.sub("_", "_".join(parts))

    @property
    def check_name(self) -> str:
        """The check's name; `name_data_tests` (or `parse_data_tests`) fills it in."""
        if self.name is None:
            raise ValueError("the data test has no name yet: pass the list to name_data_tests")
        return self.name


def name_data_tests(tests: Sequence[DataTest]) -> list[DataTest]:
    """The tests with their default names filled in (a given `name` is kept)."""
    return [
        test if test.name is not None else test.model_copy(update={"name": test.default_name(i)})
        for i, test in enumerate(tests)
    ]
