"""The cost limit: every operation has an estimated cost, known before it executes (`graphsvc.api.cost`); one
over `query_max_cost` is refused with an error naming the limit and the cost, and nothing is read for it.
Every list below an entity is a page (`first`); costly operations execute on workers of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.api.cost import _request_cost, request_cost
from graphsvc.api.schema import schema
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.api.snapshot_threads import record_snapshot_threads
from tests.api.test_graphql import CATALOG, data, gql

Served = tuple[TestClient, list[str]]


@pytest.fixture
def served(tmp_path: Path, store_settings: Settings) -> Iterator[Served]:
    """The test catalog served, with the names of the threads that opened a read snapshot (one per query
    that executes)."""
    (tmp_path / "catalog-info.yaml").write_text(yaml.safe_dump_all(CATALOG))
    service = CatalogService(open_store(store_settings), store_settings)
    service.write_now(lambda: service.register(str(tmp_path / "catalog-info.yaml")))
    opened = record_snapshot_threads(service)
    with TestClient(create_app(service)) as http:
        yield http, opened
    service.close()


def nested_relations(levels: int) -> str:
    """`relations { targetRef target { ref relations { ... name } } }`, `levels` deep."""
    inner = "name"
    for _ in range(levels):
        inner = f"relations {{ targetRef target {{ ref {inner} }} }}"
    return inner


def too_costly(cost: str) -> dict[str, Any]:
    """The answer to a refused operation, whole."""
    message = (
        f"the query's estimated cost {cost} is over the limit of 20,000 (query_max_cost): ask for smaller pages "
        "(first) or fewer nested lists"
    )
    number = int(cost.replace(",", ""))
    return {
        "data": None,
        "errors": [{"message": message, "extensions": {"code": "QUERY_TOO_COSTLY", "cost": number, "limit": 20000}}],
    }


ATTACKS = [
    # issue 9: five deep on a hub took 39 s and answered 23.6 MB; 1 + 20 x (3 + 20 x (3 + ...)) at fan-out 20
    (f'{{ entity(ref: "group:team-a") {{ {nested_relations(5)} }} }}', "13,473,682"),
    (f'{{ entity(ref: "group:team-a") {{ {nested_relations(3)} }} }}', "33,682"),
    # issue 9: took 17-19 s. Per entity 1 + 10 x 20 (the walk) + 100 (its page) x 2 fields, and the node
    ("{ entities(first: 1000) { edges { node { dependencies(depth: 10) { ref name } } } } }", "402,002"),
    ("query($n: Int) { entities(first: $n) { edges { node { ref relations { type targetRef } } } } }", "43,002"),
]


@pytest.mark.parametrize(("query", "cost"), ATTACKS)
def test_a_costly_query_is_refused_before_it_reads_anything(served: Served, query: str, cost: str) -> None:
    http, opened = served
    assert gql(http, query, n=1000) == too_costly(cost)  # gql: HTTP 200, GraphQL's error shape
    assert opened == []


ORDINARY = [
    # README, "First look"
    (
        '{ entity(ref: "group:platform") { ... on Group { descendants { ref } ownedEntities(transitive: true) '
        "{ ref kind } } } }",
        303,
    ),
    (
        '{ entity(ref: "component:checkout") { owner { ref ... on Group { members { name } parent { ref } } } '
        "dependencies(depth: 3) { ref kind } } }",
        207,
    ),
    ('{ entity(ref: "resource:orders-db") { dependents { ref owner { ref } } } }', 62),
    (
        '{ entities(filter: {kind: "component", owner: "team-b"}, first: 10) { totalCount edges { cursor node '
        "{ ref title } } pageInfo { hasNextPage endCursor } } }",
        46,
    ),
    ('{ facets(field: "owner", filter: {kind: "component"}) { value count } }', 41),
    # 1 (entity) + 1 (relations) + 20 rows x (targetRef + target + its ref)
    ('{ entity(ref: "component:rates") { relations(type: "ownedBy") { targetRef target { ref } } } }', 62),
    ('{ entity(ref: "component:checkout") { dependencies(depth: 6) { ref } } }', 222),
    # an entity's page; a list page of 100 with owner and system names
    (
        '{ entity(ref: "component:checkout") { ref name title owner { ref name } system { ref name } '
        "relations { type targetRef target { ref name kind } } } }",
        131,
    ),
    ("{ entities(first: 100) { totalCount edges { node { ref name owner { ref name } system { ref name } } } } }", 903),
]


@pytest.mark.parametrize(("query", "cost"), ORDINARY)
def test_ordinary_queries_cost_well_under_the_limit_and_answer(served: Served, query: str, cost: int) -> None:
    http, _ = served
    assert request_cost(schema._schema, query) == cost
    data(http, query)


ESTIMATES = [
    # fragments and inline fragments count as the fields they hold
    ('{ entity(ref: "group:team-a") { relations { targetRef target { ref } } } }', {}, 62),
    (
        '{ entity(ref: "group:team-a") { ...R } } fragment R on Entity { relations { targetRef target { ref } } }',
        {},
        62,
    ),
    ('{ entity(ref: "group:team-a") { ... on Group { relations { targetRef target { ref } } } } }', {}, 62),
    # a page from a variable, its default, or DEFAULT_FIRST when neither is given
    ("query($n: Int) { entities(first: $n) { edges { node { ref } } } }", {"n": 1000}, 2002),
    ("query($n: Int = 10) { entities(first: $n) { edges { node { ref } } } }", {}, 22),
    ("query($n: Int) { entities(first: $n) { edges { node { ref } } } }", {}, 202),
    # a page below an entity holds at most its fan-out (20), a traversal its depth x 20, and costs that walk
    ('{ entity(ref: "component:checkout") { relations(first: 5) { type } } }', {}, 7),
    ('{ entity(ref: "component:checkout") { relations(first: 500) { type } } }', {}, 22),
    ('{ entity(ref: "component:checkout") { dependencies { ref } } }', {}, 42),
    ('{ entity(ref: "component:checkout") { dependencies(depth: 10, first: 1) { ref } } }', {}, 203),
    # an entity's history is a connection: its page sizes its edges; one version changes about 3 fields
    (
        '{ entity(ref: "component:checkout") { history(first: 5) { totalCount edges { node { validFrom '
        "changes { path } } } } } }",
        {},
        34,
    ),
    # a fragment spread inside itself (validation refuses it) counts nothing, and does not loop
    (
        '{ entity(ref: "a") { ...A } } '
        "fragment A on Group { members { ...B } } fragment B on Group { members { ...A } }",
        {},
        22,
    ),
]


@pytest.mark.parametrize(("query", "variables", "cost"), ESTIMATES)
def test_the_estimate(query: str, variables: dict[str, Any], cost: int) -> None:
    assert request_cost(schema._schema, query, variables) == cost


COST_VARIABLES_QUERY = (
    "query($r: String!, $n: Int, $d: Int, $a: String, $b: String, $how: Direction) { entity(ref: $r) { "
    "dependencies(depth: $d, first: $n) { ref } walk(relations: [$a, $b], direction: $how) { ref } } }"
)
"""The entity 1, plus `dependencies`: 1 + its reach (depth x 20) + its page (first, at most its reach) x 1,
plus `walk`: 1 + its reach (depth x 20 x relation types, twice with BOTH) + its page x 1."""


@pytest.mark.parametrize(
    ("variables", "cost"),
    [
        ({"r": "component:a"}, 1 + (1 + 20 + 20) + (1 + 20 + 20)),
        ({"r": "component:b"}, 1 + (1 + 20 + 20) + (1 + 20 + 20)),  # another ref: the same cost (cached)
        ({"r": "component:a", "n": 5}, 1 + (1 + 20 + 5) + (1 + 20 + 20)),
        ({"r": "component:a", "d": 3}, 1 + (1 + 60 + 60) + (1 + 20 + 20)),
        ({"r": "component:a", "how": "BOTH"}, 1 + (1 + 20 + 20) + (1 + 40 + 40)),
        ({"r": "component:a", "a": "dependsOn", "b": "partOf"}, 1 + (1 + 20 + 20) + (1 + 40 + 40)),
        ({"r": "component:a", "a": "dependsOn", "b": "dependsOn"}, 1 + (1 + 20 + 20) + (1 + 20 + 20)),
    ],
)
def test_the_estimate_is_kept_per_value_of_the_variables_it_reads(variables: dict[str, Any], cost: int) -> None:
    """The cost is cached per query text and the values of the variables used inside the arguments it reads
    (first, depth, relations, direction, ...): a variable used elsewhere (a ref) does not change it, one of
    those does, inside a list too."""
    assert request_cost(schema._schema, COST_VARIABLES_QUERY, variables) == cost


def test_lists_below_an_entity_are_pages_in_their_order(served: Served) -> None:
    http, _ = served
    got = data(
        http,
        """{ entity(ref: "component:checkout") { relations(first: 2) { type targetRef } dependsOn(first: 1) { ref }
        dependencies(depth: 3, first: 3) { ref } none: relations(first: 0) { type } } }""",
    )["entity"]
    assert got == {
        "relations": [
            {"type": "dependsOn", "targetRef": "component:default/ledger"},
            {"type": "dependsOn", "targetRef": "resource:default/orders-db"},
        ],
        "dependsOn": [{"ref": "component:default/ledger"}],
        "dependencies": [
            {"ref": "component:default/ledger"},
            {"ref": "resource:default/orders-db"},
            {"ref": "component:default/fx"},
        ],
        "none": [],
    }
    team = data(
        http, '{ entity(ref: "group:platform") { ... on Group { ownedEntities(transitive: true, first: 2) { ref } } } }'
    )
    assert team["entity"]["ownedEntities"] == [
        {"ref": "api:default/checkout-api"},
        {"ref": "component:default/checkout"},
    ]


@pytest.mark.parametrize("field", ["relations", "dependsOn", "dependencies", "ownedEntities", "ownershipHistory"])
def test_a_page_over_the_largest_is_refused_as_the_top_level_one_is(served: Served, field: str) -> None:
    http, _ = served
    result = gql(http, f'{{ entity(ref: "component:checkout") {{ {field}(first: 1001) {{ __typename }} }} }}')
    assert result["errors"][0]["message"] == "first must be between 0 and 1000, got 1001"
    assert result["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


def test_a_costly_query_executes_in_a_worker_process_with_the_same_answer(served: Served) -> None:
    """A point query reads on a thread of this process; a costly one (over a tenth of the limit) in a worker
    process (`graphsvc.api.query_processes`), whose snapshot this process never sees, and its answer is the
    one the service's own execution gives."""
    http, opened = served
    data(http, '{ entity(ref: "component:checkout") { ref name } }')  # cost 3
    costly = "{ entities(first: 100) { edges { node { ref relations { targetRef } } } } }"  # 2,302: over 1/10
    answer = data(http, costly)
    # Besides the point query's, one snapshot here: the latest commit's number, read on a thread of asyncio's
    # to look up a kept answer (`graphsvc.api.kept_answers.kept_costly`); the query's own reads are the worker's.
    assert [name.rsplit("_", 1)[0] for name in opened] == ["graphql", "asyncio"]
    assert len(answer["entities"]["edges"]) == 13
    in_process = data(http, costly.replace("first: 100", "first: 13"))  # cost 301: executed here
    assert answer == in_process and len(opened) == 3


def test_a_point_query_asked_for_another_ref_reuses_the_kept_estimate() -> None:
    """A point query's ref differs from request to request: its estimate is looked up, not walked again."""
    request_cost(schema._schema, COST_VARIABLES_QUERY, {"r": "component:first", "n": 7})
    hits = _request_cost.cache_info().hits
    request_cost(schema._schema, COST_VARIABLES_QUERY, {"r": "component:second", "n": 7})
    assert _request_cost.cache_info().hits == hits + 1
