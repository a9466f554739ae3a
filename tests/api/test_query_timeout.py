"""A query's budget (`graphsvc.api.budget`): past `query_timeout_s` or `query_max_response_bytes` it is stopped,
its work in the store too, and answers one error naming the limit. The bounds on time below are generous:
they tell a stopped query (well under a second past its limit) from one left to run (tens of seconds)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import TestClient

from bench.generate_catalog import generate
from graphsvc.api.app import create_app
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import GraphStore, StoreError, open_store
from tests.api.test_graphql import data, gql
from tests.api.test_query_cost import nested_relations

ENTITIES = 1000
"""A generated catalog in which `relations` four deep from the team owning most runs for more than 10 s."""
UNLIMITED_COST = 10**12
"""For queries the cost limit would refuse before they run: these tests are about what stops them running."""
LONG_READS = {
    "sqlite": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000000) "
    "SELECT count(*) FROM n",
    "neo4j": "UNWIND range(1, 1000000000) AS x RETURN count(x)",
}
"""One statement each engine takes minutes over."""
STOPPED_READS = {"sqlite": "store read failed: interrupted", "neo4j": "Neo.ClientError.Transaction.TransactionTimedOut"}
"""What each engine says of a statement stopped at the deadline."""


@pytest.fixture(scope="module")
def catalog(module_store_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The store's settings, once a generated catalog is in it."""
    root = tmp_path_factory.mktemp("catalog")
    generate(ENTITIES, root)
    service = CatalogService(open_store(module_store_settings), module_store_settings)
    try:
        service.write_now(lambda: service.register(str(root / "catalog-info.yaml")))
    finally:
        service.close()
    return module_store_settings


@contextmanager
def served(settings: Settings, **limits: Any) -> Iterator[TestClient]:
    """The catalog's store served with these limits."""
    configured = settings.model_copy(update=limits)
    service = CatalogService(open_store(configured), configured)
    with TestClient(create_app(service)) as http:
        yield http
    service.close()


@pytest.fixture
def hub_query(catalog: Settings) -> str:
    """`relations` four deep from the team that owns most."""
    with served(catalog) as http:
        owners = data(http, '{ facets(field: "owner") { value } }')["facets"]
        owner = next(facet["value"] for facet in owners if facet["value"] is not None)  # null: the unowned
    return f'{{ entity(ref: "{owner}") {{ {nested_relations(4)} }} }}'


def stopped(message: str, code: str, limit: float) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code, "limit": limit}}]}


def test_a_query_past_its_time_limit_is_stopped_and_the_service_answers_on(catalog: Settings, hub_query: str) -> None:
    with served(catalog, query_timeout_s=0.5, query_max_cost=UNLIMITED_COST) as http:
        start = time.monotonic()
        answer = gql(http, hub_query)
        took = time.monotonic() - start
        assert answer == stopped(
            "the query ran past its time limit of 0.5 s (query_timeout_s) and was stopped: ask for smaller pages "
            "(first), shallower traversals or fewer nested lists",
            "QUERY_TIMEOUT",
            0.5,
        )
        assert took < 5.0
        assert data(http, "{ entities(first: 1) { totalCount } }") == {"entities": {"totalCount": ENTITIES + 1}}


def test_an_answer_past_the_size_limit_is_stopped_while_it_is_built(catalog: Settings, hub_query: str) -> None:
    with served(catalog, query_max_response_bytes=100_000, query_max_cost=UNLIMITED_COST) as http:
        start = time.monotonic()
        answer = gql(http, hub_query)
        assert time.monotonic() - start < 5.0
        assert answer == stopped(
            "the answer would be larger than the limit of 100,000 bytes (query_max_response_bytes) and the query "
            "was stopped: ask for smaller pages (first), fewer fields or fewer nested lists",
            "RESPONSE_TOO_LARGE",
            100_000,
        )


def test_an_answer_past_the_size_limit_is_refused_when_it_is_serialized(catalog: Settings) -> None:
    """Few objects, large ones: the estimate while building lets it through, its JSON is measured."""
    query = "{ entities(first: 100) { edges { node { document } } } }"
    with served(catalog, query_max_response_bytes=10_000) as http:
        assert gql(http, query) == stopped(
            "the answer would be larger than the limit of 10,000 bytes (query_max_response_bytes) and the query "
            "was stopped: ask for smaller pages (first), fewer fields or fewer nested lists",
            "RESPONSE_TOO_LARGE",
            10_000,
        )
        assert len(data(http, "{ entities(first: 2) { edges { node { ref } } } }")["entities"]["edges"]) == 2


@pytest.fixture
def store(catalog: Settings) -> Iterator[GraphStore]:
    """The catalog's store (this module holds one for all its tests, on each engine)."""
    opened = open_store(catalog)
    yield opened
    opened.close()


def test_a_store_read_stops_at_the_snapshots_deadline(store: GraphStore, catalog: Settings) -> None:
    start = time.monotonic()
    with store.backend.stop_reads_at(start + 0.3), store.snapshot() as snapshot:  # type: ignore[attr-defined]
        with pytest.raises(Exception, match=STOPPED_READS[catalog.backend]):  # Neo4j: the driver's error, as it is
            snapshot.backend.read(LONG_READS[catalog.backend])
        took = time.monotonic() - start
        with pytest.raises(StoreError, match="the snapshot's deadline has passed"):
            snapshot.schema_version()
    assert took < 10.0
    with store.snapshot() as snapshot:  # the connection (SQLite) or session (Neo4j) serves the next one
        assert snapshot.schema_version() is not None


def test_a_snapshot_that_ends_in_time_leaves_its_connection_alone(store: GraphStore) -> None:
    """Its deadline passes after it ended: the next snapshot on the same connection reads undisturbed."""
    with store.backend.stop_reads_at(time.monotonic() + 0.2), store.snapshot() as snapshot:  # type: ignore[attr-defined]
        version = snapshot.schema_version()
    time.sleep(0.3)
    with store.snapshot() as snapshot:
        assert snapshot.schema_version() == version
