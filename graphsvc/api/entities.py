"""GraphQL entity types: the `Entity` interface and one type per Backstage kind.

Every type wraps an `EntityRecord` from the store; fields read the stored Backstage document, and relation
fields go through the request's loaders so that sibling objects share one statement. Every list of an entity
is a page (`first`, as for the top-level lists), and what it answers counts into the query's budget
(`graphsvc.api.budget`): a stopped query answers empty lists from then on.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphsvc.api.errors import bad_input
from graphsvc.api.limits import page_size
from graphsvc.api.traversals import WALK_DESCRIPTION, WalkDirection, WalkStep, walk
from graphsvc.store.records import EntityRecord
from graphsvc.store.schema import EDGE_LABELS, PRESENT, REMOVED
from graphsvc.store.timeline import Timeline
from graphsvc.timestamps import to_datetime

if TYPE_CHECKING:
    from graphsvc.api.time_travel import EntityVersionConnection, OwnershipInterval, Provenance

MAX_DEPTH = 10
KIND_SPELLING = {
    "component": "Component", "api": "API", "resource": "Resource", "system": "System", "domain": "Domain",
    "group": "Group", "user": "User", "location": "Location", "template": "Template",
}  # fmt: skip
"""Built-in kinds as Backstage spells them, so listing fields need not parse each entity's document."""
MAX_GROUP_DEPTH = 30
"""Group trees are walked whole (descendants, transitive ownership), to a bound no real org chart reaches."""


@strawberry.enum(description="Whether an entity is in the catalog (now, or at asOf), or was removed from it.")
class EntityState(Enum):
    PRESENT = PRESENT
    REMOVED = REMOVED


@strawberry.type(description="One Backstage relation row: this entity --type--> targetRef.")
class Relation:
    type: str
    target_ref: str = strawberry.field(description="Canonical lowercase ref of the target.")
    as_of: strawberry.Private[int | None] = None

    @strawberry.field(
        description="The target entity (at the same instant), or null when none exists then (a dangling relation)."
    )
    def target(self, info: Info) -> Annotated[Entity, strawberry.lazy("graphsvc.api.entities")] | None:
        """The loader's future itself, not a coroutine awaiting it: a list of relations awaits its targets
        without a coroutine and a task apiece (a component's 14 relations spent a tenth of their time so)."""
        if not info.context.budget.spend(1):
            return None
        return info.context.entities(self.as_of).load(self.target_ref)  # type: ignore[return-value]


async def _related(
    info: Info, entity: Entity, rel_type: str, first: int | None, kind: str | None = None
) -> list[Entity]:
    size = page_size(first)
    rows = await info.context.relations(entity.as_of).load(entity.record.ref)
    refs = [r.target for r in rows if r.type == rel_type and (kind is None or r.target.startswith(f"{kind}:"))]
    return await _load_page(info, refs, entity.as_of, size)


async def _first_related(info: Info, entity: Entity, rel_type: str, kind: str | None = None) -> Entity | None:
    related = await _related(info, entity, rel_type, 1, kind)
    return related[0] if related else None


async def _load_page(info: Info, refs: list[str], as_of: int | None, size: int) -> list[Entity]:
    """The first `size` entities of `refs` that exist, in order. One load per list (lists of sibling fields
    are still read in one statement), not a future per ref; another only when refs of the first were missing
    (dangling relations)."""
    found: list[Entity] = []
    start = 0
    while len(found) < size and start < len(refs):
        chunk = refs[start : start + size - len(found)]
        start += len(chunk)
        if not info.context.budget.spend(len(chunk)):
            break
        records = await info.context.entity_lists(as_of).load(tuple(chunk))
        found += [to_entity(r, as_of) for r in records if r is not None]
    return found


def _check_depth(depth: int) -> None:
    if not 1 <= depth <= MAX_DEPTH:
        raise bad_input(f"depth must be between 1 and {MAX_DEPTH}, got {depth}")


