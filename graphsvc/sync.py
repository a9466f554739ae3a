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

A sync streams: it takes the source's documents one at a time, as the reader reads them (`stream_source`),
and writes them in batches of BATCH_SIZE inside its one transaction. What it keeps across batches is compact
and per entity (the stored hash, state and location of each of the source's entities; the first definition
of each ref read; the refs that exist as nodes), never the documents: memory stays bounded by the batch,
whatever the size of the catalog.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
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
"""Entities per write of a sync (all in its one transaction), once it is under way: small enough that a progress
display moves every few seconds on a large catalog and that a batch's rows do not pile up in memory, large
enough that per-batch work does not show. Measured on a 100k-entity first ingest (SQLite, 2026-12-02): 100,000
per batch 73-83 s and 2,297 MiB peak; 25,000: 79-87 s, 1,675 MiB; 10,000: 84-89 s, 1,459 MiB."""
FIRST_BATCH_SIZE = 2_500
"""The first batch is smaller, each next one twice the last up to BATCH_SIZE, so that the writing starts while
the reading process still parses (the two overlap on two cores), where a catalog smaller than one batch was
written only after its last document was read. First ingests (2026-12-04): the 10,000 entities of the
side-by-side catalog 8.2-8.7 s in one batch, 7.4-7.8 s growing from 2,500; 100,000 entities 62.8 s."""
STAGE_SIZE = 1_000
"""Documents read before their refs' claims by other sources are looked up (one read of the store for them)
and classified: few, so that the first batch is ready soon after the reading starts."""
Progress = Callable[[int, int, str], None]
"""Told as a sync goes: (done, total, phase), the phase one of `validating`, `writing`, `removing`. While the
documents of a stream are read, its reader tells the progress (`ReadProgress`); the sync tells what follows."""
VALIDATION_STEP = 1_000


