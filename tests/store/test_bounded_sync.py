"""A sync streams its source: it holds a bounded number of documents at once, whatever the size of the source,
writes them BATCH_SIZE at a time inside its one transaction, and writes exactly what it writes in one batch.

Runs on every backend in the `store` fixture (SQLite here; Neo4j too wherever one runs).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from graphsvc import sync
from graphsvc.store import GraphStore
from graphsvc.store.backend import Insert
from graphsvc.store.schema import ENTITY_VERSION
from graphsvc.sync import sync_source
from ingestors.documents import CatalogDocument, DocumentStream, ReadResult
from tests.store.catalog_builder import component, entity, group

T0, T1, T2 = 1_000_000, 2_000_000, 3_000_000
FIRST_BATCH, BATCH, STAGE = 10, 40, 10


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "FIRST_BATCH_SIZE", FIRST_BATCH)
    monkeypatch.setattr(sync, "BATCH_SIZE", BATCH)
    monkeypatch.setattr(sync, "STAGE_SIZE", STAGE)


class Watched:
    """A stream of documents that knows how many of those it has handed out are still alive (held by
    someone) each time the next one is asked for."""

    def __init__(self, documents: list[CatalogDocument]) -> None:
        self._documents = documents
        self._handed: list[weakref.ref[CatalogDocument]] = []
        self.most_alive = 0

    def __iter__(self) -> Iterator[CatalogDocument]:
        while self._documents:
            alive = sum(1 for handed in self._handed if handed() is not None)
            self.most_alive = max(self.most_alive, alive)
            document = self._documents.pop(0)  # from here on only the sync holds it
            self._handed.append(weakref.ref(document))
            yield document
            del document


def chain(n: int, name: str = "c") -> list[dict[str, Any]]:
    """`n` components, each depending on the next (a target defined later in the same source)."""
    return [component(f"{name}{i}", dependsOn=[f"component:{name}{i + 1}"]) for i in range(n)]


def documents(files: list[tuple[str, list[Any]]]) -> list[CatalogDocument]:
    return [
        CatalogDocument(data, location, index, 1 + 10 * index)
        for location, datas in files
        for index, data in enumerate(datas)
    ]


def streamed(files: list[tuple[str, list[Any]]], watched: Watched | None = None) -> ReadResult:
    docs = documents(files)
    return ReadResult(
        source="test-source",
        documents=DocumentStream(iter(watched if watched is not None else docs)),
        read_order=[location for location, _ in files],
    )


def whole(files: list[tuple[str, list[Any]]]) -> ReadResult:
    return ReadResult(source="test-source", documents=documents(files), read_order=[location for location, _ in files])


def most_documents_held(store: GraphStore, n: int) -> int:
    """Sync `n` new components from a stream (a source of their own); how many documents were held at most."""
    watched = Watched(documents([(f"file:/{n}.yaml", chain(n, f"c{n}-"))]))
    summary = sync_source(store, ReadResult(source="s", documents=DocumentStream(iter(watched))), source=f"s{n}")
    assert (summary.added, summary.errors) == (n, [])
    return watched.most_alive


@pytest.mark.usefixtures("small_batches")
def test_the_documents_held_at_once_do_not_grow_with_the_source(store: GraphStore) -> None:
    # A batch being gathered (written when it reaches 40) and a staging group (classified when it reaches 10),
    # never a whole source: at most 30 validated documents and 9 staged ones when the next is read.
    assert [most_documents_held(store, n) for n in (200, 2_000)] == [39, 39]


@pytest.mark.usefixtures("small_batches")
def test_the_writer_is_given_batches_of_at_most_batch_size(store: GraphStore, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[int] = []
    write = store.write

    def counting(operations: Any) -> None:
        written.extend(len(op.rows) for op in operations if isinstance(op, Insert) and op.table is ENTITY_VERSION)
        write(operations)

    monkeypatch.setattr(store, "write", counting)
    summary = sync_source(store, streamed([("file:/c.yaml", chain(1_000))]), source="s", at=T0)
    assert summary.added == 1_000
    assert written == [FIRST_BATCH, 2 * FIRST_BATCH, *[BATCH] * 24, 10]  # doubling from the first, then BATCH


def catalog_before() -> list[tuple[str, list[Any]]]:
    return [
        ("file:/a.yaml", [*chain(30, "a"), group("team-a"), {"kind": "Component"}]),  # the last names no entity
        ("file:/b.yaml", [*chain(30, "b"), component("a3"), component("bad name!")]),  # a duplicate; invalid
        ("file:/c.yaml", [entity("Component", "mine"), component("moving")]),
    ]


def catalog_after() -> list[tuple[str, list[Any]]]:
    return [
        ("file:/a.yaml", [*chain(20, "a"), group("team-a", description="now described")]),  # ten fewer
        ("file:/b.yaml", [*chain(30, "b"), component("theirs")]),  # defined by the other source
        ("file:/d.yaml", [component("moving"), component("c-new", owner="team-b")]),  # moved; added
    ]


def plain(value: Any, run_ids: list[str]) -> Any:
    """`value` with the sync runs' ids replaced by their position (they are random)."""
    if isinstance(value, str):
        for n, run in enumerate(run_ids):
            value = value.replace(run, f"run-{n}")
    return value


def state(store: GraphStore, run_ids: list[str]) -> dict[str, Any]:
    """What the syncs left: every entity, version and edge row, and the change events (batched differently)."""
    tables = {
        name: sorted(
            (tuple((k, plain(v, run_ids)) for k, v in sorted(row.items())) for row in store.rows(name)), key=repr
        )
        for name in ("entities", "versions", "edges")
    }
    events = store.rows("change_events")
    tables["events"] = sorted(
        (e["at"], e["type"], e["entity_ref"], e["relation_type"], e["target_ref"], plain(e["version"], run_ids))
        for e in events
    )
    return tables


def replay(store: GraphStore, read: Any) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """Sync the two catalogs (and the other source's entity first), as `read` gives them."""
    other = sync_source(store, whole([("file:/x.yaml", [component("theirs")])]), source="other", at=T0)
    first = sync_source(store, read(catalog_before()), source="s", at=T1)
    second = sync_source(store, read(catalog_after()), source="s", at=T2)
    runs = [other.run_id, first.run_id, second.run_id]
    errors = [[{k: plain(v, runs) for k, v in e.items()} for e in s.errors] for s in (first, second)]
    counts = [s.counts for s in (first, second)]
    assert counts == [
        {"added": 62, "updated": 0, "removed": 0, "unchanged": 0, "errors": 4},  # no ref, a3 twice, bad name, mine
        {"added": 1, "updated": 1, "removed": 10, "unchanged": 51, "errors": 1},  # moving: unchanged, relocated
    ]
    return state(store, runs), errors


def test_small_batches_write_what_one_batch_writes(store: GraphStore, monkeypatch: pytest.MonkeyPatch) -> None:
    one_batch = replay(store, streamed)
    store.delete_rows(
        ["change_events", "change_batches", "edges", "versions", "sync_errors", "source_files", "entities", "sync_runs"]
    )
    monkeypatch.setattr(sync, "BATCH_SIZE", 7)
    monkeypatch.setattr(sync, "STAGE_SIZE", 3)
    assert replay(store, streamed) == one_batch
