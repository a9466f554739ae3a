"""Pages sized for bulk reads: `entities(first:)` takes up to 10,000 when its nodes select leaf fields only
(scalars, enums, lists of them: a list of names, an export of documents), 1,000 otherwise; the cost limit
still applies to both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.api.limits import MAX_BULK_FIRST, MAX_FIRST
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.api.test_graphql import data, gql
from tests.store.catalog_builder import component, group

COMPONENTS = MAX_FIRST + 205
REFS = sorted(f"component:default/c{i:05d}" for i in range(COMPONENTS))


@contextmanager
def serve(settings: Settings, folder: Path) -> Iterator[tuple[TestClient, CatalogService]]:
    """A catalog of more components than a page of 1,000, served."""
    documents = [group("team-a", []), *(component(f"c{i:05d}") for i in range(COMPONENTS))]
    (folder / "catalog-info.yaml").write_text(yaml.safe_dump_all(documents))
    service = CatalogService(open_store(settings), settings)
    service.write_now(lambda: service.register(str(folder / "catalog-info.yaml")))
    try:
        with TestClient(create_app(service)) as client:
            yield client, service
    finally:
        service.close()


@pytest.fixture(scope="module")
def served(
    module_store_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, CatalogService]]:
    with serve(module_store_settings, tmp_path_factory.mktemp("bulk")) as both:
        yield both


@pytest.fixture
def http(served: tuple[TestClient, CatalogService]) -> TestClient:
    return served[0]


COMPONENT_FILTER = 'filter: { kind: "Component" }'


def page(selection: str, first: int, after: str | None = None) -> str:
    cursor = f', after: "{after}"' if after else ""
    return (
        f"{{ entities({COMPONENT_FILTER}, first: {first}{cursor}) {{ edges {{ node {{ {selection} }} }} "
        "pageInfo { hasNextPage endCursor } totalCount } }"
    )


FRAGMENTS = "fragment Names on Entity { ref name }"


@pytest.mark.parametrize(
    ("selection", "first"),
    [
        ("ref", MAX_BULK_FIRST - 3),  # cost 19,999: 2 per node of one field, 5 for the connection around them
        ("ref name", 5000),
        ("ref title spec document state", 3000),
        ("__typename ref ... on Component { type lifecycle }", 3000),
        ("...Names", 5000),
    ],
)
def test_a_page_of_leaf_fields_holds_up_to_ten_thousand_entities(http: TestClient, selection: str, first: int) -> None:
    query = page(selection, first) + (f" {FRAGMENTS}" if "...Names" in selection else "")
    answer = data(http, query)["entities"]
    assert [edge["node"]["ref"] for edge in answer["edges"]] == REFS
    assert answer["pageInfo"]["hasNextPage"] is False
    assert answer["totalCount"] == COMPONENTS


def test_a_bulk_page_has_a_next_page_like_any_other(http: TestClient) -> None:
    first = data(http, page("ref", COMPONENTS - 5))["entities"]
    assert [edge["node"]["ref"] for edge in first["edges"]] == REFS[:-5]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = data(http, page("ref", 5000, first["pageInfo"]["endCursor"]))["entities"]
    assert [edge["node"]["ref"] for edge in rest["edges"]] == REFS[-5:]


BULK_HINT = f" (up to {MAX_BULK_FIRST} when the nodes select leaf fields only)"


def refused(first: int, limit: int = MAX_FIRST) -> str:
    return f"first must be between 0 and {limit}, got {first}" + (BULK_HINT if limit < first <= MAX_BULK_FIRST else "")


@pytest.mark.parametrize(
    ("selection", "first", "message"),
    [
        ("ref owner { ref }", MAX_FIRST + 1, refused(MAX_FIRST + 1)),
        ("... on Component { system { ref } }", 2000, refused(2000)),
        ("ref", -1, refused(-1)),
    ],
)  # fmt: skip
def test_a_page_past_its_limit_is_refused_saying_which_limit(
    http: TestClient, selection: str, first: int, message: str
) -> None:
    answer = gql(http, page(selection, first))
    assert answer["data"] is None
    assert [error["message"] for error in answer["errors"]] == [message]


def test_a_fragment_that_selects_an_object_keeps_the_page_at_a_thousand(http: TestClient) -> None:
    query = page("...Owned", 2000) + " fragment Owned on Entity { ref owner { ref } }"
    assert [error["message"] for error in gql(http, query)["errors"]] == [refused(2000)]


def test_the_cost_limit_still_bounds_a_bulk_page(http: TestClient) -> None:
    """A page costs what it holds, 1 per node and 1 per field of it: 10,000 refs are just over the default
    limit of 20,000 (with the connection's own fields), 5,000 nodes of six fields far over it, and a page that
    is not of leaf fields is refused for its cost before its size when both are over."""
    over = [("ref", MAX_BULK_FIRST), ("ref name kind namespace title description", 5000), ("relations { type }", 2000)]
    for selection, first in over:
        answer = gql(http, page(selection, first))
        assert answer["data"] is None
        assert answer["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
