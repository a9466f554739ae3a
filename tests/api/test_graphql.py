"""The GraphQL contract, exercised over HTTP against a real embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.store.catalog_builder import component, entity, group

CATALOG = [
    group(
        "org",
        ["platform"],
    ),
    group("platform", ["team-a", "team-b"], parent="org"),
    group("team-a", [], parent="platform", members=["alice"]),
    group("team-b", [], parent="platform"),
    entity("User", "alice", {"memberOf": ["team-a"]}),
    entity("System", "payments", {"owner": "platform", "domain": "commerce"}),
    entity("Domain", "commerce", {"owner": "org"}),
    component(
        "checkout",
        owner="team-a",
        system="payments",
        providesApis=["checkout-api"],
        dependsOn=["component:ledger", "resource:orders-db"],
    ),
    component("ledger", owner="team-b", system="payments", dependsOn=["component:fx"]),
    component("fx", owner="team-b", dependsOn=["component:rates"]),
    component("rates", owner="ghost-team"),
    entity(
        "API",
        "checkout-api",
        {"type": "openapi", "lifecycle": "production", "owner": "team-a", "definition": "openapi: 3.0.0"},
    ),
    entity("Resource", "orders-db", {"type": "database", "owner": "team-a"}),
]


@pytest.fixture
def client(tmp_path: Path, store_settings: Settings) -> Iterator[TestClient]:
    (tmp_path / "catalog-info.yaml").write_text(yaml.safe_dump_all(CATALOG))
    settings = store_settings
    service = CatalogService(open_store(settings), settings)
    with TestClient(create_app(service)) as http:
        http.catalog_dir = tmp_path  # type: ignore[attr-defined]
        response = gql(
            http,
            "mutation($t: String!) { registerLocation(target: $t) { syncRun { added errorCount } } }",
            t=str(tmp_path / "catalog-info.yaml"),
        )
        assert response["data"]["registerLocation"]["syncRun"] == {"added": len(CATALOG), "errorCount": 0}
        yield http
    service.close()


def gql(http: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    response = http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def data(http: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    result = gql(http, query, **variables)
    assert "errors" not in result, result["errors"]
    return result["data"]


def test_entity_by_ref_has_its_kind_type_and_fields(client: TestClient) -> None:
    got = data(
        client,
        '{ entity(ref: "Component:Checkout") { __typename ref kind name namespace '
        "... on Component { type lifecycle } spec } }",
    )["entity"]
    assert got["__typename"] == "Component" and got["ref"] == "component:default/checkout"
    assert (got["kind"], got["type"], got["lifecycle"]) == ("Component", "service", "production")
    assert got["spec"]["owner"] == "team-a"


def test_unknown_ref_is_null_and_a_malformed_ref_is_a_clear_error(client: TestClient) -> None:
    assert data(client, '{ entity(ref: "component:nope") { ref } }') == {"entity": None}
    result = gql(client, '{ entity(ref: "checkout") { ref } }')
    assert result["data"] is None or result["data"]["entity"] is None
    assert "invalid entity ref 'checkout'" in result["errors"][0]["message"]


def test_relations_are_backstage_rows_sorted_with_targets_or_null(client: TestClient) -> None:
    got = data(client, '{ entity(ref: "component:checkout") { relations { type targetRef target { name } } } }')
    assert got["entity"]["relations"] == [
        {"type": "dependsOn", "targetRef": "component:default/ledger", "target": {"name": "ledger"}},
        {"type": "dependsOn", "targetRef": "resource:default/orders-db", "target": {"name": "orders-db"}},
        {"type": "ownedBy", "targetRef": "group:default/team-a", "target": {"name": "team-a"}},
        {"type": "partOf", "targetRef": "system:default/payments", "target": {"name": "payments"}},
        {"type": "providesApi", "targetRef": "api:default/checkout-api", "target": {"name": "checkout-api"}},
    ]
    dangling = data(
        client,
        '{ entity(ref: "component:rates") { relations(type: "ownedBy") { targetRef target { ref } } } }',
    )
    assert dangling["entity"]["relations"] == [{"targetRef": "group:default/ghost-team", "target": None}]


def test_traversals(client: TestClient) -> None:
    got = data(
        client,
        """{ entity(ref: "component:checkout") {
        owner { ref } system { ref } domain { ref } providesApis { ref } dependsOn { ref }
        dependencies(depth: 3) { ref } } }""",
    )["entity"]
    assert got["owner"] == {"ref": "group:default/team-a"}
    assert got["system"] == {"ref": "system:default/payments"}
    assert got["domain"] == {"ref": "domain:default/commerce"}
    assert got["providesApis"] == [{"ref": "api:default/checkout-api"}]
    assert [d["ref"] for d in got["dependencies"]] == [
        "component:default/ledger",
        "resource:default/orders-db",
        "component:default/fx",
        "component:default/rates",
    ]
    fx = data(client, '{ entity(ref: "component:fx") { dependents { ref } } }')["entity"]
    assert fx["dependents"] == [{"ref": "component:default/ledger"}]


def test_group_traversals_and_transitive_ownership(client: TestClient) -> None:
    got = data(
        client,
        """{ entity(ref: "group:platform") { ... on Group {
        parent { ref } children { ref } descendants { ref } members { ref }
        direct: ownedEntities { ref } all: ownedEntities(transitive: true) { ref } } } }""",
    )["entity"]
    assert got["parent"] == {"ref": "group:default/org"}
    assert [c["ref"] for c in got["children"]] == ["group:default/team-a", "group:default/team-b"]
    assert [c["ref"] for c in got["descendants"]] == ["group:default/team-a", "group:default/team-b"]
    assert got["direct"] == [{"ref": "system:default/payments"}]
    assert [e["ref"] for e in got["all"]] == [
        "api:default/checkout-api",
        "component:default/checkout",
        "component:default/fx",
        "component:default/ledger",
        "resource:default/orders-db",
        "system:default/payments",
    ]
    alice = data(client, '{ entity(ref: "user:alice") { ... on User { groups { ref } } } }')["entity"]
    assert alice["groups"] == [{"ref": "group:default/team-a"}]
    team = data(client, '{ entity(ref: "group:team-a") { ... on Group { members { ref } } } }')["entity"]
    assert team["members"] == [{"ref": "user:default/alice"}]


def test_entities_connection_filters_and_pages(client: TestClient) -> None:
    query = """query($after: String) { entities(filter: {kind: "Component", owner: "team-b"}, first: 1, after: $after) {
        totalCount edges { cursor node { ref } } pageInfo { hasNextPage endCursor } } }"""
    page = data(client, query)["entities"]
    assert page["totalCount"] == 2 and page["edges"][0]["node"]["ref"] == "component:default/fx"
    assert page["pageInfo"]["hasNextPage"] is True
    page2 = data(client, query, after=page["pageInfo"]["endCursor"])["entities"]
    assert [e["node"]["ref"] for e in page2["edges"]] == ["component:default/ledger"]
    assert page2["pageInfo"]["hasNextPage"] is False
    texts = data(client, '{ entities(filter: {text: "LEDG"}) { edges { node { ref } } } }')
    assert texts["entities"]["edges"] == [{"node": {"ref": "component:default/ledger"}}]


def test_total_count_is_every_match_whatever_the_page(client: TestClient) -> None:
    """A first page that holds every match answers the count itself; other pages must not."""
    query = """query($first: Int, $after: String) { entities(filter: {kind: "Component"}, first: $first,
        after: $after) { totalCount edges { node { ref } } pageInfo { endCursor } } }"""
    for first in (0, 1, 3, 4, 5, 1000):
        page = data(client, query, first=first)["entities"]
        assert page["totalCount"] == 4, first
        if page["pageInfo"]["endCursor"]:
            rest = data(client, query, first=first, after=page["pageInfo"]["endCursor"])["entities"]
            assert rest["totalCount"] == 4, first


def test_facets(client: TestClient) -> None:
    got = data(client, '{ facets(field: "spec.type", filter: {kind: "component"}) { value count } }')
    assert got["facets"] == [{"value": "service", "count": 4}]
    bad = gql(client, '{ facets(field: "colour") { value } }')
    assert "unknown facet field 'colour'" in bad["errors"][0]["message"]


def test_bad_arguments_are_clear_errors(client: TestClient) -> None:
    for query, expected in [
        (
            '{ entity(ref: "component:checkout") { dependencies(depth: 11) { ref } } }',
            "depth must be between 1 and 10",
        ),
        (
            '{ entity(ref: "component:checkout") { dependencies(depth: 0) { ref } } }',
            "depth must be between 1 and 10",
        ),
        ("{ entities(first: -1) { totalCount } }", "first must be between 0 and 1000"),
        ('{ entities(after: "%%%") { totalCount } }', "invalid cursor"),
        ('{ entities(filter: {owner: "a:b:c"}) { totalCount } }', "invalid entity ref"),
    ]:
        result = gql(client, query)
        assert expected in result["errors"][0]["message"], (query, result)


def test_hostile_queries_are_refused(client: TestClient) -> None:
    deep = '{ entity(ref: "group:org") { ' + "owner { " * 20 + "ref" + " }" * 20 + " } }"
    assert "exceeds maximum operation depth" in gql(client, deep)["errors"][0]["message"]
    aliases = "{ " + " ".join(f'a{i}: entity(ref: "group:org") {{ ref }}' for i in range(60)) + " }"
    assert "aliases" in gql(client, aliases)["errors"][0]["message"]


def test_sync_runs_errors_and_location_mutations(client: TestClient) -> None:
    catalog_dir: Path = client.catalog_dir  # type: ignore[attr-defined]
    target = str(catalog_dir / "catalog-info.yaml")
    # A document without a name: we cannot tell which entity it was, so nothing of that file is closed.
    (catalog_dir / "catalog-info.yaml").write_text(yaml.safe_dump_all([*CATALOG[:-1], {"kind": "Component"}]))
    result = data(
        client,
        "mutation($t: String!) { refresh(source: $t) { syncRun { status removed } "
        "errors { category entityRef message line documentIndex } } }",
        t=target,
    )["refresh"]
    assert result["syncRun"] == {"status": "completed_with_errors", "removed": 0}
    [error] = result["errors"]
    assert error["category"] == "validation" and error["documentIndex"] == len(CATALOG) - 1
    assert "apiVersion: required field is missing" in error["message"]
    assert data(client, '{ entity(ref: "resource:orders-db") { ref } }')["entity"] is not None
    current = data(client, "{ errors { category message } syncRuns { status } locations { target } }")
    assert [e["category"] for e in current["errors"]] == ["validation"]
    assert [r["status"] for r in current["syncRuns"]] == ["completed_with_errors", "completed"]
    assert current["locations"] == [{"target": target}]
    # Without the broken document, the entity that left the file is closed.
    (catalog_dir / "catalog-info.yaml").write_text(yaml.safe_dump_all(CATALOG[:-1]))
    result = data(client, "mutation($t: String!) { refresh(source: $t) { syncRun { status removed } } }", t=target)
    assert result["refresh"]["syncRun"] == {"status": "completed", "removed": 1}
    assert data(client, "{ errors { message } }") == {"errors": []}
    gone = data(client, "mutation($t: String!) { unregisterLocation(target: $t) { syncRun { removed } } }", t=target)
    assert gone["unregisterLocation"]["syncRun"]["removed"] == len(CATALOG) - 1
    assert data(client, '{ entity(ref: "component:checkout") { ref } }') == {"entity": None}
    missing = gql(client, 'mutation { refresh(source: "/no/such/catalog.yaml") { syncRun { id } } }')
    assert "no registered location" in missing["errors"][0]["message"]
    unreadable = gql(
        client,
        "mutation($t: String!) { registerLocation(target: $t) { syncRun { id } } }",
        t=str(catalog_dir / "none.yaml"),
    )
    assert "no such file" in unreadable["errors"][0]["message"]
    outside = gql(client, 'mutation { registerLocation(target: "/no/such/catalog.yaml") { syncRun { id } } }')
    assert outside["errors"][0]["message"] == (
        "/no/such/catalog.yaml is outside the allowed local roots (reading.local_roots)"
    )


def test_registering_an_empty_target_is_an_error_not_the_working_directory(client: TestClient) -> None:
    result = gql(client, 'mutation { registerLocation(target: "") { syncRun { added } } }')
    assert result["data"] is None
    assert "the target is empty: name a file, a directory, a URL or a git repository" in result["errors"][0]["message"]
    assert len(data(client, "{ locations { target } }")["locations"]) == 1  # the fixture's own, nothing added


def test_a_target_holding_a_nul_character_is_an_error(client: TestClient) -> None:
    """Found by the GraphQL fuzz suite: it reached Python's path functions, which raise on NUL (a 500)."""
    for mutation in ("registerLocation(target: $t)", "refresh(source: $t)", "unregisterLocation(target: $t)"):
        result = gql(client, f"mutation($t: String!) {{ {mutation} {{ syncRun {{ added }} }} }}", t="cat\u0000alog")
        assert result["errors"][0]["message"] == (
            "the target holds a NUL character: no file, directory or URL is named so"
        ), mutation
    assert len(data(client, "{ locations { target } }")["locations"]) == 1


def test_ready_says_whether_the_store_answers(tmp_path: Path, store_settings: Settings) -> None:
    service = CatalogService(open_store(store_settings), store_settings)
    with TestClient(create_app(service)) as http:
        assert (http.get("/health").json(), http.get("/ready").json()) == ({"status": "ok"}, {"status": "ready"})
        service.store.close()  # the store goes away (a Neo4j that is down, a store directory unmounted)
        response = http.get("/ready")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "reason": "the store does not answer"}
        assert http.get("/health").status_code == 200  # still alive: a restart is not what helps
