"""SQL text as tokens, and query drift: whether the SELECT Snowflake runs is the one declared.

`tokens` splits a SQL text into words, strings, quoted identifiers and symbols, skipping comments
and whitespace. `extract_query` takes the SELECT out of the CREATE text Snowflake reports
(SHOW DYNAMIC TABLES `text`, a view's definition), `normalize_sql` reduces a statement to its
tokens with keywords and unquoted identifiers lower-cased and comments and whitespace dropped, so
`same_query` ignores layout and case but not a changed literal or quoted name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from dagster_dynamic_tables.declarations.fields import closing_quote


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    kind: Literal["word", "string", "quoted", "symbol"]


_WORD = re.compile(r"[A-Za-z0-9_$.]+")


def tokens(sql: str) -> Iterator[Token]:
    """The tokens of a SQL text; comments and whitespace are skipped. An unclosed string or
    comment runs to the end of the text."""
    index = 0
    length = len(sql)
    while index < length:
        char = sql[index]
        if char.isspace():
            index += 1
        elif sql.startswith(("--", "//"), index):
            newline = sql.find("\n", index)
            index = length if newline < 0 else newline + 1
        elif sql.startswith("/*", index):
            close = sql.find("*/", index + 2)
            index = length if close < 0 else close + 2
        elif sql.startswith("$$", index):
            close = sql.find("$$", index + 2)
            end = length if close < 0 else close + 2
            yield Token(sql[index:end], index, end, "string")
            index = end
        elif char in "'\"":
            end = _quoted_end(sql, index)
            yield Token(sql[index:end], index, end, "string" if char == "'" else "quoted")
            index = end
        elif match := _WORD.match(sql, index):
            yield Token(match.group(), index, match.end(), "word")
            index = match.end()
        else:
            yield Token(char, index, index + 1, "symbol")
            index += 1


def _quoted_end(sql: str, start: int) -> int:
    """Index just past the string or quoted identifier opened at `start` (the end of `sql` when
    it is never closed)."""
    end = closing_quote(sql, start)
    return len(sql) if end < 0 else end + 1


def normalize_sql(sql: str) -> str:
    """`sql` as its tokens joined by single spaces, words lower-cased, comments and a final `;`
    dropped: equal for two texts that differ only in layout, comments and case of keywords and
    unquoted identifiers."""
    parts = [tok.text.lower() if tok.kind == "word" else tok.text for tok in tokens(sql)]
    while parts and parts[-1] == ";":
        parts.pop()
    return " ".join(parts)


def same_query(declared: str, reported: str) -> bool:
    """Whether two SELECTs are the same once normalised (`normalize_sql`)."""
    return normalize_sql(declared) == normalize_sql(reported)


def extract_query(create_text: str) -> str | None:
    """The query of a `CREATE ... DYNAMIC TABLE|VIEW ... AS <query>` text (what Snowflake
    reports as the object's `text`), None if the text has no top-level AS."""
    depth = 0
    previous = ""
    seen_object = False
    for tok in tokens(create_text):
        if tok.kind == "symbol":
            depth += {"(": 1, ")": -1}.get(tok.text, 0)
        word = tok.text.upper() if tok.kind == "word" else ""
        if word in ("TABLE", "VIEW"):
            seen_object = True
        if depth == 0 and seen_object and word == "AS" and previous != "EXECUTE":
            query = create_text[tok.end :].strip()
            return query.rstrip(";").rstrip() or None
        previous = word
    return None
