"""The change feed's log: one row per change, written by the sync in the same transaction as the change.

Why a log, when versions and edges already carry their intervals: the feed asks for the oldest N changes in a
window, and answering that from intervals means scanning and sorting every version and every edge (on the
LadybugDB store of earlier versions, at 100k entities x 10 versions one day's feed took 620 ms).
Each write transaction records its events as one batch, numbered 0..size-1 in feed order, and the batch
records its instant and size. A page of the feed is then a read of the batches in the window (one per sync
that changed something) and key lookups of the events it names.

Within one instant, events are in the order the sync wrote them: batch by batch, and within a batch entity
additions and updates, then relation rows removed, then added, then entity removals, each by ref.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphsvc.model import REVERSE_RELATION, Relation, parse_entity_ref
from graphsvc.store.backend import Insert
from graphsvc.store.schema import CHANGE_BATCH, CHANGE_EVENT

ENTITY_ADDED, ENTITY_UPDATED, ENTITY_REMOVED = "ENTITY_ADDED", "ENTITY_UPDATED", "ENTITY_REMOVED"
RELATION_ADDED, RELATION_REMOVED = "RELATION_ADDED", "RELATION_REMOVED"
_RANK = {ENTITY_ADDED: 0, ENTITY_UPDATED: 0, RELATION_REMOVED: 1, RELATION_ADDED: 2, ENTITY_REMOVED: 3}


@dataclass(frozen=True)
class Subject:
    """What the feed's filters see of an event's entity, as it was when the event happened."""

    kind: str | None
    namespace: str | None
    owner: str | None
    system: str | None
    location: str | None = None

    @classmethod
    def of_ref(cls, ref: str) -> Subject:
        """An entity known only by its ref (a relation target no source has defined)."""
        parsed = parse_entity_ref(ref)
        return cls(parsed.kind, parsed.namespace, None, None)


class EventBatch:
    """The events of one write transaction, collected in any order and numbered in feed order on output."""

    def __init__(self, batch_id: str, at: int, provenance: dict[str, Any]) -> None:
        self.id = batch_id
        self.at = at
        self.provenance = provenance  # source, sync_run, commit_sha, commit_author
        self.events: list[dict[str, Any]] = []

    def entity(self, kind: str, ref: str, subject: Subject, version: str | None, previous: str | None) -> None:
        """An entity added or updated (`version` is the version it opened) or removed (`previous` it closed)."""
        self._add(kind, ref, subject, version=version, previous=previous, location=subject.location)

    def relation(self, kind: str, origin: str, relation: Relation, subject: Subject) -> None:
        """A forward relation edge opened or closed, filed under `origin`, the entity whose spec declared it
        (`subject`: what the filters see of it), as the relation row that entity has: a group's `spec.parent`
        opens the parent's PARENT_OF edge, and is the group's `childOf` event. (An edge has no location.)"""
        row = declared(origin, relation)
        self._add(kind, origin, subject, relation_type=row.type, target_ref=row.target)

    def _add(self, kind: str, ref: str, subject: Subject, **fields: str | None) -> None:
        self.events.append(
            {
                "type": kind,
                "entity_ref": ref,
                "relation_type": None,
                "target_ref": None,
                "version": None,
                "previous": None,
                "location": None,
                **fields,
                "kind": subject.kind,
                "namespace": subject.namespace,
                "owner": subject.owner,
                "system": subject.system,
            }
        )

    def inserts(self) -> list[Insert]:
        """The batch and its events, numbered in feed order (nothing when nothing changed)."""
        if not self.events:
            return []
        ordered = sorted(self.events, key=_feed_order)
        numbered = {"batch": self.id, "at": self.at, **self.provenance}
        rows = [
            {**event, **numbered, "id": f"{self.id}:{ordinal}", "ordinal": ordinal}
            for ordinal, event in enumerate(ordered)
        ]
        batch = {"id": self.id, "at": self.at, "sync_run": self.provenance["sync_run"], "size": len(rows)}
        return [Insert(CHANGE_BATCH, [{**batch, "source": self.provenance["source"]}]), Insert(CHANGE_EVENT, rows)]


def declared(origin: str, relation: Relation) -> Relation:
    """The relation as `origin`, one of its two ends, has it: the forward row from its source, or the
    reverse row from its target."""
    if relation.source == origin:
        return relation
    return Relation(REVERSE_RELATION[relation.type], origin, relation.source)


def _feed_order(event: dict[str, Any]) -> tuple[int, str, str, str]:
    return (_RANK[event["type"]], event["entity_ref"], event["target_ref"] or "", event["relation_type"] or "")
