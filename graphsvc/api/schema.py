"""The GraphQL schema: queries over the catalog graph and the location mutations.

Names here are the public contract (see the README and the exported `schema.graphql`).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult, Info
from strawberry.types.graphql import OperationType

from graphsvc.api import traversals
from graphsvc.api.entities import ENTITY_TYPES, MAX_DEPTH, CustomEntity, Entity, EntityState, Relation, to_entity
from graphsvc.api.errors import bad_input
from graphsvc.api.fast_execution import PlannedExecutionContext
from graphsvc.api.limits import MAX_FIRST, entity_page_limit, page_size
from graphsvc.api.operation_steps import OperationSteps, execute_query, prepared_query
from graphsvc.api.permissions import require
from graphsvc.api.time_travel import (
    ChangeEventConnection,
    ChangeType,
    GraphDiff,
    OwnershipGap,
    change_connection,
    decode_pair,
)
from graphsvc.api.traversals import (
    CYCLES_DESCRIPTION,
    DEFAULT_MAX_DEPTH,
    PATHS_DESCRIPTION,
    DependencyCycle,
    EntityPath,
)
from graphsvc.auth.tokens import TokenError
from graphsvc.model import ModelError, parse_entity_ref
from graphsvc.service import UnknownLocationError
from graphsvc.store import EntityFilter as StoreFilter
from graphsvc.store.hygiene import metadata_entry, relation_types
from graphsvc.store.records import ApiTokenRecord, ErrorRecord, SyncRunRecord
from graphsvc.store.schema import PRESENT
from graphsvc.store.timeline import Timeline
from graphsvc.sync import SyncSummary
from graphsvc.timestamps import from_datetime, now_micros, to_datetime
from ingestors.read import SourceUnavailableError

log = logging.getLogger(__name__)


def canonical_ref(ref: str, default_kind: str | None = None) -> str:
    try:
        return str(parse_entity_ref(ref, default_kind=default_kind))
    except ModelError as error:
        raise bad_input(f"invalid entity ref {ref[:200]!r}: {error}") from None


CURSOR_PREFIX = "ref:"


def encode_cursor(ref: str) -> str:
    """Cursors are opaque to clients; inside, the last ref of the page (pages are ordered by ref)."""
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{ref}".encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    if not text.startswith(CURSOR_PREFIX):
        raise bad_input(f"invalid cursor {cursor[:100]!r}: pass an endCursor from a previous page")
    return text.removeprefix(CURSOR_PREFIX)


@strawberry.input(
    description="A metadata key, and optionally its value: without value, the key is present (any value); "
    "with it, key = value (exactly, case-sensitive)."
)
class KeyValue:
    key: str
    value: str | None = None


@strawberry.input(
    description="Entity filters; all given fields must match. Values are case-insensitive; "
    "owner/system/domain take refs with default kinds group/system/domain."
)
class EntityFilter:
    kind: str | None = None
    namespace: str | None = None
    type: str | None = None
    lifecycle: str | None = None
    owner: str | None = None
    system: str | None = None
    domain: str | None = None
    tag: str | None = None
    text: str | None = strawberry.field(default=None, description="Substring of name, title or description.")
    missing: list[str] | None = strawberry.field(
        default=None,
        description="Backstage relation types (forward or reverse: ownedBy, partOf, apiConsumedBy, hasMember, "
        "...) the entity has no relation row of, each of them.",
    )
    dangling: list[str] | None = strawberry.field(
        default=None,
        description="Relation types of each of which the entity has a row whose target does not exist "
        "(no source defines it, or it was removed).",
    )
    annotation: list[KeyValue] | None = strawberry.field(
        default=None, description="Annotations the entity has (key present, or key = value), all of them."
    )
    label: list[KeyValue] | None = strawberry.field(
        default=None, description="Labels the entity has (key present, or key = value), all of them."
    )
    state: EntityState = strawberry.field(
        default=EntityState.PRESENT,
        description="PRESENT: the catalog's entities. REMOVED: the entities their sources no longer emit "
        "(with asOf: removed by then), as their last version was; see Entity.removedBy.",
    )

    def to_store(self) -> StoreFilter:
        lower = {
            k: (getattr(self, k) or "").lower() or None
            for k in ("kind", "namespace", "type", "lifecycle", "tag", "text")
        }
        refs = {
            k: canonical_ref(getattr(self, k), k if k != "owner" else "group") if getattr(self, k) else None
            for k in ("owner", "system", "domain")
        }
        return StoreFilter(**lower, **refs, **self._hygiene(), state=self.state.value)

    def _hygiene(self) -> dict[str, tuple[str, ...] | None]:
        """The relation and metadata filters, in the store's terms; an unknown relation type or an invalid
        key is the client's mistake, said as such."""
        try:
            return {
                "missing": None if self.missing is None else relation_types(self.missing),
                "dangling": None if self.dangling is None else relation_types(self.dangling),
                **{name: _entries(name, getattr(self, name)) for name in ("annotation", "label")},
            }
        except ValueError as error:
            raise bad_input(str(error)) from None


