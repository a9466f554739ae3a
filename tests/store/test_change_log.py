"""The change feed's log: what the sync records, how filters see the past, and paging across batches.

Runs on every backend in the `store` fixture (SQLite here; Neo4j too wherever one runs).
"""

from __future__ import annotations

import pytest

from graphsvc import sync
from graphsvc.store import GraphStore
from graphsvc.store.cypher import EntityFilter
from graphsvc.store.timeline import ChangeEventRecord, Timeline
from graphsvc.sync import sync_source
from tests.store.catalog_builder import component, entity, group, source

A = "file:/catalog/a.yaml"
B = "file:/catalog/b.yaml"
T0, T1, T2, END = 1_000_000, 2_000_000, 3_000_000, 9_000_000
EVERYTHING = EntityFilter()


def feed(store: GraphStore, where: EntityFilter = EVERYTHING, since: int = 0) -> list[tuple[str, ...]]:
    events = Timeline(store).changes(since, END, where, first=1000)
    return [_short(e) for e in events]


def _short(event: ChangeEventRecord) -> tuple[str, ...]:
    return tuple(x for x in (event.type, event.entity_ref, event.relation_type, event.target_ref) if x is not None)


def test_each_change_is_one_event_with_the_versions_it_links(store: GraphStore) -> None:
    sync_source(store, source((A, [component("api", owner="team-a")])), source="s", at=T0)
    sync_source(store, source((A, [component("api", owner="team-b")])), source="s", at=T1)
    sync_source(store, source((A, [])), source="s", at=T2)
    api = "component:default/api"
    assert feed(store) == [
        ("ENTITY_ADDED", api),
        ("RELATION_ADDED", api, "ownedBy", "group:default/team-a"),
        ("ENTITY_UPDATED", api),
        ("RELATION_REMOVED", api, "ownedBy", "group:default/team-a"),
        ("RELATION_ADDED", api, "ownedBy", "group:default/team-b"),
        ("RELATION_REMOVED", api, "ownedBy", "group:default/team-b"),
        ("ENTITY_REMOVED", api),
    ]
    events = Timeline(store).changes(0, END, EntityFilter(), first=1000)
    added, updated, removed = events[0], events[2], events[-1]
    assert (added.version, added.previous, added.at) == (f"{api}@{T0}", None, T0)
    assert (updated.version, updated.previous) == (f"{api}@{T1}", f"{api}@{T0}")
    assert (removed.version, removed.previous, removed.at) == (None, f"{api}@{T1}", T2)
    assert (removed.source, removed.location) == ("s", A)
    documents = Timeline(store).version_documents([updated.previous, updated.version])
    assert documents[updated.previous]["spec"]["owner"] == "team-a"
    assert documents[updated.version]["spec"]["owner"] == "team-b"


def test_filters_see_the_entity_as_it_was_when_the_event_happened(store: GraphStore) -> None:
    sync_source(store, source((A, [component("api", owner="team-a")])), source="s", at=T0)
    sync_source(store, source((A, [component("api", owner="team-b")])), source="s", at=T1)
    api = "component:default/api"
    assert feed(store, EntityFilter(owner="group:default/team-a")) == [
        ("ENTITY_ADDED", api),
        ("RELATION_ADDED", api, "ownedBy", "group:default/team-a"),
    ]
    assert feed(store, EntityFilter(owner="group:default/team-b")) == [
        ("ENTITY_UPDATED", api),
        ("RELATION_REMOVED", api, "ownedBy", "group:default/team-a"),
        ("RELATION_ADDED", api, "ownedBy", "group:default/team-b"),
    ]
    assert feed(store, EntityFilter(kind="group")) == []


def test_a_relation_is_filed_under_the_entity_that_declared_it(store: GraphStore) -> None:
    """A group listing a member makes the edge user -memberOf-> group, but the group declared it: the event is
    the group's own row, hasMember, so a filter on the group (its kind, owner, system) finds it."""
    sync_source(store, source((B, [entity("User", "ann", {"memberOf": []})])), source="people", at=T0)
    sync_source(store, source((A, [group("team-a", members=["ann"])])), source="groups", at=T1)
    sync_source(store, source((A, [group("team-a")])), source="groups", at=T2)
    member = ("group:default/team-a", "hasMember", "user:default/ann")
    assert feed(store, EntityFilter(kind="group")) == [
        ("ENTITY_ADDED", "group:default/team-a"),
        ("RELATION_ADDED", *member),
        ("ENTITY_UPDATED", "group:default/team-a"),
        ("RELATION_REMOVED", *member),
    ]
    assert feed(store, EntityFilter(kind="user")) == [("ENTITY_ADDED", "user:default/ann")]


def test_pages_cross_batches_that_share_an_instant(store: GraphStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big sync writes several batches at one instant; a cursor (instant, events seen) spans them."""
    monkeypatch.setattr(sync, "BATCH_SIZE", 2)
    names = [f"c{i}" for i in range(5)]
    sync_source(store, source((A, [component(n) for n in names])), source="s", at=T0)
    sync_source(store, source((A, [component(n, owner="team-b") for n in names[:3]])), source="s", at=T1)
    everything = feed(store)
    assert len(everything) == 5 * 2 + 3 * 3 + 2 * 2  # added with owner edges; updated, edge moved; removed, edge closed
    timeline = Timeline(store)
    for where in (EntityFilter(), EntityFilter(kind="component")):
        paged, since, seen = [], 0, 0
        while page := timeline.changes(since, END, where, first=3, skip=seen):
            paged += [_short(e) for e in page]
            for event in page:
                seen = seen + 1 if event.at == since else 1
                since = event.at
        assert paged == [e for e in everything if where.kind is None or e[1].startswith("component:")]


def test_a_quiet_window_has_no_events(store: GraphStore) -> None:
    content = source((A, [component("api")]))
    sync_source(store, content, source="s", at=T0)
    sync_source(store, content, source="s", at=T1)
    assert Timeline(store).changes(T0 + 1, END, EntityFilter(), first=10) == []
    assert Timeline(store).changes(T0 + 1, END, EntityFilter(kind="component"), first=10) == []
