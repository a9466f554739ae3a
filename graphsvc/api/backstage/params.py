"""The query parameters of the REST routes, checked as Backstage's OpenAPI router checks them.

Backstage refuses a parameter its route does not declare and values of the wrong type, with its validator's
messages (`request/query/limit must be integer`), before any route runs; we answer the same.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.datastructures import QueryParams

from graphsvc.api.backstage.errors import input_error

ALLOWED = {
    "entities": {"fields", "limit", "filter", "offset", "after", "order"},
    "by-query": {
        "fields",
        "limit",
        "offset",
        "orderField",
        "cursor",
        "filter",
        "totalItems",
        "fullTextFilterTerm",
        "fullTextFilterFields",
    },
    "by-refs": {"filter"},
    "facets": {"facet", "filter"},
    "locations": {"dryRun", "onConflict"},
    "none": set(),
}
"""The parameters each route declares (Backstage's OpenAPI spec of catalog-backend 4.0)."""


def check_known(params: QueryParams, route: str) -> None:
    for name in params:
        if name not in ALLOWED[route]:
            raise input_error(f"Unknown query parameter '{name}'")


def integer(params: QueryParams, name: str) -> int | None:
    """A `minimum: 0` integer parameter (the last one given), or None."""
    values = params.getlist(name)
    if not values:
        return None
    text = values[-1].strip()
    try:
        value = int(text)
    except ValueError:
        raise input_error(f"request/query/{name} must be integer") from None
    if value < 0:
        raise input_error(f"request/query/{name} must be >= 0")
    return value


def strings(params: QueryParams, name: str, *, comma_separated: bool = False) -> list[str]:
    values = params.getlist(name)
    if comma_separated:
        return [part for value in values for part in value.split(",")]
    return values


def non_empty(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if not values:
        return None
    if not values[-1]:
        raise input_error(f"request/query/{name} must NOT have fewer than 1 characters")
    return values[-1]


@dataclass(frozen=True)
class Order:
    field: str
    descending: bool


def parse_order(values: Sequence[str]) -> list[Order]:
    """`order=asc:metadata.name` (GET /entities)."""
    out = []
    for item in values:
        direction, colon, field = item.partition(":")
        if not colon or direction not in ("asc", "desc") or not field:
            raise input_error(f'Invalid order parameter "{item}", expected "<asc or desc>:<field name>"')
        out.append(Order(field, direction == "desc"))
    return out


def parse_order_fields(values: Sequence[str]) -> list[Order]:
    """`orderField=metadata.name,desc` (GET /entities/by-query)."""
    out = []
    for item in values:
        field, _, direction = item.partition(",")
        if direction and direction not in ("asc", "desc"):
            raise input_error("Invalid order field order, must be asc or desc")
        out.append(Order(field, direction == "desc"))
    return out


def parse_after(after: str) -> tuple[int | None, int | None]:
    """Backstage's `after` of GET /entities: base64 of JSON {limit, offset}."""
    try:
        cursor = json.loads(base64.b64decode(after, validate=False).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise input_error("Malformed after cursor, could not be parsed") from None
    if not isinstance(cursor, dict):
        raise input_error("Malformed after cursor, could not be parsed")
    limit, offset = cursor.get("limit"), cursor.get("offset")
    if limit is not None and not _is_int(limit):
        raise input_error("Malformed after cursor, limit was not an number")
    if offset is not None and not _is_int(offset):
        raise input_error("Malformed after cursor, offset was not a number")
    return limit, offset


def encode_after(limit: int, offset: int) -> str:
    return base64.b64encode(json.dumps({"limit": limit, "offset": offset}, separators=(",", ":")).encode()).decode()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
