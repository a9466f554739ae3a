"""Backstage's `fields` projection (`fields=metadata.name,spec.type`): only those paths of each entity.

A path part that is not a key of the object it walks is joined with the next one, so that keys holding dots
(`metadata.annotations.backstage.io/source-template`) can be named; array indexes are refused as Backstage does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from graphsvc.api.backstage.errors import input_error

Projection = Callable[[dict[str, Any]], dict[str, Any]]
MISSING = object()
"""A path the entity does not have (a JSON null it has is kept, as Backstage keeps it)."""


def parse_fields(params: Sequence[str]) -> Projection | None:
    """The projection of the `fields` parameters (each comma-separated), or None for whole entities."""
    fields = list(dict.fromkeys(f.strip() for param in params for f in param.split(",") if f.strip()))
    if not fields:
        return None
    for field in fields:
        if "[" in field:
            raise input_error(f'Invalid field "{field}", array type fields are not supported')
    return lambda entity: project(entity, fields)


def project(entity: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    output: dict[str, Any] = {}
    for field in fields:
        path, value = _path_and_value(entity, field)
        if value is not MISSING and path:
            target = output
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = value
    return output


def _path_and_value(entity: dict[str, Any], field: str) -> tuple[list[str], Any]:
    parts = field.split(".")
    path: list[str] = []
    current: Any = entity
    index = 0
    while index < len(parts):
        part = parts[index]
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif index + 1 < len(parts):
            parts[index + 1] = f"{part}.{parts[index + 1]}"
        else:
            return path, MISSING
        index += 1
    return path, current
