"""Minimal valid entity documents, one per built-in kind, for tests to vary one field at a time."""

from __future__ import annotations

import copy
from typing import Any

BACKSTAGE = "backstage.io/v1alpha1"
SCAFFOLDER = "scaffolder.backstage.io/v1beta3"

MINIMAL_SPECS: dict[str, dict[str, Any]] = {
    "API": {"type": "openapi", "lifecycle": "production", "owner": "team-a", "definition": "openapi: 3.0.0"},
    "Component": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    "Domain": {"owner": "team-a"},
    "Group": {"type": "team", "children": []},
    "Location": {},
    "Resource": {"type": "database", "owner": "team-a"},
    "System": {"owner": "team-a"},
    "Template": {"type": "service", "steps": [{"action": "debug:log"}]},
    "User": {"memberOf": []},
}


def document(
    kind: str = "Component",
    spec: dict[str, Any] | None = None,
    *,
    api_version: str | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    """A valid document of `kind` named `n`, with `spec` fields and `metadata` fields replaced."""
    return {
        "apiVersion": api_version or (SCAFFOLDER if kind == "Template" else BACKSTAGE),
        "kind": kind,
        "metadata": {"name": "n", **metadata},
        "spec": {**copy.deepcopy(MINIMAL_SPECS.get(kind, {})), **(spec or {})},
    }


def without(data: dict[str, Any], dotted: str) -> dict[str, Any]:
    """A copy of `data` with the field at `dotted` (e.g. "spec.owner") removed."""
    result = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    target = result
    for key in parents:
        target = target[key]
    del target[last]
    return result
