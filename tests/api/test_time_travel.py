"""Change over time through the GraphQL API, on a git repository with scripted, dated commits.

T1 initial catalog; T2 checkout changes owner (team-a -> team-b); T3 checkout starts depending on ledger;
T4 that dependency is removed; T5 team-b moves from platform to payments; T6 ledger is removed; T7 ledger is
restored; T8 a broken document for checkout (its last good version must stay). The repository is replayed
with `catalog ingest --history`'s code, so every answer below is at a commit's date.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from graphsvc.api.context import Context
from graphsvc.api.schema import schema
from graphsvc.config import Settings
from graphsvc.demo.history import ScriptedRepository
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from graphsvc.sync import sync_source
from graphsvc.timestamps import from_datetime
from tests.store.catalog_builder import component, group, source

DAYS = [datetime(2026, 3, d, tzinfo=UTC) for d in range(1, 10)]
T = {i: from_datetime(DAYS[i]) for i in range(1, 9)}
AUTHOR = "Dana Developer <dana@example.com>"


def catalog(
    *, owner: str = "team-a", depends: bool = False, team_b_parent: str = "platform", ledger: bool = True
) -> list[dict[str, Any]]:
    docs = [
        group("platform", []),
        group("payments", []),
        group("team-a", [], parent="platform"),
        group("team-b", [], parent=team_b_parent),
        component("checkout", owner=owner, **({"dependsOn": ["component:ledger"]} if depends else {})),
    ]
    if ledger:
        docs.append(component("ledger", owner="team-b"))
    return docs


@pytest.fixture(scope="module")
def service(module_store_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogService]:
    """The same timeline on each backend (Neo4j wherever Docker runs: testcontainers)."""
    root = tmp_path_factory.mktemp("timeline")
    settings = module_store_settings
    service = CatalogService(open_store(settings), settings)
    repository = ScriptedRepository(root / "repo")
    steps = [
        catalog(),
        catalog(owner="team-b"),
        catalog(owner="team-b", depends=True),
        catalog(owner="team-b"),
        catalog(owner="team-b", team_b_parent="payments"),
        catalog(owner="team-b", team_b_parent="payments", ledger=False),
        catalog(owner="team-b", team_b_parent="payments"),
    ]
    broken = catalog(owner="team-b", team_b_parent="payments")
    broken[4] = {**broken[4], "spec": {"type": "service"}}  # lifecycle and owner missing
    for index, docs in enumerate([*steps, broken], start=1):
        text = yaml.safe_dump_all(docs, sort_keys=False)
        repository.commit({"catalog-info.yaml": text}, when=DAYS[index], author=AUTHOR, message=f"step {index}")
    summaries = service.write_now(lambda: service.backfill_history(str(repository.path)))
    assert [s.started_at for s in summaries] == [T[i] for i in range(1, 9)]
    assert [e["category"] for e in summaries[-1].errors] == ["validation"]
    yield service
    service.close()


def run(service: CatalogService, query: str, **variables: Any) -> dict[str, Any]:
    result = asyncio.run(schema.execute(query, variable_values=variables, context_value=Context(service=service)))
    assert result.errors is None, result.errors
    return result.data


def errors(service: CatalogService, query: str, **variables: Any) -> list[str]:
    result = asyncio.run(schema.execute(query, variable_values=variables, context_value=Context(service=service)))
    return [e.message for e in result.errors or []]


def between(i: int) -> str:
    """An instant strictly between T[i] and T[i+1] (noon of day i)."""
    return DAYS[i].replace(hour=12).isoformat()


OWNER_AND_DEPS = """query($at: DateTime) { entity(ref: "component:checkout", asOf: $at) {
    owner { ref } dependsOn { ref } relations { type targetRef } } }"""


@pytest.mark.parametrize(
    ("i", "owner", "depends"),
    [
        (1, "group:default/team-a", []),
        (2, "group:default/team-b", []),
        (3, "group:default/team-b", ["component:default/ledger"]),
        (4, "group:default/team-b", []),
        (5, "group:default/team-b", []),
        (6, "group:default/team-b", []),
        (7, "group:default/team-b", []),
        (8, "group:default/team-b", []),
    ],
)
def test_as_of_between_every_pair_of_syncs(service: CatalogService, i: int, owner: str, depends: list[str]) -> None:
    got = run(service, OWNER_AND_DEPS, at=between(i))["entity"]
    assert got["owner"] == {"ref": owner}
    assert [d["ref"] for d in got["dependsOn"]] == depends


def test_as_of_intervals_are_half_open(service: CatalogService) -> None:
    at_change = DAYS[2].isoformat()
    just_before = DAYS[2].replace(microsecond=0).timestamp() - 0.000001
    before = datetime.fromtimestamp(just_before, tz=UTC).isoformat()
    assert run(service, OWNER_AND_DEPS, at=at_change)["entity"]["owner"] == {"ref": "group:default/team-b"}
    assert run(service, OWNER_AND_DEPS, at=before)["entity"]["owner"] == {"ref": "group:default/team-a"}


def test_as_of_reaches_traversals_and_filters(service: CatalogService) -> None:
    query = """query($at: DateTime) {
        team: entity(ref: "group:team-b", asOf: $at) { ... on Group { parent { ref } } ownedEntities { ref } }
        payments: entity(ref: "group:payments", asOf: $at) { ownedEntities(transitive: true) { ref } }
        ledger: entity(ref: "component:ledger", asOf: $at) { ref }
        entities(filter: {owner: "team-b"}, asOf: $at) { totalCount }
        facets(field: "owner", filter: {kind: "component"}, asOf: $at) { value count } }"""
    at4 = run(service, query, at=between(4))
    assert at4["team"]["parent"] == {"ref": "group:default/platform"}
    assert at4["payments"]["ownedEntities"] == []
    assert at4["entities"]["totalCount"] == 2
    at5 = run(service, query, at=between(5))
    assert at5["team"]["parent"] == {"ref": "group:default/payments"}
    assert [e["ref"] for e in at5["payments"]["ownedEntities"]] == [
        "component:default/checkout",
        "component:default/ledger",
    ]
    at6 = run(service, query, at=between(6))
    assert at6["ledger"] is None and at6["entities"]["totalCount"] == 1
    assert at6["facets"] == [{"value": "group:default/team-b", "count": 1}]
    assert run(service, query, at=between(7))["ledger"] == {"ref": "component:default/ledger"}


def test_as_of_before_any_data_is_empty(service: CatalogService) -> None:
    query = """{ entity(ref: "component:checkout", asOf: "2020-01-01T00:00:00Z") { ref }
                 entities(asOf: "2020-01-01T00:00:00Z") { totalCount edges { node { ref } } } }"""
    assert run(service, query) == {"entity": None, "entities": {"totalCount": 0, "edges": []}}


def test_history_lists_versions_with_diffs_and_relation_changes(service: CatalogService) -> None:
    query = """{ entity(ref: "component:checkout") { history { totalCount edges { node {
        validFrom validTo commitSha changes { path before after } relationsAdded { type targetRef }
        relationsRemoved { type targetRef } provenance { syncRun commitAuthor } } } } } }"""
    history = run(service, query)["entity"]["history"]
    nodes = [e["node"] for e in history["edges"]]
    assert history["totalCount"] == 4  # T1, T2 owner, T3 +dependency, T4 -dependency; T8 broken: no version
    assert [n["validFrom"] for n in nodes] == [DAYS[i].isoformat() for i in (4, 3, 2, 1)]
    assert nodes[0]["validTo"] is None and nodes[1]["validTo"] == DAYS[4].isoformat()
    assert nodes[0]["changes"] == [{"path": "spec.dependsOn", "before": ["component:ledger"], "after": None}]
    assert nodes[0]["relationsRemoved"] == [{"type": "dependsOn", "targetRef": "component:default/ledger"}]
    assert nodes[2]["changes"] == [{"path": "spec.owner", "before": "team-a", "after": "team-b"}]
    assert nodes[2]["relationsAdded"] == [{"type": "ownedBy", "targetRef": "group:default/team-b"}]
    assert nodes[2]["relationsRemoved"] == [{"type": "ownedBy", "targetRef": "group:default/team-a"}]
    assert all(len(n["commitSha"]) == 40 and n["provenance"]["commitAuthor"] == AUTHOR for n in nodes)


def test_the_change_feed_is_oldest_first_and_pages(service: CatalogService) -> None:
    query = """query($since: DateTime!, $until: DateTime, $after: String, $first: Int) {
        changes(since: $since, until: $until, first: $first, after: $after) {
        edges { node { type at entityRef relationType targetRef changes { path before after } } }
        pageInfo { hasNextPage endCursor } } }"""
    window = run(service, query, since=DAYS[2].isoformat(), until=DAYS[4].isoformat())["changes"]
    events = [
        (n["type"], n["entityRef"], n["relationType"], n["targetRef"]) for n in (e["node"] for e in window["edges"])
    ]
    assert events == [
        ("ENTITY_UPDATED", "component:default/checkout", None, None),
        ("RELATION_REMOVED", "component:default/checkout", "ownedBy", "group:default/team-a"),
        ("RELATION_ADDED", "component:default/checkout", "ownedBy", "group:default/team-b"),
        ("ENTITY_UPDATED", "component:default/checkout", None, None),
        ("RELATION_ADDED", "component:default/checkout", "dependsOn", "component:default/ledger"),
    ]
    assert window["edges"][0]["node"]["changes"] == [{"path": "spec.owner", "before": "team-a", "after": "team-b"}]
    removal = run(service, query, since=DAYS[6].isoformat(), until=DAYS[7].isoformat())["changes"]["edges"]
    assert [(e["node"]["type"], e["node"]["entityRef"]) for e in removal] == [
        ("RELATION_REMOVED", "component:default/ledger"),
        ("ENTITY_REMOVED", "component:default/ledger"),
    ]
    pages, after = [], None
    while True:
        page = run(service, query, since=DAYS[1].isoformat(), first=2, after=after)["changes"]
        pages += [
            (e["node"]["at"], e["node"]["type"], e["node"]["entityRef"], e["node"]["targetRef"]) for e in page["edges"]
        ]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    everything = run(service, query, since=DAYS[1].isoformat(), first=1000)["changes"]["edges"]
    assert pages == [
        (e["node"]["at"], e["node"]["type"], e["node"]["entityRef"], e["node"]["targetRef"]) for e in everything
    ]


def test_graph_diff_whole_catalog_and_from_a_root(service: CatalogService) -> None:
    query = """query($from: DateTime!, $to: DateTime!, $root: String, $depth: Int) {
        graphDiff(from: $from, to: $to, root: $root, depth: $depth) { entitiesAdded entitiesRemoved entitiesChanged
        relationsAdded { sourceRef type targetRef } relationsRemoved { sourceRef type targetRef } } }"""
    diff = run(service, query, **{"from": between(4), "to": between(6)})["graphDiff"]
    assert diff["entitiesRemoved"] == ["component:default/ledger"]
    assert diff["entitiesChanged"] == ["group:default/team-b"]
    assert {"sourceRef": "group:default/team-b", "type": "childOf", "targetRef": "group:default/payments"} in diff[
        "relationsAdded"
    ]
    rooted = run(service, query, **{"from": between(1), "to": between(3), "root": "component:checkout", "depth": 1})
    assert rooted["graphDiff"]["relationsAdded"] == [
        {"sourceRef": "component:default/checkout", "type": "dependsOn", "targetRef": "component:default/ledger"},
        {"sourceRef": "component:default/checkout", "type": "ownedBy", "targetRef": "group:default/team-b"},
        {"sourceRef": "component:default/ledger", "type": "dependencyOf", "targetRef": "component:default/checkout"},
        {"sourceRef": "group:default/team-b", "type": "ownerOf", "targetRef": "component:default/checkout"},
    ]


def test_ownership_history_and_gaps(service: CatalogService) -> None:
    history = run(service, '{ entity(ref: "component:checkout") { ownershipHistory { ownerRef validFrom validTo } } }')
    assert history["entity"]["ownershipHistory"] == [
        {"ownerRef": "group:default/team-a", "validFrom": DAYS[1].isoformat(), "validTo": DAYS[2].isoformat()},
        {"ownerRef": "group:default/team-b", "validFrom": DAYS[2].isoformat(), "validTo": None},
    ]
    sync_source(
        service.store, source(("file:/other.yaml", [component("orphan", owner="nobody")])), source="o", at=T[8] + 1
    )
    gaps = run(
        service,
        """query($since: DateTime!) { ownershipGaps(since: $since, filter: {kind: "component"}) {
        entityRef reason ownerRef start durationSeconds } }""",
        since=DAYS[1].isoformat(),
    )["ownershipGaps"]
    assert [(g["entityRef"], g["reason"], g["ownerRef"]) for g in gaps] == [
        ("component:default/orphan", "OWNER_MISSING", "group:default/nobody")
    ]
    assert gaps[0]["durationSeconds"] > 0


def test_bad_time_arguments_are_clear_errors(service: CatalogService) -> None:
    assert (
        "since (2026-03-05T00:00:00+00:00) is after until"
        in errors(
            service, '{ changes(since: "2026-03-05T00:00:00Z", until: "2026-03-01T00:00:00Z") { edges { cursor } } }'
        )[0]
    )
    assert (
        "depth must be between 1 and 10"
        in errors(
            service,
            '{ graphDiff(from: "2026-03-01T00:00:00Z", to: "2026-03-05T00:00:00Z", depth: 11) { entitiesAdded } }',
        )[0]
    )
    assert errors(service, '{ entity(ref: "component:nope", asOf: "2026-03-05T00:00:00Z") { ref } }') == []
    assert (
        "invalid cursor"
        in errors(service, '{ changes(since: "2026-03-01T00:00:00Z", after: "zzz") { edges { cursor } } }')[0]
    )
