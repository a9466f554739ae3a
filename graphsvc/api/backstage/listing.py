"""Ordering, paging and facets over matched entities, as Backstage's entities catalog does them.

- GET /entities: with one `order`, entities holding the field sorted by its (lowercased) value, ties by uid,
  then those without it by uid; with several, by each value in turn (missing last), then uid; with neither order
  nor paging, in no order the client may rely on (Backstage: by uid); paged without order, by ref.
- GET /entities/by-query: only entities holding the `orderField` (the first; Backstage ignores the rest),
  sorted by value then uid, both in the field's direction; without one, by uid. `fullTextFilterTerm` is a
  case-insensitive substring of any of `fullTextFilterFields` (default: the order field, else the uid).
- GET /entity-facets: per facet, the distinct written values of the key with how many entities hold them,
  sorted by value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphsvc.api.backstage.catalog import Shaped
from graphsvc.api.backstage.params import Order

DEFAULT_QUERY_LIMIT = 200


def order_entities(items: Sequence[Shaped], orders: Sequence[Order]) -> list[Shaped]:
    if not orders:
        return sorted(items, key=lambda item: item.ref)
    ordered = sorted(items, key=lambda item: item.uid)
    for order in reversed(orders):  # stable sorts, the least significant first
        key = order.field.lower()
        ordered.sort(key=lambda item: _sort_value(item, key, order.descending), reverse=order.descending)
        ordered.sort(key=lambda item: not item.values(key))  # entities without the field last
    return ordered


def _sort_value(item: Shaped, key: str, descending: bool) -> str:
    """The value an entity sorts by when a key holds several (a list): the one the database would meet first."""
    values = item.values(key)
    if not values:
        return ""
    return max(values) if descending else min(values)


@dataclass(frozen=True)
class QueryPage:
    items: list[Shaped]
    total: int
    next_after: tuple[str, str] | None
    prev_before: tuple[str, str] | None
    first: tuple[str, str] | None


def sort_key(item: Shaped, field: str | None) -> tuple[str, str]:
    """(sort value, uid): what a by-query cursor remembers of a row."""
    return (_sort_value(item, field, False) if field else "", item.uid)


def query_order(items: Sequence[Shaped], field: str | None, descending: bool) -> list[Shaped]:
    """by-query's order: entities holding `field`, by (value, uid), both in the field's direction."""
    held = [item for item in items if field is None or item.values(field)]
    return sorted(held, key=lambda item: sort_key(item, field), reverse=descending)


def full_text(items: Sequence[Shaped], term: str, fields: Sequence[str]) -> list[Shaped]:
    term = term.strip().lower()
    if not term:
        return list(items)
    keys = [field.lower() for field in fields]
    return [item for item in items if any(term in value for key in keys for value in item.values(key))]


def query_page(
    ordered: Sequence[Shaped],
    field: str | None,
    descending: bool,
    *,
    limit: int,
    offset: int,
    after: tuple[str, str] | None,
    before: tuple[str, str] | None,
) -> tuple[list[Shaped], bool]:
    """A page of `ordered` (already in by-query order) and whether more rows follow in its direction: the first
    page from `offset`, a next page after the row `after`, a previous one ending before the row `before`."""

    def beyond(item: Shaped, mark: tuple[str, str]) -> bool:
        key = sort_key(item, field)
        return key < mark if descending else key > mark

    if before is not None:
        earlier = [item for item in ordered if not beyond(item, before) and sort_key(item, field) != before]
        return earlier[-limit:] if limit else [], True
    rest = [item for item in ordered if beyond(item, after)] if after is not None else list(ordered[offset:])
    return rest[:limit], len(rest) > limit


def facet_counts(items: Sequence[Shaped], facets: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for facet in facets:
        key = facet.lower()
        counts = Counter(row.original for item in items for row in item.rows(key) if row.original is not None)
        out[facet] = [{"value": value, "count": count} for value, count in sorted(counts.items())]
    return out
