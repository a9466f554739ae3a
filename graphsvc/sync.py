"""One sync of one source: compare what the source says now with what the store holds, write the difference.

Rules (the store never forgets):
- An unchanged entity writes nothing (its raw document hashes the same).
- A changed entity closes its open version and opens a new one; its relation edges are diffed by origin.
- An entity gone from its source is closed (`valid_to` = sync time) and marked removed, never deleted.
- An entity whose document is now invalid, or whose file could not be read in full, keeps its last good
  version: errors never lose data.
- A ref already claimed by another source is a conflict; the first claimant keeps it (Backstage semantics).
A whole sync is one transaction (its versions, edges, change events, errors, file digests and the end of its
run record), so readers see the catalog before the sync or after it, never between; a process killed during
a sync leaves nothing of it but its run record, which the next open marks `interrupted`.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from graphsvc.change_log import (
    ENTITY_ADDED,
    ENTITY_REMOVED,
    ENTITY_UPDATED,
    RELATION_ADDED,
    RELATION_REMOVED,
    EventBatch,
    Subject,
)
from graphsvc.model import (
    Entity,
    ModelError,
    Relation,
    derive_relations,
    parse_entity_ref,
    validate_entity,
)
from graphsvc.store.backend import Insert, Operation
from graphsvc.store.errors import StoreError, StoreTransientError
from graphsvc.store.graph_store import GraphStore
from graphsvc.store.hygiene import metadata_entries
from graphsvc.store.schema import (
    DANGLING,
    EDGE_LABELS,
    ENTITY,
    ENTITY_VERSION,
    PRESENT,
    RELATION_EDGES,
    VERSION_EDGES,
)
from graphsvc.timestamps import now_micros
from ingestors.documents import CatalogDocument, ReadResult

BATCH_SIZE = 25_000
"""Entities per write of a sync (all in its one transaction): small enough that a progress display moves every
few seconds on a large catalog and that a batch's rows do not pile up in memory, large enough that per-batch
work does not show. Measured on a 100k-entity first ingest (SQLite): 100,000 per batch 73-83 s and 2,297 MiB
peak; 25,000: 79-87 s, 1,675 MiB; 10,000: 84-89 s, 1,459 MiB."""
Progress = Callable[[int, int, str], None]
"""Told as a sync goes: (done, total, phase), the phase one of `validating`, `writing`, `removing`."""
VALIDATION_STEP = 1_000


@dataclass
class Candidate:
    """A document of the source that names an entity, before we know whether it changed."""

    ref: str
    document: CatalogDocument
    digest: str
    entity: Entity | None = None


@dataclass
class SyncSummary:
    run_id: str
    source: str
    started_at: int
    finished_at: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    """The transient errors (a deadlock, a cluster's leader moving) after which the sync was run again."""

    @property
    def counts(self) -> dict[str, int]:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "errors": len(self.errors),
        }


@dataclass
class Provenance:
    source: str
    sync_run: str
    at: int
    commit_sha: str | None = None
    commit_author: str | None = None

    def fields(self) -> dict[str, Any]:
        return {"at": self.at, **self.origin()}

    def origin(self) -> dict[str, Any]:
        """Who made a change: what versions, edges and change events record about their sync."""
        return {
            "source": self.source,
            "sync_run": self.sync_run,
            "commit_sha": self.commit_sha,
            "commit_author": self.commit_author,
        }


def sync_source(
    store: GraphStore,
    result: ReadResult,
    *,
    source: str,
    at: int | None = None,
    custom_kinds: Iterable[str] = (),
    commit_author: str | None = None,
    progress: Progress | None = None,
    principal: str | None = None,
) -> SyncSummary:
    """Bring the store in line with `result`, the current content of `source`. The sync is one transaction;
    one the engine aborts for a transient reason (`StoreTransientError`) is run again, whole, from its reads.
    `principal` is who asked for it (recorded on the sync run)."""
    run = Provenance(source, uuid.uuid4().hex, at if at is not None else now_micros(), result.commit_sha, commit_author)
    store.start_sync_run(run.sync_run, source, run.at, run.commit_sha, principal)  # committed now: seen running
    retries: list[str] = []
    while True:
        summary = SyncSummary(run.sync_run, source, run.at, retries=retries)
        try:
            _sync_once(store, result, run, custom_kinds, summary, progress)
            return summary
        except StoreTransientError as error:
            if len(retries) < TRANSIENT_RETRIES:
                retries.append(str(error))
                time.sleep(0.1 * 2 ** len(retries))
                continue
            _record_failure(store, run, summary)
            raise
        except BaseException:
            _record_failure(store, run, summary)
            raise


