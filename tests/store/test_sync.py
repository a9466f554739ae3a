"""Sync behaviour on the temporal store: what is written, closed, kept and refused.

Runs on every backend in the `store` fixture (SQLite here; Neo4j too wherever one runs).
"""

from __future__ import annotations

import pytest

from graphsvc.store import GraphStore
from graphsvc.store.cypher import EntityFilter
from graphsvc.store.errors import StoreError
from graphsvc.sync import sync_source
from ingestors.documents import ReadError
from tests.store.catalog_builder import component, entity, group, source

A = "file:/catalog/a.yaml"
B = "file:/catalog/b.yaml"
T0, T1, T2, T3 = 1_000_000, 2_000_000, 3_000_000, 4_000_000


def versions(store: GraphStore, ref: str) -> list[tuple[int, int | None]]:
    return sorted((v["valid_from"], v["valid_to"]) for v in store.rows("versions") if v["ref"] == ref)


def edges(store: GraphStore, label: str) -> list[tuple[str, str, str, int, int | None]]:
    keys = ("src", "dst", "origin", "valid_from", "valid_to")
    rows = [tuple(x[k] for k in keys) for x in store.rows("edges") if x["type"] == label]
    return sorted(rows, key=lambda row: (row[0], row[1], row[3]))


def rows(store: GraphStore, ref: str) -> list[tuple[str, str]]:
    return [(r.type, r.target) for r in store.relations([ref])[ref]]


def test_first_sync_stores_entities_versions_and_both_relation_directions(store: GraphStore) -> None:
    summary = sync_source(store, source((A, [component("api-gw", system="edge"), group("team-a")])), source="s1", at=T0)
    assert (summary.added, summary.updated, summary.removed, summary.errors) == (2, 0, 0, [])
    assert store.entity("component:default/api-gw").title is None
    assert versions(store, "component:default/api-gw") == [(T0, None)]
    assert rows(store, "component:default/api-gw") == [
        ("ownedBy", "group:default/team-a"),
        ("partOf", "system:default/edge"),
    ]
    assert rows(store, "group:default/team-a") == [("ownerOf", "component:default/api-gw")]
    # The system is defined nowhere: the relation is kept, dangling.
    assert rows(store, "system:default/edge") == [("hasPart", "component:default/api-gw")]
    assert store.entity("system:default/edge") is None


def test_unchanged_entities_write_nothing(store: GraphStore) -> None:
    content = source((A, [component("api-gw"), group("team-a")]))
    sync_source(store, content, source="s1", at=T0)
    summary = sync_source(store, content, source="s1", at=T1)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 0, 2)
    assert versions(store, "component:default/api-gw") == [(T0, None)]
    assert edges(store, "OWNED_BY") == [
        ("component:default/api-gw", "group:default/team-a", "component:default/api-gw", T0, None)
    ]


def test_a_change_closes_the_old_version_and_moves_the_edge(store: GraphStore) -> None:
    sync_source(store, source((A, [component("api-gw", owner="team-a")])), source="s1", at=T0)
    summary = sync_source(store, source((A, [component("api-gw", owner="team-b")])), source="s1", at=T1)
    assert summary.updated == 1
    assert versions(store, "component:default/api-gw") == [(T0, T1), (T1, None)]
    ref = "component:default/api-gw"
    assert edges(store, "OWNED_BY") == [
        (ref, "group:default/team-a", ref, T0, T1),
        (ref, "group:default/team-b", ref, T1, None),
    ]
    assert rows(store, ref) == [("ownedBy", "group:default/team-b")]
    assert rows(store, "group:default/team-a") == []


def test_an_entity_gone_from_its_source_is_closed_not_deleted_and_can_return(store: GraphStore) -> None:
    sync_source(store, source((A, [component("api-gw"), group("team-a")])), source="s1", at=T0)
    summary = sync_source(store, source((A, [group("team-a")])), source="s1", at=T1)
    assert summary.removed == 1
    ref = "component:default/api-gw"
    assert store.entity(ref) is None
    assert versions(store, ref) == [(T0, T1)]
    assert edges(store, "OWNED_BY") == [(ref, "group:default/team-a", ref, T0, T1)]
    assert rows(store, "group:default/team-a") == []
    summary = sync_source(store, source((A, [component("api-gw"), group("team-a")])), source="s1", at=T2)
    assert summary.added == 1
    assert versions(store, ref) == [(T0, T1), (T2, None)]
    assert rows(store, ref) == [("ownedBy", "group:default/team-a")]


def test_relations_declared_by_others_survive_their_targets_removal(store: GraphStore) -> None:
    # team-b declares team-a as its parent; team-a declares nothing about team-b.
    sync_source(store, source((A, [group("team-a"), group("team-b", parent="team-a")])), source="s1", at=T0)
    sync_source(store, source((A, [group("team-b", parent="team-a")])), source="s1", at=T1)
    assert rows(store, "group:default/team-b") == [("childOf", "group:default/team-a")]
    assert store.entity("group:default/team-a") is None


