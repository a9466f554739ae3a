"""`/metrics`, parsed as Prometheus parses it: after known requests and a sync, each figure is exact; operation
names are bounded; a store that is down makes `catalog_store_up 0`, not a failed scrape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.api.metrics import MAX_OPERATION_NAMES
from graphsvc.api.operation_name import NotAnOperation, first_operation, operation_name
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.store.catalog_builder import component, entity, group

CATALOG = [
    group("team-a", []),
    component("checkout", owner="team-a"),
    component("ledger", owner="team-a"),
    entity("Resource", "orders-db", {"type": "database", "owner": "team-a"}),
]
REGISTER = "mutation Register($t: String!) { registerLocation(target: $t) { syncRun { added } } }"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def service(tmp_path: Path, store_settings: Settings) -> Iterator[CatalogService]:
    catalog = CatalogService(open_store(store_settings), store_settings.model_copy(update={"rate_limit_burst": 1000}))
    yield catalog
    catalog.close()


@pytest.fixture
def client(service: CatalogService) -> Iterator[TestClient]:
    with TestClient(create_app(service)) as http:
        yield http


def scrape(http: TestClient) -> Samples:
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def named(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def post(http: TestClient, query: str, **variables: str) -> None:
    response = http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200 and "errors" not in response.json(), response.text


def test_requests_are_counted_by_route_operation_and_status(client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_text(yaml.safe_dump_all(CATALOG))
    post(client, REGISTER, t=str(tmp_path / "catalog-info.yaml"))
    post(client, "query Owners { entities(first: 1) { totalCount } }")
    post(client, "query Owners { entities(first: 2) { totalCount } }")
    post(client, "{ __typename }")
    two = {"query": "query A { __typename } query B { __typename }", "operationName": "B"}
    assert client.post("/graphql", json=two).status_code == 200
    assert client.get("/graphql", params={"query": "query ByGet { __typename }"}).status_code == 200
    assert client.post("/graphql", content=b"not json", headers={"content-type": "application/json"}).status_code == 400
    assert client.get("/health").status_code == 200
    assert client.get("/no-such-page").status_code == 404

    samples = scrape(client)

    assert named(samples, "catalog_http_requests_total") == {
        labels(route="/graphql", operation="Register", status="200"): 1,
        labels(route="/graphql", operation="Owners", status="200"): 2,
        labels(route="/graphql", operation="anonymous", status="200"): 1,
        labels(route="/graphql", operation="B", status="200"): 1,
        labels(route="/graphql", operation="ByGet", status="200"): 1,
        labels(route="/graphql", operation="-", status="400"): 1,
        labels(route="/health", operation="-", status="200"): 1,
        labels(route="other", operation="-", status="404"): 1,
    }
    counts = named(samples, "catalog_http_request_duration_seconds_count")
    assert counts[labels(route="/graphql", operation="Owners")] == 2
    assert sum(counts.values()) == 9


def test_the_store_figures_are_read_at_scrape_time(
    client: TestClient, tmp_path: Path, store_settings: Settings
) -> None:
    source = str(tmp_path / "catalog-info.yaml")
    (tmp_path / "catalog-info.yaml").write_text(yaml.safe_dump_all(CATALOG))
    post(client, REGISTER, t=source)

    samples = scrape(client)

    assert named(samples, "catalog_store_up") == {labels(): 1}
    assert named(samples, "catalog_writes_pending") == {labels(): 0}
    assert named(samples, "catalog_entities") == {
        labels(kind="component"): 2,
        labels(kind="group"): 1,
        labels(kind="resource"): 1,
    }
    assert named(samples, "catalog_sync_runs") == {
        labels(status="completed"): 1,
        labels(status="completed_with_errors"): 0,
        labels(status="failed"): 0,
        labels(status="interrupted"): 0,
        labels(status="running"): 0,
    }
    assert named(samples, "catalog_last_sync_status") == {labels(source=source, status="completed"): 1}
    assert named(samples, "catalog_last_sync_errors") == {labels(source=source): 0}
    [duration] = named(samples, "catalog_last_sync_duration_seconds").values()
    assert 0 < duration < 60
    if store_settings.backend == "sqlite":
        files = Path(store_settings.store_dir).glob("catalog.sqlite*")
        assert named(samples, "catalog_store_bytes") == {labels(): sum(path.stat().st_size for path in files)}
    else:  # Neo4j's files are the server's: no cheap query tells their size
        assert named(samples, "catalog_store_bytes") == {}


def test_operation_names_past_the_cap_are_counted_as_other(client: TestClient) -> None:
    for number in range(MAX_OPERATION_NAMES + 3):
        post(client, f"query Op{number} {{ __typename }}")
    post(client, "query Op0 { __typename }")  # a name seen before the cap keeps its own series

    requests = named(scrape(client), "catalog_http_requests_total")

    assert requests[labels(route="/graphql", operation="Op0", status="200")] == 2
    assert requests[labels(route="/graphql", operation="other", status="200")] == 3
    assert len(requests) == MAX_OPERATION_NAMES + 1


def test_a_scrape_with_the_store_down_reports_it_and_the_requests(client: TestClient, service: CatalogService) -> None:
    post(client, "query Before { __typename }")
    service.store.close()

    samples = scrape(client)

    assert named(samples, "catalog_store_up") == {labels(): 0}
    assert named(samples, "catalog_entities") == {}
    assert named(samples, "catalog_http_requests_total") == {
        labels(route="/graphql", operation="Before", status="200"): 1
    }


@pytest.mark.parametrize(
    ("document", "name"),
    [
        ("{ a }", None),
        ("query { a }", None),
        ("query Q { a }", "Q"),
        ("mutation M($x: Int = 1) { a }", "M"),
        ("subscription S { a }", "S"),
        ("# a comment\nfragment F on T @d(a: {x: [1]}) { a { b } } query Q { ...F }", "Q"),
        ('{ search(query: "query Evil") }', None),
        ("query", None),
        ("query Q { unterminated", "Q"),
        ('"unterminated', None),
        ("type T { a: Int }", None),
    ],
)
def test_the_first_operation_of_a_document_is_found_by_the_lexer(document: str, name: str | None) -> None:
    assert first_operation(document) == name


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        ({"query": "query A { a } query B { b }", "operationName": "B"}, "B"),
        ({"query": "query A { a }", "operationName": None}, "A"),
        ({"query": "query A { a }", "operationName": ""}, "A"),
        ({"query": "{ a }"}, None),
    ],
)
def test_the_operation_name_is_the_one_asked_for_else_the_first(payload: dict[str, object], name: str | None) -> None:
    assert operation_name(payload) == name


@pytest.mark.parametrize(
    "payload",
    [
        {"operationName": "A"},
        {"query": 1},
        ["not", "an", "object"],
        {"query": "{ a }", "operationName": "two words"},
        {"query": "{ a }", "operationName": "x" * 129},
    ],
)
def test_a_payload_without_an_operation_we_can_name_is_none(payload: object) -> None:
    with pytest.raises(NotAnOperation):
        operation_name(payload)