MAX_ERROR_REF = 1000
"""An error record keeps at most this much of the (invalid) ref it names: Neo4j refuses to index a longer
property value (8 KiB), and a ref that long is no valid ref to look up by anyway."""
TRANSIENT_RETRIES = 3
"""Runs of a sync after its first, each after a longer pause (0.2, 0.4, 0.8 s)."""


def _sync_once(
    store: GraphStore,
    result: ReadResult,
    run: Provenance,
    custom_kinds: Iterable[str],
    summary: SyncSummary,
    progress: Progress | None,
) -> None:
    with store.transaction(label=run.sync_run):
        _refuse_if_overtaken(store, run)
        _Sync(store, result, run, frozenset(k.lower() for k in custom_kinds), summary, progress).apply()
        store.record_errors(summary.errors)
        failed_files = {error["location"] for error in summary.errors}
        digests = {k: v for k, v in result.file_digests.items() if k not in failed_files}
        store.replace_file_digests(summary.source, digests)
        summary.finished_at = now_micros()
        status = "completed_with_errors" if summary.errors else "completed"
        store.finish_sync_run(run.sync_run, finished_at=summary.finished_at, status=status, counts=summary.counts)


def _refuse_if_overtaken(store: GraphStore, run: Provenance) -> None:
    """A sync of this source that began after this one, yet committed first (another service, while this one
    waited for the writer lock), would have this one's versions begin before the versions they close: the
    history of the source must stay in the order of its instants. Read inside the transaction, after the lock."""
    newest = store.newest_committed_sync(run.source)
    if newest is not None and newest >= run.at:
        raise StoreError(
            f"another sync of {run.source} began after this one and committed first (another service syncing the "
            "same source): this one is refused, and nothing of it is written; sync it again, and let one "
            "service write each source"
        )


def _record_failure(store: GraphStore, run: Provenance, summary: SyncSummary) -> None:
    """Nothing of the sync was committed; say so on its run record, which the start committed."""
    store.finish_sync_run(run.sync_run, finished_at=now_micros(), status="failed", counts=summary.counts)


