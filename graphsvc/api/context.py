"""Per-request context: the store, the service, and DataLoaders that batch lookups.

A list of 50 entities asking for their owners costs one statement, not 50: each field level batches its
refs through a loader (the N+1 problem is the main cost of GraphQL over a fast store, see
performance-notes.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from graphsvc.service import CatalogService
from graphsvc.store import GraphStore
from graphsvc.store.records import EntityRecord, RelationRow


@dataclass
class Context:
    service: CatalogService
    entity_loader: DataLoader[str, EntityRecord | None] = field(init=False)
    relations_loader: DataLoader[str, list[RelationRow]] = field(init=False)

    def __post_init__(self) -> None:
        store = self.store

        async def load_entities(refs: list[str]) -> list[EntityRecord | None]:
            found = store.entities(refs)
            return [found.get(ref) for ref in refs]

        async def load_relations(refs: list[str]) -> list[list[RelationRow]]:
            found = store.relations(refs)
            return [found[ref] for ref in refs]

        self.entity_loader = DataLoader(load_fn=load_entities)
        self.relations_loader = DataLoader(load_fn=load_relations)

    @property
    def store(self) -> GraphStore:
        return self.service.store
