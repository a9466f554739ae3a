"""Build small ReadResults in tests: a source's content, written as Python data."""

from __future__ import annotations

from typing import Any

from ingestors.documents import CatalogDocument, ReadError, ReadResult


def entity(kind: str, name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    api_version = "scaffolder.backstage.io/v1beta3" if kind == "Template" else "backstage.io/v1alpha1"
    document: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, **metadata},
    }
    if spec is not None:
        document["spec"] = spec
    return document


def component(name: str, owner: str = "team-a", **spec: Any) -> dict[str, Any]:
    return entity("Component", name, {"type": "service", "lifecycle": "production", "owner": owner, **spec})


def group(name: str, children: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    return entity("Group", name, {"type": "team", "children": children or [], **spec})


def source(
    *files: tuple[str, list[Any]],
    errors: list[ReadError] | None = None,
    incomplete: set[str] | None = None,
    name: str = "test-source",
) -> ReadResult:
    """A ReadResult from (location, [documents]) pairs."""
    documents = [
        CatalogDocument(data=data, location=location, document_index=index, line=1 + 10 * index)
        for location, datas in files
        for index, data in enumerate(datas)
    ]
    return ReadResult(source=name, documents=documents, errors=errors or [], incomplete_locations=incomplete or set())
