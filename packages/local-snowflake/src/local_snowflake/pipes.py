"""Snowflake's pipe operator (`<statement> ->> <query using $1>`), textually.

Clients send `SHOW DYNAMIC TABLES ... ->> SELECT ... FROM $1` as one statement; fakesnow does not
know the operator. The text is split on `->>` outside string literals and quoted identifiers, and
`$n` in a later stage is replaced by the n-th stage's query as a subquery.
"""

from __future__ import annotations

import re

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(->>)|\$(\d+)\b")
_QUERY = re.compile(r"\s*(?:\(\s*)*(?:SELECT|WITH)\b", re.IGNORECASE)


def split(sql: str) -> list[str]:
    """The stages of a piped statement (one stage if there is no `->>`)."""
    stages: list[str] = []
    start = 0
    for match in _TOKENS.finditer(sql):
        if match[1]:
            stages.append(sql[start : match.start()])
            start = match.end()
    stages.append(sql[start:])
    return [s.strip().rstrip(";").strip() for s in stages] if len(stages) > 1 else [sql]


def substitute(stage: str, queries: list[str]) -> str:
    """stage with `$n` replaced by `(<query n>)`; `$n` past the earlier stages is left alone."""

    def replace(match: re.Match[str]) -> str:
        if match[2] is None:
            return match[0]
        index = int(match[2]) - 1
        return f"({queries[index]})" if 0 <= index < len(queries) else match[0]

    return _TOKENS.sub(replace, stage)


def is_query(sql: str) -> bool:
    return _QUERY.match(sql) is not None
