"""The commit number a snapshot reads: the key of the caches any write must invalidate
(`graphsvc.api.response_cache`). Equal numbers must mean equal stored states; a write that changes something
must give a new number. On both engines."""

from __future__ import annotations

from graphsvc.store import GraphStore
from graphsvc.sync import sync_source
from tests.store.catalog_builder import component, source

A = "file:/catalog/a.yaml"


def number(store: GraphStore) -> int | None:
    return store.in_one_state(lambda snapshot: snapshot.commit_number())


def test_snapshots_of_one_state_read_one_number_and_each_write_moves_it_on(store: GraphStore) -> None:
    before = number(store)
    assert before is not None
    assert number(store) == before  # nothing written in between

    sync_source(store, source((A, [component("billing")])), source="s1", at=1_000_000)
    synced = number(store)
    assert synced is not None and synced > before

    store.register_location("file:/catalog/b.yaml", at=2_000_000)
    registered = number(store)
    assert registered is not None and registered > synced

    sync_source(store, source((A, [component("billing", owner="group:default/other")])), source="s1", at=3_000_000)
    assert (number(store) or 0) > registered


def test_outside_a_snapshot_there_is_no_one_state_to_name(store: GraphStore) -> None:
    assert store.commit_number() is None
    with store.transaction():
        assert store.in_one_state(lambda snapshot: snapshot.commit_number()) is None  # the write's own reads