def test_an_invalid_document_keeps_the_last_good_version(store: GraphStore) -> None:
    sync_source(store, source((A, [component("api-gw", owner="team-a")])), source="s1", at=T0)
    broken = component("api-gw", owner="team-b")
    del broken["spec"]["lifecycle"]
    summary = sync_source(store, source((A, [broken])), source="s1", at=T1)
    assert summary.removed == 0 and summary.updated == 0
    [error] = summary.errors
    assert error["category"] == "validation" and error["entity_ref"] == "component:default/api-gw"
    assert "spec.lifecycle" in error["message"] and error["location"] == A and error["line"] == 1
    assert versions(store, "component:default/api-gw") == [(T0, None)]
    assert rows(store, "component:default/api-gw") == [("ownedBy", "group:default/team-a")]
    stored = store.errors(entity_ref="component:default/api-gw")
    assert [e.message for e in stored] == [error["message"]]


def test_entities_of_a_file_that_could_not_be_read_are_kept(store: GraphStore) -> None:
    sync_source(store, source((A, [component("api-gw")]), (B, [group("team-a")])), source="s1", at=T0)
    unreadable = source(
        (B, [group("team-a")]),
        errors=[ReadError(A, "a.yaml line 3: mapping values are not allowed")],
        incomplete={A},
    )
    summary = sync_source(store, unreadable, source="s1", at=T1)
    assert summary.removed == 0
    assert store.entity("component:default/api-gw") is not None
    assert [e["category"] for e in summary.errors] == ["read"]


def test_a_document_without_a_name_keeps_its_whole_file(store: GraphStore) -> None:
    sync_source(store, source((A, [component("api-gw"), component("web")])), source="s1", at=T0)
    nameless = entity("Component", "x", {"type": "service"})
    del nameless["metadata"]["name"]
    summary = sync_source(store, source((A, [nameless, component("web")])), source="s1", at=T1)
    assert summary.removed == 0
    assert "metadata.name" in summary.errors[0]["message"]


def test_the_first_source_keeps_an_entity_another_source_also_claims(store: GraphStore) -> None:
    sync_source(store, source((A, [component("api-gw", owner="team-a")])), source="s1", at=T0)
    summary = sync_source(store, source((B, [component("api-gw", owner="team-b")])), source="s2", at=T1)
    [error] = summary.errors
    assert error["category"] == "conflict" and "s1" in error["message"]
    assert rows(store, "component:default/api-gw") == [("ownedBy", "group:default/team-a")]
    # Once the first source lets it go, the second may take it.
    sync_source(store, source((A, [])), source="s1", at=T2)
    summary = sync_source(store, source((B, [component("api-gw", owner="team-b")])), source="s2", at=T3)
    assert summary.errors == [] and summary.added == 1
    assert store.entity("component:default/api-gw").source == "s2"


def test_a_ref_defined_twice_in_one_source_keeps_the_first(store: GraphStore) -> None:
    summary = sync_source(
        store,
        source((A, [component("api-gw", owner="team-a"), component("API-GW", owner="x")])),
        source="s1",
        at=T0,
    )
    [error] = summary.errors
    assert error["category"] == "duplicate" and error["document_index"] == 1
    assert rows(store, "component:default/api-gw") == [("ownedBy", "group:default/team-a")]


def test_a_dangling_target_resolves_once_defined(store: GraphStore) -> None:
    sync_source(store, source((A, [component("api-gw")])), source="s1", at=T0)
    assert store.entity("group:default/team-a") is None
    sync_source(store, source((B, [group("team-a")])), source="s2", at=T1)
    assert store.entity("group:default/team-a") is not None
    assert rows(store, "group:default/team-a") == [("ownerOf", "component:default/api-gw")]


def test_filters_pagination_counts_and_facets(store: GraphStore) -> None:
    docs = [component(f"svc-{i:02d}", owner="team-a" if i % 2 else "team-b") for i in range(10)]
    for doc in docs[:4]:
        doc["metadata"]["tags"] = ["java"]
    docs[0]["metadata"]["description"] = "Handles PAYMENTS"
    sync_source(store, source((A, [*docs, group("team-a"), group("team-b")])), source="s1", at=T0)
    by_owner = EntityFilter(owner="group:default/team-a")
    assert store.count_entities(by_owner) == 5
    first = store.find_entities(by_owner, first=2, after=None)
    assert [e.name for e in first] == ["svc-01", "svc-03"]
    assert [e.name for e in store.find_entities(by_owner, first=2, after=first[-1].ref)] == [
        "svc-05",
        "svc-07",
    ]
    assert store.count_entities(EntityFilter(kind="component", tag="java")) == 4
    assert [e.name for e in store.find_entities(EntityFilter(text="payments"), first=10, after=None)] == ["svc-00"]
    assert store.facets("kind", EntityFilter()) == [("component", 10), ("group", 2)]
    assert store.facets("tag", EntityFilter()) == [(None, 8), ("java", 4)]  # 6 components and 2 groups untagged
    assert store.facets("owner", EntityFilter(kind="component")) == [
        ("group:default/team-a", 5),
        ("group:default/team-b", 5),
    ]