class _Sync:
    def __init__(
        self,
        store: GraphStore,
        result: ReadResult,
        run: Provenance,
        custom_kinds: frozenset[str],
        summary: SyncSummary,
        progress: Progress | None,
    ) -> None:
        self.store = store
        self.result = result
        self.run = run
        self.custom_kinds = custom_kinds
        self.summary = summary
        self.progress = progress
        self.incomplete = set(result.incomplete_locations)
        self.retained: set[str] = set()
        self.known_nodes: set[str] = set()
        self.batches = 0

    def apply(self) -> None:
        for error in self.result.errors:
            self.error("read", error.message, error.location, error.document_index, error.line, error.entity_ref)
        candidates = self.collect()
        existing = self.store.source_state(self.run.source)
        self.known_nodes.update(existing)
        candidates = self.drop_redefinitions(candidates, existing)
        candidates = self.drop_conflicts(candidates, existing)
        changed, relocated = self.classify(candidates, existing)
        self.write_changes(changed, existing)
        self.store.write(
            [
                (
                    self.store.statements.relocate_entities,
                    {"rows": [{"ref": c.ref, "location": c.document.location} for c in relocated]},
                )
            ]
        )
        self.write_removals(candidates, existing)

    # --- reading the source ------------------------------------------------------------------------------

    def collect(self) -> dict[str, Candidate]:
        candidates: dict[str, Candidate] = {}
        for document in self.result.documents:
            ref = _quick_ref(document.data)
            if ref is None:
                self.reject(document, None)
                continue
            if ref in candidates:
                first = candidates[ref].document
                self.duplicate(document, ref, f"{first.location} (document {first.document_index})")
                continue
            candidates[ref] = Candidate(ref, document, _digest(document.data))
        return candidates

    def reject(self, document: CatalogDocument, ref: str | None, error: ModelError | None = None) -> None:
        """Record an invalid document and keep whatever the store last knew about it."""
        if error is None:
            try:
                validate_entity(document.data, custom_kinds=self.custom_kinds)
            except ModelError as found:
                error = found
        message = str(error) if error else "not a catalog entity"
        self.document_error("validation", message, document, ref)
        if ref is None:
            self.incomplete.add(document.location)  # we cannot tell which entity it was: keep the whole file
        else:
            self.retained.add(ref)

    def drop_redefinitions(
        self, candidates: dict[str, Candidate], existing: dict[str, tuple[str | None, str, str | None]]
    ) -> dict[str, Candidate]:
        """Entities of files skipped as unchanged are kept as they are; another file defining one of them
        again is a duplicate, exactly as if both files had been read: the definition read first wins."""
        unchanged_files = self.result.unchanged_locations
        order = {location: position for position, location in enumerate(self.result.read_order)}
        for ref, (_, state, location) in existing.items():
            if state != PRESENT or location not in unchanged_files:
                continue
            candidate = candidates.pop(ref, None)
            if candidate is None:
                self.summary.unchanged += 1
                continue
            document = candidate.document
            if order.get(document.location, len(order)) < order[location]:  # read before the skipped file
                candidates[ref] = candidate
                first = f"{document.location} (document {document.document_index})"
                self.error("duplicate", _duplicate_message(ref, first), location, None, None, ref)
            else:
                self.summary.unchanged += 1
                self.duplicate(document, ref, str(location))
        return candidates

    def drop_conflicts(
        self, candidates: dict[str, Candidate], existing: dict[str, tuple[str | None, str, str | None]]
    ) -> dict[str, Candidate]:
        foreign = [ref for ref in candidates if ref not in existing]
        claims = self.store.claims(foreign)
        self.known_nodes.update(claims)
        for ref, (owner, state) in claims.items():
            if owner is not None and owner != self.run.source and state == PRESENT:
                document = candidates.pop(ref).document
                message = (
                    f"{ref} is already defined by the source {owner}; the first source keeps "
                    "it (unregister that source or remove the entity there to move it here)"
                )
                self.document_error("conflict", message, document, ref)
        return candidates

    def classify(
        self, candidates: dict[str, Candidate], existing: dict[str, tuple[str | None, str, str | None]]
    ) -> tuple[list[Candidate], list[Candidate]]:
        changed: list[Candidate] = []
        relocated: list[Candidate] = []
        for done, candidate in enumerate(candidates.values()):
            if self.progress and done % VALIDATION_STEP == 0:
                self.progress(done, len(candidates), "validating")
            digest, state, location = existing.get(candidate.ref, (None, DANGLING, None))
            if digest == candidate.digest and state == PRESENT:
                self.summary.unchanged += 1
                if location != candidate.document.location:
                    relocated.append(candidate)
                continue
            try:
                candidate.entity = validate_entity(candidate.document.data, custom_kinds=self.custom_kinds)
            except ModelError as error:
                self.reject(candidate.document, candidate.ref, error)
                continue
            if candidate.entity.ref != candidate.ref:  # cannot happen unless the quick ref disagrees
                self.reject(candidate.document, candidate.ref, ModelError(f"ref mismatch {candidate.entity.ref}"))
                continue
            changed.append(candidate)
        return changed, relocated

    # --- writing ------------------------------------------------------------------------------------------

    def write_changes(self, changed: list[Candidate], existing: dict[str, tuple[str | None, str, str | None]]) -> None:
        total = len(changed)
        if self.progress and total:
            self.progress(0, total, "writing")
        for start in range(0, total, BATCH_SIZE):
            batch = changed[start : start + BATCH_SIZE]
            previously_present = {c.ref for c in batch if existing.get(c.ref, (None, DANGLING))[1] == PRESENT}
            old = self.old_relations(sorted(previously_present))
            new: dict[str, list[Relation]] = {}
            accepted: list[Candidate] = []
            for candidate in batch:
                try:
                    new[candidate.ref] = derive_relations(candidate.entity)
                except ModelError as error:
                    self.reject(candidate.document, candidate.ref, error)
                    continue
                accepted.append(candidate)
            self.store.write(self.change_operations(accepted, previously_present, old, new))
            for candidate in accepted:
                if candidate.ref in previously_present:
                    self.summary.updated += 1
                else:
                    self.summary.added += 1
            if self.progress:
                self.progress(min(start + BATCH_SIZE, total), total, "writing")

    def change_operations(
        self,
        batch: list[Candidate],
        previously_present: set[str],
        old: dict[str, list[Relation]],
        new: dict[str, list[Relation]],
    ) -> list[Operation]:
        q = self.store.statements
        run = self.run.fields()
        at = self.run.at
        batch_refs = {c.ref for c in batch}
        closing = [{"ref": ref, **run} for ref in sorted(previously_present & batch_refs)]
        rows = [
            {
                **_entity_row(c.entity, new[c.ref]),
                "hash": c.digest,
                "source": self.run.source,
                "location": c.document.location,
                "at": at,
            }
            for c in batch
        ]
        versions = [
            {
                **row,
                "id": version_key(c.ref, at),
                "valid_from": at,
                **run,
                "location": c.document.location,
            }
            for c, row in zip(batch, rows, strict=True)
        ]
        existing_starts = self.store.version_starts([r["ref"] for r in rows if r["ref"] in self.known_nodes])
        for row in rows:
            row["version_starts"] = [*existing_starts.get(row["ref"], []), at]
        opened, closed = _edge_diff(batch_refs, old, new)
        targets = {ref for _, edge in opened for ref in (edge.source, edge.target)} - batch_refs - self.known_nodes
        self.known_nodes.update(self.store.claims(targets))  # read in the sync's own transaction
        stubs = [_stub_row(ref, at) for ref in sorted(targets - self.known_nodes)]
        inserted = [
            {**row, "state": PRESENT, "created_at": at, "updated_at": at}
            for row in rows
            if row["ref"] not in self.known_nodes
        ]
        operations: list[Operation] = [
            (q.close_versions, {"rows": closing}),
            (q.update_entities, {"rows": [row for row in rows if row["ref"] in self.known_nodes]}),
            Insert(ENTITY, inserted + stubs),
            Insert(ENTITY_VERSION, versions),
            Insert(VERSION_EDGES, [{"src": v["ref"], "dst": v["id"]} for v in versions]),
            *self.edge_operations(closed, opened),
            *self.change_events(rows, previously_present, existing_starts, closed, opened).inserts(),
        ]
        self.known_nodes.update(batch_refs)
        self.known_nodes.update(targets)
        return operations

    def edge_operations(
        self, closed: list[tuple[str, Relation]], opened: list[tuple[str, Relation]]
    ) -> list[Operation]:
        q = self.store.statements
        run = self.run.fields()
        operations: list[Operation] = []
        for rel_type, label in EDGE_LABELS.items():
            rows = [
                {"src": r.source, "dst": r.target, "origin": origin, **run}
                for origin, r in closed
                if r.type == rel_type
            ]
            operations.append((q.close_edges(label), {"rows": rows}))
        for rel_type, label in EDGE_LABELS.items():
            rows = [
                {"src": r.source, "dst": r.target, "origin": origin, "valid_from": self.run.at, **run}
                for origin, r in opened
                if r.type == rel_type
            ]
            operations.append(Insert(RELATION_EDGES[label], rows))
        return operations

    def change_events(
        self,
        rows: list[dict[str, Any]],
        previously_present: set[str],
        starts: dict[str, list[int]],
        closed: list[tuple[str, Relation]],
        opened: list[tuple[str, Relation]],
    ) -> EventBatch:
        """The feed's events for a batch of added and updated entities (`starts`: their earlier versions)."""
        subjects = {r["ref"]: Subject(r["kind"], r["namespace"], r["owner"], r["system"], r["location"]) for r in rows}
        events = self.event_batch()
        at = self.run.at
        for row in rows:
            ref = row["ref"]
            if ref in previously_present:
                previous = version_key(ref, starts[ref][-1])
                events.entity(ENTITY_UPDATED, ref, subjects[ref], version=version_key(ref, at), previous=previous)
            else:
                events.entity(ENTITY_ADDED, ref, subjects[ref], version=version_key(ref, at), previous=None)
        for origin, relation in closed:  # a relation's event is filed under the entity that declared it
            events.relation(RELATION_REMOVED, origin, relation, subjects[origin])
        for origin, relation in opened:
            events.relation(RELATION_ADDED, origin, relation, subjects[origin])
        return events

    def removal_events(self, refs: list[str], closed: list[tuple[str, Relation]]) -> EventBatch:
        subjects = self.subjects(set(refs))
        events = self.event_batch()
        for ref in refs:
            subject, starts = subjects[ref]
            events.entity(ENTITY_REMOVED, ref, subject, version=None, previous=version_key(ref, starts[-1]))
        for origin, relation in closed:  # each closed edge's origin is one of the removed entities
            events.relation(RELATION_REMOVED, origin, relation, subjects[origin][0])
        return events

    def subjects(self, refs: set[str]) -> dict[str, tuple[Subject, list[int]]]:
        """The stored state of entities as the feed's filters see it, and when their versions began; a ref
        with no node yet (a relation target created in this batch) is known by its ref alone."""
        out = {ref: (Subject.of_ref(ref), []) for ref in refs}
        for ref, (kind, namespace, owner, system, location, starts) in self.store.event_subjects(refs).items():
            out[ref] = (Subject(kind, namespace, owner, system, location), starts)
        return out

    def event_batch(self) -> EventBatch:
        """A new batch of change events; batches at one instant sort by id, so they are numbered."""
        self.batches += 1
        return EventBatch(f"{self.run.sync_run}:{self.batches:04d}", self.run.at, self.run.origin())

    def old_relations(self, refs: list[str]) -> dict[str, list[Relation]]:
        """The relations the stored (last good) documents declared: exactly the open edges they originated."""
        old: dict[str, list[Relation]] = {}
        for ref, document in self.store.documents(refs).items():
            try:
                old[ref] = derive_relations(validate_entity(document, custom_kinds=self.custom_kinds))
            except ModelError:
                old[ref] = []
        return old

    def write_removals(
        self, candidates: dict[str, Candidate], existing: dict[str, tuple[str | None, str, str | None]]
    ) -> None:
        gone = [
            ref
            for ref, (_, state, location) in existing.items()
            if state == PRESENT
            and ref not in candidates
            and ref not in self.retained
            and location not in self.incomplete
            and location not in self.result.unchanged_locations
        ]
        q = self.store.statements
        run = self.run.fields()
        for start in range(0, len(gone), BATCH_SIZE):
            batch = gone[start : start + BATCH_SIZE]
            old = self.old_relations(batch)
            _, closed = _edge_diff(set(batch), old, {})
            rows = [{"ref": ref, **run} for ref in batch]
            self.store.write(
                [
                    (q.close_versions, {"rows": rows}),
                    (q.mark_removed, {"rows": rows}),
                    *self.edge_operations(closed, []),
                    *self.removal_events(batch, closed).inserts(),
                ]
            )
            self.summary.removed += len(batch)
            if self.progress:
                self.progress(self.summary.removed, len(gone), "removing")

    def duplicate(self, document: CatalogDocument, ref: str, first: str) -> None:
        self.document_error("duplicate", _duplicate_message(ref, first), document, ref)

    def document_error(self, category: str, message: str, document: CatalogDocument, ref: str | None) -> None:
        self.error(category, message, document.location, document.document_index, document.line, ref)

    def error(
        self,
        category: str,
        message: str,
        location: str | None,
        document_index: int | None,
        line: int | None,
        entity_ref: str | None,
    ) -> None:
        self.summary.errors.append(
            {
                "id": f"{self.run.sync_run}:{len(self.summary.errors)}",
                "sync_run": self.run.sync_run,
                "source": self.run.source,
                "location": location,
                "document_index": document_index,
                "line": line,
                "entity_ref": entity_ref if entity_ref is None else entity_ref[:MAX_ERROR_REF],
                "category": category,
                "message": message,
                "at": self.run.at,
            }
        )


