"""The temporal graph store: one interface over either engine, all logic written once.

Reads here are the *present* graph: open versions and open edges (`valid_to IS NULL`) of entities whose state
is `present`. Writes come from the sync (`graphsvc.sync`), which decides what changed. What is the same for
every engine is written here once; the text of each statement is the engine's (`backend.statements`: SQL in
`sql.py` for SQLite, Cypher in `cypher.py` for Neo4j), with the same names and the same rows.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from graphsvc.model import REVERSE_RELATION
from graphsvc.store import traversal
from graphsvc.store.backend import READ_ATTEMPTS, Backend, Insert, Operation, kept_changing
from graphsvc.store.cypher import FACET_FIELDS, EntityFilter
from graphsvc.store.errors import PartialImportError, StoreError
from graphsvc.store.hygiene import document_entries
from graphsvc.store.records import (
    ApiTokenRecord,
    EntityRecord,
    ErrorRecord,
    RegisteredLocationRecord,
    RelationRow,
    SyncRunRecord,
)
from graphsvc.store.schema import (
    API_TOKEN,
    DUMP_TABLES,
    FORWARD_TYPES,
    IMPORT_MARKER,
    MIGRATED_FROM,
    SCHEMA_VERSION,
    SOURCE_FILE,
)
from graphsvc.store.traversal import Hop, Path, Reached
from graphsvc.timestamps import now_micros, to_iso


@dataclass(frozen=True)
class Violation:
    """An invariant of the store that does not hold: how many rows break it, and some of them."""

    rule: str
    count: int
    samples: list[tuple[Any, ...]]


T = TypeVar("T")

MAX_PAGE = 10_000
"""The largest page a caller may ask for; the store reads one row more, so that it can tell another follows."""


REVERSE_TYPES = {label: REVERSE_RELATION[name] for label, name in FORWARD_TYPES.items()}
"""Edge label -> the Backstage relation type its target holds (ownedBy's edge reads ownerOf from the owner)."""


class GraphStore:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.statements: Any = backend.statements
        ddl = backend.schema_statements()
        backend.write_schema(ddl[:1])  # the store's meta table first: check the version before changing more
        self._check_schema_version()
        backend.write_schema(ddl[1:])
        self._mark_interrupted_syncs()

    @classmethod
    def _view(cls, backend: Backend) -> GraphStore:
        """A store over an already opened backend (a read snapshot of it): no schema work again."""
        view = cls.__new__(cls)
        view.backend = backend
        view.statements = backend.statements
        return view

    def _check_schema_version(self) -> None:
        version = self.schema_version()
        if version is None and self._holds_entities():
            raise StoreError(
                "this store was written by a version of catalog-graph from before store schema versions, and "
                "cannot be read by this one. Ingest into a new store (--store DIR) and keep the old one for the "
                "version that wrote it."
            )
        if version is None:
            self.write([(self.statements.set_schema_version, {"version": SCHEMA_VERSION})])
        elif MIGRATED_FROM <= version < SCHEMA_VERSION:
            self._migrate(version)
        elif version != SCHEMA_VERSION:
            raise StoreError(
                f"this store was written with store schema version {version}; this version of catalog-graph "
                f"uses version {SCHEMA_VERSION} and cannot read it. Ingest into a new store (--store DIR) and "
                "keep the old one for the version that wrote it."
            )

    def _migrate(self, version: int) -> None:
        """Bring a store of an older schema version up to this one, a version at a time. Each step ends by
        writing its version, and is safe to do again: one interrupted is done again at the next open."""
        if version == 4:
            self.backend.write_schema(self.statements.migrate_schema)  # one transaction: all of it or none
        for probe, ddl in self.statements.metadata_columns:  # 5 -> 6: the annotation and label entries
            if not self.backend.read(probe):
                self.backend.write_schema([ddl])
        for table in ("entities", "versions"):
            after = ""
            while rows := self.backend.read(self.statements.metadata_documents(table), {"after": after, "limit": 5000}):
                entries = [{"key": key, **document_entries(json.loads(document))} for key, document in rows]
                self.write([(self.statements.set_metadata_entries(table), {"rows": entries})])
                after = rows[-1][0]
        self.write([(self.statements.set_current_schema_version, {})])

    def schema_version(self) -> int | None:
        """The store's schema version as stored (a read that proves the store answers)."""
        rows = self.backend.read(self.statements.schema_version)
        return rows[0][0] if rows else None

    def _holds_entities(self) -> bool:
        """Whether entities are stored already (a store with no version row is new only if it holds none)."""
        try:
            return bool(self.backend.read(self.statements.any_entity))
        except StoreError:  # no entity table yet: a new store
            return False

    def _mark_interrupted_syncs(self) -> None:
        """A sync run still `running` when its store is opened belonged to a process that died: its one
        transaction never committed, so nothing of it is visible. Say so instead of `running` forever. Where
        several processes share the engine, only runs whose transaction is open nowhere count."""
        if self.backend.exclusive:
            self.write([(self.statements.interrupt_running_syncs, {"at": now_micros()})])
            return
        self.backend.interrupt_abandoned_syncs(now_micros())  # type: ignore[attr-defined]

    @contextmanager
    def transaction(self, label: str | None = None) -> Iterator[None]:
        """Everything written and read on this thread inside the block is one transaction: readers see all of
        it or none of it, and reads inside see the writes made so far. `label`: the sync run it is for."""
        with self.backend.transaction(label):
            yield

    @contextmanager
    def snapshot(self) -> Iterator[GraphStore]:
        """A store whose reads all see one committed state (one read transaction), for one request. Inside
        a snapshot (or this thread's write transaction) it is that one: snapshots nest."""
        with self.backend.snapshot() as backend:
            yield self if backend is self.backend else GraphStore._view(backend)

    def disturbed(self) -> bool:
        """Whether a commit was applied while this snapshot read (engines whose reads are read-committed,
        Neo4j): then what it read may mix two states, and the reading must be done again. Never on SQLite."""
        return bool(self.backend.disturbed())

    def commit_number(self) -> int | None:
        """Inside a snapshot, the number of the commit it reads: equal numbers, equal stored states, and any
        write that changes something gives a new one. The key of a cache of answers (`graphsvc.api.response_cache`),
        valid only for a result `in_one_state` returned (on Neo4j, a disturbed snapshot's number is not its
        state's). None outside a snapshot, or when the store cannot say: then nothing is cached."""
        number: int | None = self.backend.commit_number()
        return number

    def in_one_state(self, work: Callable[[GraphStore], T]) -> T:
        """`work(store)` over one snapshot, done again while a commit disturbed it (`disturbed`). Inside an
        outer snapshot it is that one's: the outer reader does it again."""
        for _ in range(READ_ATTEMPTS):
            with self.snapshot() as store:
                result = work(store)
                if store is self or not store.disturbed():
                    return result
        raise kept_changing()

    def close(self) -> None:
        self.backend.close()

    def write(self, operations: Sequence[Operation]) -> None:
        """One atomic batch: readers see all of it or none of it."""
        self.backend.write([op for op in operations if not _is_empty(op)])

    # --- what the sync needs ---------------------------------------------------------------------------------

    def source_state(self, source: str) -> dict[str, tuple[str | None, str, str | None]]:
        """ref -> (content hash, state, location) for every entity the source has ever claimed. What a sync
        keeps of a whole catalog, so each state and location is held once, not once per entity."""
        rows = self.backend.read(self.statements.source_state, {"source": source})
        shared: dict[str | None, str | None] = {}
        return {
            ref: (digest, shared.setdefault(state, state), shared.setdefault(location, location))  # type: ignore[misc]
            for ref, digest, state, location in rows
        }

    def claims(self, refs: Iterable[str]) -> dict[str, tuple[str | None, str]]:
        """ref -> (claiming source, state) for the refs that exist as nodes."""
        out: dict[str, tuple[str | None, str]] = {}
        for chunk in _chunks(list(refs), 5000):
            for ref, source, state in self.backend.read(self.statements.claims, {"refs": chunk}):
                out[ref] = (source, state)
        return out

    def documents(self, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(refs), 2000):
            for ref, document in self.backend.read(self.statements.documents, {"refs": chunk}):
                if document:
                    out[ref] = json.loads(document)
        return out

    def file_digests(self, source: str) -> dict[str, str]:
        """location -> content digest of the files the source's last sync read cleanly."""
        return dict(self.backend.read(self.statements.file_digests, {"source": source}))

    def replace_file_digests(self, source: str, digests: dict[str, str]) -> None:
        rows = [{"id": f"{source}|{loc}", "source": source, "location": loc, "digest": d} for loc, d in digests.items()]
        self.write([(self.statements.forget_file_digests, {"source": source}), Insert(SOURCE_FILE, rows)])

    def start_sync_run(
        self, run_id: str, source: str, started_at: int, commit_sha: str | None, principal: str | None = None
    ) -> None:
        self.write(
            [
                (
                    self.statements.create_sync_run,
                    {
                        "id": run_id,
                        "source": source,
                        "started_at": started_at,
                        "commit_sha": commit_sha,
                        "principal": principal,
                    },
                )
            ]
        )

    def finish_sync_run(self, run_id: str, *, finished_at: int, status: str, counts: dict[str, int]) -> None:
        self.write(
            [
                (
                    self.statements.finish_sync_run,
                    {"id": run_id, "finished_at": finished_at, "status": status, **counts},
                )
            ]
        )

    def record_errors(self, rows: list[dict[str, Any]]) -> None:
        for chunk in _chunks(rows, 1000):
            self.write([(self.statements.create_errors, {"rows": chunk})])

    # --- registered locations ------------------------------------------------------------------------------

    def register_location(self, target: str, at: int, branch: str | None = None, glob: str | None = None) -> None:
        self.write(
            [
                (
                    self.statements.register_location,
                    {"target": target, "at": at, "branch": branch, "discovery_glob": glob},
                )
            ]
        )

    def unregister_location(self, target: str) -> None:
        self.write([(self.statements.unregister_location, {"target": target})])

    def registered_locations(self) -> list[RegisteredLocationRecord]:
        return [RegisteredLocationRecord(*row) for row in self.backend.read(self.statements.registered_locations)]

    # --- API tokens (graphsvc.auth.tokens) ---------------------------------------------------------------------

    def create_api_token(self, token: ApiTokenRecord) -> None:
        self.write([Insert(API_TOKEN, [{**asdict(token), "scopes": " ".join(token.scopes)}])])

    def api_tokens(self) -> list[ApiTokenRecord]:
        """Every token ever created, revoked ones included, oldest first."""
        rows = self.backend.read(self.statements.api_tokens)
        return [ApiTokenRecord(row[0], row[1], tuple(row[2].split()), *row[3:]) for row in rows]

    def revoke_api_token(self, token_id: str, at: int, by: str) -> None:
        """Mark a token revoked; one revoked already keeps its first revocation (the statement changes only
        an active token)."""
        self.write([(self.statements.revoke_api_token, {"id": token_id, "at": at, "by": by})])

    # --- entity reads ------------------------------------------------------------------------------------------

    def entities(self, refs: Sequence[str], as_of: int | None = None) -> dict[str, EntityRecord]:
        """Entities by canonical ref, present now or at `as_of`; absent refs are missing from the result."""
        if not refs:
            return {}
        statement = self.statements.entities_by_ref if as_of is None else self.statements.entities_at(as_of)
        return {row[0]: EntityRecord(*row) for row in self.backend.read(statement, {"refs": list(refs)})}

    def event_subjects(self, refs: Iterable[str]) -> dict[str, tuple[Any, ...]]:
        """ref -> (kind, namespace, owner, system, location, version starts) of stored entities: what the
        change feed records about an event's entity."""
        out: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(sorted(refs), 5000):
            for ref, *columns, starts in self.backend.read(self.statements.event_subjects, {"refs": chunk}):
                out[ref] = (*columns, _as_list(starts))
        return out

    def version_starts(self, refs: Iterable[str]) -> dict[str, list[int]]:
        """ref -> the instants at which its versions began, oldest first."""
        out: dict[str, list[int]] = {}
        for chunk in _chunks(list(refs), 5000):
            for ref, starts in self.backend.read(self.statements.version_starts, {"refs": chunk}):
                out[ref] = _as_list(starts)
        return out

    def entity(self, ref: str, as_of: int | None = None) -> EntityRecord | None:
        return self.entities([ref], as_of).get(ref)

    def find_entities(
        self, where: EntityFilter, *, first: int, after: str | None, as_of: int | None = None
    ) -> list[EntityRecord]:
        """Up to `first` (at most MAX_PAGE + 1) entities matching `where` (now or at `as_of`), ordered by ref,
        after the ref `after`."""
        limit = min(first, MAX_PAGE + 1)
        params = where.parameters() | {"after": after or "", "limit": limit}
        rows = self.backend.read(self.statements.find_entities(where.active(), as_of), params)
        # The parts of an as-of statement each bring a page of their own: merge them.
        return [EntityRecord(*row) for row in sorted(rows, key=lambda row: row[0])[:limit]]

    def count_entities(self, where: EntityFilter, as_of: int | None = None) -> int:
        statement = self.statements.count_entities(where.active(), as_of)
        return sum(n for (n,) in self.backend.read(statement, where.parameters()))

    def facets(self, field: str, where: EntityFilter, as_of: int | None = None) -> list[tuple[str | None, int]]:
        """(value, count) of `field` over the matches, most frequent first; the value None counts the matches
        without the field (for tags: without tags)."""
        if field not in FACET_FIELDS:
            raise ValueError(f"unknown facet field {field!r}; expected one of {', '.join(FACET_FIELDS)}")
        counts: Counter[str | None] = Counter()
        for value, n in self.backend.read(self.statements.facet(field, where.active(), as_of), where.parameters()):
            counts[value] += n  # a value may come from several parts of an as-of statement
        buckets = [(value, n) for value, n in counts.items() if n]  # a null bucket of no entities is none
        return sorted(buckets, key=lambda item: (-item[1], item[0] is None, item[0] or ""))

    # --- relations and traversals ----------------------------------------------------------------------------

    def relations(self, refs: Sequence[str], as_of: int | None = None) -> dict[str, list[RelationRow]]:
        """Backstage's relation rows of each entity (now or at `as_of`): its outgoing rows, reverse types
        included, sorted by type then target."""
        at = as_of is not None

        def both_directions(store: GraphStore) -> dict[str, list[RelationRow]]:
            # (type, target) pairs first, the rows made once sorted: a page's relations are thousands of rows
            found: dict[str, set[tuple[str, str]]] = {ref: set() for ref in refs}
            for ref, label, other in store._from_each(
                refs, lambda batched: self.statements.relations("out", at, batched), as_of
            ):
                found[ref].add((FORWARD_TYPES[label], other))
            for ref, label, other in store._from_each(
                refs, lambda batched: self.statements.relations("in", at, batched), as_of
            ):
                found[ref].add((REVERSE_TYPES[label], other))
            return {ref: [RelationRow(t, o, ref) for t, o in sorted(pairs)] for ref, pairs in found.items()}

        return self.in_one_state(both_directions)

    def neighbours(
        self, refs: Sequence[str], label: str, direction: str, as_of: int | None = None
    ) -> dict[str, list[str]]:
        """For each ref, the refs one `label` edge away (direction "out" or "in"), now or at `as_of`."""
        out: dict[str, list[str]] = {ref: [] for ref in refs}
        at = as_of is not None
        for ref, other in self._from_each(refs, lambda b: self.statements.neighbours(label, direction, at, b), as_of):
            out[ref].append(other)
        return out

    def reachable(self, start: str, label: str, direction: str, depth: int, as_of: int | None = None) -> list[str]:
        """Refs reachable from `start` in 1..depth hops, each once, nearest first (then by ref)."""
        statement = self.statements.reachable(label, direction, depth, as_of is not None)
        if statement is not None:
            return [ref for ref, _ in self.backend.read(statement, _params(as_of, ref=start))]
        return self.in_one_state(lambda store: store._breadth_first(start, label, direction, depth, as_of))

    def _breadth_first(self, start: str, label: str, direction: str, depth: int, as_of: int | None) -> list[str]:
        """One statement per level: the cost stays proportional to the nodes reached even on dense DAGs."""
        seen = {start}
        order: list[str] = []
        frontier = [start]
        for _ in range(depth):
            if not frontier:
                break
            step = self.neighbours(frontier, label, direction, as_of)
            frontier = sorted({ref for refs in step.values() for ref in refs} - seen)
            seen.update(frontier)
            order.extend(frontier)
        return order

    def walk(self, start: str, steps: Sequence[Hop], depth: int, as_of: int | None = None) -> list[Reached]:
        """Refs within `depth` hops of `start` along `steps`, with their paths (`traversal.walk`)."""
        return self.in_one_state(lambda store: traversal.walk(store, start, steps, depth, as_of))

    def shortest_paths(
        self, source: str, target: str, steps: Sequence[Hop], max_depth: int, as_of: int | None = None
    ) -> list[Path]:
        """The shortest paths from `source` to `target` along `steps` (`traversal.shortest_paths`)."""
        return self.in_one_state(lambda store: traversal.shortest_paths(store, source, target, steps, max_depth, as_of))

    def dependency_cycles(self, where: EntityFilter | None = None, as_of: int | None = None) -> list[tuple[str, ...]]:
        """The cycles among dependsOn edges (`traversal.dependency_cycles`)."""
        return self.in_one_state(lambda store: traversal.dependency_cycles(store, where, as_of))

    def edges_of(self, label: str, as_of: int | None = None) -> list[tuple[str, str]]:
        """Every (source ref, target ref) edge of one label, now or at `as_of`, each once."""
        rows = self.backend.read(self.statements.edges_of(label, as_of is not None), _params(as_of))
        return [(source, target) for source, target in rows]

    def _from_each(self, refs: Sequence[str], statement: Any, as_of: int | None) -> list[list[Any]]:
        """Rows of a statement that starts from each of `refs`: one batched statement where the engine's
        planner uses the key index for it, else one indexed statement per ref."""
        if not refs:
            return []
        if self.backend.batched_key_lookups:
            return self.backend.read(statement(True), _params(as_of, refs=list(refs)))
        single = statement(False)
        return [row for ref in dict.fromkeys(refs) for row in self.backend.read(single, _params(as_of, ref=ref))]

    # --- whole tables (checks, tests, exports) ---------------------------------------------------------------

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of a table (`schema.DUMP_TABLES`, or "edges") as a dict, in key order; list columns as
        lists, whatever the engine stores them as."""
        statement, columns = self.statements.dump(table)
        lists = {c.name for c in DUMP_TABLES[table].columns if c.is_list} if table in DUMP_TABLES else set()
        return [
            {c: (_as_list(v) if c in lists and v is not None else v) for c, v in zip(columns, row, strict=True)}
            for row in self.backend.read(statement)
        ]

    def check(self, samples: int = 20) -> list[Violation]:
        """The store's invariants that do not hold, each with up to `samples` of the rows that break it."""
        found = []
        for rule, statement in self.statements.invariants:
            rows = self.backend.read(statement)
            if rows:
                found.append(Violation(rule, len(rows), [tuple(row) for row in rows[:samples]]))
        return found

    def version_census(self) -> tuple[int, ...]:
        """(entities with versions, fewest and most versions of one, fewest and most open, all versions)."""
        return tuple(self.backend.read(self.statements.version_census)[0])

    def checkpoint(self) -> None:
        """Fold the engine's log into its main files where it has one (SQLite's WAL), e.g. to measure size."""
        self.backend.checkpoint()

    # --- sync runs and errors --------------------------------------------------------------------------------

    def sync_runs(self, limit: int = 50) -> list[SyncRunRecord]:
        return [SyncRunRecord(*row) for row in self.backend.read(self.statements.sync_runs, {"limit": limit})]

    def latest_commit(self, source: str) -> tuple[str, int] | None:
        """(commit SHA, sync time) of the newest successful sync of `source` that recorded a commit."""
        rows = self.backend.read(self.statements.latest_commit, {"source": source})
        return (rows[0][0], rows[0][1]) if rows else None

    def newest_committed_sync(self, source: str) -> int | None:
        """The instant of the newest sync of `source` that committed."""
        rows = self.backend.read(self.statements.newest_committed_sync, {"source": source})
        return rows[0][0] if rows else None

    def latest_sync_run_ids(self) -> list[str]:
        def read(store: GraphStore) -> list[str]:
            latest = store.backend.read(self.statements.latest_runs)
            if not latest:
                return []
            params = {"sources": [s for s, _ in latest], "moments": [t for _, t in latest]}
            return [row[0] for row in store.backend.read(self.statements.latest_run_ids, params)]

        return self.in_one_state(read)

    def errors(
        self,
        *,
        sync_runs: Sequence[str] | None = None,
        location: str | None = None,
        entity_ref: str | None = None,
        limit: int = 100,
    ) -> list[ErrorRecord]:
        params: dict[str, Any] = {
            "sync_runs": list(sync_runs) if sync_runs is not None else None,
            "location": location,
            "entity_ref": entity_ref,
        }
        params = {k: v for k, v in params.items() if v is not None}
        params["limit"] = limit
        active = tuple(k for k in ("sync_runs", "location", "entity_ref") if k in params)
        return [ErrorRecord(*row) for row in self.backend.read(self.statements.errors(active), params)]

    def count_errors(self, sync_run: str, location: str | None = None) -> int:
        """How many errors a sync run recorded, or recorded about one location (file) of its source."""
        params: dict[str, Any] = {"sync_runs": [sync_run]} | ({"location": location} if location is not None else {})
        statement = self.statements.count_errors(tuple(params))
        return int(self.backend.read(statement, params)[0][0])

    # --- whole-store imports (graphsvc.portable) -------------------------------------------------------------

    def count_rows(self, table: str) -> int:
        """How many rows a table of `schema.DUMP_TABLES` (or "edges") holds."""
        return int(self.backend.read(self.statements.count_rows(table))[0][0])

    def import_marker(self) -> dict[str, Any] | None:
        """The marker of an import into this store that began and has not finished (`schema.IMPORT_MARKER`)."""
        rows = self.backend.read(self.statements.import_marker)
        return dict(zip((c.name for c in IMPORT_MARKER.columns), rows[0], strict=True)) if rows else None

    def refuse_partial_import(self) -> None:
        """Raise `PartialImportError` if an import into this store began and has not finished."""
        marker = self.import_marker()
        if marker is not None:
            command = f"catalog import {shlex.quote(str(marker['file']))}"
            raise PartialImportError(
                f"this store holds a partial import of {marker['file']} (begun {to_iso(marker['started_at'])}, "
                f"sha256 {str(marker['sha256'])[:12]}...), not a catalog; run `{command}` again to finish it"
            )

    def delete_rows(self, tables: Sequence[str], slice_rows: int = 10_000) -> None:
        """Delete every row of each table (`schema.DUMP_TABLES` names, "edges"), in this order, a slice of
        `slice_rows` per transaction where the engine deletes in slices. Only an import starting again does."""
        for table in tables:
            statements: list[Operation] = [(s, {"limit": slice_rows}) for s in self.statements.delete_rows(table)]
            while self.count_rows(table):
                self.write(statements)


def _as_list(value: Any) -> list[Any]:
    """A list column: a list from Neo4j, JSON text from SQLite."""
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)


def _is_empty(operation: Operation) -> bool:
    """Nothing to do: an empty batch is not sent at all."""
    rows = operation.rows if isinstance(operation, Insert) else operation[1].get("rows")
    return rows is not None and len(rows) == 0


def _params(as_of: int | None, **params: Any) -> dict[str, Any]:
    """Statement parameters, with `as_of` only for the as-of variant (Neo4j warns of unused parameters)."""
    if as_of is not None:
        params["as_of"] = as_of
    return params


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
