"""Pages of entities at the largest page size: the reader must still learn that another page follows."""

from __future__ import annotations

from graphsvc.store import GraphStore
from graphsvc.store.cypher import EntityFilter
from graphsvc.store.graph_store import MAX_PAGE
from graphsvc.sync import sync_source
from tests.store.catalog_builder import component, source


def test_a_full_largest_page_reads_one_row_more(store: GraphStore) -> None:
    sync_source(store, source(("file:/a.yaml", [component(f"c{i:05d}") for i in range(MAX_PAGE + 5)])), source="s")
    where = EntityFilter(kind="component")
    assert len(store.find_entities(where, first=MAX_PAGE + 1, after=None)) == MAX_PAGE + 1
    assert len(store.find_entities(where, first=10 * MAX_PAGE, after=None)) == MAX_PAGE + 1
    last = store.find_entities(where, first=MAX_PAGE + 1, after=f"component:default/c{MAX_PAGE - 1:05d}")
    assert [e.ref for e in last] == [f"component:default/c{i:05d}" for i in range(MAX_PAGE, MAX_PAGE + 5)]
