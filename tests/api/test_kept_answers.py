"""GraphQL query answers kept per store commit (`graphsvc.api.kept_answers`): asked again, the same bytes
without executing; after a write, the new state; never for another principal, a mutation, an error, or an
answer that depends on the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.api.context import Context
from graphsvc.api.cost import COSTLY_SHARE, request_cost
from graphsvc.api.response_cache import ResponseCache
from graphsvc.api.schema import schema
from graphsvc.auth.principal import Principal
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.api.test_graphql import CATALOG
from tests.store.catalog_builder import component

Served = tuple[TestClient, CatalogService, Path]

FULL_ENTITY = (
    "query($r: String!) { entity(ref: $r) { ref kind name title tags labels annotations spec "
    "relations { type targetRef } } }"
)


@contextmanager
def serving(settings: Settings, folder: Path) -> Iterator[Served]:
    """The test catalog registered and served with `settings`."""
    (folder / "catalog-info.yaml").write_text(yaml.safe_dump_all(CATALOG))
    service = CatalogService(open_store(settings), settings)
    service.write_now(lambda: service.register(str(folder / "catalog-info.yaml")))
    try:
        with TestClient(create_app(service)) as http:
            yield http, service, folder
    finally:
        service.close()


@pytest.fixture
def served(tmp_path: Path, store_settings: Settings) -> Iterator[Served]:
    with serving(store_settings, tmp_path) as both:
        yield both


def post(http: TestClient, query: str, **variables: Any) -> bytes:
    response = http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.content


def hits(http: TestClient) -> int:
    cache: ResponseCache = http.app.state.response_cache  # type: ignore[attr-defined]
    return cache.hits


def test_a_query_asked_again_is_answered_with_the_same_bytes_from_the_kept_answer(served: Served) -> None:
    http, _, _ = served
    first = post(http, FULL_ENTITY, r="component:default/checkout")
    assert b'"ref":"component:default/checkout"' in first
    before = hits(http)
    assert post(http, FULL_ENTITY, r="component:default/checkout") == first
    assert hits(http) == before + 1
    other = post(http, FULL_ENTITY, r="component:default/ledger")  # other variables: another answer
    assert b'"ref":"component:default/ledger"' in other
    assert hits(http) == before + 1


@pytest.mark.parametrize(
    "query",
    [
        '{ entities(filter: { kind: "Component" }, first: 100) { edges { node { name } } } }',
        "{ entities(first: 1000) { edges { node { name owner { ref } } } } }",  # costly: kept from a worker
    ],
)
def test_after_a_write_a_query_reads_the_new_state(served: Served, query: str) -> None:
    http, service, folder = served
    before = post(http, query)
    assert post(http, query) == before
    (folder / "more.yaml").write_text(yaml.safe_dump(component("zebra")))
    service.write_now(lambda: service.register(str(folder / "more.yaml")))
    after = post(http, query)
    assert b'"name":"zebra"' in after and b'"name":"zebra"' not in before


@pytest.mark.parametrize(
    ("query", "fails"),
    [
        ('{ entity(ref: "not a ref at all!") { ref } }', True),
        ('{ ownershipGaps(since: "2020-01-01T00:00:00Z") { entityRef } }', False),  # open gaps: up to now
        ('{ ownershipGaps(since: "2020-01-01T00:00:00Z") { entityRef } dependencyCycles { refs } }', False),
    ],
)
def test_an_answer_that_depends_on_more_than_the_stored_state_and_the_request_is_not_kept(
    served: Served, query: str, fails: bool
) -> None:
    """An error, a clock-dependent answer (executed here, or in a worker process as a costly query): asked
    again, each is executed again."""
    http, _, _ = served
    first = post(http, query)
    assert (b'"errors"' in first) is fails, first
    before = hits(http)
    assert post(http, query) == first
    assert hits(http) == before


@pytest.mark.parametrize(
    ("query", "costly"),
    [
        ('{ ownershipGaps(since: "2020-01-01T00:00:00Z", until: "2030-01-01T00:00:00Z") { entityRef } }', False),
        ('{ dependencyCycles { refs } entity(ref: "component:default/checkout") { ref } }', True),
        ("{ entities(first: 1000) { edges { node { ref owner { ref } } } } }", True),
    ],
)
def test_an_answer_that_depends_on_the_request_alone_is_kept_where_it_executes(
    served: Served, query: str, costly: bool
) -> None:
    """A costly query executes in a worker process, which hands back what may be kept: the serving process
    keeps it under the commit the worker read."""
    http, _, _ = served
    assert (request_cost(schema._schema, query) * COSTLY_SHARE > Settings().query_max_cost) is costly
    first = post(http, query)
    assert b'"errors"' not in first
    before = hits(http)
    assert post(http, query) == first
    assert hits(http) == before + 1


def test_a_kept_answer_is_never_given_to_another_principal(served: Served) -> None:
    """The admin's list of tokens, kept, is not what a reader gets for the same query: the reader's own
    execution refuses it."""
    _, service, _ = served
    cache = ResponseCache(1024 * 1024)
    query = "{ apiTokens { name } }"

    def execute(principal: Principal) -> Any:
        context = Context(service=service, principal=principal, answers=cache)
        return asyncio.run(schema.execute(query, context_value=context))

    admin = Principal.of("token:admin", ["admin"])
    assert execute(admin).errors is None
    assert execute(admin).errors is None and cache.hits == 1
    refused = execute(Principal.of("token:reader", ["read"]))
    assert refused.data is None
    assert [error.message for error in refused.errors] == [
        "this operation needs the admin scope, which your credentials do not hold"
    ]
    assert cache.hits == 1


def test_a_mutation_is_never_answered_from_the_cache(served: Served) -> None:
    http, _, folder = served
    (folder / "more.yaml").write_text(yaml.safe_dump(component("zebra")))
    mutation = "mutation($t: String!) { registerLocation(target: $t) { syncRun { added } } }"
    first = post(http, mutation, t=str(folder / "more.yaml"))
    second = post(http, mutation, t=str(folder / "more.yaml"))
    assert b'"added":1' in first and b'"added":0' in second


def test_with_no_room_nothing_is_kept(tmp_path: Path, store_settings: Settings) -> None:
    with serving(store_settings.model_copy(update={"response_cache_mib": 0}), tmp_path) as (http, _, _):
        first = post(http, FULL_ENTITY, r="component:default/checkout")
        assert post(http, FULL_ENTITY, r="component:default/checkout") == first
        assert hits(http) == 0 and len(http.app.state.response_cache) == 0  # type: ignore[attr-defined]


def test_long_unique_queries_for_tiny_answers_cannot_hold_more_than_the_room(
    tmp_path: Path, store_settings: Settings
) -> None:
    """Each query's own text takes room: 40 queries of 100 KB (a comment) for a 30-byte answer stay within
    a room of 1 MiB, instead of 40 x 100 KB of keys behind 1.2 KB of answers."""
    with serving(store_settings.model_copy(update={"response_cache_mib": 1}), tmp_path) as (http, _, _):
        cache: ResponseCache = http.app.state.response_cache  # type: ignore[attr-defined]
        for i in range(40):
            post(http, f'# {i:02d} {"x" * 100_000}\n{{ entity(ref: "component:default/checkout") {{ ref }} }}')
        assert 0 < len(cache) <= 1024 * 1024 // 100_000
        assert cache._bytes <= cache.max_bytes
