"""The change feed through the GraphQL API: relation events are filed under the entity that declared the
relation, so the feed's filters (kind, owner, system) match that entity; and the `types` filter.

A directory of YAML files synced three times, at fixed instants:

- T1: team-x's parent is platform; team-y lists ann as a member; component a (owner team-x, system s1)
  says it is a dependency of b (owner team-y).
- T2: team-x moves to payments; team-y lists no member; a no longer says it is a dependency of b.
- T3: team-x is removed.

Each of these relations is stored as an edge from the other end (platform -PARENT_OF-> team-x,
ann -MEMBER_OF-> team-y, b -DEPENDS_ON-> a), and each event is still the declaring entity's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.api.catalog_steps import execute, sync_steps
from tests.store.catalog_builder import component, entity, group

T1, T2, T3 = (datetime(2026, 4, day, tzinfo=UTC) for day in (1, 2, 3))
A, B, S1 = "component:default/a", "component:default/b", "system:default/s1"
PLATFORM, PAYMENTS = "group:default/platform", "group:default/payments"
TEAM_X, TEAM_Y, ANN = "group:default/team-x", "group:default/team-y", "user:default/ann"


def files(step: int) -> dict[str, list[dict[str, Any]]]:
    groups = [group("platform"), group("payments"), group("team-y", members=["ann"] if step == 1 else [])]
    if step < 3:
        groups.insert(2, group("team-x", parent="platform" if step == 1 else "payments"))
    return {
        "groups.yaml": groups,
        "people.yaml": [entity("User", "ann", {"memberOf": []})],
        "services.yaml": [
            entity("System", "s1", {"owner": "platform"}),
            component("a", owner="team-x", system="s1", dependencyOf=["component:b"] if step == 1 else []),
            component("b", owner="team-y"),
        ],
    }


@pytest.fixture(scope="module")
def service(module_store_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogService]:
    root = tmp_path_factory.mktemp("feed")
    service = CatalogService(open_store(module_store_settings), module_store_settings)
    counts = sync_steps(service, root, files, (T1, T2, T3))
    assert [(c["added"], c["updated"], c["removed"], c["errors"]) for c in counts] == [
        (8, 0, 0, 0),
        (0, 3, 0, 0),
        (0, 0, 1, 0),
    ]
    yield service
    service.close()


FEED = """query($since: DateTime!, $until: DateTime, $filter: ChangeFilter, $first: Int, $after: String) {
    changes(since: $since, until: $until, filter: $filter, first: $first, after: $after) {
    edges { node { type entityRef relationType targetRef } } pageInfo { hasNextPage endCursor } } }"""


def feed(service: CatalogService, since: datetime = T1, until: datetime | None = None, **filter: Any) -> list[tuple]:
    variables = {"since": since.isoformat(), "until": until.isoformat() if until else None, "filter": filter}
    result = execute(service, FEED, **variables)
    assert result.errors is None, result.errors
    nodes = [edge["node"] for edge in result.data["changes"]["edges"]]
    return [tuple(v for v in (n["type"], n["entityRef"], n["relationType"], n["targetRef"]) if v) for n in nodes]


ADDED_AT_T1 = [
    ("RELATION_ADDED", A, "dependencyOf", B),  # b -DEPENDS_ON-> a, declared by a
    ("RELATION_ADDED", A, "ownedBy", TEAM_X),
    ("RELATION_ADDED", A, "partOf", S1),
    ("RELATION_ADDED", B, "ownedBy", TEAM_Y),
    ("RELATION_ADDED", TEAM_X, "childOf", PLATFORM),  # platform -PARENT_OF-> team-x, declared by team-x
    ("RELATION_ADDED", TEAM_Y, "hasMember", ANN),  # ann -MEMBER_OF-> team-y, declared by team-y
    ("RELATION_ADDED", S1, "ownedBy", PLATFORM),
]


def test_every_relation_event_is_its_declaring_entitys(service: CatalogService) -> None:
    added = [("ENTITY_ADDED", ref) for ref in sorted((A, B, PLATFORM, PAYMENTS, TEAM_X, TEAM_Y, ANN, S1))]
    assert feed(service, T1, T2) == added + ADDED_AT_T1
    assert feed(service, T2, T3) == [
        ("ENTITY_UPDATED", A),
        ("ENTITY_UPDATED", TEAM_X),
        ("ENTITY_UPDATED", TEAM_Y),
        ("RELATION_REMOVED", A, "dependencyOf", B),
        ("RELATION_REMOVED", TEAM_X, "childOf", PLATFORM),
        ("RELATION_REMOVED", TEAM_Y, "hasMember", ANN),
        ("RELATION_ADDED", TEAM_X, "childOf", PAYMENTS),
    ]
    assert feed(service, T3) == [("RELATION_REMOVED", TEAM_X, "childOf", PAYMENTS), ("ENTITY_REMOVED", TEAM_X)]


def test_a_groups_parent_change_is_that_groups_childof_event(service: CatalogService) -> None:
    assert feed(service, T2, T3, kind="group") == [
        ("ENTITY_UPDATED", TEAM_X),
        ("ENTITY_UPDATED", TEAM_Y),
        ("RELATION_REMOVED", TEAM_X, "childOf", PLATFORM),
        ("RELATION_REMOVED", TEAM_Y, "hasMember", ANN),
        ("RELATION_ADDED", TEAM_X, "childOf", PAYMENTS),
    ]
    assert feed(service, kind="user") == [("ENTITY_ADDED", ANN)]  # the membership was team-y's to declare


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        (
            {"owner": "team-x"},
            [
                ("ENTITY_ADDED", A),
                *ADDED_AT_T1[:3],
                ("ENTITY_UPDATED", A),
                ("RELATION_REMOVED", A, "dependencyOf", B),
            ],
        ),
        ({"owner": "group:default/team-y"}, [("ENTITY_ADDED", B), ("RELATION_ADDED", B, "ownedBy", TEAM_Y)]),
        (
            {"system": "s1", "kind": "component"},
            [("ENTITY_ADDED", A), *ADDED_AT_T1[:3], ("ENTITY_UPDATED", A), ("RELATION_REMOVED", A, "dependencyOf", B)],
        ),
        ({"owner": "platform"}, [("ENTITY_ADDED", S1), ("RELATION_ADDED", S1, "ownedBy", PLATFORM)]),
    ],
)
def test_owner_and_system_filters_match_the_declaring_entity(
    service: CatalogService, filter: dict[str, Any], expected: list[tuple]
) -> None:
    assert feed(service, **filter) == expected


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"types": ["RELATION_ADDED"]}, [*ADDED_AT_T1, ("RELATION_ADDED", TEAM_X, "childOf", PAYMENTS)]),
        ({"types": ["ENTITY_REMOVED"]}, [("ENTITY_REMOVED", TEAM_X)]),
        (
            {"types": ["ENTITY_UPDATED", "ENTITY_REMOVED"], "kind": "group"},
            [("ENTITY_UPDATED", TEAM_X), ("ENTITY_UPDATED", TEAM_Y), ("ENTITY_REMOVED", TEAM_X)],
        ),
        (
            {"types": ["RELATION_REMOVED"], "owner": "team-x"},
            [("RELATION_REMOVED", A, "dependencyOf", B)],
        ),
        ({"types": []}, []),
    ],
)
def test_the_types_filter(service: CatalogService, filter: dict[str, Any], expected: list[tuple]) -> None:
    assert feed(service, **filter) == expected


def test_pages_of_a_types_filtered_feed_make_up_the_whole(service: CatalogService) -> None:
    whole = feed(service, types=["RELATION_ADDED", "RELATION_REMOVED"])
    assert len(whole) == 12
    paged: list[tuple] = []
    after = None
    while True:
        variables = {"since": T1.isoformat(), "filter": {"types": ["RELATION_ADDED", "RELATION_REMOVED"]}}
        page = execute(service, FEED, **variables, first=5, after=after).data["changes"]
        paged += [tuple(v for v in e["node"].values() if v) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == whole


def test_the_change_filter_takes_only_what_events_record(service: CatalogService) -> None:
    literal = '{ changes(since: "2026-04-01T00:00:00Z", filter: {kind: "component", types: [ENTITY_ADDED]}) '
    result = execute(service, literal + "{ edges { node { entityRef } } } }")
    assert result.errors is None
    assert [e["node"]["entityRef"] for e in result.data["changes"]["edges"]] == [A, B]
    refused = execute(service, '{ changes(since: "2026-04-01T00:00:00Z", filter: {tag: "java"}) { edges { cursor } } }')
    assert [e.message for e in refused.errors] == [
        "Expected value of type 'ChangeFilter' not to include unknown field 'tag', found: { tag: \"java\" }."
    ]