def _entries(name: str, pairs: list[KeyValue] | None) -> tuple[str, ...] | None:
    if pairs is None:
        return None
    return tuple(dict.fromkeys(metadata_entry(name, pair.key, pair.value) for pair in pairs))


@strawberry.input(
    description="Change feed filters; all given fields must match. kind, namespace, owner and system are "
    "those of the entity the event is filed under (for a relation event, the entity that declared the "
    "relation) as it was when the event happened."
)
class ChangeFilter:
    kind: str | None = None
    namespace: str | None = None
    owner: str | None = None
    system: str | None = None
    types: list[ChangeType] | None = strawberry.field(default=None, description="Only events of these types.")

    def to_store(self) -> StoreFilter:
        entity = EntityFilter(kind=self.kind, namespace=self.namespace, owner=self.owner, system=self.system)
        return entity.to_store()

    def change_types(self) -> tuple[str, ...] | None:
        return None if self.types is None else tuple(dict.fromkeys(t.value for t in self.types))


def instant(value: datetime | None) -> int | None:
    """A GraphQL DateTime as a store instant (UTC microseconds); naive values are taken to be UTC."""
    return None if value is None else from_datetime(value)


def _store_filter(where: EntityFilter | None) -> StoreFilter:
    return where.to_store() if where else StoreFilter()


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class EntityEdge:
    node: Entity

    @strawberry.field(description="Where this edge is in the list: `after` it, the next page starts.")
    def cursor(self) -> str:
        """Encoded when asked for: a page of 1,000 names spent a sixth of its time encoding unread cursors."""
        return encode_cursor(self.node.ref)


@strawberry.type(description="A page of entities ordered by ref (Relay connection).")
class EntityConnection:
    edges: list[EntityEdge]
    page_info: PageInfo
    where: strawberry.Private[StoreFilter]
    as_of: strawberry.Private[int | None]
    known_total: strawberry.Private[int | None] = None
    """The count when the page already holds every match (a first page with no next one): no second statement."""

    @strawberry.field(description="How many entities match the filter, over all pages.")
    def total_count(self, info: Info) -> int:
        if self.known_total is not None:
            return self.known_total
        return info.context.store.count_entities(self.where, self.as_of)


@strawberry.type
class FacetValue:
    value: str | None = strawberry.field(description="The field's value; null counts the entities without it.")
    count: int


@strawberry.type
class SyncRun:
    id: str
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    commit_sha: str | None
    added: int
    updated: int
    removed: int
    unchanged: int
    errors_recorded: strawberry.Private[int]
    principal: str | None = strawberry.field(
        description="Who started the sync: token:<name>, user:default/<name>, anonymous, cli:<os user> "
        "(the operator's shell), service:scheduler; null for syncs recorded before principals were."
    )

    @classmethod
    def from_record(cls, r: SyncRunRecord) -> SyncRun:
        return cls(
            id=r.id,
            source=r.source,
            started_at=to_datetime(r.started_at),
            finished_at=to_datetime(r.finished_at),
            status=r.status,
            commit_sha=r.commit_sha,
            added=r.added or 0,
            updated=r.updated or 0,
            removed=r.removed or 0,
            unchanged=r.unchanged or 0,
            errors_recorded=r.errors or 0,
            principal=r.principal,
        )

    @strawberry.field(
        description="How many errors this sync recorded; with location, how many about that file of its source "
        "(as errors(syncRun:, location:) lists them)."
    )
    def error_count(self, info: Info, location: str | None = None) -> int:
        if location is None:
            return self.errors_recorded
        return info.context.store.count_errors(self.id, location)


