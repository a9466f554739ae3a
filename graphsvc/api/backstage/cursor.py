"""The opaque cursor of GET /entities/by-query: the first request's query, and where the page ended.

Like Backstage's, it carries the query (filter, order field, full-text filter) and the total counted on the
first page, so the pages that follow answer the same query and the same `totalItems`; unlike Backstage's, the
row it remembers is our (sort value, uid). A client treats it as opaque either way.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass

from graphsvc.api.backstage.errors import input_error


@dataclass(frozen=True)
class QueryCursor:
    filter: list[str]
    order_field: list[str]
    term: str
    term_fields: list[str] | None
    total: int
    first: list[str] | None
    """(sort value, uid) of the first row of the first page: a previous page that reaches it is the first."""
    after: list[str] | None = None
    before: list[str] | None = None

    def encode(self) -> str:
        return base64.b64encode(json.dumps(asdict(self), separators=(",", ":")).encode()).decode()


def decode_cursor(text: str) -> QueryCursor:
    """The cursor a by-query answer gave; anything else (edited, truncated, another service's) is a 400."""
    try:
        data = json.loads(base64.b64decode(text + "=" * (-len(text) % 4)).decode("utf-8"))
        cursor = QueryCursor(**data)
    except (ValueError, binascii.Error, UnicodeDecodeError, TypeError, RecursionError) as error:
        raise input_error(f"Malformed cursor: {type(error).__name__}: {error}") from None
    if not _well_formed(cursor):
        raise input_error("Malformed cursor: a value has the wrong type")
    return cursor


def _well_formed(cursor: QueryCursor) -> bool:
    def strings(value: object) -> bool:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)

    def row(value: object) -> bool:
        return value is None or (strings(value) and len(value) == 2)  # type: ignore[arg-type]

    return (
        strings(cursor.filter)
        and strings(cursor.order_field)
        and isinstance(cursor.term, str)
        and (cursor.term_fields is None or strings(cursor.term_fields))
        and isinstance(cursor.total, int)
        and all(row(value) for value in (cursor.first, cursor.after, cursor.before))
    )
