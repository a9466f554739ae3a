"""The validated entity: Backstage's envelope (apiVersion, kind, metadata, spec) as frozen models.

`validate_entity` (in `validation.py`) is the way to make one from catalog data: it applies Backstage's
rules first and only then builds these models, so an `Entity` in hand is known to be valid. The models
themselves only check types, which keeps building one cheap.

The models are frozen, but the dicts and lists inside them are plain Python containers; treat them as
read-only and use `to_document()` for a copy that may be changed.
"""

from __future__ import annotations

import json
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field

from graphsvc.model._plain import to_plain
from graphsvc.model.refs import DEFAULT_NAMESPACE, format_entity_ref


class EntityLink(BaseModel):
    """One of `metadata.links`: an external hyperlink shown with the entity."""

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    url: str
    title: str | None = None
    icon: str | None = None
    type: str | None = None


class EntityMetadata(BaseModel):
    """`metadata`; keys other than the declared ones are kept (Backstage allows unknown metadata)."""

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    name: str
    namespace: str = DEFAULT_NAMESPACE
    title: str | None = None
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    links: list[EntityLink] = Field(default_factory=list)


class Entity(BaseModel):
    """A catalog entity that passed Backstage's validation."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, strict=True)

    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: EntityMetadata
    spec: dict[str, Any] = Field(default_factory=dict)

    @property
    def namespace(self) -> str:
        """`metadata.namespace`, "default" when the document did not set one."""
        return self.metadata.namespace

    @property
    def ref(self) -> str:
        """The canonical reference, `kind:namespace/name` in lowercase."""
        return format_entity_ref(self.kind, self.metadata.namespace, self.metadata.name)

    def to_document(self) -> dict[str, Any]:
        """The entity as a new plain JSON-able dict in Backstage's shape, with the namespace filled in.

        Metadata keys the document did not have stay absent (no `labels: {}` appears), so a document comes
        back from validation as it went in, except for the namespace, a built-in kind's spelling
        (`component` becomes `Component`) and YAML-only values made plain (dates become ISO strings).
        """
        return cast("dict[str, Any]", to_plain(self._document(), ""))

    def to_json(self) -> str:
        """The document as canonical JSON text (sorted keys, no spaces): what the store keeps.

        No defensive copy is needed to serialize, and the sync calls this for every changed entity.
        """
        return json.dumps(self._document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def _document(self) -> dict[str, Any]:
        rest = self.metadata.model_dump(exclude_unset=True)
        metadata = {"name": rest.pop("name"), "namespace": rest.pop("namespace", self.metadata.namespace), **rest}
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": metadata, "spec": self.spec}
