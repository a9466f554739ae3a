"""Field paths and value descriptions for error messages.

Errors must point at one field in a catalog file, in a form a user can find in their YAML:
`spec.owner`, `spec.steps[0].action`, and `metadata.annotations['backstage.io/techdocs-ref']` for keys
that are not plain identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_MAX_SHOWN = 60


def child(path: str, key: object) -> str:
    """The path of `key` inside the mapping at `path`."""
    step = suffix(key)
    return path + step if path or step[0] == "[" else step[1:]


def suffix(key: object) -> str:
    """What `child` appends for `key`: `.name` or `['a/b']`; precomputed for known keys."""
    if isinstance(key, str) and len(key) <= _MAX_SHOWN and _IDENTIFIER.fullmatch(key):
        return "." + key
    return f"[{quote(key)}]"


def item(path: str, index: int) -> str:
    """The path of element `index` of the list at `path`."""
    return f"{path}[{index}]"


def describe(value: object) -> str:
    """A short, type-revealing description of a value ("number 42", "string 'x'", "a mapping")."""
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {quote(value)}" if value else "an empty string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__} value"


def quote(value: object) -> str:
    """`repr`, cut to a readable length: hostile input can be megabytes long."""
    if isinstance(value, str) and len(value) > _MAX_SHOWN:
        return repr(value[:_MAX_SHOWN]) + f"... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."