def _duplicate_message(ref: str, first: str) -> str:
    return f"{ref} is defined twice in this source: first in {first}, again here; the first definition is kept"


def _edge_diff(
    refs: set[str], old: dict[str, list[Relation]], new: dict[str, list[Relation]]
) -> tuple[list[tuple[str, Relation]], list[tuple[str, Relation]]]:
    """(opened, closed) forward edges per origin entity: only forward types are stored as edges."""
    opened: list[tuple[str, Relation]] = []
    closed: list[tuple[str, Relation]] = []
    for ref in sorted(refs):
        before = {r for r in old.get(ref, []) if r.type in EDGE_LABELS}
        after = {r for r in new.get(ref, []) if r.type in EDGE_LABELS}
        opened += [(ref, r) for r in sorted(after - before)]
        closed += [(ref, r) for r in sorted(before - after)]
    return opened, closed


def version_key(ref: str, start: int) -> str:
    """An entity version's key: its entity and the instant it began."""
    return f"{ref}@{start}"


def _quick_ref(data: object) -> str | None:
    """The entity ref a raw document names, without validating it (None when it names none)."""
    if not isinstance(data, dict):
        return None
    kind, metadata = data.get("kind"), data.get("metadata")
    if not isinstance(kind, str) or not isinstance(metadata, dict):
        return None
    name, namespace = metadata.get("name"), metadata.get("namespace", "default")
    if not isinstance(name, str) or not isinstance(namespace, str) or not name or not namespace:
        return None
    try:
        return str(parse_entity_ref(f"{kind}:{namespace}/{name}"))
    except ModelError:
        return None


