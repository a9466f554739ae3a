"""Registered locations as Backstage names them: `{id, type, target}` and the `Location` entity it generates.

Backstage keeps a row per registered location (a random UUID id) and, for each, a generated `Location` entity
`location:default/generated-<sha1 of "type:target">` that every entity read from it descends from (its
`ancestry`). Ours are the registered locations of the store; their ids are UUIDv5 of the target, so that an id
stays the same across restarts and stores without being stored.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from graphsvc.store.records import RegisteredLocationRecord

LOCATION_ID_NAMESPACE = uuid.UUID("6f1c2f0e-6b1e-5d36-9a53-3b0f2c9c1a10")
"""The UUIDv5 namespace of location ids (any fixed UUID: ids only need to be stable and distinct)."""
ANNOTATION_LOCATION = "backstage.io/managed-by-location"
ANNOTATION_ORIGIN_LOCATION = "backstage.io/managed-by-origin-location"


@dataclass(frozen=True)
class BackstageLocation:
    type: str
    target: str
    registered_target: str
    """The target as the store registered it (what unregister and refresh name)."""

    @property
    def id(self) -> str:
        return str(uuid.uuid5(LOCATION_ID_NAMESPACE, self.registered_target))

    @property
    def ref(self) -> str:
        """Its location ref, `type:target`: the origin-location annotation of what it holds."""
        return f"{self.type}:{self.target}"

    @property
    def entity_name(self) -> str:
        return "generated-" + hashlib.sha1(self.ref.encode()).hexdigest()  # noqa: S324 - Backstage's name, not security

    @property
    def entity_ref(self) -> str:
        return f"location:default/{self.entity_name}"

    def data(self) -> dict[str, str]:
        """The location as `GET /locations/:id` answers it."""
        return {"entityRef": self.entity_ref, "id": self.id, "target": self.target, "type": self.type}


def location_type(target: str) -> str:
    """`url` for what is read over the network (URLs, git repositories), `file` for local paths."""
    return "url" if "://" in target or target.startswith(("git+", "git@")) else "file"


def backstage_location(record: RegisteredLocationRecord) -> BackstageLocation:
    """A registered location as Backstage would write it: a directory with a discovery glob is the glob under it
    (Backstage's file locations are globs)."""
    kind = location_type(record.target)
    target = f"{record.target.rstrip('/')}/{record.glob}" if record.glob and kind == "file" else record.target
    return BackstageLocation(kind, target, record.target)


def generated_location_entity(location: BackstageLocation) -> dict[str, Any]:
    """The `Location` entity Backstage generates for a registered location (before uid, etag and relations)."""
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": location.entity_name,
            "namespace": "default",
            "annotations": {ANNOTATION_LOCATION: location.ref, ANNOTATION_ORIGIN_LOCATION: location.ref},
        },
        "spec": {"type": location.type, "target": location.target},
    }
