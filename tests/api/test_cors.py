"""CORS: off by default (no `Access-Control-*` header, a preflight not honoured), and on for the configured
origins only."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.suite_settings import suite_settings

QUERY = {"query": "{ __typename }"}
ALLOWED = "https://portal.example.com"
PREFLIGHT = {
    "origin": ALLOWED,
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type",
}


MakeClient = Callable[..., TestClient]


def cors_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


@pytest.fixture
def app_with(tmp_path: Path) -> Iterator[MakeClient]:
    services: list[CatalogService] = []

    def make(origins: list[str], **values: object) -> TestClient:
        settings = suite_settings(store_dir=tmp_path / f"store-{len(services)}", cors_origins=origins, **values)
        services.append(CatalogService(open_store(settings), settings))
        return TestClient(create_app(services[-1]))

    yield make
    for service in services:
        service.close()


def test_by_default_no_origin_gets_cors_headers(app_with: MakeClient) -> None:
    http = app_with([])
    answer = http.post("/graphql", json=QUERY, headers={"origin": ALLOWED})
    assert answer.status_code == 200 and cors_headers(answer.headers) == {}
    preflight = http.options("/graphql", headers=PREFLIGHT)
    assert preflight.status_code == 405 and cors_headers(preflight.headers) == {}


def test_a_configured_origin_may_call_the_api(app_with: MakeClient) -> None:
    http = app_with([ALLOWED])
    answer = http.post("/graphql", json=QUERY, headers={"origin": ALLOWED})
    assert answer.status_code == 200
    assert cors_headers(answer.headers) == {
        "access-control-allow-origin": ALLOWED,
        "access-control-expose-headers": "X-Request-Id",
    }
    preflight = http.options("/graphql", headers=PREFLIGHT)
    assert preflight.status_code == 200
    assert cors_headers(preflight.headers) == {
        "access-control-allow-origin": ALLOWED,
        "access-control-allow-methods": "GET, POST, DELETE",
        "access-control-allow-headers": "Accept, Accept-Language, Authorization, Content-Language, Content-Type",
        "access-control-max-age": "600",
    }


def test_another_origin_is_not_allowed(app_with: MakeClient) -> None:
    http = app_with([ALLOWED])
    answer = http.post("/graphql", json=QUERY, headers={"origin": "https://evil.example"})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers  # the browser hides it
    preflight = http.options("/graphql", headers={**PREFLIGHT, "origin": "https://evil.example"})
    assert preflight.status_code == 400 and "access-control-allow-origin" not in preflight.headers


def test_on_a_closed_service_a_preflight_needs_no_token_and_a_browser_can_read_the_401(app_with: MakeClient) -> None:
    http = app_with([ALLOWED], auth={"anonymous": []})
    assert http.options("/graphql", headers=PREFLIGHT).status_code == 200
    refused = http.post("/graphql", json=QUERY, headers={"origin": ALLOWED})
    assert refused.status_code == 401 and refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert cors_headers(refused.headers)["access-control-allow-origin"] == ALLOWED
