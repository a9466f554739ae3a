"""Reads of the store's history: entity versions, the change feed, graph diffs, ownership over time.

Everything here is derived from what the sync already keeps (versions and edges with their intervals and
provenance); nothing is recomputed from sources. Interval logic lives in `graphsvc.temporal`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from graphsvc.model import REVERSE_RELATION
from graphsvc.store.cypher import CHANGE_FILTERS, EntityFilter
from graphsvc.store.graph_store import GraphStore
from graphsvc.store.records import RelationRow
from graphsvc.store.schema import FORWARD_TYPES
from graphsvc.temporal import clip, intersect, merge, subtract

NO_OWNER, OWNER_MISSING = "NO_OWNER", "OWNER_MISSING"


@dataclass(frozen=True)
class Provenance:
    source: str | None
    location: str | None
    sync_run: str | None
    commit_sha: str | None
    commit_author: str | None


@dataclass(frozen=True)
class VersionRecord:
    id: str
    ref: str
    document_json: str = field(repr=False)
    valid_from: int
    valid_to: int | None
    source: str | None
    location: str | None
    sync_run: str | None
    commit_sha: str | None
    commit_author: str | None
    closed_sync_run: str | None
    closed_commit_sha: str | None
    closed_commit_author: str | None

    @cached_property
    def document(self) -> dict[str, Any]:
        return json.loads(self.document_json)

    @property
    def provenance(self) -> Provenance:
        return Provenance(self.source, self.location, self.sync_run, self.commit_sha, self.commit_author)

    @property
    def closing_provenance(self) -> Provenance:
        return Provenance(
            self.source, self.location, self.closed_sync_run, self.closed_commit_sha, self.closed_commit_author
        )


@dataclass(frozen=True)
class ChangeEventRecord:
    type: str
    at: int
    entity_ref: str
    relation_type: str | None
    target_ref: str | None
    version: str | None
    """The key of the version an entity event opened (added, updated)..."""
    previous: str | None
    """...and of the version it closed (updated, removed): the two sides of an update's field diff."""
    source: str | None
    location: str | None
    sync_run: str | None
    commit_sha: str | None
    commit_author: str | None

    @property
    def provenance(self) -> Provenance:
        return Provenance(self.source, self.location, self.sync_run, self.commit_sha, self.commit_author)


@dataclass(frozen=True)
class OwnerInterval:
    owner_ref: str
    valid_from: int
    valid_to: int | None
    provenance: Provenance


@dataclass(frozen=True)
class OwnershipGap:
    entity_ref: str
    start: int
    end: int
    reason: str
    owner_ref: str | None


@dataclass(frozen=True)
class GraphDiff:
    entities_added: list[str]
    entities_removed: list[str]
    entities_changed: list[str]
    relations_added: list[RelationRow]
    relations_removed: list[RelationRow]