@strawberry.interface(description="A catalog entity of any kind, in its current state.")
class Entity:
    # Plain attributes, filled in `to_entity`: resolved by a getattr, about 10x cheaper per field than a
    # resolver method, which matters for listings of many entities.
    ref: str = strawberry.field(description="Canonical lowercase ref, kind:namespace/name.")
    kind: str = strawberry.field(description="The kind in Backstage's spelling (e.g. Component, API).")
    namespace: str
    name: str
    title: str | None
    description: str | None
    record: strawberry.Private[EntityRecord]
    as_of: strawberry.Private[int | None] = None
    """The instant this object describes (None: now); every field below answers at the same instant."""

    @classmethod
    def resolve_type(cls, obj: Any, info: Info, abstract_type: Any) -> str:
        """The GraphQL type of an entity object is its class's: one attribute read, instead of Strawberry's
        generic search (casts, generics), which cost 6 ms per 700 entities of a dependency list."""
        return obj.__strawberry_definition__.name

    @strawberry.field
    def api_version(self) -> str:
        return self.record.document.get("apiVersion", "")

    @strawberry.field
    def tags(self) -> list[str]:
        return list(self.record.metadata.get("tags") or [])

    @strawberry.field
    def labels(self) -> JSON:
        return self.record.metadata.get("labels") or {}

    @strawberry.field
    def annotations(self) -> JSON:
        return self.record.metadata.get("annotations") or {}

    @strawberry.field
    def links(self) -> JSON:
        return self.record.metadata.get("links") or []

    @strawberry.field(description="The entity's spec as JSON, exactly as stored.")
    def spec(self) -> JSON:
        return self.record.spec

    @strawberry.field(description="The whole Backstage document (apiVersion, kind, metadata, spec).")
    def document(self) -> JSON:
        return self.record.document

    @strawberry.field(description="The location file this entity was last read from.")
    def location(self) -> str | None:
        return self.record.location

    @strawberry.field(description="The registered source that claims this entity.")
    def source(self) -> str | None:
        return self.record.source

    @strawberry.field(description="PRESENT, or REMOVED: its source no longer emits it (see removedBy).")
    def state(self) -> EntityState:
        return EntityState(self.record.state)

    @strawberry.field(description="When a REMOVED entity was removed; null for a present one.")
    def removed_at(self) -> datetime | None:
        return to_datetime(self.record.updated_at) if self.record.state == REMOVED else None

    @strawberry.field(
        description="What removed a REMOVED entity: the sync run, its source, and the location that no longer "
        "emits the entity (an orphan, in Backstage's words); null for a present one."
    )
    def removed_by(self, info: Info) -> Annotated[Provenance, strawberry.lazy("graphsvc.api.time_travel")] | None:
        from graphsvc.api.time_travel import Provenance

        if self.record.state != REMOVED:
            return None
        context = info.context
        versions = context.read(lambda: Timeline(context.store).versions(self.record.ref), [])
        closed = next((v for v in versions if v.valid_to == self.record.updated_at), None)
        return Provenance.of(closed.closing_provenance) if closed else None

    @strawberry.field(
        description="Backstage's relation rows of this entity (reverse types included), "
        "sorted by type then targetRef; optionally only one type."
    )
    async def relations(self, info: Info, type: str | None = None, first: int | None = None) -> list[Relation]:
        size = page_size(first)
        rows = await info.context.relations(self.as_of).load(self.record.ref)
        page = [r for r in rows if type is None or r.type == type][:size]
        if not info.context.budget.spend(len(page)):
            return []
        return [Relation(type=r.type, target_ref=r.target, as_of=self.as_of) for r in page]

    @strawberry.field(description="Versions of this entity, newest first, with field diffs and provenance.")
    def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Annotated[EntityVersionConnection, strawberry.lazy("graphsvc.api.time_travel")]:
        from graphsvc.api.time_travel import history_connection

        context = info.context
        versions = context.read(lambda: Timeline(context.store).versions(self.record.ref), [])
        connection = history_connection(versions, first, after)
        context.budget.spend(len(connection.edges))
        return connection

    @strawberry.field(description="The owners this entity declared over time, oldest first.")
    def ownership_history(
        self, info: Info, first: int | None = None
    ) -> list[Annotated[OwnershipInterval, strawberry.lazy("graphsvc.api.time_travel")]]:
        from graphsvc.api.time_travel import OwnershipInterval, Provenance

        size = page_size(first)
        context = info.context
        intervals = context.read(lambda: Timeline(context.store).ownership(self.record.ref), [])[:size]
        if not context.budget.spend(len(intervals)):
            return []
        return [
            OwnershipInterval(
                owner_ref=i.owner_ref,
                valid_from=to_datetime(i.valid_from),
                valid_to=to_datetime(i.valid_to),
                provenance=Provenance.of(i.provenance),
            )
            for i in intervals
        ]

    @strawberry.field(description="The owner (ownedBy target), when it exists.")
    async def owner(self, info: Info) -> Entity | None:
        return await _first_related(info, self, "ownedBy")

    @strawberry.field(description="The system this entity is part of.")
    async def system(self, info: Info) -> Entity | None:
        return await _first_related(info, self, "partOf", "system")

    @strawberry.field(
        description="The domain: the entity's own, or for components, APIs and resources the domain of their system."
    )
    async def domain(self, info: Info) -> Entity | None:
        own = await _first_related(info, self, "partOf", "domain")
        if own is not None or self.record.kind in ("domain", "system"):
            return own
        system = await _first_related(info, self, "partOf", "system")
        return await _first_related(info, system, "partOf", "domain") if system else None

    @strawberry.field
    async def provides_apis(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "providesApi", first)

    @strawberry.field
    async def consumes_apis(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "consumesApi", first)

    @strawberry.field(description="Direct dependencies (dependsOn).")
    async def depends_on(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "dependsOn", first)

    @strawberry.field(
        description="What depends on this entity (dependencyOf), up to `depth` hops (1..10, default 1: the "
        "direct dependents), nearest first: its blast radius."
    )
    async def dependents(self, info: Info, depth: int = 1, first: int | None = None) -> list[Entity]:
        _check_depth(depth)
        if depth == 1:
            return await _related(info, self, "dependencyOf", first)
        size = page_size(first)
        store = info.context.store
        label = EDGE_LABELS["dependsOn"]
        refs = info.context.read(lambda: store.reachable(self.record.ref, label, "in", depth, self.as_of), [])
        return await _load_page(info, refs, self.as_of, size)

    @strawberry.field(description=WALK_DESCRIPTION)
    async def walk(
        self,
        info: Info,
        relations: list[str],
        direction: WalkDirection = WalkDirection.OUT,
        depth: int = 1,
        kinds: list[str] | None = None,
        first: int | None = None,
    ) -> list[WalkStep]:
        return await walk(info, self, relations, direction, depth, kinds, first)

    @strawberry.field(description="Transitive dependencies up to `depth` hops (1..10), nearest first.")
    async def dependencies(self, info: Info, depth: int = 1, first: int | None = None) -> list[Entity]:
        _check_depth(depth)
        size = page_size(first)
        store = info.context.store
        label = EDGE_LABELS["dependsOn"]
        refs = info.context.read(lambda: store.reachable(self.record.ref, label, "out", depth, self.as_of), [])
        return await _load_page(info, refs, self.as_of, size)

    @strawberry.field(
        description="What this entity owns, ordered by ref; with transitive, also what its descendant groups own."
    )
    async def owned_entities(self, info: Info, transitive: bool = False, first: int | None = None) -> list[Entity]:
        size = page_size(first)
        store = info.context.store

        def owned_refs() -> list[str]:
            owners = [self.record.ref]
            if transitive:
                owners += store.reachable(self.record.ref, EDGE_LABELS["parentOf"], "out", MAX_GROUP_DEPTH, self.as_of)
            owned = store.neighbours(owners, EDGE_LABELS["ownedBy"], "in", self.as_of)
            return sorted({ref for refs in owned.values() for ref in refs})

        return await _load_page(info, info.context.read(owned_refs, []), self.as_of, size)