def test_reachable_walks_open_edges_breadth_first(store: GraphStore) -> None:
    chain = [component(f"c{i}", dependsOn=[f"component:c{i + 1}"]) for i in range(5)]
    sync_source(store, source((A, [*chain, component("c5")])), source="s1", at=T0)
    assert store.reachable("component:default/c0", "DEPENDS_ON", "out", 3) == [
        "component:default/c1",
        "component:default/c2",
        "component:default/c3",
    ]
    assert store.reachable("component:default/c3", "DEPENDS_ON", "in", 10) == [
        "component:default/c2",
        "component:default/c1",
        "component:default/c0",
    ]


def test_sync_runs_and_errors_are_recorded(store: GraphStore) -> None:
    summary = sync_source(store, source((A, [component("ok"), {"kind": "Component"}])), source="s1", at=T0)
    [run] = store.sync_runs()
    assert (run.id, run.source, run.status, run.added, run.errors) == (
        summary.run_id,
        "s1",
        "completed_with_errors",
        1,
        1,
    )
    assert store.latest_sync_run_ids() == [summary.run_id]
    [error] = store.errors(sync_runs=[summary.run_id])
    assert error.location == A and error.document_index == 1 and error.line == 11


def test_latest_commit_is_the_newest_synced_commit_of_the_source(store: GraphStore) -> None:
    assert store.latest_commit("s1") is None
    first = source((A, [component("web")]))
    first.commit_sha = "a" * 40
    sync_source(store, first, source="s1", at=T0)
    second = source((A, [component("web")]))
    second.commit_sha = "b" * 40
    sync_source(store, second, source="s1", at=T1)
    sync_source(store, source((A, [component("web")])), source="s1", at=T2)  # a sync without a commit
    assert store.latest_commit("s1") == ("b" * 40, T1)
    assert store.latest_commit("s2") is None


TAMPER = {
    "sqlite": {
        "set_version": "UPDATE store_meta SET schema_version = 999",
        "forget_version": "DELETE FROM store_meta",
    },
    "neo4j": {
        "set_version": "MATCH (m:StoreMeta {id: 'store'}) SET m.schema_version = 999",
        "forget_version": "MATCH (m:StoreMeta {id: 'store'}) DELETE m",
    },
}
"""What an older or newer version of the program would have left in the store's meta table."""


def test_a_store_of_another_schema_version_is_refused_clearly(store: GraphStore) -> None:
    from graphsvc.store import GraphStore as Store
    from graphsvc.store.errors import StoreError

    store.write([(TAMPER[store.backend.name]["set_version"], {})])
    try:
        Store(store.backend)
    except StoreError as error:
        assert "schema version 999" in str(error) and "new store" in str(error)
    else:
        raise AssertionError("a store of another schema version was opened")


def test_a_store_from_before_schema_versions_is_refused_not_stamped(store: GraphStore) -> None:
    """A store with entities but no version row predates the check: stamping it would open an unknown layout."""
    sync_source(store, source((A, [component("api-gw")])), source="s1", at=T0)
    store.write([(TAMPER[store.backend.name]["forget_version"], {})])
    with pytest.raises(StoreError, match="before store schema versions"):
        GraphStore(store.backend)
    assert store.backend.read(store.statements.schema_version) == []


def test_a_tag_filter_follows_the_tags_of_each_version(store: GraphStore) -> None:
    tagged = {"tags": ["java", "payments"]}
    sync_source(store, source((A, [{**component("web"), "metadata": {"name": "web", **tagged}}])), source="s1", at=T0)
    retagged = {"tags": ["kotlin", "payments"]}
    sync_source(store, source((A, [{**component("web"), "metadata": {"name": "web", **retagged}}])), source="s1", at=T1)

    def tagged_with(tag: str, as_of: int | None = None) -> list[str]:
        return [e.ref for e in store.find_entities(EntityFilter(tag=tag), first=10, after=None, as_of=as_of)]

    assert (tagged_with("java"), tagged_with("kotlin"), tagged_with("payments")) == (
        [],
        ["component:default/web"],
        ["component:default/web"],
    )
    assert tagged_with("java", as_of=T0) == ["component:default/web"] and tagged_with("kotlin", as_of=T0) == []
    assert store.facets("tag", EntityFilter()) == [("kotlin", 1), ("payments", 1)]
