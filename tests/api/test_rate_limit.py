"""Rate limits: a token bucket per principal. Against a real `catalog serve` (each test a client address of its
own on the loopback network, 127.0.0.x, so each has its own bucket), through the app with two API tokens, and
the buckets themselves on a clock the test moves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.api.rate_limit import TokenBuckets, rate_key
from graphsvc.auth.principal import Principal
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.torture.processes import Server, serve

QUERY = {"query": "{ __typename }"}
REFUSAL = {
    "errors": [
        {
            "message": "rate limit exceeded: 2 requests per second, in bursts of up to 3, per token, user or "
            "anonymous address; retry in 1 s",
            "extensions": {"code": "RATE_LIMITED"},
        }
    ]
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("rate-limit")
    (base / "config.yaml").write_text("rate_limit_per_s: 2\nrate_limit_burst: 3\n")
    with serve(base / "store", base / "serve.log", options=["--config", str(base / "config.yaml")]) as running:
        yield running


def client_at(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def statuses(http: httpx.Client, url: str, count: int) -> list[int]:
    return [http.post(f"{url}/graphql", json=QUERY).status_code for _ in range(count)]


def test_past_the_burst_a_client_is_answered_429_until_its_bucket_refills(server: Server) -> None:
    with client_at("127.0.0.2") as http:
        assert statuses(http, server.url, 3) == [200, 200, 200]
        refused = http.post(f"{server.url}/graphql", json=QUERY)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json() == REFUSAL
        time.sleep(0.6)  # 2 tokens a second: one more request
        assert statuses(http, server.url, 2) == [200, 429]


def test_the_health_checks_are_not_limited(server: Server) -> None:
    with client_at("127.0.0.3") as http:
        assert statuses(http, server.url, 4)[-1] == 429
        assert [http.get(f"{server.url}{path}").status_code for path in ["/health", "/ready"] * 5] == [200] * 10


def test_each_client_address_has_its_own_bucket(server: Server) -> None:
    with client_at("127.0.0.4") as first, client_at("127.0.0.5") as second:
        assert statuses(first, server.url, 4) == [200, 200, 200, 429]
        assert statuses(second, server.url, 3) == [200, 200, 200]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CatalogService]:
    settings = Settings(store_dir=tmp_path / "store", rate_limit_per_s=0.1, rate_limit_burst=2)
    catalog = CatalogService(open_store(settings), settings)
    yield catalog
    catalog.close()


def test_each_token_has_its_own_bucket(service: CatalogService) -> None:
    alpha = service.write_now(lambda: service.tokens.create("alpha", ["read"], "cli:test"))
    beta = service.write_now(lambda: service.tokens.create("beta", ["read"], "cli:test"))

    def status(token: str) -> int:
        return http.post("/graphql", json=QUERY, headers={"authorization": f"Bearer {token}"}).status_code

    with TestClient(create_app(service)) as http:
        assert [status(alpha.token) for _ in range(3)] == [200, 200, 429]
        assert [status(beta.token) for _ in range(3)] == [200, 200, 429]


class Clock:
    """The buckets' time, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_holds_the_burst_and_refills_at_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(per_s=2, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(4)] == [0, 0, 0, 0.5]
    clock.now = 0.25
    assert buckets.take("a") == 0.25  # half a token back: half the wait left
    clock.now = 0.5
    assert [buckets.take("a"), buckets.take("a")] == [0, 0.5]
    clock.now = 100
    assert [buckets.take("a") for _ in range(4)] == [0, 0, 0, 0.5]  # full again, never more than the burst


def test_the_least_recently_used_buckets_are_dropped_past_the_cap() -> None:
    buckets = TokenBuckets(per_s=1, burst=1, max_keys=3, clock=Clock())
    for key in ["a", "b", "c"]:
        buckets.take(key)
    buckets.take("a")
    buckets.take("d")
    assert (len(buckets), "b" in buckets, "a" in buckets, "d" in buckets) == (3, False, True, True)
    for number in range(10_000):
        buckets.take(f"anonymous:10.0.{number // 256}.{number % 256}")
    assert len(buckets) == 3


@pytest.mark.parametrize(
    ("scope", "key"),
    [
        ({"state": {"principal": Principal.of("token:ci", ["read"], rate_key="token:1a2b")}}, "token:1a2b"),
        ({"state": {"principal": Principal.of("user:default/ann", ["read"])}}, "user:default/ann"),
        ({"state": {"principal": None}, "client": ("10.1.2.3", 5000)}, "anonymous:10.1.2.3"),
        ({"client": ("10.1.2.3", 5000)}, "anonymous:10.1.2.3"),
        ({}, "anonymous:unknown"),
    ],
)
def test_requests_count_against_the_principal_else_the_client_address(scope: dict, key: str) -> None:
    assert rate_key(scope) == key