@strawberry.type(description="Something a sync could not accept: where it is and what is wrong.")
class SyncError:
    id: str
    sync_run: str
    source: str
    category: str = strawberry.field(description="read, validation, duplicate or conflict.")
    location: str | None
    document_index: int | None
    line: int | None
    entity_ref: str | None
    message: str
    at: datetime

    @classmethod
    def from_record(cls, r: ErrorRecord) -> SyncError:
        return cls(
            id=r.id,
            sync_run=r.sync_run,
            source=r.source,
            category=r.category,
            location=r.location,
            document_index=r.document_index,
            line=r.line,
            entity_ref=r.entity_ref,
            message=r.message,
            at=to_datetime(r.at),
        )


@strawberry.type(description="What one sync did.")
class SyncResult:
    sync_run: SyncRun
    errors: list[SyncError]

    @classmethod
    def from_summary(cls, info: Info, summary: SyncSummary) -> SyncResult:
        store = info.context.store
        run = next(r for r in store.sync_runs(limit=1000) if r.id == summary.run_id)
        errors = store.errors(sync_runs=[summary.run_id], limit=MAX_FIRST)
        return cls(sync_run=SyncRun.from_record(run), errors=[SyncError.from_record(e) for e in errors])


@strawberry.type(description="A static API token as stored (its secret is never stored, nor shown again).")
class ApiToken:
    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    @classmethod
    def from_record(cls, r: ApiTokenRecord) -> ApiToken:
        return cls(
            id=r.id,
            name=r.name,
            scopes=list(r.scopes),
            created_at=to_datetime(r.created_at),
            created_by=r.created_by,
            revoked_at=to_datetime(r.revoked_at),
            revoked_by=r.revoked_by,
        )


@strawberry.type
class CreatedApiToken:
    token: str = strawberry.field(description="The token to send as `Authorization: Bearer <token>`.")
    api_token: ApiToken


@strawberry.type
class RegisteredLocation:
    target: str
    added_at: datetime
    branch: str | None
    glob: str | None


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="One entity by ref (`[kind:][namespace/]name`, kind required); null if unknown.")
    def entity(self, info: Info, ref: str, as_of: datetime | None = None) -> Entity | None:
        """With asOf, the entity as it was then; every field below answers at that instant.

        A direct lookup rather than the DataLoader: a root field has nothing to batch with, and skipping the
        loader's scheduling is a measurable share of a point query."""
        at = instant(as_of)
        return to_entity(info.context.store.entity(canonical_ref(ref), at), at)

    @strawberry.field(
        description="Entities matching a filter, ordered by ref, as a Relay connection. `first` is at most 1000, "
        "or 10000 when the nodes select leaf fields only (scalars, enums and lists of them), within the cost limit."
    )
    def entities(
        self,
        info: Info,
        filter: EntityFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        as_of: datetime | None = None,
    ) -> EntityConnection:
        where = _store_filter(filter)
        bulk = first is not None and first > MAX_FIRST
        size = page_size(first, entity_page_limit(info) if bulk else MAX_FIRST, bulk=True)
        at = instant(as_of)
        store = info.context.store
        records = store.find_entities(where, first=size + 1, after=decode_cursor(after), as_of=at) if size else []
        page = records[:size]
        edges = [EntityEdge(node=to_entity(r, at)) for r in page]
        info_ = PageInfo(
            has_next_page=len(records) > size,
            has_previous_page=after is not None,
            start_cursor=encode_cursor(page[0].ref) if page else None,
            end_cursor=encode_cursor(page[-1].ref) if page else None,
        )
        # Fewer rows than asked for, from the start: the page holds every match, so its length is the count.
        whole = after is None and 0 < size and len(records) <= size
        return EntityConnection(
            edges=edges, page_info=info_, where=where, as_of=at, known_total=len(records) if whole else None
        )

    @strawberry.field(
        description="Value counts of one field (kind, namespace, type, lifecycle, owner, system, "
        "domain, tag) over the entities matching the filter, most frequent first."
    )
    def facets(
        self, info: Info, field: str, filter: EntityFilter | None = None, as_of: datetime | None = None
    ) -> list[FacetValue]:
        aliases = {
            "spec.type": "type",
            "spec.lifecycle": "lifecycle",
            "spec.owner": "owner",
            "spec.system": "system",
            "spec.domain": "domain",
            "metadata.namespace": "namespace",
            "metadata.tags": "tag",
            "tags": "tag",
        }
        name = aliases.get(field, field)
        try:
            values = info.context.store.facets(name, _store_filter(filter), instant(as_of))
        except ValueError as error:
            raise bad_input(str(error)) from None
        return [FacetValue(value=v, count=c) for v, c in values]

    @strawberry.field(description="Sync runs, newest first.")
    def sync_runs(self, info: Info, first: int | None = None) -> list[SyncRun]:
        return [SyncRun.from_record(r) for r in info.context.store.sync_runs(limit=page_size(first))]

    @strawberry.field(
        description="Sync errors, newest first. Without syncRun: the errors of each source's "
        "latest sync (what is wrong now)."
    )
    def errors(
        self,
        info: Info,
        sync_run: str | None = None,
        location: str | None = None,
        entity_ref: str | None = None,
        first: int | None = None,
    ) -> list[SyncError]:
        store = info.context.store
        runs = [sync_run] if sync_run else store.latest_sync_run_ids()
        ref = canonical_ref(entity_ref) if entity_ref else None
        records = store.errors(sync_runs=runs, location=location, entity_ref=ref, limit=page_size(first))
        return [SyncError.from_record(r) for r in records]

    @strawberry.field(description="API tokens, revoked ones included, oldest first. Scope: admin.")
    def api_tokens(self, info: Info) -> list[ApiToken]:
        require(info, "admin")
        return [ApiToken.from_record(r) for r in info.context.service.tokens.list()]

    @strawberry.field(description="Registered locations (the roots that syncs read).")
    def locations(self, info: Info) -> list[RegisteredLocation]:
        return [
            RegisteredLocation(target=r.target, added_at=to_datetime(r.added_at), branch=r.branch, glob=r.glob)
            for r in info.context.store.registered_locations()
        ]

    @strawberry.field(description=PATHS_DESCRIPTION)
    def paths(
        self,
        info: Info,
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        relations: list[str] | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
        as_of: datetime | None = None,
    ) -> list[EntityPath]:
        return traversals.paths(info, canonical_ref(from_), canonical_ref(to), relations, max_depth, instant(as_of))

    @strawberry.field(description=CYCLES_DESCRIPTION)
    def dependency_cycles(
        self, info: Info, filter: EntityFilter | None = None, as_of: datetime | None = None
    ) -> list[DependencyCycle]:
        return traversals.dependency_cycles(info, filter.to_store() if filter else None, instant(as_of))


