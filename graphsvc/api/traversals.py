"""GraphQL types for traversals and impact analysis: walks, shortest paths and dependency cycles.

The walking itself is the store's (`graphsvc.store.traversal`, the same on either engine); here are the
answer types and the checks of what a client asks for. Every traversal answers at one instant: an entity's
walk at the entity's (`Entity.as_of`), the Query fields at their `asOf` (None: now).

`graphsvc.api.entities` imports this module for the fields of `Entity` (`walk`'s direction and description),
so this one reads the entity module's helpers when it is called, not when it is imported.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from graphsvc.api.errors import bad_input
from graphsvc.api.limits import page_size
from graphsvc.store.cypher import EntityFilter as StoreFilter
from graphsvc.store.errors import UnknownRelationError
from graphsvc.store.traversal import (
    EVERY_HOP,
    MAX_CYCLE_LENGTH,
    MAX_CYCLES,
    MAX_PATHS,
    Hop,
    Path,
    hops,
)

if TYPE_CHECKING:
    from graphsvc.api.entities import Entity

DEFAULT_MAX_DEPTH = 6
LazyEntity = Annotated["Entity", strawberry.lazy("graphsvc.api.entities")]


@strawberry.enum(description="Which way a walk follows its relation types.")
class WalkDirection(Enum):
    OUT = strawberry.enum_value("out", description="As named: dependsOn leads to what the entity depends on.")
    IN = strawberry.enum_value("in", description="Each type read the other way: dependsOn leads to dependents.")
    BOTH = strawberry.enum_value("both", description="Either way.")


@strawberry.type(description="An entity a walk reached: how many hops away, and by which refs.")
class WalkStep:
    entity: LazyEntity
    distance: int = strawberry.field(description="Hops from the start (1 for a direct neighbour).")
    path: list[str] = strawberry.field(
        description="The refs from the start to this entity, the start first and this entity last: of its "
        "shortest paths, the first in ref order. Refs of no entity (dangling targets) may be inside."
    )


@strawberry.type(description="A path between two entities: its refs and the relation type of each hop.")
class EntityPath:
    refs: list[str] = strawberry.field(description="The refs from `from` to `to`, both included.")
    relations: list[str] = strawberry.field(
        description="The relation type of each hop, as read from the walking side (one fewer than refs)."
    )
    as_of: strawberry.Private[int | None] = None

    @strawberry.field(description="The entities of the refs, in path order; a ref of no entity is left out.")
    async def entities(self, info: Info) -> list[LazyEntity]:
        return await _entities(info, self.refs, self.as_of)


@strawberry.type(description="A cycle of dependsOn edges: each ref depends on the next, the last on the first.")
class DependencyCycle:
    refs: list[str] = strawberry.field(description="The cycle's refs, starting at its smallest.")
    as_of: strawberry.Private[int | None] = None

    @strawberry.field(description="The entities of the refs, in cycle order.")
    async def entities(self, info: Info) -> list[LazyEntity]:
        return await _entities(info, self.refs, self.as_of)


async def _entities(info: Info, refs: list[str], as_of: int | None) -> list[Entity]:
    from graphsvc.api.entities import to_entity

    if not info.context.budget.spend(len(refs)):
        return []
    records = await info.context.entity_lists(as_of).load(tuple(refs))
    return [to_entity(record, as_of) for record in records if record is not None]


def check_depth(depth: int, name: str = "depth") -> None:
    from graphsvc.api.entities import MAX_DEPTH

    if not 1 <= depth <= MAX_DEPTH:
        raise bad_input(f"{name} must be between 1 and {MAX_DEPTH}, got {depth}")


def _hops(relations: list[str], direction: WalkDirection = WalkDirection.OUT) -> tuple[Hop, ...]:
    try:
        return hops(relations, direction.value)
    except UnknownRelationError as error:
        raise bad_input(str(error)) from None


async def walk(
    info: Info,
    entity: Entity,
    relations: list[str],
    direction: WalkDirection,
    depth: int,
    kinds: list[str] | None,
    first: int | None,
) -> list[WalkStep]:
    """The steps of `Entity.walk`: the entities reached, nearest first then by ref, those of `kinds` only."""
    from graphsvc.api.entities import _load_page

    steps = _hops(relations, direction)
    check_depth(depth)
    size = page_size(first)
    store, start = info.context.store, entity.record.ref
    reached = info.context.read(lambda: store.walk(start, steps, depth, entity.as_of), [])
    wanted = {kind.lower() for kind in kinds} if kinds is not None else None
    chosen = [r for r in reached if wanted is None or r.ref.partition(":")[0] in wanted]
    by_ref = {r.ref: r for r in chosen}
    found = await _load_page(info, [r.ref for r in chosen], entity.as_of, size)
    return [WalkStep(entity=e, distance=by_ref[e.ref].distance, path=list(by_ref[e.ref].path)) for e in found]


def paths(
    info: Info, source: str, target: str, relations: list[str] | None, max_depth: int, as_of: int | None
) -> list[EntityPath]:
    """The answer of `Query.paths` (`source`, `target`: canonical refs)."""
    steps = EVERY_HOP if relations is None else _hops(relations)
    check_depth(max_depth, "maxDepth")
    if source == target:
        raise bad_input(f"from and to are the same entity ({source}): a path needs two")
    store = info.context.store
    found: list[Path] = info.context.read(lambda: store.shortest_paths(source, target, steps, max_depth, as_of), [])
    if not info.context.budget.spend(len(found)):
        return []
    return [EntityPath(refs=list(p.refs), relations=list(p.relations), as_of=as_of) for p in found]


def dependency_cycles(info: Info, where: StoreFilter | None, as_of: int | None) -> list[DependencyCycle]:
    """The answer of `Query.dependencyCycles`."""
    store = info.context.store
    cycles = info.context.read(lambda: store.dependency_cycles(where, as_of), [])
    if not info.context.budget.spend(len(cycles)):
        return []
    return [DependencyCycle(refs=list(cycle), as_of=as_of) for cycle in cycles]


PATHS_DESCRIPTION = (
    "The shortest paths from one entity to another (refs as `entity` takes them) along the given relation "
    "types (default: every type, either way), of at most maxDepth hops (1..10, default 6): all of them, "
    f"at most {MAX_PATHS}, ordered by their refs then relations. Two relation types between the same two "
    "entities make two paths. Empty when there is none within maxDepth, or when from or to has no relations "
    "then (an unknown ref, or an entity that did not exist at asOf); a dangling target (a ref relations name "
    "and no entity has) has paths. from and to must differ. With asOf, the graph at that instant."
)
CYCLES_DESCRIPTION = (
    "The elementary cycles among dependsOn edges (a self-dependency is a cycle of one), each starting at its "
    f"smallest ref, ordered by refs: at most {MAX_CYCLES}, and none longer than {MAX_CYCLE_LENGTH} entities. "
    "With a filter, the cycles that pass through at least one entity matching it. With asOf, the cycles at "
    "that instant."
)
WALK_DESCRIPTION = (
    "A breadth-first walk along any relation types, up to depth hops (1..10): each entity once, at its "
    "shortest distance, nearest first then by ref. direction IN reads each type the other way (the impact "
    "set), BOTH either way. kinds filters which entities are answered; the walk still goes through the "
    'other kinds. walk(relations: ["dependsOn", "consumesApi", "apiProvidedBy"], depth: 6) is everything '
    "this entity needs, through its APIs."
)