def _spec_str(record: EntityRecord, key: str) -> str | None:
    value = record.spec.get(key)
    return value if isinstance(value, str) else None


@strawberry.type
class Component(Entity):
    @strawberry.field
    def type(self) -> str | None:
        return _spec_str(self.record, "type")

    @strawberry.field
    def lifecycle(self) -> str | None:
        return _spec_str(self.record, "lifecycle")

    @strawberry.field(description="The component this one is a subcomponent of.")
    async def subcomponent_of(self, info: Info) -> Entity | None:
        return await _first_related(info, self, "partOf", "component")

    @strawberry.field
    async def subcomponents(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "hasPart", first, "component")


@strawberry.type(name="API")
class Api(Entity):
    @strawberry.field
    def type(self) -> str | None:
        return _spec_str(self.record, "type")

    @strawberry.field
    def lifecycle(self) -> str | None:
        return _spec_str(self.record, "lifecycle")

    @strawberry.field(description="The API definition text (or an unresolved placeholder, see errors).")
    def definition(self) -> JSON | None:
        return self.record.spec.get("definition")

    @strawberry.field
    async def providers(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "apiProvidedBy", first)

    @strawberry.field
    async def consumers(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "apiConsumedBy", first)


@strawberry.type
class Resource(Entity):
    @strawberry.field
    def type(self) -> str | None:
        return _spec_str(self.record, "type")


