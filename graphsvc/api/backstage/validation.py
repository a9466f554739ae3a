"""POST /validate-entity: would this entity, read from this location, be accepted?

Backstage's answer is 200 with no body, or 400 `{errors: [{name, message}]}`; it accepts only `url:` locations.
The rules are ours (`graphsvc.model.validate_entity`, Backstage's rules), so the messages are ours too.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from graphsvc.model import ModelError, validate_entity


def validate_entity_request(body: Any, custom_kinds: Collection[str]) -> list[dict[str, str]]:
    """The errors of a validate-entity request body ({entity, location}); [] when the entity is valid."""
    if not isinstance(body, dict) or "entity" not in body or not isinstance(body.get("location"), str):
        return [{"name": "InputError", "message": "Malformed request: expected {entity: object, location: string}"}]
    location = body["location"]
    kind, colon, target = location.partition(":")
    if not colon or not kind or not target:
        return [
            {"name": "TypeError", "message": f"Unable to parse location ref '{location}', expected '<type>:<target>'"}
        ]
    if kind != "url":
        message = f"Invalid location ref {location}, only 'url:<target>' is supported, e.g. url:https://host/path"
        return [{"name": "TypeError", "message": message}]
    try:
        validate_entity(body["entity"], custom_kinds=custom_kinds)
    except ModelError as error:
        return [{"name": "InputError", "message": str(error)}]
    return []
