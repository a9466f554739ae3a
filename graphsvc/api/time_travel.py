"""GraphQL types for change over time: entity history, the change feed, graph diffs, ownership over time.

Instants are `DateTime` values (ISO 8601 with an offset, answered in UTC); intervals are half-open
`[validFrom, validTo)`, `validTo` null while current.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphsvc.api.errors import bad_input
from graphsvc.model import ModelError, derive_relations, validate_entity
from graphsvc.store import timeline
from graphsvc.store.records import RelationRow
from graphsvc.temporal import diff_documents
from graphsvc.timestamps import to_datetime

MAX_FIRST = 1000


@strawberry.enum
class ChangeType(Enum):
    ENTITY_ADDED = "ENTITY_ADDED"
    ENTITY_UPDATED = "ENTITY_UPDATED"
    ENTITY_REMOVED = "ENTITY_REMOVED"
    RELATION_ADDED = "RELATION_ADDED"
    RELATION_REMOVED = "RELATION_REMOVED"


@strawberry.enum
class OwnershipGapReason(Enum):
    NO_OWNER = "NO_OWNER"
    OWNER_MISSING = "OWNER_MISSING"


@strawberry.type(description="Where a version, edge or event came from.")
class Provenance:
    source: str | None
    location: str | None
    sync_run: str | None
    commit_sha: str | None
    commit_author: str | None

    @classmethod
    def of(cls, p: timeline.Provenance) -> Provenance:
        return cls(**asdict(p))


@strawberry.type(description="A JSON path whose value changed; before is null when added, after when removed.")
class FieldChange:
    path: str
    before: JSON | None
    after: JSON | None


def field_changes(changes: Any) -> list[FieldChange]:
    return [FieldChange(path=c.path, before=c.before, after=c.after) for c in changes]


@strawberry.type(description="A relation row: sourceRef --type--> targetRef.")
class RelationChange:
    source_ref: str
    type: str
    target_ref: str

    @classmethod
    def of(cls, row: RelationRow) -> RelationChange:
        return cls(source_ref=row.source, type=row.type, target_ref=row.target)


@strawberry.type(description="One version of an entity: its snapshot, interval, provenance and what changed.")
class EntityVersion:
    valid_from: datetime
    valid_to: datetime | None
    commit_sha: str | None
    provenance: Provenance
    closed_by: Provenance | None = strawberry.field(description="What closed this version, when it is closed.")
    snapshot: JSON
    changes: list[FieldChange] = strawberry.field(description="Field-level diff from the previous version.")
    relations_added: list[RelationChange]
    relations_removed: list[RelationChange]


@strawberry.type
class EntityVersionEdge:
    cursor: str
    node: EntityVersion


@strawberry.type
class HistoryPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="Versions of an entity, newest first.")
class EntityVersionConnection:
    edges: list[EntityVersionEdge]
    page_info: HistoryPageInfo
    total_count: int


def history_connection(
    versions: list[timeline.VersionRecord], first: int | None, after: str | None
) -> EntityVersionConnection:
    start = _decode_offset(after)
    size = _first(first)
    nodes = []
    for index in range(start, min(start + size, len(versions))):
        previous = versions[index + 1] if index + 1 < len(versions) else None
        nodes.append(EntityVersionEdge(cursor=_encode_offset(index + 1), node=_version(versions[index], previous)))
    return EntityVersionConnection(
        edges=nodes,
        page_info=HistoryPageInfo(
            has_next_page=start + size < len(versions), end_cursor=nodes[-1].cursor if nodes else None
        ),
        total_count=len(versions),
    )


def _version(version: timeline.VersionRecord, previous: timeline.VersionRecord | None) -> EntityVersion:
    before_rows = _own_rows(previous.document, version.ref) if previous else set()
    after_rows = _own_rows(version.document, version.ref)
    return EntityVersion(
        valid_from=to_datetime(version.valid_from),
        valid_to=to_datetime(version.valid_to),
        commit_sha=version.commit_sha,
        provenance=Provenance.of(version.provenance),
        closed_by=Provenance.of(version.closing_provenance) if version.valid_to is not None else None,
        snapshot=version.document,
        changes=field_changes(diff_documents(previous.document if previous else {}, version.document)),
        relations_added=[RelationChange.of(r) for r in sorted(after_rows - before_rows)],
        relations_removed=[RelationChange.of(r) for r in sorted(before_rows - after_rows)],
    )


def _own_rows(document: dict[str, Any], ref: str) -> set[RelationRow]:
    """The relation rows a document declares from its own entity (its outgoing rows)."""
    try:
        relations = derive_relations(validate_entity(document))
    except ModelError:
        return set()
    return {RelationRow(r.type, r.target, r.source) for r in relations if r.source == ref}


@strawberry.type(description="One change: an entity added, updated or removed, or a relation row added or removed.")
class ChangeEvent:
    type: ChangeType
    at: datetime
    entity_ref: str = strawberry.field(
        description="The entity the event is filed under; for a relation event, the entity whose spec declared "
        "the relation, relationType and targetRef being its row (a group's spec.parent: its childOf row)."
    )
    relation_type: str | None
    target_ref: str | None
    provenance: Provenance
    record: strawberry.Private[timeline.ChangeEventRecord]

    @strawberry.field(description="For ENTITY_UPDATED: the field-level diff from the previous version.")
    async def changes(self, info: Info) -> list[FieldChange] | None:
        event = self.record
        if event.type != ChangeType.ENTITY_UPDATED.value or event.version is None or event.previous is None:
            return None
        after, before = await info.context.version_documents().load_many([event.version, event.previous])
        return field_changes(diff_documents(before, after)) if after is not None and before is not None else []

    @classmethod
    def of(cls, event: timeline.ChangeEventRecord) -> ChangeEvent:
        return cls(
            type=ChangeType(event.type),
            at=to_datetime(event.at),
            entity_ref=event.entity_ref,
            relation_type=event.relation_type,
            target_ref=event.target_ref,
            provenance=Provenance.of(event.provenance),
            record=event,
        )


@strawberry.type
class ChangeEventEdge:
    cursor: str
    node: ChangeEvent


@strawberry.type(description="Change events, oldest first.")
class ChangeEventConnection:
    edges: list[ChangeEventEdge]
    page_info: HistoryPageInfo


def change_connection(
    events: list[timeline.ChangeEventRecord], size: int, skip_at: tuple[int, int]
) -> ChangeEventConnection:
    """Cursors are (instant, events seen at that instant): several events can share an instant."""
    at, seen = skip_at
    edges = []
    for event in events[:size]:
        seen = seen + 1 if event.at == at else 1
        at = event.at
        edges.append(ChangeEventEdge(cursor=_encode_pair(at, seen), node=ChangeEvent.of(event)))
    return ChangeEventConnection(
        edges=edges,
        page_info=HistoryPageInfo(has_next_page=len(events) > size, end_cursor=edges[-1].cursor if edges else None),
    )


@strawberry.type(description="What differs between two instants.")
class GraphDiff:
    entities_added: list[str]
    entities_removed: list[str]
    entities_changed: list[str]
    relations_added: list[RelationChange]
    relations_removed: list[RelationChange]

    @classmethod
    def of(cls, diff: timeline.GraphDiff) -> GraphDiff:
        return cls(
            entities_added=diff.entities_added,
            entities_removed=diff.entities_removed,
            entities_changed=diff.entities_changed,
            relations_added=[RelationChange.of(r) for r in diff.relations_added],
            relations_removed=[RelationChange.of(r) for r in diff.relations_removed],
        )


@strawberry.type(description="An interval in which the entity declared this owner.")
class OwnershipInterval:
    owner_ref: str
    valid_from: datetime
    valid_to: datetime | None
    provenance: Provenance


@strawberry.type(description="An interval in which an entity had no owner, or an owner that did not exist.")
class OwnershipGap:
    entity_ref: str
    start: datetime
    end: datetime
    duration_seconds: float
    reason: OwnershipGapReason
    owner_ref: str | None = strawberry.field(description="The owner ref that did not resolve (OWNER_MISSING).")

    @classmethod
    def of(cls, gap: timeline.OwnershipGap) -> OwnershipGap:
        return cls(
            entity_ref=gap.entity_ref,
            start=to_datetime(gap.start),
            end=to_datetime(gap.end),
            duration_seconds=(gap.end - gap.start) / 1_000_000,
            reason=OwnershipGapReason(gap.reason),
            owner_ref=gap.owner_ref,
        )


def _first(first: int | None) -> int:
    if first is None:
        return 100
    if not 0 <= first <= MAX_FIRST:
        raise bad_input(f"first must be between 0 and {MAX_FIRST}, got {first}")
    return first


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    text = _b64(cursor)
    if not text.startswith("offset:") or not text[7:].isdigit():
        raise bad_input(f"invalid cursor {cursor[:100]!r}: pass an endCursor from a previous page")
    return int(text[7:])


def _encode_pair(at: int, seen: int) -> str:
    return base64.urlsafe_b64encode(f"at:{at}:{seen}".encode()).decode()


def decode_pair(cursor: str | None) -> tuple[int, int] | None:
    if cursor is None:
        return None
    parts = _b64(cursor).split(":")
    if len(parts) != 3 or parts[0] != "at" or not parts[1].isdigit() or not parts[2].isdigit():
        raise bad_input(f"invalid cursor {cursor[:100]!r}: pass an endCursor from a previous page")
    return int(parts[1]), int(parts[2])


def _b64(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return ""