async def _sync(info: Info, work) -> SyncResult:  # noqa: ANN001 - a zero-argument callable
    try:
        summary = await info.context.service.run_write(work)
    except (SourceUnavailableError, UnknownLocationError) as error:
        raise bad_input(str(error)) from None
    return SyncResult.from_summary(info, summary)


@strawberry.type
class TimeTravelQuery:
    @strawberry.field(
        description="Changes in [since, until) (until defaults to now), oldest first. Filters: kind, "
        "namespace, owner, system (of the changed entity; for relation events, of the entity that declared "
        "the relation, as it was then), types."
    )
    def changes(
        self,
        info: Info,
        since: datetime,
        until: datetime | None = None,
        filter: ChangeFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ChangeEventConnection:
        start, end = _interval(since, until)
        size = page_size(first)
        cursor = decode_pair(after)
        skip = 0
        if cursor is not None:
            start, skip = max(start, cursor[0]), cursor[1]
        where, types = (filter.to_store(), filter.change_types()) if filter else (StoreFilter(), None)
        events = Timeline(info.context.store).changes(start, end, where, first=size + 1, skip=skip, types=types)
        return change_connection(events, size, cursor or (start, 0))

    @strawberry.field(
        name="graphDiff",
        description="Entities and relation rows added and removed between two "
        "instants; with root, only within what is reachable from root (any relation, up to depth).",
    )
    def graph_diff(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        # `root` is Strawberry's name for the parent value: the Python name must differ.
        root_ref: Annotated[str | None, strawberry.argument(name="root")] = None,
        depth: int = 1,
    ) -> GraphDiff:
        start, end = _interval(from_, to, names=("from", "to"))
        if not 1 <= depth <= MAX_DEPTH:
            raise bad_input(f"depth must be between 1 and {MAX_DEPTH}, got {depth}")
        ref = canonical_ref(root_ref) if root_ref else None
        return GraphDiff.of(Timeline(info.context.store).graph_diff(start, end, ref, depth))

    @strawberry.field(
        description="Intervals in [since, until) in which entities had no owner, or an owner that "
        "did not exist at the time, with their durations."
    )
    def ownership_gaps(
        self, info: Info, since: datetime, until: datetime | None = None, filter: EntityFilter | None = None
    ) -> list[OwnershipGap]:
        start, end = _interval(since, until)
        if until is None:  # gaps still open are measured up to now: an answer not to keep
            info.context.clock_read = True
        where = _store_filter(filter)
        if where.missing or where.dangling or where.state != PRESENT:
            raise bad_input("ownershipGaps filters by the entities' fields: missing, dangling and state are not for it")
        gaps = Timeline(info.context.store).ownership_gaps(start, end, where)
        return [OwnershipGap.of(gap) for gap in gaps]


def _interval(since: datetime, until: datetime | None, names: tuple[str, str] = ("since", "until")) -> tuple[int, int]:
    start = from_datetime(since)
    end = from_datetime(until) if until is not None else now_micros()
    if start > end:
        raise bad_input(
            f"{names[0]} ({since.isoformat()}) is after {names[1]} ({(until or datetime.now()).isoformat()})"
        )
    return start, end


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Register a location (file, directory, URL or git repository) and sync it. Scope: write."
    )
    async def register_location(
        self, info: Info, target: str, branch: str | None = None, glob: str | None = None
    ) -> SyncResult:
        require(info, "write")
        service, actor = info.context.service, info.context.principal.name
        return await _sync(info, lambda: service.register(target, branch=branch, glob=glob, principal=actor))

    @strawberry.mutation(description="Unregister a location; its entities are closed (kept in history). Scope: write.")
    async def unregister_location(self, info: Info, target: str) -> SyncResult:
        require(info, "write")
        service, actor = info.context.service, info.context.principal.name
        return await _sync(info, lambda: service.unregister(target, principal=actor))

    @strawberry.mutation(description="Re-read a registered location now and sync what changed. Scope: write.")
    async def refresh(self, info: Info, source: str) -> SyncResult:
        require(info, "write")
        service, actor = info.context.service, info.context.principal.name
        return await _sync(info, lambda: service.refresh(source, principal=actor))

    @strawberry.mutation(
        description="Create a static API token. Its secret is in this answer only: store it now. Scope: admin."
    )
    async def create_api_token(self, info: Info, name: str, scopes: list[str]) -> CreatedApiToken:
        require(info, "admin")
        service, actor = info.context.service, info.context.principal.name
        try:
            created = await service.run_write(lambda: service.tokens.create(name, scopes, actor))
        except TokenError as error:
            raise bad_input(str(error)) from None
        return CreatedApiToken(token=created.token, api_token=ApiToken.from_record(created.record))

    @strawberry.mutation(description="Revoke an API token by name (or id). Scope: admin.")
    async def revoke_api_token(self, info: Info, name: str) -> ApiToken:
        require(info, "admin")
        service, actor = info.context.service, info.context.principal.name
        try:
            revoked = await service.run_write(lambda: service.tokens.revoke(name, actor))
        except TokenError as error:
            raise bad_input(str(error)) from None
        return ApiToken.from_record(revoked)


