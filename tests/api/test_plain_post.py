"""A plain POST (one operation as JSON) is answered by `CatalogGraphQL._plain_post`, without Strawberry's
HTTP view, and exactly as the view answers it: status, content type, extra headers and body, byte for byte,
for answers and for every refusal the view makes before executing. Each request is sent with the plain path
on and off; where it applies it must have been taken, so the comparison is not between the view and itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from graphsvc.api.app import CatalogGraphQL, create_app
from graphsvc.service import CatalogService
from tests.api.test_fast_execution import QUERIES

JSON = {"Content-Type": "application/json"}
PLAIN = [
    # (name, body bytes, headers): what the plain path answers
    *((name, json.dumps({"query": q, "variables": v}).encode(), JSON) for name, q, v in QUERIES),
    ("a charset parameter", b'{"query": "{ __typename }"}', {"Content-Type": "application/json; charset=utf-8"}),
    ("an operation name", b'{"query": "query A { __typename } query B { x: __typename }", "operationName": "B"}', JSON),
    ("no operation name for two", b'{"query": "query A { __typename } query B { __typename }"}', JSON),
    ("an unknown operation name", b'{"query": "query A { __typename }", "operationName": "C"}', JSON),
    ("a syntax error", b'{"query": "{ entity(ref: "}', JSON),
    ("an unknown field", b'{"query": "{ nope }"}', JSON),
    ("a missing variable", b'{"query": "query($r: String!) { entity(ref: $r) { ref } }"}', JSON),
    ("a mutation", b'{"query": "mutation { unregisterLocation(target: \\"nope\\") { added } }"}', JSON),
    ("no query", b"{}", JSON),
    ("a null query", b'{"query": null}', JSON),
    ("a query that is not a string", b'{"query": 1}', JSON),
    ("variables that are not an object", b'{"query": "{ __typename }", "variables": [1]}', JSON),
    ("extensions that are not an object", b'{"query": "{ __typename }", "extensions": "x"}', JSON),
    ("an integer past 64 bits", b'{"query": "query($n: Int) { entities(first: $n) { totalCount } }", '
     b'"variables": {"n": 18446744073709551616}}', JSON),
]  # fmt: skip
NOT_PLAIN = [
    # (name, body bytes, headers): refused before the plain path looks at the operation, or not for it
    ("not JSON", b"{nope", JSON),
    ("not an object", b'"query"', JSON),
    ("nested too deeply", b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 40 + b"]" * 40 + b"}}", JSON),
    ("a batch", b'[{"query": "{ __typename }"}]', JSON),
    ("another content type", b'{"query": "{ __typename }"}', {"Content-Type": "text/plain"}),
    ("a stream asked for", b'{"query": "{ __typename }"}', JSON | {"Accept": "multipart/mixed"}),
    ("events asked for", b'{"query": "{ __typename }"}', JSON | {"Accept": "text/event-stream"}),
]
IGNORED_HEADERS = {"x-request-id", "date", "content-length"}


@pytest.fixture(scope="module")
def http(demo_service: CatalogService) -> Iterator[TestClient]:
    with TestClient(create_app(demo_service)) as client:
        yield client


def view_of(http: TestClient) -> CatalogGraphQL:
    return next(route.endpoint for route in http.app.routes if getattr(route, "path", "") == "/graphql")


def both_ways(http: TestClient, body: bytes, headers: dict[str, str]) -> tuple[Any, Any, int]:
    """The answer with the plain path on and with it off, and how many answers the plain path gave."""
    view = view_of(http)
    plain_answers = []
    original = CatalogGraphQL._plain_post

    async def counted(self: CatalogGraphQL, request: Any) -> Any:
        response = await original(self, request)
        plain_answers.append(response is not None)
        return response

    def ask() -> Any:
        response = http.post("/graphql", content=body, headers=headers)
        kept = {k: v for k, v in response.headers.items() if k not in IGNORED_HEADERS}
        return response.status_code, kept, response.content

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CatalogGraphQL, "_plain_post", counted)
        plain = ask()
        patch.setattr(view, "plain_posts", False)
        standard = ask()
    return plain, standard, sum(plain_answers)


@pytest.mark.parametrize(("name", "body", "headers"), PLAIN, ids=[case[0] for case in PLAIN])
def test_a_plain_post_is_answered_as_the_view_answers_it(
    http: TestClient, name: str, body: bytes, headers: dict[str, str]
) -> None:
    plain, standard, answered = both_ways(http, body, headers)
    assert plain == standard
    refused_before_executing = plain[0] == 400
    assert answered == (0 if refused_before_executing else 1), name


@pytest.mark.parametrize(("name", "body", "headers"), NOT_PLAIN, ids=[case[0] for case in NOT_PLAIN])
def test_what_is_not_a_plain_post_is_the_views(
    http: TestClient, name: str, body: bytes, headers: dict[str, str]
) -> None:
    plain, standard, answered = both_ways(http, body, headers)
    assert plain == standard
    assert answered == 0, name


def test_the_answers_compared_are_answers(http: TestClient) -> None:
    """The table's answers are what they say: data for a query, GraphQL errors for a refusal."""
    plain, _, _ = both_ways(http, b'{"query": "{ __typename }"}', JSON)
    assert (plain[0], json.loads(plain[2])) == (200, {"data": {"__typename": "Query"}})
    refused, _, _ = both_ways(http, b'{"query": 1}', JSON)
    assert refused[0] == 400 and "must be a string" in json.loads(refused[2])["errors"][0]["message"]
