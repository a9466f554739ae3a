"""The temporal graph store and its two engines."""

from __future__ import annotations

from typing import Any

from graphsvc.config import Settings
from graphsvc.store.cypher import EntityFilter
from graphsvc.store.errors import PartialImportError, StoreError, StoreLockedError, StoreUnavailableError
from graphsvc.store.graph_store import GraphStore


def open_store(settings: Settings, *, partial_import: bool = False) -> GraphStore:
    """The store the settings name: the embedded SQLite store directory, or a Neo4j database.

    A store holding an import that did not finish is refused (`PartialImportError`, saying how to finish it),
    except with `partial_import`, which only `catalog import` passes."""
    store = _open(settings)
    if not partial_import:
        try:
            store.refuse_partial_import()
        except BaseException:
            store.close()
            raise
    return store


def _open(settings: Settings) -> GraphStore:
    if settings.backend == "neo4j":
        from graphsvc.store.neo4j_backend import Neo4jBackend

        return GraphStore(
            Neo4jBackend(settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password, settings.neo4j_database)
        )
    from graphsvc.store.sqlite_backend import SqliteBackend

    backend = SqliteBackend(settings.store_dir)
    try:
        return GraphStore(backend)
    except BaseException:
        backend.close()
        raise


def open_reader(settings: Settings) -> GraphStore:
    """A store for reading only, beside the process that owns it (a worker process of its service): no
    lock, no schema work, no writes; SQLite connections read-only."""
    if settings.backend == "neo4j":
        from graphsvc.store.neo4j_backend import Neo4jBackend

        backend: Any = Neo4jBackend(
            settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password, settings.neo4j_database
        )
    else:
        from graphsvc.store.sqlite_backend import SqliteBackend

        backend = SqliteBackend(settings.store_dir, read_only=True)
    return GraphStore._view(backend)


__all__ = [
    "EntityFilter",
    "GraphStore",
    "PartialImportError",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "open_reader",
    "open_store",
]