@strawberry.type
class Query(CatalogQuery, TimeTravelQuery):
    pass


class CatalogSchema(strawberry.Schema):
    async def execute(  # noqa: PLR0917 - Strawberry's signature
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """A query that parses and validates executes through `graphsvc.api.operation_steps.execute_query`
        (the same steps without Strawberry's extension runner); anything else, Strawberry's way."""
        execution = self._create_execution_context(
            query=query,
            allowed_operation_types=DEFAULT_ALLOWED_OPERATION_TYPES
            if allowed_operation_types is None
            else allowed_operation_types,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            operation_extensions=operation_extensions,
        )
        if not self.directives and prepared_query(self, execution):
            return await execute_query(self, execution)
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """The client's mistakes (bad input, a refusal, a limit: errors not caused by an exception of ours)
        are one log line each; only unexpected errors are logged with their traceback, as Strawberry does."""
        unexpected = []
        for error in errors:
            if _is_client_error(error):
                log.info("refused: %s", error.message)
            else:
                unexpected.append(error)
        super().process_errors(unexpected, execution_context)


def _is_client_error(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError)


def build_schema() -> strawberry.Schema:
    return CatalogSchema(
        query=Query,
        mutation=Mutation,
        types=[*ENTITY_TYPES.values(), CustomEntity, Relation],
        execution_context_class=PlannedExecutionContext,  # the same answers, with less work per field
        extensions=[OperationSteps],  # a factory: each request gets a fresh instance
    )


schema = build_schema()