@dataclass(frozen=True)
class Made:
    """What a valid document makes (its entity's current-state row and its relations), or why it makes
    nothing: (phase, message), the phase `validation` (not a valid entity) or `relations` (its relations
    cannot be derived). A pure function of the document (`make`)."""

    row: dict[str, Any] | None = None
    relations: list[Relation] | None = None
    refusal: tuple[str, str] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its relations as plain tuples: named tuples pickle and load through Python calls, which
        took a third of what a reading process spent sending a prepared document, and as much to load it."""
        relations = None if self.relations is None else [tuple(r) for r in self.relations]
        return (_made, (self.row, relations, self.refusal))


def _made(row: dict[str, Any] | None, relations: list[tuple[str, str, str]] | None, refusal: Any) -> Made:
    return Made(row, None if relations is None else list(map(Relation._make, relations)), refusal)


@dataclass(frozen=True)
class PreparedDocument(CatalogDocument):
    """A document with what the sync makes of it before it looks at the store (`prepare_document`), its parsed
    data dropped (`data` is None): prepared where it is read, in a reading process, the sync's own process
    only compares it with the store and writes it."""

    ref: str | None = None
    digest: str | None = None
    made: Made | None = None
    """For a document that names no entity, only the refusal (phase `document`)."""


@dataclass
class Candidate:
    """A document of the source that names an entity, before we know whether it changed."""

    ref: str
    document: CatalogDocument
    digest: str
    made: Made | None = None


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
    reread: Callable[[], ReadResult] | None = None,
) -> SyncSummary:
    """Bring the store in line with `result`, the current content of `source`. The sync is one transaction;
    one the engine aborts for a transient reason (`StoreTransientError`) is run again, whole, from its reads.
    A streamed `result` can be read only once: `reread` reads the source again for that (without it, a
    streamed sync is not run again). The sync consumes `result`, and closes it when it is done, however it
    ends. `principal` is who asked for it (recorded on the sync run)."""
    try:
        run = Provenance(
            source, uuid.uuid4().hex, at if at is not None else now_micros(), result.commit_sha, commit_author
        )
        store.start_sync_run(run.sync_run, source, run.at, run.commit_sha, principal)  # committed now: seen running
        retries: list[str] = []
        while True:
            summary = SyncSummary(run.sync_run, source, run.at, retries=retries)
            try:
                _sync_once(store, result, run, custom_kinds, summary, progress)
                return summary
            except StoreTransientError as error:
                if len(retries) < TRANSIENT_RETRIES and (not result.streamed or reread is not None):
                    retries.append(str(error))
                    time.sleep(0.1 * 2 ** len(retries))
                    result = _again(result, reread, functools.partial(_record_failure, store, run, summary))
                    continue
                _record_failure(store, run, summary)
                raise
            except BaseException:
                _record_failure(store, run, summary)
                raise
    finally:
        result.close()


def _again(result: ReadResult, reread: Callable[[], ReadResult] | None, failed: Callable[[], None]) -> ReadResult:
    """The documents for another run of a sync: the same list, or a stream read again (`failed` is told
    when that read fails: the sync ends there)."""
    if not result.streamed or reread is None:
        return result
    result.close()
    try:
        return reread()
    except BaseException:
        failed()
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
    with store.transaction(label=run.sync_run), _collector_paused() as paused:
        _refuse_if_overtaken(store, run)
        sync = _Sync(store, result, run, frozenset(k.lower() for k in custom_kinds), summary, progress)
        sync.collect_per_batch = paused
        sync.apply()
        store.record_errors(summary.errors)
        failed_files = {error["location"] for error in summary.errors}
        digests = {k: v for k, v in result.file_digests.items() if k not in failed_files}
        store.replace_file_digests(summary.source, digests)
        summary.finished_at = now_micros()
        status = "completed_with_errors" if summary.errors else "completed"
        store.finish_sync_run(run.sync_run, finished_at=summary.finished_at, status=status, counts=summary.counts)


@contextmanager
def _collector_paused() -> Iterator[bool]:
    """Python's cycle collector paused during a sync, which makes no reference cycles of its own: left running,
    it keeps re-scanning what the sync holds (measured: a fifth of a first sync's time). Yields whether it
    paused it (not when someone else had): then the sync collects the youngest generation (everything made
    since) after each batch it writes, so that cycles other threads make meanwhile do not pile up; a full
    collection per batch would scan the sync's whole state each time (measured: 7% of a 1M-entity sync)."""
    if not gc.isenabled():
        yield False
        return
    gc.disable()
    try:
        yield True
    finally:
        gc.enable()


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


ERROR_PHASES = ("document", "redefinition", "conflict", "validation", "relations")
"""The order in which a sync numbers its errors, after the read's own: per document as read (no entity ref, a
second definition), then definitions of entities that files skipped as unchanged still hold (in the order of
the stored entities), conflicts with other sources, invalid entities, relations that cannot be derived (each in
the order of the documents). The order a sync that held every document at once gave them; kept while the
sync streams, in which these are found interleaved."""

_NOWHERE: tuple[str | None, str, str | None] = (None, DANGLING, None)
"""The stored state of an entity the source has never claimed."""


class _Sync:
    """One pass over the source's documents, in order, holding only a compact state per entity across
    batches: the stored state of the source's entities (`existing`), the first definition of each ref read
    (`seen`), the refs known to exist as nodes. Documents go through in bounded groups: `staged` (read, not
    yet checked against other sources: one read of their claims per STAGE_SIZE), then `changed` (validated,
    written BATCH_SIZE at a time); everything else about a document is dropped once it has been classified."""

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
        self.total = len(result.documents) if isinstance(result.documents, Sized) else None
        """Documents to sync, when known before they are read (a whole read); a stream's reader tells its own
        progress."""
        self.existing = store.source_state(run.source)
        self.known_nodes: set[str] = set(self.existing)
        self.seen: dict[str, tuple[str, int]] = {}
        """ref -> (location, document index) of its first definition in this read."""
        self.incomplete: set[str] = set()
        """Files holding a document that names no entity: all their stored entities are kept."""
        self.retained: set[str] = set()
        self.redefinitions: dict[str, dict[str, Any]] = {}
        """The duplicate errors of definitions read after a skipped file that holds the same entity."""
        self.found: dict[str, list[dict[str, Any]]] = {phase: [] for phase in ERROR_PHASES}
        self.order: dict[str, int] = {}
        self.ordered = 0
        self.staged: list[Candidate] = []
        self.changed: list[Candidate] = []
        self.relocated: list[dict[str, str]] = []
        self.taken = 0
        self.passed = False
        """Whether every document has been taken (then what remains to write is known)."""
        self.written = 0
        self.batches = 0
        self.batch_size = FIRST_BATCH_SIZE
        """The size of the next batch: FIRST_BATCH_SIZE, doubling up to BATCH_SIZE."""
        self.collect_per_batch = False
        """Whether to collect cycles after each batch (`_collector_paused`)."""

    def apply(self) -> None:
        try:
            self.take_all()
            self.settle_redefinitions()
            self.write_removals()
        finally:
            self.summary.errors = self.numbered_errors()

    # --- reading the source ------------------------------------------------------------------------------

    def take_all(self) -> None:
        """Every document of the source, in order; then what is left in the bounded groups."""
        for document in self.result.documents:
            if self.total is not None and self.taken % VALIDATION_STEP == 0:
                self.tell(self.taken, self.total, "validating")
            self.take(document)
            self.taken += 1
        self.classify_staged()
        self.passed = True
        self.tell(self.taken, self.taken, "validating")
        self.write_changes()
        self.write_relocations()

    def take(self, document: CatalogDocument) -> None:
        prepared = document if isinstance(document, PreparedDocument) else None
        ref = prepared.ref if prepared else _quick_ref(document.data)
        if ref is None:
            message = prepared.made.refusal[1] if prepared and prepared.made and prepared.made.refusal else None
            self.reject("document", document, None, message)
            return
        first = self.seen.get(ref)
        if first is not None:
            self.duplicate("document", document, ref, f"{first[0]} (document {first[1]})")
            return
        self.seen[ref] = (document.location, document.document_index)
        if self.redefines_skipped(ref, document):
            return
        if prepared:
            self.staged.append(Candidate(ref, document, str(prepared.digest), prepared.made))
        else:
            self.staged.append(Candidate(ref, document, _digest(document.data)))
        if len(self.staged) >= STAGE_SIZE:
            self.classify_staged()

    def redefines_skipped(self, ref: str, document: CatalogDocument) -> bool:
        """Entities of files skipped as unchanged are kept as they are; another file defining one of them
        again is a duplicate, exactly as if both files had been read: the definition read first wins. Here,
        a skipped file read before this document: the document is the duplicate. (A skipped file read after
        it is `settle_redefinitions`' business.)"""
        _, state, location = self.existing.get(ref, _NOWHERE)
        if state != PRESENT or location not in self.result.unchanged_locations:
            return False
        skipped_at = self.position(location)
        if skipped_at is None or skipped_at > self.position(document.location, len(self.result.read_order)):
            return False
        self.redefinitions[ref] = self.document_error_row(
            "duplicate", _duplicate_message(ref, str(location)), document, ref
        )
        return True

    def position(self, location: str, unknown: int | None = None) -> int | None:
        """Where `location` is in the read order (the files read so far, for a stream)."""
        read_order = self.result.read_order
        while self.ordered < len(read_order):
            self.order[read_order[self.ordered]] = self.ordered
            self.ordered += 1
        return self.order.get(location, unknown)

    def classify_staged(self) -> None:
        """Refuse the staged documents that another source's entities claim, then classify the rest."""
        staged, self.staged = self.staged, []
        claims = self.store.claims([c.ref for c in staged if c.ref not in self.existing])
        self.known_nodes.update(claims)
        conflicts: set[str] = set()
        documents = {c.ref: c.document for c in staged}
        for ref, (owner, state) in claims.items():
            if owner is not None and owner != self.run.source and state == PRESENT:
                conflicts.add(ref)
                message = (
                    f"{ref} is already defined by the source {owner}; the first source keeps "
                    "it (unregister that source or remove the entity there to move it here)"
                )
                self.document_error("conflict", "conflict", message, documents[ref], ref)
        for candidate in staged:
            if candidate.ref not in conflicts:
                self.classify(candidate)

    def classify(self, candidate: Candidate) -> None:
        digest, state, location = self.existing.get(candidate.ref, _NOWHERE)
        if digest == candidate.digest and state == PRESENT:
            self.summary.unchanged += 1
            if location != candidate.document.location:
                self.relocated.append({"ref": candidate.ref, "location": candidate.document.location})
                if len(self.relocated) >= BATCH_SIZE:
                    self.write_relocations()
            return
        if candidate.made is None:
            candidate.made = make(candidate.document.data, candidate.ref, self.custom_kinds)
        refusal = candidate.made.refusal
        if refusal is not None and refusal[0] == "validation":
            self.reject("validation", candidate.document, candidate.ref, refusal[1])
            return
        self.changed.append(candidate)
        if len(self.changed) >= self.batch_size:
            self.batch_size = min(2 * self.batch_size, BATCH_SIZE)
            self.write_changes()

    def reject(self, phase: str, document: CatalogDocument, ref: str | None, message: str | None = None) -> None:
        """Record an invalid document and keep whatever the store last knew about it."""
        if message is None:
            message = _invalidity(document.data, self.custom_kinds)
        self.document_error(phase, "validation", message, document, ref)
        if ref is None:
            self.incomplete.add(document.location)  # we cannot tell which entity it was: keep the whole file
        else:
            self.retained.add(ref)

    def settle_redefinitions(self) -> None:
        """Once the read is over, the stored entities of skipped files: unchanged, or defined again elsewhere
        (a duplicate: of the skipped file when the other definition was read first, else of that one)."""
        unchanged_files = self.result.unchanged_locations
        for ref, (_, state, location) in self.existing.items():
            if state != PRESENT or location not in unchanged_files:
                continue
            dropped = self.redefinitions.get(ref)
            first = self.seen.get(ref)
            if dropped is not None:
                self.summary.unchanged += 1
                self.found["redefinition"].append(dropped)
            elif first is None:
                self.summary.unchanged += 1
            else:  # read before the skipped file: that definition is the one kept
                message = _duplicate_message(ref, f"{first[0]} (document {first[1]})")
                self.found["redefinition"].append(self.error_row("duplicate", message, location, None, None, ref))

    # --- writing ------------------------------------------------------------------------------------------

    def write_changes(self) -> None:
        """Write the validated documents gathered so far (at most BATCH_SIZE), in one batch of the sync."""
        batch, self.changed = self.changed, []
        if not batch:
            return
        self.write_batch(batch)
        self.written += len(batch)
        if self.collect_per_batch:
            gc.collect(0)  # what was made since the last batch: the youngest generation
        if self.passed:  # the last batch
            self.tell(self.written, self.written, "writing")
        elif self.total is not None:  # at most every document not taken yet is still to write
            self.tell(self.written, self.written + self.total - self.taken, "writing")

    def write_batch(self, batch: list[Candidate]) -> None:
        existing = self.existing
        previously_present = {c.ref for c in batch if existing.get(c.ref, _NOWHERE)[1] == PRESENT}
        old = self.old_relations(sorted(previously_present))
        new: dict[str, list[Relation]] = {}
        accepted: list[Candidate] = []
        for candidate in batch:
            made = candidate.made
            assert made is not None  # classified
            if made.refusal is not None:  # its relations cannot be derived
                self.reject("relations", candidate.document, candidate.ref, made.refusal[1])
                continue
            new[candidate.ref] = made.relations or []
            accepted.append(candidate)
        accepted.sort(key=_ref_of)  # the store's indexes are then filled along their pages, not at random places
        self.store.write(self.change_operations(accepted, previously_present, old, new))
        for candidate in accepted:
            if candidate.ref in previously_present:
                self.summary.updated += 1
            else:
                self.summary.added += 1

    def write_relocations(self) -> None:
        """Unchanged entities whose definition moved to another file: only their location changes."""
        rows, self.relocated = self.relocated, []
        self.store.write([(self.store.statements.relocate_entities, {"rows": rows})])

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
                **c.made.row,  # type: ignore[union-attr]
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
        closing = _by_type(closed, lambda origin, r: {"src": r.source, "dst": r.target, "origin": origin, **run})
        at = self.run.at
        opening = _by_type(
            opened, lambda origin, r: {"src": r.source, "dst": r.target, "origin": origin, "valid_from": at, **run}
        )
        return [
            *((q.close_edges(label), {"rows": closing[rel_type]}) for rel_type, label in EDGE_LABELS.items()),
            *(Insert(RELATION_EDGES[label], opening[rel_type]) for rel_type, label in EDGE_LABELS.items()),
        ]

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

    def write_removals(self) -> None:
        """Close the entities the source no longer holds: not read, not kept because their file could not
        be read in full, skipped as unchanged or held an invalid definition."""
        kept_files = self.incomplete | self.result.incomplete_locations | self.result.unchanged_locations
        gone = [
            ref
            for ref, (_, state, location) in self.existing.items()
            if state == PRESENT and ref not in self.seen and ref not in self.retained and location not in kept_files
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
            self.tell(self.summary.removed, len(gone), "removing")

    # --- telling --------------------------------------------------------------------------------------------

    def tell(self, done: int, total: int, phase: str) -> None:
        if self.progress:
            self.progress(done, total, phase)

    def duplicate(self, phase: str, document: CatalogDocument, ref: str, first: str) -> None:
        self.document_error(phase, "duplicate", _duplicate_message(ref, first), document, ref)

    def document_error(
        self, phase: str, category: str, message: str, document: CatalogDocument, ref: str | None
    ) -> None:
        self.found[phase].append(self.document_error_row(category, message, document, ref))

    def document_error_row(
        self, category: str, message: str, document: CatalogDocument, ref: str | None
    ) -> dict[str, Any]:
        return self.error_row(category, message, document.location, document.document_index, document.line, ref)

    def error_row(
        self,
        category: str,
        message: str,
        location: str | None,
        document_index: int | None,
        line: int | None,
        entity_ref: str | None,
    ) -> dict[str, Any]:
        """An error record, numbered later (`numbered_errors`)."""
        return {
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

    def numbered_errors(self) -> list[dict[str, Any]]:
        """The read's errors, then the sync's in the order of `ERROR_PHASES`, numbered in that order."""
        read = [
            self.error_row("read", e.message, e.location, e.document_index, e.line, e.entity_ref)
            for e in self.result.errors
        ]
        rows = read + [row for phase in ERROR_PHASES for row in self.found[phase]]
        return [{"id": f"{self.run.sync_run}:{n}", **row} for n, row in enumerate(rows)]


def prepare_document(document: CatalogDocument, custom_kinds: frozenset[str] = frozenset()) -> PreparedDocument:
    """What the sync makes of `document` on its own, before it looks at the store: its ref, its digest and
    what it makes (`make`). Pure: a reading process prepares documents while the sync writes earlier ones.
    `custom_kinds` in lower case."""
    ref = _quick_ref(document.data)
    where = (None, document.location, document.document_index, document.line)
    if ref is None:
        return PreparedDocument(*where, made=Made(refusal=("document", _invalidity(document.data, custom_kinds))))
    return PreparedDocument(*where, ref=ref, digest=_digest(document.data), made=make(document.data, ref, custom_kinds))


def make(data: object, ref: str, custom_kinds: frozenset[str]) -> Made:
    """The entity row and relations of the document `data`, which names `ref`; or why it makes none."""
    try:
        entity = validate_entity(data, custom_kinds=custom_kinds)
    except ModelError as error:
        return Made(refusal=("validation", str(error)))
    if entity.ref != ref:  # cannot happen unless the quick ref disagrees
        return Made(refusal=("validation", f"ref mismatch {entity.ref}"))
    try:
        relations = derive_relations(entity)
    except ModelError as error:
        return Made(refusal=("relations", str(error)))
    return Made(_entity_row(entity, relations), relations)


def _invalidity(data: object, custom_kinds: frozenset[str]) -> str:
    """Why a document that names no entity is none: the model's first complaint about it."""
    try:
        validate_entity(data, custom_kinds=custom_kinds)
    except ModelError as error:
        return str(error)
    return "not a catalog entity"


def _ref_of(candidate: Candidate) -> str:
    return candidate.ref


def _duplicate_message(ref: str, first: str) -> str:
    return f"{ref} is defined twice in this source: first in {first}, again here; the first definition is kept"


def _by_type(
    edges: list[tuple[str, Relation]], row: Callable[[str, Relation], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The rows of (origin, relation) edges, per relation type of `EDGE_LABELS`, each list in the edges' order."""
    rows: dict[str, list[dict[str, Any]]] = {rel_type: [] for rel_type in EDGE_LABELS}
    for origin, relation in edges:
        rows[relation.type].append(row(origin, relation))
    return rows


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
    ref = entity.ref
    own = [r for r in relations if r.source == ref]
    title = metadata.title
    description = metadata.description
    return {
        "ref": ref,
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
