"""The temporal graph store and its two engines."""

from __future__ import annotations

from graphsvc.config import Settings
from graphsvc.store.cypher import EntityFilter
from graphsvc.store.errors import StoreError, StoreLockedError, StoreUnavailableError
from graphsvc.store.graph_store import GraphStore


def open_store(settings: Settings) -> GraphStore:
    """The store the settings name: the embedded SQLite store directory, or a Neo4j database."""
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


__all__ = [
    "EntityFilter",
    "GraphStore",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "open_store",
]
