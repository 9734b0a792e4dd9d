"""Snowflake identifiers: validation, quoting and fully qualified names.

Every identifier that reaches SQL goes through `quote_identifier` (or `QualifiedName.sql`), which
rejects anything that is not a valid Snowflake identifier: SQL is never built from unchecked text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNQUOTED = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
# Any character but a lone `"` and the Unicode control characters (category Cc: U+0000-U+001F,
# U+007F-U+009F, which includes DEL and NEL), as the README states.
_QUOTED_BODY = re.compile(r'(?:[^"\x00-\x1f\x7f-\x9f]|"")+')
MAX_IDENTIFIER_LENGTH = 255


@dataclass(frozen=True)
class Identifier:
    """One Snowflake identifier as written: `orders`, `ORDERS` or `"Mixed Case"`."""

    text: str

    @property
    def quoted(self) -> bool:
        return self.text.startswith('"')

    @property
    def resolved(self) -> str:
        """The name Snowflake stores: unquoted names upper-cased, quoted names as written."""
        if self.quoted:
            return self.text[1:-1].replace('""', '"')
        return self.text.upper()

    @property
    def sql(self) -> str:
        """The identifier as it must appear in SQL (always double-quoted, exact case)."""
        return '"' + self.resolved.replace('"', '""') + '"'


def parse_identifier(text: str) -> Identifier:
    """Validate one identifier; raise ValueError saying what is allowed."""
    if _UNQUOTED.fullmatch(text):
        body = text
    elif len(text) >= 2 and text[0] == text[-1] == '"' and _QUOTED_BODY.fullmatch(text[1:-1]):
        body = text[1:-1]
    else:
        raise ValueError(
            f"{text!r} is not a valid Snowflake identifier: use letters, digits, '_' and '$' "
            "starting with a letter or '_', or a double-quoted name without control characters"
        )
    if len(body) > MAX_IDENTIFIER_LENGTH:
        raise ValueError(
            f"{text[:40]!r}... is {len(body)} characters long; Snowflake identifiers have at most "
            f"{MAX_IDENTIFIER_LENGTH}"
        )
    return Identifier(text)


def quote_identifier(text: str) -> str:
    """Return `text` as a double-quoted SQL identifier, rejecting anything invalid."""
    return parse_identifier(text).sql


def split_name_parts(text: str) -> list[str]:
    """The dot-separated parts of a dotted name as written (dots inside quotes kept)."""
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
    for char in text:
        if char == '"':
            in_quotes = not in_quotes
        if char == "." and not in_quotes:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class QualifiedName:
    """A fully qualified `DATABASE.SCHEMA.NAME`."""

    database: Identifier
    schema: Identifier
    name: Identifier

    @property
    def resolved(self) -> str:
        """The name as Snowflake reports it in QUALIFIED_NAME columns (`DB.SCHEMA.NAME`)."""
        return ".".join(part.resolved for part in (self.database, self.schema, self.name))

    @property
    def sql(self) -> str:
        """The name quoted for SQL: `"DB"."SCHEMA"."NAME"`."""
        return ".".join(part.sql for part in (self.database, self.schema, self.name))

    @property
    def schema_prefix(self) -> str:
        """`DB.SCHEMA`, the NAME_PREFIX that selects this object's schema in metadata functions."""
        return f"{self.database.resolved}.{self.schema.resolved}"

    def __str__(self) -> str:
        return ".".join(part.text for part in (self.database, self.schema, self.name))


def parse_qualified_name(text: str) -> QualifiedName:
    """Parse `DB.SCHEMA.NAME`; raise ValueError saying what is expected."""
    parts = split_name_parts(text.strip())
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"{text!r} is not a fully qualified name: write DATABASE.SCHEMA.NAME, "
            "for example ANALYTICS.ECOMMERCE.ORDERS"
        )
    try:
        database, schema, name = (parse_identifier(part) for part in parts)
    except ValueError as e:
        shown = repr(text) if len(text) <= 80 else f"{text[:60]!r}..."
        raise ValueError(f"{shown} is not a valid fully qualified name: {e}") from e
    return QualifiedName(database, schema, name)
