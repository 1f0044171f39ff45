"""Full-text search over transcripts: turning what people type into a safe FTS5 query.

Plain words are searched as words, whatever punctuation they carry ("don't", "12:34",
"well-known" would otherwise be FTS5 syntax errors or column filters). Someone who writes
FTS5 syntax (quotes, AND/OR/NOT, NEAR, prefix*) gets it, and a syntax error comes back as a
readable message with examples, never an SQL traceback. The query is always a bound
parameter.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from typing import TYPE_CHECKING, cast

from earwig import durations
from earwig.errors import EarwigError
from earwig.formatting import HIGHLIGHT_END, HIGHLIGHT_START, clock
from earwig.store import Store

if TYPE_CHECKING:
    from earwig.protocol import SearchHit

__all__ = ["HIGHLIGHT_END", "HIGHLIGHT_START", "SearchError", "clock", "search", "to_fts"]

SYNTAX_HINT = (
    'plain words match anywhere; "an exact phrase"; transcri* for prefixes; '
    "a AND b, a OR b, a NOT b; NEAR(a b, 10)"
)
_SYNTAX = re.compile(r'["*()^]|\b(AND|OR|NOT|NEAR)\b')
_AND_NOT = re.compile(r"\s+AND\s+NOT\s+")
MAX_QUERY = 4096  # characters: a search is what a person types, not a document


class SearchError(EarwigError):
    code = "search"


def to_fts(query: str) -> str:
    text = query.strip()
    if not text:
        raise SearchError("the search query is empty", SYNTAX_HINT)
    if not _SYNTAX.search(text):  # plain words, each one searched as a word
        text = " ".join('"' + word.replace('"', '""') + '"' for word in text.split())
    else:  # "a AND NOT b" is how people write it; FTS5 only knows "a NOT b"
        text = _AND_NOT.sub(" NOT ", text)
    return f"text : ({text})"  # what was said, not the title (--source filters titles)


def parse_since(value: str, now: float | None = None) -> float:
    """`--since`: a date, or an age counted back from now (earwig.durations)."""
    try:
        return durations.parse_since(value, now)
    except ValueError as exc:
        raise SearchError(f"--since {value!r} is not a date", f"use {exc}") from None


def _why(query: str, engine: str) -> str:
    """What is wrong with a query, in words: the usual slips first, then what the engine
    said without its name ("fts5: syntax error near ..." is SQLite's, not the user's)."""
    if re.search(r'(^|[\s("])\*', query):
        return "a * ends the beginning of a word (transcri*): it needs letters before it"
    if query.count('"') % 2:
        return "a quote is not closed"
    if query.count("(") != query.count(")"):
        return "a bracket is not closed"
    if re.search(r"(^|\s)(AND|OR|NOT|NEAR)\s*$|^\s*(AND|OR|NOT)\b", query):
        return "AND, OR and NOT need a word on each side"
    return engine.removeprefix("fts5: ")


def _is_syntax_error(message: str) -> bool:
    """FTS5's own complaints about a query, as opposed to a fault in earwig's SQL."""
    return message.startswith(("fts5:", "unterminated string", "no such column"))


async def search_apart(
    store: Store,
    query: str,
    *,
    source: str | None = None,
    since: float | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """`search`, for the daemon: off the event loop, on a read-only connection of its own
    (the daemon's connection belongs to the loop's thread), so a slow query never keeps
    `earwig status` or a dashboard waiting."""
    _check_size(query)

    def apart() -> list[SearchHit]:
        reader = Store.for_reading(store.path)
        try:
            return search(reader, query, source=source, since=since, limit=limit)
        finally:
            reader.close()

    return await asyncio.to_thread(apart)


def _check_size(query: str) -> None:
    if len(query) > MAX_QUERY:
        raise SearchError(
            f"the search is {len(query):,} characters long; earwig searches at most {MAX_QUERY:,}",
            "search for a few words or a phrase",
        )


def search(
    store: Store,
    query: str,
    *,
    source: str | None = None,
    since: float | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    _check_size(query)
    fts = to_fts(query)
    try:
        hits = store.search(
            fts, source=source, since=since, limit=limit, marks=(HIGHLIGHT_START, HIGHLIGHT_END)
        )
    except sqlite3.OperationalError as exc:
        if not _is_syntax_error(str(exc)):
            raise
        raise SearchError(
            f"cannot understand the search {query!r}: {_why(query, str(exc))}", SYNTAX_HINT
        ) from None
    for hit in hits:
        hit["clock"] = clock(hit["start"])
        hit["transcript"] = next((p for p in hit["outputs"] if p.endswith(".txt")), None)
    return cast("list[SearchHit]", hits)