@strawberry.type
class System(Entity):
    @strawberry.field
    def type(self) -> str | None:
        return _spec_str(self.record, "type")

    @strawberry.field(description="Components, APIs and resources that are part of this system.")
    async def parts(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "hasPart", first)


@strawberry.type
class Domain(Entity):
    @strawberry.field
    def type(self) -> str | None:
        return _spec_str(self.record, "type")

    @strawberry.field(description="Systems and subdomains that are part of this domain.")
    async def parts(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "hasPart", first)


@strawberry.type
class Group(Entity):
    @strawberry.field
    def type(self) -> str | None:
        return _spec_str(self.record, "type")

    @strawberry.field
    def profile(self) -> JSON:
        return self.record.spec.get("profile") or {}

    @strawberry.field
    async def members(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "hasMember", first)

    @strawberry.field
    async def parent(self, info: Info) -> Entity | None:
        return await _first_related(info, self, "childOf")

    @strawberry.field
    async def children(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "parentOf", first)

    @strawberry.field(description="All groups below this one, nearest first.")
    async def descendants(self, info: Info, first: int | None = None) -> list[Entity]:
        size = page_size(first)
        store = info.context.store
        label = EDGE_LABELS["parentOf"]
        refs = info.context.read(
            lambda: store.reachable(self.record.ref, label, "out", MAX_GROUP_DEPTH, self.as_of), []
        )
        return await _load_page(info, refs, self.as_of, size)


@strawberry.type
class User(Entity):
    @strawberry.field
    def profile(self) -> JSON:
        return self.record.spec.get("profile") or {}

    @strawberry.field(description="The groups this user is a member of.")
    async def groups(self, info: Info, first: int | None = None) -> list[Entity]:
        return await _related(info, self, "memberOf", first)


@strawberry.type
class Location(Entity):
    @strawberry.field
    def type(self) -> str | None:
        return _spec_str(self.record, "type")

    @strawberry.field
    def target(self) -> str | None:
        return _spec_str(self.record, "target")

    @strawberry.field
    def targets(self) -> list[str]:
        return [t for t in self.record.spec.get("targets") or [] if isinstance(t, str)]

    @strawberry.field
    def presence(self) -> str:
        return _spec_str(self.record, "presence") or "required"


@strawberry.type
class Template(Entity):
    @strawberry.field
    def type(self) -> str | None:
        return _spec_str(self.record, "type")

    @strawberry.field
    def parameters(self) -> JSON:
        return self.record.spec.get("parameters")

    @strawberry.field
    def steps(self) -> JSON:
        return self.record.spec.get("steps") or []


@strawberry.type(description="An entity of a custom kind accepted by configuration.")
class CustomEntity(Entity):
    pass


ENTITY_TYPES: dict[str, type[Entity]] = {
    "component": Component,
    "api": Api,
    "resource": Resource,
    "system": System,
    "domain": Domain,
    "group": Group,
    "user": User,
    "location": Location,
    "template": Template,
}


def to_entity(record: EntityRecord | None, as_of: int | None = None) -> Any:
    """The GraphQL object for a stored entity (as it was at `as_of`), of the type of its kind."""
    if record is None:
        return None
    kind = KIND_SPELLING.get(record.kind) or record.document.get("kind", record.kind)
    return ENTITY_TYPES.get(record.kind, CustomEntity)(
        ref=record.ref,
        kind=kind,
        namespace=record.namespace,
        name=record.name,
        title=record.title,
        description=record.description,
        record=record,
        as_of=as_of,
    )