def _digest(data: object) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _first_target(relations: list[Relation], rel_type: str, kind: str | None = None) -> str | None:
    for relation in relations:
        if relation.type == rel_type and (kind is None or relation.target.startswith(f"{kind}:")):
            return relation.target
    return None


def _entity_row(entity: Entity, relations: list[Relation]) -> dict[str, Any]:
    """The Entity node's current-state columns: what filters and listings read without parsing JSON."""
    metadata = entity.metadata
    spec = entity.spec
    own = [r for r in relations if r.source == entity.ref]
    title = metadata.title
    description = metadata.description
    return {
        "ref": entity.ref,
        "kind": entity.kind.lower(),
        "namespace": entity.namespace,
        "name": metadata.name,
        "title": title,
        "description": description,
        "type": _lower(spec.get("type")),
        "lifecycle": _lower(spec.get("lifecycle")),
        "owner": _first_target(own, "ownedBy"),
        "system": _first_target(own, "partOf", "system"),
        "domain": _first_target(own, "partOf", "domain"),
        "tags": list(metadata.tags),
        "search": "\n".join(s for s in (metadata.name, title, description) if s).lower(),
        "document": entity.to_json(),
        "annotations": metadata_entries(metadata.annotations),
        "labels": metadata_entries(metadata.labels),
    }


def _lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _stub_row(ref: str, at: int) -> dict[str, Any]:
    parsed = parse_entity_ref(ref)
    return {
        "ref": ref,
        "kind": parsed.kind,
        "namespace": parsed.namespace,
        "name": parsed.name,
        "state": DANGLING,
        "created_at": at,
        "updated_at": at,
    }
