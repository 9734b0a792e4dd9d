"""Parsing the Dynamic Table statements fakesnow does not know into typed commands.

Parsing is done before fakesnow sees the statement: fakesnow would otherwise turn
`CREATE DYNAMIC TABLE` into a static CTAS, and fail on the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from fakesnow.dialect import parse_one
from sqlglot import exp
from sqlglot.errors import ParseError

from local_snowflake import names
from local_snowflake.errors import sql_error, unsupported
from local_snowflake.rules import incremental_blocker

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_NAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT}){{0,2}}"
_LAG_UNITS = {
    "second": 1,
    "seconds": 1,
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}

_ACCEPTED_NOT_KEPT = frozenset({"INITIALIZATION_WAREHOUSE", "DATA_RETENTION_TIME_IN_DAYS"})
"""CREATE DYNAMIC TABLE properties the stand-in accepts without emulating or reporting them."""

# Anything that mentions a Dynamic Table and that this module does not parse is unsupported.
DT_MENTION = re.compile(r"\bDYNAMIC\s+(?:ICEBERG\s+)?TABLES?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Name:
    """A resolved three-part object name (identifiers as Snowflake stores them)."""

    database: str
    schema: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.schema}.{self.name}"

    def sql(self) -> str:
        return ".".join(quote_ident(p) for p in (self.database, self.schema, self.name))


@dataclass(frozen=True)
class TargetLag:
    text: str  # as shown by SHOW DYNAMIC TABLES: '1 minute' or 'DOWNSTREAM'
    seconds: int | None  # None for DOWNSTREAM


@dataclass(frozen=True)
class CreateDynamicTable:
    name: Name
    target_lag: TargetLag
    warehouse: str | None
    refresh_mode: Literal["AUTO", "FULL", "INCREMENTAL", "ADAPTIVE"]
    initialize: Literal["ON_CREATE", "ON_SCHEDULE"]
    query: str  # Snowflake SQL of the SELECT
    or_replace: bool
    if_not_exists: bool
    text: str
    or_alter: bool = False
    scheduler: Literal["ENABLE", "DISABLE"] = "ENABLE"
    """DISABLE: never refreshed on the target lag, only when asked (ALTER ... REFRESH)."""


@dataclass(frozen=True)
class AlterDynamicTable:
    name: Name
    action: Literal["REFRESH", "SUSPEND", "RESUME", "SET"]
    target_lag: TargetLag | None = None
    warehouse: str | None = None


@dataclass(frozen=True)
class DropDynamicTable:
    name: Name
    if_exists: bool


@dataclass(frozen=True)
class DescribeDynamicTable:
    name: Name


@dataclass(frozen=True)
class ShowDynamicTables:
    like: str | None
    database: str | None
    schema: str | None
    starts_with: str | None = None
    limit: int | None = None
    after: str | None = None
    """`LIMIT <rows> FROM '<name>'`: names after this one (Snowflake's FROM is exclusive)."""


Command = (
    CreateDynamicTable
    | AlterDynamicTable
    | DropDynamicTable
    | ShowDynamicTables
    | DescribeDynamicTable
)


def quote_ident(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def normalise_ident(ident: str) -> str:
    """Snowflake's rule: quoted identifiers keep their case, unquoted ones are upper-cased."""
    ident = ident.strip()
    if ident.startswith('"') and ident.endswith('"') and len(ident) >= 2:
        return ident[1:-1].replace('""', '"')
    return ident.upper()


def split_name(text: str) -> list[str]:
    return [normalise_ident(p) for p in re.findall(_IDENT, text)]


def resolve_name(parts: list[str], database: str | None, schema: str | None) -> Name:
    """Resolve a 1-, 2- or 3-part name against the session's current database and schema
    (each part checked: see names.py)."""
    if len(parts) == 3:
        return _checked(Name(parts[0], parts[1], parts[2]))
    if len(parts) == 2 and database:
        return _checked(Name(database, parts[0], parts[1]))
    if len(parts) == 1 and database and schema:
        return _checked(Name(database, schema, parts[0]))
    raise sql_error(
        "Cannot perform operation. This session does not have a current database or schema. "
        "Call 'USE DATABASE' / 'USE SCHEMA', or use a qualified name.",
        errno=90105,
        sqlstate="22000",
    )


def _checked(name: Name) -> Name:
    names.check_container(name.database, "database")
    names.check_container(name.schema, "schema")
    names.check_object(name.name)
    return name


def parse_target_lag(text: str) -> TargetLag:
    value = text.strip()
    if value.upper() == "DOWNSTREAM":
        return TargetLag("DOWNSTREAM", None)
    match = re.fullmatch(r"'\s*(\d+)\s*([A-Za-z]+)\s*'", value)
    unit = match and _LAG_UNITS.get(match[2].lower())
    if not match or not unit:
        raise sql_error(
            f"SQL compilation error:\ninvalid value [{value}] for parameter 'TARGET_LAG': "
            "expected '<num> { seconds | minutes | hours | days }' or DOWNSTREAM",
            errno=2011,
            sqlstate="22023",
        )
    seconds = int(match[1]) * unit
    if seconds < 60:
        raise sql_error(
            f"SQL compilation error:\ninvalid value [{value}] for parameter 'TARGET_LAG': "
            "the minimum target lag is 1 minute",
            errno=2011,
            sqlstate="22023",
        )
    return TargetLag(f"{int(match[1])} {match[2].lower()}", seconds)


def parse(sql: str, database: str | None, schema: str | None) -> Command | None:
    """The Dynamic Table command in sql, None if sql is not about Dynamic Tables."""
    if not DT_MENTION.search(sql):
        return None
    text = sql.strip().rstrip(";").strip()
    head = re.sub(r"\s+", " ", text[:80]).upper()
    if re.match(r"CREATE (OR REPLACE |OR ALTER )?(TRANSIENT )?DYNAMIC TABLE\b", head):
        return _parse_create(text, database, schema)
    if head.startswith("ALTER DYNAMIC TABLE"):
        return _parse_alter(text, database, schema)
    if head.startswith("DROP DYNAMIC TABLE"):
        return _parse_drop(text, database, schema)
    if head.startswith("SHOW DYNAMIC TABLES"):
        return _parse_show(text, database, schema)
    if describe := re.fullmatch(
        rf"DESC(?:RIBE)?\s+DYNAMIC\s+TABLE\s+({_NAME})", text, re.IGNORECASE
    ):
        return DescribeDynamicTable(resolve_name(split_name(describe[1]), database, schema))
    if head.startswith(("SELECT", "WITH", "(")):
        return None  # a query that merely mentions the words; metadata.py handles the functions
    first = " ".join(head.split(" ")[:4])
    raise unsupported(first)


def _parse_create(text: str, database: str | None, schema: str | None) -> CreateDynamicTable:
    if re.match(r"CREATE\s+(OR\s+(REPLACE|ALTER)\s+)?TRANSIENT", text, re.IGNORECASE):
        raise unsupported("CREATE TRANSIENT DYNAMIC TABLE")
    or_alter = re.match(r"CREATE\s+OR\s+ALTER\b", text, re.IGNORECASE) is not None
    try:
        expression = parse_one(text)
    except ParseError as e:
        raise sql_error(f"SQL compilation error:\n{e}", errno=1003, sqlstate="42000") from None
    if not isinstance(expression, exp.Create) or not isinstance(expression.this, exp.Table):
        raise unsupported("this form of CREATE DYNAMIC TABLE (column lists, CLONE, ...)")
    query = expression.expression
    if not isinstance(query, exp.Query):
        raise unsupported("CREATE DYNAMIC TABLE without AS <query>")
    names.check_statement(query)
    table = expression.this
    parts = table_parts(table)
    props: dict[str, str] = {}
    properties = expression.args.get("properties")
    for prop in properties.expressions if isinstance(properties, exp.Properties) else []:
        # accepted and not kept (README: deviations): comments and clustering keys
        if isinstance(prop, exp.DynamicProperty | exp.SchemaCommentProperty | exp.ClusterProperty):
            continue
        if not isinstance(prop, exp.Property):
            raise unsupported(f"CREATE DYNAMIC TABLE ... {prop.sql('snowflake')}")
        key = prop.name.upper()
        if key in _ACCEPTED_NOT_KEPT:
            continue
        if key not in {
            "TARGET_LAG", "WAREHOUSE", "REFRESH_MODE", "INITIALIZE", "COMMENT", "SCHEDULER"
        }:  # fmt: skip
            raise unsupported(f"CREATE DYNAMIC TABLE ... {key}")
        value = prop.args["value"]
        props[key] = value.sql("snowflake") if isinstance(value, exp.Literal) else value.name
    if missing := [key for key in ("TARGET_LAG", "WAREHOUSE") if key not in props]:
        # both are required in Snowflake's CREATE DYNAMIC TABLE syntax
        raise sql_error(
            f"SQL compilation error:\nMissing option(s): [{', '.join(missing)}]",
            errno=1003,
            sqlstate="42601",
        )
    refresh_mode = props.get("REFRESH_MODE", "AUTO").upper()
    initialize = props.get("INITIALIZE", "ON_CREATE").upper()
    if refresh_mode not in {"AUTO", "FULL", "INCREMENTAL", "ADAPTIVE"}:
        raise sql_error(f"SQL compilation error:\ninvalid value [{refresh_mode}] for REFRESH_MODE")
    if initialize not in {"ON_CREATE", "ON_SCHEDULE"}:
        raise sql_error(f"SQL compilation error:\ninvalid value [{initialize}] for INITIALIZE")
    scheduler = props.get("SCHEDULER", "ENABLE").strip("'").upper()
    if scheduler not in {"ENABLE", "DISABLE"}:
        raise sql_error(f"SQL compilation error:\ninvalid value [{scheduler}] for SCHEDULER")
    if refresh_mode == "INCREMENTAL" and (blocker := incremental_blocker(query.sql("snowflake"))):
        # "If the query can't perform an incremental refresh, dynamic table creation fails"
        raise sql_error(
            "SQL compilation error:\nDynamic table cannot be created with REFRESH_MODE = "
            f"INCREMENTAL: the query uses {blocker}, which cannot be refreshed incrementally. "
            "Use REFRESH_MODE = FULL or AUTO.",
            errno=2,
            sqlstate="0A000",
        )
    # sqlglot drops the quotes of a quoted warehouse name: read it from the text
    warehouse = re.search(rf"\bWAREHOUSE\s*=\s*({_IDENT})", text, re.IGNORECASE)
    return CreateDynamicTable(
        name=resolve_name(parts, database, schema),
        target_lag=parse_target_lag(props["TARGET_LAG"]),
        warehouse=normalise_ident(warehouse[1]) if "WAREHOUSE" in props and warehouse else None,
        refresh_mode=refresh_mode,  # pyright: ignore[reportArgumentType] -- checked just above
        initialize=initialize,  # pyright: ignore[reportArgumentType] -- checked just above
        query=query.sql("snowflake"),
        # sqlglot reads OR ALTER as OR REPLACE
        or_replace=bool(expression.args.get("replace")) and not or_alter,
        if_not_exists=bool(expression.args.get("exists")),
        text=text,
        or_alter=or_alter,
        scheduler=scheduler,  # pyright: ignore[reportArgumentType] -- checked just above
    )


def _parse_alter(text: str, database: str | None, schema: str | None) -> AlterDynamicTable:
    match = re.fullmatch(
        rf"ALTER\s+DYNAMIC\s+TABLE\s+(?:IF\s+EXISTS\s+)?({_NAME})\s+(.*)",
        text,
        re.IGNORECASE | re.DOTALL,
    )
    if not match:
        raise unsupported("ALTER DYNAMIC TABLE without a name and an action")
    name = resolve_name(split_name(match[1]), database, schema)
    action = match[2].strip()
    verb = action.upper()
    if verb in {"REFRESH", "SUSPEND", "RESUME"}:
        return AlterDynamicTable(name, verb)  # pyright: ignore[reportArgumentType] -- in the set
    set_match = re.fullmatch(
        rf"SET\s+(TARGET_LAG|WAREHOUSE)\s*=\s*('[^']*'|{_IDENT})", action, re.IGNORECASE
    )
    if set_match:
        key, value = set_match[1].upper(), set_match[2]
        if key == "TARGET_LAG":
            return AlterDynamicTable(name, "SET", target_lag=parse_target_lag(value))
        return AlterDynamicTable(name, "SET", warehouse=normalise_ident(value))
    raise unsupported(f"ALTER DYNAMIC TABLE ... {' '.join(action.split()[:3])}")


def _parse_drop(text: str, database: str | None, schema: str | None) -> DropDynamicTable:
    match = re.fullmatch(
        rf"DROP\s+DYNAMIC\s+TABLE\s+(IF\s+EXISTS\s+)?({_NAME})", text, re.IGNORECASE
    )
    if not match:
        raise unsupported("this form of DROP DYNAMIC TABLE")
    return DropDynamicTable(resolve_name(split_name(match[2]), database, schema), bool(match[1]))


def _parse_show(text: str, database: str | None, schema: str | None) -> ShowDynamicTables:
    match = re.fullmatch(
        rf"SHOW\s+DYNAMIC\s+TABLES(?:\s+LIKE\s+'((?:[^']|'')*)')?"
        rf"(?:\s+IN\s+(ACCOUNT|DATABASE|SCHEMA)(?:\s+({_NAME}))?)?"
        r"(?:\s+STARTS\s+WITH\s+'((?:[^']|'')*)')?"
        r"(?:\s+LIMIT\s+(\d+)(?:\s+FROM\s+'((?:[^']|'')*)')?)?",
        text,
        re.IGNORECASE,
    )
    if not match:
        raise unsupported("this form of SHOW DYNAMIC TABLES")
    like = match[1].replace("''", "'") if match[1] is not None else None
    scope = (match[2] or "").upper()
    target = split_name(match[3]) if match[3] else []
    starts_with = match[4].replace("''", "'") if match[4] is not None else None
    limit = int(match[5]) if match[5] is not None else None
    if limit is not None and limit > 10_000:
        raise unsupported(f"LIMIT {limit} (SHOW returns at most 10000 rows)")
    after = match[6].replace("''", "'") if match[6] is not None else None
    paging = (starts_with, limit, after)
    if scope == "ACCOUNT":
        return ShowDynamicTables(like, None, None, *paging)
    if scope == "DATABASE":
        return ShowDynamicTables(like, target[0] if target else database, None, *paging)
    if scope == "SCHEMA":
        if len(target) == 2:
            return ShowDynamicTables(like, target[0], target[1], *paging)
        return ShowDynamicTables(like, database, target[0] if target else schema, *paging)
    # no IN clause: the current schema, else the current database, else the account
    return ShowDynamicTables(like, database, schema if database else None, *paging)


def table_parts(table: exp.Table) -> list[str]:
    """A table's name parts as Snowflake stores them (quoted keep case, unquoted upper)."""
    return [
        p.name if isinstance(p, exp.Identifier) and p.quoted else p.name.upper()
        for p in table.parts
    ]
