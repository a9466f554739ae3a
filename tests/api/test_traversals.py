"""Traversals and impact analysis through the GraphQL API: `dependents(depth)`, `Entity.walk`, `Query.paths`
and `Query.dependencyCycles`, now and `asOf`, on both engines.

The catalog (two YAML files) is synced twice. At T1 (the first sync):

    web -> checkout, search        checkout -> cart, orders-db        search -> cart (cart is part of search)
    cart -> pricing, orders-db     pricing -> cart                    reports -> orders-db, ghost (dangling)
    payments -> ledger, payments-db                                   ledger -> payments, ledger (itself)
    web consumes checkout-api, provided by checkout; checkout consumes payments-api, provided by payments

Now (the second sync): checkout also depends on payments and on web, and consumes no API; pricing depends on
nothing; ledger no longer depends on itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from graphsvc.api.context import Context
from graphsvc.api.cost import is_costly, request_cost
from graphsvc.api.schema import schema
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from graphsvc.store.traversal import RELATION_TYPES
from graphsvc.timestamps import to_iso
from tests.store.catalog_builder import component, entity, group


def c(name: str) -> str:
    return f"component:default/{name}"


def api(name: str) -> str:
    return f"api:default/{name}"


def res(name: str) -> str:
    return f"resource:default/{name}"


API_SPEC = {"type": "openapi", "lifecycle": "production", "definition": "openapi: 3.0.0"}


def shop(*, now: bool) -> list[dict[str, Any]]:
    checkout_spec: dict[str, Any] = {
        "dependsOn": ["component:cart", "resource:orders-db"],
        "providesApis": ["checkout-api"],
    }
    if now:
        checkout_spec["dependsOn"] += ["component:payments", "component:web"]
    else:
        checkout_spec["consumesApis"] = ["payments-api"]
    return [
        group("team-a"),
        component("web", dependsOn=["component:checkout", "component:search"], consumesApis=["checkout-api"]),
        component("search", dependsOn=["component:cart"]),
        component("checkout", **checkout_spec),
        component("cart", subcomponentOf="search", dependsOn=["component:pricing", "resource:orders-db"]),
        component("pricing", **({} if now else {"dependsOn": ["component:cart"]})),
        component("reports", dependsOn=["resource:orders-db", "component:ghost"]),
        entity("API", "checkout-api", API_SPEC | {"owner": "team-a"}),
        entity("Resource", "orders-db", {"type": "database", "owner": "team-a"}),
    ]


def payments(*, now: bool) -> list[dict[str, Any]]:
    return [
        group("team-b"),
        component(
            "payments",
            owner="team-b",
            providesApis=["payments-api"],
            dependsOn=["component:ledger", "resource:payments-db"],
        ),
        component("ledger", owner="team-b", dependsOn=["component:payments"] + ([] if now else ["component:ledger"])),
        entity("API", "payments-api", API_SPEC | {"owner": "team-b"}),
        entity("Resource", "payments-db", {"type": "database", "owner": "team-b"}),
    ]


def write_catalog(directory: Path, *, now: bool) -> None:
    (directory / "shop.yaml").write_text(yaml.safe_dump_all(shop(now=now), sort_keys=False))
    (directory / "payments.yaml").write_text(yaml.safe_dump_all(payments(now=now), sort_keys=False))


@pytest.fixture(scope="module")
def service(module_store_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogService]:
    directory = tmp_path_factory.mktemp("catalog")
    service = CatalogService(open_store(module_store_settings), module_store_settings)
    write_catalog(directory, now=False)
    first = service.write_now(lambda: service.register(str(directory), glob="*.yaml"))
    assert (first.counts["added"], first.errors) == (14, [])
    write_catalog(directory, now=True)
    second = service.write_now(lambda: service.refresh(str(directory)))
    assert (second.counts["updated"], second.errors) == (3, [])
    service.t1 = to_iso(first.started_at)  # type: ignore[attr-defined]
    yield service
    service.close()


def execute(service: CatalogService, query: str, variables: dict[str, Any]) -> Any:
    return asyncio.run(schema.execute(query, variable_values=variables, context_value=Context(service=service)))


def run(service: CatalogService, query: str, **variables: Any) -> dict[str, Any]:
    result = execute(service, query, variables)
    assert result.errors is None, result.errors
    return result.data


def error(service: CatalogService, query: str, **variables: Any) -> str:
    result = execute(service, query, variables)
    assert result.errors, result.data
    return "; ".join(e.message for e in result.errors)


def at(service: CatalogService, when: str) -> str | None:
    """The asOf of an answer: T1, or None for now."""
    return service.t1 if when == "T1" else None  # type: ignore[attr-defined]


# --- dependents(depth) ----------------------------------------------------------------------------------------

DEPENDENTS = """query($at: DateTime, $depth: Int!) { entity(ref: "resource:orders-db", asOf: $at) {
    dependents(depth: $depth) { ref } } }"""


@pytest.mark.parametrize(
    ("when", "depth", "expected"),
    [
        ("now", 1, [c("cart"), c("checkout"), c("reports")]),
        ("now", 2, [c("cart"), c("checkout"), c("reports"), c("search"), c("web")]),
        ("now", 10, [c("cart"), c("checkout"), c("reports"), c("search"), c("web")]),
        ("T1", 1, [c("cart"), c("checkout"), c("reports")]),
        ("T1", 2, [c("cart"), c("checkout"), c("reports"), c("pricing"), c("search"), c("web")]),
        ("T1", 3, [c("cart"), c("checkout"), c("reports"), c("pricing"), c("search"), c("web")]),
    ],
)
def test_dependents_are_the_blast_radius_nearest_first(
    service: CatalogService, when: str, depth: int, expected: list[str]
) -> None:
    got = run(service, DEPENDENTS, at=at(service, when), depth=depth)["entity"]["dependents"]
    assert [e["ref"] for e in got] == expected


def test_dependents_without_depth_are_the_direct_ones_as_before(service: CatalogService) -> None:
    got = run(
        service, '{ entity(ref: "component:cart") { dependents { ref } dependents2: dependents(first: 1) { ref } } }'
    )
    assert got["entity"] == {
        "dependents": [{"ref": c("checkout")}, {"ref": c("search")}],
        "dependents2": [{"ref": c("checkout")}],
    }


# --- walk -----------------------------------------------------------------------------------------------------

WALK = """query($ref: String!, $at: DateTime, $relations: [String!]!, $direction: WalkDirection! = OUT,
    $depth: Int! = 1, $kinds: [String!], $first: Int) {
    entity(ref: $ref, asOf: $at) {
        walk(relations: $relations, direction: $direction, depth: $depth, kinds: $kinds, first: $first) {
            entity { ref } distance path } } }"""
THROUGH_APIS = ["dependsOn", "consumesApi", "apiProvidedBy"]


def walk(service: CatalogService, ref: str, relations: list[str], **arguments: Any) -> list[tuple[str, int, list[str]]]:
    got = run(service, WALK, ref=ref, relations=relations, **arguments)["entity"]["walk"]
    return [(step["entity"]["ref"], step["distance"], step["path"]) for step in got]


def test_walk_through_apis_is_everything_an_entity_needs_at_t1(service: CatalogService) -> None:
    web, checkout, cart, pay = c("web"), c("checkout"), c("cart"), c("payments")
    assert walk(service, "component:web", THROUGH_APIS, depth=6, at=service.t1) == [  # type: ignore[attr-defined]
        (api("checkout-api"), 1, [web, api("checkout-api")]),
        (checkout, 1, [web, checkout]),
        (c("search"), 1, [web, c("search")]),
        (api("payments-api"), 2, [web, checkout, api("payments-api")]),
        (cart, 2, [web, checkout, cart]),  # also by search: of the two shortest paths, the first in ref order
        (res("orders-db"), 2, [web, checkout, res("orders-db")]),
        (pay, 3, [web, checkout, api("payments-api"), pay]),
        (c("pricing"), 3, [web, checkout, cart, c("pricing")]),
        (c("ledger"), 4, [web, checkout, api("payments-api"), pay, c("ledger")]),
        (res("payments-db"), 4, [web, checkout, api("payments-api"), pay, res("payments-db")]),
    ]


def test_walk_through_apis_now(service: CatalogService) -> None:
    web, checkout, cart, pay = c("web"), c("checkout"), c("cart"), c("payments")
    assert walk(service, "component:web", THROUGH_APIS, depth=6) == [
        (api("checkout-api"), 1, [web, api("checkout-api")]),
        (checkout, 1, [web, checkout]),
        (c("search"), 1, [web, c("search")]),
        (cart, 2, [web, checkout, cart]),
        (pay, 2, [web, checkout, pay]),
        (res("orders-db"), 2, [web, checkout, res("orders-db")]),
        (c("ledger"), 3, [web, checkout, pay, c("ledger")]),
        (c("pricing"), 3, [web, checkout, cart, c("pricing")]),
        (res("payments-db"), 3, [web, checkout, pay, res("payments-db")]),
    ]


IMPACT_OF_ORDERS_DB = [
    (c("cart"), 1, [res("orders-db"), c("cart")]),
    (c("checkout"), 1, [res("orders-db"), c("checkout")]),
    (c("reports"), 1, [res("orders-db"), c("reports")]),
    (c("pricing"), 2, [res("orders-db"), c("cart"), c("pricing")]),
    (c("search"), 2, [res("orders-db"), c("cart"), c("search")]),
    (c("web"), 2, [res("orders-db"), c("checkout"), c("web")]),
]


@pytest.mark.parametrize(
    ("relations", "direction"),
    [(["dependsOn"], "IN"), (["dependencyOf"], "OUT"), (["dependencyOf", "dependencyOf"], "OUT")],
)
def test_walk_in_reads_each_type_the_other_way(service: CatalogService, relations: list[str], direction: str) -> None:
    got = walk(service, "resource:orders-db", relations, direction=direction, depth=3, at=service.t1)  # type: ignore[attr-defined]
    assert got == IMPACT_OF_ORDERS_DB


def test_walk_both_ways(service: CatalogService) -> None:
    relations = ["providesApi", "consumesApi"]
    assert walk(service, "api:payments-api", relations, direction="BOTH", depth=2, at=service.t1) == [  # type: ignore[attr-defined]
        (c("checkout"), 1, [api("payments-api"), c("checkout")]),
        (c("payments"), 1, [api("payments-api"), c("payments")]),
        (api("checkout-api"), 2, [api("payments-api"), c("checkout"), api("checkout-api")]),
    ]
    assert walk(service, "api:payments-api", relations, direction="BOTH", depth=2) == [
        (c("payments"), 1, [api("payments-api"), c("payments")]),
    ]


def test_walk_kinds_filter_the_answer_not_the_walk(service: CatalogService) -> None:
    got = walk(service, "component:web", THROUGH_APIS, depth=6, kinds=["Resource"], at=service.t1)  # type: ignore[attr-defined]
    assert got == [
        (res("orders-db"), 2, [c("web"), c("checkout"), res("orders-db")]),
        (res("payments-db"), 4, [c("web"), c("checkout"), api("payments-api"), c("payments"), res("payments-db")]),
    ]
    assert walk(service, "component:web", THROUGH_APIS, depth=6, kinds=["api", "resource"]) == [
        (api("checkout-api"), 1, [c("web"), api("checkout-api")]),
        (res("orders-db"), 2, [c("web"), c("checkout"), res("orders-db")]),
        (res("payments-db"), 3, [c("web"), c("checkout"), c("payments"), res("payments-db")]),
    ]


def test_walk_pages_and_stops_at_its_depth(service: CatalogService) -> None:
    assert [ref for ref, _, _ in walk(service, "component:web", THROUGH_APIS, depth=6, first=2)] == [
        api("checkout-api"),
        c("checkout"),
    ]
    assert walk(service, "component:web", ["dependsOn"]) == [
        (c("checkout"), 1, [c("web"), c("checkout")]),
        (c("search"), 1, [c("web"), c("search")]),
    ]


def test_walk_answers_no_step_for_a_dangling_target(service: CatalogService) -> None:
    assert walk(service, "component:reports", ["dependsOn"]) == [
        (res("orders-db"), 1, [c("reports"), res("orders-db")])
    ]


def test_walk_of_other_entities_in_one_query_each_at_their_instant(service: CatalogService) -> None:
    query = """query($at: DateTime) { then: entity(ref: "component:pricing", asOf: $at) {
        walk(relations: ["dependsOn"], depth: 2) { entity { ref } } }
        now: entity(ref: "component:pricing") { walk(relations: ["dependsOn"], depth: 2) { entity { ref } } } }"""
    got = run(service, query, at=service.t1)  # type: ignore[attr-defined]
    assert got == {
        "then": {"walk": [{"entity": {"ref": c("cart")}}, {"entity": {"ref": res("orders-db")}}]},
        "now": {"walk": []},
    }


# --- paths ----------------------------------------------------------------------------------------------------

PATHS = """query($from: String!, $to: String!, $relations: [String!], $maxDepth: Int! = 6, $at: DateTime) {
    paths(from: $from, to: $to, relations: $relations, maxDepth: $maxDepth, asOf: $at) {
        refs relations entities { ref } } }"""


def paths(service: CatalogService, source: str, target: str, **arguments: Any) -> list[tuple[list[str], list[str]]]:
    got = run(service, PATHS, **{"from": source, "to": target}, **arguments)["paths"]
    for path in got:
        assert [e["ref"] for e in path["entities"]] == [r for r in path["refs"] if r != c("ghost")]
    return [(path["refs"], path["relations"]) for path in got]


DEPENDS_2, DEPENDS_3 = ["dependsOn"] * 2, ["dependsOn"] * 3
DEPENDED_ON = ["dependencyOf", "dependsOn"]


@pytest.mark.parametrize(
    ("source", "target", "arguments", "when", "expected"),
    [
        (  # every shortest path, by refs
            "component:web",
            "component:pricing",
            {"relations": ["dependsOn"]},
            "T1",
            [
                ([c("web"), c("checkout"), c("cart"), c("pricing")], DEPENDS_3),
                ([c("web"), c("search"), c("cart"), c("pricing")], DEPENDS_3),
            ],
        ),
        (
            "component:pricing",
            "component:cart",
            {"relations": ["dependsOn"]},
            "T1",
            [([c("pricing"), c("cart")], ["dependsOn"])],
        ),
        ("component:pricing", "component:cart", {"relations": ["dependsOn"]}, "now", []),
        ("component:web", "resource:payments-db", {"relations": ["dependsOn"]}, "T1", []),
        (
            "component:web",
            "resource:payments-db",
            {"relations": ["dependsOn"]},
            "now",
            [([c("web"), c("checkout"), c("payments"), res("payments-db")], DEPENDS_3)],
        ),
        ("component:web", "resource:payments-db", {"relations": ["dependsOn"], "maxDepth": 2}, "now", []),
        (  # through the APIs: the answer differs between the two instants
            "component:web",
            "component:payments",
            {"relations": THROUGH_APIS},
            "T1",
            [([c("web"), c("checkout"), api("payments-api"), c("payments")], THROUGH_APIS)],
        ),
        (
            "component:web",
            "component:payments",
            {"relations": THROUGH_APIS},
            "now",
            [([c("web"), c("checkout"), c("payments")], DEPENDS_2)],
        ),
        (  # every relation type by default, either way: two types between the same two entities, two paths
            "component:search",
            "component:cart",
            {},
            "now",
            [([c("search"), c("cart")], ["dependsOn"]), ([c("search"), c("cart")], ["hasPart"])],
        ),
        (  # ledger and payments depend on each other now: dependsOn and dependencyOf, two paths
            "component:ledger",
            "resource:orders-db",
            {},
            "now",
            [
                ([c("ledger"), c("payments"), c("checkout"), res("orders-db")], ["dependencyOf", *DEPENDED_ON]),
                ([c("ledger"), c("payments"), c("checkout"), res("orders-db")], ["dependsOn", *DEPENDED_ON]),
            ],
        ),
        (  # a dangling target is reached: its ref is in the path, it has no entity
            "component:reports",
            "component:ghost",
            {"relations": ["dependsOn"]},
            "now",
            [([c("reports"), c("ghost")], ["dependsOn"])],
        ),
        ("component:nope", "component:web", {}, "now", []),
        ("component:web", "component:nope", {"relations": ["dependsOn"]}, "now", []),
    ],
)
def test_paths_are_the_shortest_ones(
    service: CatalogService,
    source: str,
    target: str,
    arguments: dict[str, Any],
    when: str,
    expected: list[tuple[list[str], list[str]]],
) -> None:
    assert paths(service, source, target, at=at(service, when), **arguments) == expected


def test_a_path_answers_its_entities_as_they_were(service: CatalogService) -> None:
    query = """query($at: DateTime) { paths(from: "component:web", to: "component:cart", relations: ["dependsOn"],
        asOf: $at) { entities { ref ... on Component { dependsOn { ref } } } } }"""
    got = run(service, query, at=service.t1)["paths"]  # type: ignore[attr-defined]
    assert [[e["ref"] for e in p["entities"]] for p in got] == [
        [c("web"), c("checkout"), c("cart")],
        [c("web"), c("search"), c("cart")],
    ]
    assert got[0]["entities"][1]["dependsOn"] == [{"ref": c("cart")}, {"ref": res("orders-db")}]


# --- dependencyCycles -----------------------------------------------------------------------------------------

CYCLES = """query($at: DateTime, $filter: EntityFilter) { dependencyCycles(filter: $filter, asOf: $at) {
    refs entities { ref } } }"""


@pytest.mark.parametrize(
    ("when", "filter", "expected"),
    [
        ("T1", None, [[c("cart"), c("pricing")], [c("ledger")], [c("ledger"), c("payments")]]),
        ("now", None, [[c("checkout"), c("web")], [c("ledger"), c("payments")]]),
        ("T1", {"owner": "team-b"}, [[c("ledger")], [c("ledger"), c("payments")]]),
        ("now", {"owner": "team-b"}, [[c("ledger"), c("payments")]]),
        ("T1", {"text": "pric"}, [[c("cart"), c("pricing")]]),
        ("now", {"text": "pric"}, []),
        ("now", {"kind": "resource"}, []),
    ],
)
def test_dependency_cycles(
    service: CatalogService, when: str, filter: dict[str, str] | None, expected: list[list[str]]
) -> None:
    got = run(service, CYCLES, at=at(service, when), filter=filter)["dependencyCycles"]
    assert [cycle["refs"] for cycle in got] == expected
    assert [[e["ref"] for e in cycle["entities"]] for cycle in got] == expected


# --- what is refused ------------------------------------------------------------------------------------------

KNOWN = ", ".join(RELATION_TYPES)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            '{ entity(ref: "component:web") { walk(relations: ["dependsOn", "dependsOnn"]) { distance } } }',
            f"unknown relation type 'dependsOnn'; known ones: {KNOWN}",
        ),
        (
            '{ entity(ref: "component:web") { walk(relations: ["owns", "uses"]) { distance } } }',
            f"unknown relation types 'owns', 'uses'; known ones: {KNOWN}",
        ),
        (
            '{ entity(ref: "component:web") { walk(relations: []) { distance } } }',
            f"relations must name at least one of: {KNOWN}",
        ),
        (
            '{ entity(ref: "component:web") { walk(relations: ["dependsOn"], direction: SIDEWAYS) { distance } } }',
            "Value 'SIDEWAYS' does not exist in 'WalkDirection' enum.",
        ),
        (
            '{ entity(ref: "component:web") { walk(relations: ["dependsOn"], direction: "IN") { distance } } }',
            "Enum 'WalkDirection' cannot represent non-enum value: \"IN\".",
        ),
        (
            '{ entity(ref: "component:web") { walk(relations: ["dependsOn"], depth: 0) { distance } } }',
            "depth must be between 1 and 10, got 0",
        ),
        (
            '{ entity(ref: "component:web") { walk(relations: ["dependsOn"], depth: 11) { distance } } }',
            "depth must be between 1 and 10, got 11",
        ),
        ('{ entity(ref: "component:web") { dependents(depth: 0) { ref } } }', "depth must be between 1 and 10, got 0"),
        (
            '{ entity(ref: "component:web") { dependents(depth: 11) { ref } } }',
            "depth must be between 1 and 10, got 11",
        ),
        (
            '{ paths(from: "component:web", to: "component:cart", maxDepth: 0) { refs } }',
            "maxDepth must be between 1 and 10, got 0",
        ),
        (
            '{ paths(from: "component:web", to: "component:cart", maxDepth: 11) { refs } }',
            "maxDepth must be between 1 and 10, got 11",
        ),
        (
            '{ paths(from: "component:web", to: "component:cart", relations: ["needs"]) { refs } }',
            f"unknown relation type 'needs'; known ones: {KNOWN}",
        ),
        (
            '{ paths(from: "component:web", to: "component:cart", relations: []) { refs } }',
            f"relations must name at least one of: {KNOWN}",
        ),
        (
            '{ paths(from: "component:web", to: "Component:default/WEB") { refs } }',
            "from and to are the same entity (component:default/web): a path needs two",
        ),
        ('{ paths(from: "web", to: "component:cart") { refs } }', "invalid entity ref 'web'"),
    ],
)
def test_bad_arguments_are_clear_errors(service: CatalogService, query: str, message: str) -> None:
    assert message in error(service, query)


# --- what they are estimated to cost --------------------------------------------------------------------------

ENTITY = 'entity(ref: "component:checkout")'


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        # 1 (entity) + 1 (the list) + 6 x 20 reached + a page of 100 one-field objects: as dependencies(depth: 6)
        (f"{{ {ENTITY} {{ dependencies(depth: 6) {{ ref }} }} }}", 222),
        (f"{{ {ENTITY} {{ dependents(depth: 6) {{ ref }} }} }}", 222),
        (f'{{ {ENTITY} {{ walk(relations: ["dependsOn"], depth: 6) {{ distance }} }} }}', 222),
        (f"{{ {ENTITY} {{ dependents {{ ref }} }} }}", 22),  # depth 1 reads relation rows: a page of 20
        # three relation types either way: 6 x 20 x 3 x 2 reached
        (f"{{ {ENTITY} {{ walk(relations: {THROUGH_APIS!r}, direction: BOTH, depth: 6) {{ distance }} }} }}", 822),
        # every relation type by default: 6 x 20 x 14 reached, and a list of 20 paths
        ('{ paths(from: "component:a", to: "component:b") { refs } }', 1701),
        ('{ paths(from: "component:a", to: "component:b", relations: ["dependsOn"], maxDepth: 10) { refs } }', 221),
        ("{ dependencyCycles { refs } }", 2521),  # every dependsOn edge is read: a costly query
    ],
)
def test_traversals_are_estimated_by_what_they_walk(query: str, cost: int) -> None:
    assert request_cost(schema._schema, query.replace("'", '"')) == cost
    assert is_costly(cost, Settings().query_max_cost) == (cost > 2000)


@pytest.mark.parametrize("relations", [[[]], [{"a": 1}], "dependsOn", None, [1, None]])
def test_the_estimate_takes_any_variables_before_they_are_validated(relations: Any) -> None:
    query = f"query($r: [String!]!) {{ {ENTITY} {{ walk(relations: $r, depth: 2) {{ distance }} }} }}"
    assert request_cost(schema._schema, query, {"r": relations}) == 1 + 1 + 2 * 20 + 40
