"""Per-request context: the service, and DataLoaders that batch lookups per instant.

A list of 50 entities asking for their owners costs one round of lookups, not 50 scattered ones: each field
level batches its refs through a loader (the N+1 problem is the main cost of GraphQL over a fast store, see
performance-notes.md). Loaders are kept per instant (`None` = now), because an `asOf` query must see the
graph as it was at that instant all the way down. Every read asks the query's budget first (see
`graphsvc.api.budget`): a stopped query reads nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from graphsvc.api.budget import Budget
from graphsvc.api.entities import to_entity
from graphsvc.api.response_cache import ResponseCache
from graphsvc.auth.principal import Principal, operator
from graphsvc.service import CatalogService
from graphsvc.store import GraphStore
from graphsvc.store.backend import READ_ATTEMPTS, kept_changing
from graphsvc.store.records import EntityRecord, RelationRow
from graphsvc.store.timeline import Timeline

T = TypeVar("T")


@dataclass
class Context:
    service: CatalogService
    _entity_loaders: dict[int | None, DataLoader[str, Any]] = field(default_factory=dict)
    _relation_loaders: dict[int | None, DataLoader[str, list[RelationRow]]] = field(default_factory=dict)
    _list_loaders: dict[int | None, DataLoader[tuple[str, ...], list[EntityRecord | None]]] = field(
        default_factory=dict
    )
    _version_loader: DataLoader[str, dict[str, Any] | None] | None = None
    _snapshot: GraphStore | None = None
    budget: Budget = field(default_factory=Budget)
    """What the query may still spend (time, answer size); unlimited until a query starts executing."""
    principal: Principal = field(default_factory=operator)
    """Who the request acts for (`graphsvc.api.authentication`); in-process callers act as the operator."""
    response: Any = None
    """Strawberry's response stand-in, whose status code a refused mutation sets (403)."""
    disturbed: bool = False
    """Whether a commit was applied while the query read its snapshot (Neo4j's read-committed reads, see
    `graphsvc.store.neo4j_backend`): its answer may mix two states, so the API executes it again."""
    answers: ResponseCache | None = None
    """Where the GraphQL API keeps query answers per commit (`graphsvc.api.kept_answers`); None keeps none
    (in-process callers, worker processes)."""
    clock_read: bool = False
    """Whether a field's answer depends on the time it was read at, not only on the stored state: such an
    answer is not kept."""

    @property
    def store(self) -> GraphStore:
        """The store as this request sees it: its read snapshot while a query executes."""
        return self._snapshot or self.service.store

    @contextmanager
    def begin_snapshot(self) -> Iterator[None]:
        """Hold one read transaction for the rest of the execution (see `graphsvc.api.read_snapshot`); its
        reads stop at the budget's deadline. A stopped query is not done again: what it read does not count."""
        stop_reads = self.service.store.backend.stop_reads_at  # type: ignore[attr-defined]
        with stop_reads(self.budget.deadline), self.service.store.snapshot() as store:
            self._snapshot = store
            try:
                yield
                self.disturbed = self.budget.spend() and store.disturbed()
            finally:
                self._snapshot = None

    def read(self, work: Callable[[], T], nothing: T) -> T:
        """`work()`, a store read, unless the query is stopped (then `nothing`). A read that fails once the
        deadline has passed was stopped by it: the query is stopped, and the read answers `nothing` rather
        than failing every field waiting for it."""
        if not self.budget.spend():
            return nothing
        try:
            return work()
        except Exception:  # the store's error, or the Neo4j driver's for a transaction the server ended
            if self.budget.spend():
                raise
            return nothing

    def entities(self, as_of: int | None) -> DataLoader[str, Any]:
        """Entities by ref as they were at `as_of` (None: now), as the API's objects (`to_entity`), so that a
        field answering one entity can answer the loader's future as it is."""
        if as_of not in self._entity_loaders:
            store = self.store

            async def load(refs: list[str]) -> list[Any]:
                found = self.read(lambda: store.entities(refs, as_of), {})
                return [to_entity(found.get(ref), as_of) for ref in refs]

            self._entity_loaders[as_of] = DataLoader(load_fn=load)
        return self._entity_loaders[as_of]

    def entity_lists(self, as_of: int | None) -> DataLoader[tuple[str, ...], list[EntityRecord | None]]:
        """Lists of entities by their refs (a traversal's answer, say) as they were at `as_of`: every list
        asked for in one round is read with one statement."""
        if as_of not in self._list_loaders:
            store = self.store

            async def load(lists: list[tuple[str, ...]]) -> list[list[EntityRecord | None]]:
                refs = sorted({ref for refs in lists for ref in refs})
                found = self.read(lambda: store.entities(refs, as_of), {})
                return [[found.get(ref) for ref in refs] for refs in lists]

            self._list_loaders[as_of] = DataLoader(load_fn=load)
        return self._list_loaders[as_of]

    def relations(self, as_of: int | None) -> DataLoader[str, list[RelationRow]]:
        """Relation rows by entity ref as they were at `as_of` (None: now)."""
        if as_of not in self._relation_loaders:
            store = self.store

            async def load(refs: list[str]) -> list[list[RelationRow]]:
                found = self.read(lambda: store.relations(refs, as_of), {})
                return [found.get(ref, []) for ref in refs]

            self._relation_loaders[as_of] = DataLoader(load_fn=load)
        return self._relation_loaders[as_of]

    def version_documents(self) -> DataLoader[str, dict[str, Any] | None]:
        """Version snapshots by key: a page of change events diffs all its updates with one read."""
        if self._version_loader is None:
            timeline = Timeline(self.store)

            async def load(ids: list[str]) -> list[dict[str, Any] | None]:
                found = self.read(lambda: timeline.version_documents(ids), {})
                return [found.get(key) for key in ids]

            self._version_loader = DataLoader(load_fn=load)
        return self._version_loader


async def execute_in_one_state(
    service: CatalogService, run: Callable[[Context], Awaitable[T]], context: Context | None = None
) -> T:
    """`run(context)` (one GraphQL operation), executed again with a fresh context while a commit disturbed
    the snapshot it read (`Context.disturbed`), at most `READ_ATTEMPTS` times: the one loop the API and
    `catalog query` share."""
    context = context or Context(service=service)
    for _ in range(READ_ATTEMPTS):
        result = await run(context)
        if not context.disturbed:
            return result
        context = Context(
            service=service, principal=context.principal, response=context.response, answers=context.answers
        )
    raise kept_changing()