class Timeline:
    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.q = store.statements
        self.read = store.backend.read

    # --- one entity ------------------------------------------------------------------------------------------

    def versions(self, ref: str) -> list[VersionRecord]:
        """Every version of an entity, newest first."""
        return [VersionRecord(*row) for row in self.read(self.q.versions_of, {"ref": ref})]

    def ownership(self, ref: str) -> list[OwnerInterval]:
        """The intervals in which the entity declared each owner, oldest first."""
        rows = self.read(self.q.owner_edges_of, {"ref": ref})
        return [
            OwnerInterval(owner, start, end, Provenance(source, None, run, sha, author))
            for owner, start, end, source, run, sha, author in rows
        ]

    # --- the change feed -------------------------------------------------------------------------------------

    def changes(
        self,
        since: int,
        until: int,
        where: EntityFilter,
        *,
        first: int,
        skip: int = 0,
        types: tuple[str, ...] | None = None,
    ) -> list[ChangeEventRecord]:
        """Up to `first` events in [since, until), oldest first, after skipping `skip` events (at `since`);
        with `types`, only events of those types (`graphsvc.change_log`).

        The caller pages with (instant of the last event, how many events at that instant it has seen).
        Unfiltered, the page's events are named from the batches in the window; with filters, by a scan of the
        window's events for their sort keys. Either way the page itself is then read by key.
        """
        active = tuple(name for name in where.active() if name in CHANGE_FILTERS)
        params: dict[str, Any] = {name: getattr(where, name) for name in active}
        if types is not None:
            active, params = (*active, "types"), params | {"types": list(types)}
        if active:
            params |= {"since": since, "until": until, "limit": first + skip}
            keys = self.read(self.q.change_event_keys(active), params)
            ids = [f"{batch}:{ordinal}" for batch, ordinal in keys[skip:]]
        else:
            ids = self._page_ids(self.read(self.q.change_batches, {"since": since, "until": until}), since, first, skip)
        if not ids:
            return []
        found = {row[0]: ChangeEventRecord(*row[1:]) for row in self.read(self.q.change_events_by_id, {"ids": ids})}
        return [found[i] for i in ids if i in found]

    @staticmethod
    def _page_ids(batches: list[list[Any]], since: int, first: int, skip: int) -> list[str]:
        """The keys of the page's events: skip `skip` events at `since` (the earliest batches), take `first`."""
        ids: list[str] = []
        for batch_id, at, size in batches:
            start = 0
            if at == since and skip:
                start, skip = min(skip, size), max(0, skip - size)
            ids += [f"{batch_id}:{ordinal}" for ordinal in range(start, min(size, start + first - len(ids)))]
            if len(ids) >= first:
                break
        return ids

    def version_documents(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Version snapshots by key (the two sides of each update in a page of the feed, in one read)."""
        rows = self.read(self.q.version_documents, {"ids": ids}) if ids else []
        return {key: json.loads(document) for key, document in rows}

    # --- the graph at two instants ---------------------------------------------------------------------------

    def graph_diff(self, start: int, end: int, root: str | None = None, depth: int = 1) -> GraphDiff:
        """Entities and relation rows added and removed between two instants, over everything or within
        what is reachable from `root` (any relation, either direction, up to `depth` hops) at either instant."""
        before, after = self._versions_at(start), self._versions_at(end)
        rows_before, rows_after = self._rows_at(start), self._rows_at(end)
        if root is not None:
            scope = _reachable(root, rows_before, depth) | _reachable(root, rows_after, depth)
            before = {ref: v for ref, v in before.items() if ref in scope}
            after = {ref: v for ref, v in after.items() if ref in scope}
            rows_before = {r for r in rows_before if r.source in scope and r.target in scope}
            rows_after = {r for r in rows_after if r.source in scope and r.target in scope}
        return GraphDiff(
            entities_added=sorted(after.keys() - before.keys()),
            entities_removed=sorted(before.keys() - after.keys()),
            entities_changed=sorted(ref for ref in before.keys() & after.keys() if before[ref] != after[ref]),
            relations_added=sorted(rows_after - rows_before, key=_row_key),
            relations_removed=sorted(rows_before - rows_after, key=_row_key),
        )

    def _versions_at(self, at: int) -> dict[str, str]:
        return dict(self.read(self.q.versions_at, {"as_of": at}))

    def _rows_at(self, at: int) -> set[RelationRow]:
        rows = set()
        for source, label, target in self.read(self.q.edges_at, {"as_of": at}):
            forward = FORWARD_TYPES[label]
            rows.add(RelationRow(forward, target, source))
            rows.add(RelationRow(REVERSE_RELATION[forward], source, target))
        return rows

    # --- ownership gaps --------------------------------------------------------------------------------------

    def ownership_gaps(self, since: int, until: int, where: EntityFilter) -> list[OwnershipGap]:
        """Intervals in [since, until) in which an entity existed with no owner, or with an owner ref that did
        not resolve to an existing entity at that time."""
        lifetimes = self._lifetimes(self.q.lifetimes_between(where.active()), since, until, where.parameters())
        declared: dict[str, list[tuple[str, tuple[int, int]]]] = defaultdict(list)
        for ref, owner, start, end in self.read(self.q.owner_edges_between, {"since": since, "until": until}):
            if ref in lifetimes and (span := clip((start, end), since, until)):
                declared[ref].append((owner, span))
        owners = sorted({owner for spans in declared.values() for owner, _ in spans})
        owner_lives = self._lifetimes(self.q.lifetimes_between((), by_ref=True), since, until, {"refs": owners})
        gaps: list[OwnershipGap] = []
        for ref, alive in sorted(lifetimes.items()):
            spans = declared.get(ref, [])
            gaps += [OwnershipGap(ref, s, e, NO_OWNER, None) for s, e in subtract(alive, [span for _, span in spans])]
            for owner, span in spans:
                missing = subtract(intersect(alive, [span]), owner_lives.get(owner, []))
                gaps += [OwnershipGap(ref, s, e, OWNER_MISSING, owner) for s, e in missing]
        return sorted(gaps, key=lambda g: (g.entity_ref, g.start))

    def _lifetimes(self, statement: str, since: int, until: int, params: dict[str, Any]) -> dict[str, list]:
        lives: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for ref, start, end in self.read(statement, {"since": since, "until": until, **params}):
            if span := clip((start, end), since, until):
                lives[ref].append(span)
        return {ref: merge(spans) for ref, spans in lives.items()}


def _row_key(row: RelationRow) -> tuple[str, str, str]:
    return (row.source, row.type, row.target)


def _reachable(root: str, rows: set[RelationRow], depth: int) -> set[str]:
    """Refs within `depth` hops of `root` over relation rows (rows come in both directions)."""
    out: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        out[row.source].add(row.target)
    seen, frontier = {root}, {root}
    for _ in range(depth):
        frontier = {n for ref in frontier for n in out[ref]} - seen
        seen |= frontier
    return seen
