"""HTTP hygiene against a real `catalog serve` on loopback: an oversized body is refused before it is read
whole, a stalled body is answered 408 in time, every response carries the security headers, and the service
answers a point query right after each."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.torture.processes import Server, serve

POINT_QUERY = {"query": "{ entities(first: 1) { totalCount } }"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("http-limits")
    env = {"CATALOG_HTTP_MAX_BODY": "65536", "CATALOG_HTTP_READ_TIMEOUT": "1"}
    with serve(base / "store", base / "serve.log", env=env) as running:
        yield running


def assert_responsive(server: Server) -> None:
    started = time.perf_counter()
    response = httpx.post(f"{server.url}/graphql", json=POINT_QUERY, timeout=10)
    assert response.status_code == 200 and "errors" not in response.json()
    assert time.perf_counter() - started < 0.5


def test_a_body_over_the_limit_is_refused_with_413_naming_it(server: Server) -> None:
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 100_000}})
    response = httpx.post(f"{server.url}/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {
        "errors": [{"message": f"the request body ({len(body):,} bytes or more) is over the limit of 65,536 bytes"}]
    }
    assert_responsive(server)


def test_a_body_sent_in_chunks_without_a_length_is_counted_too(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(20):
            yield b"x" * 10_000
        yield b'"}}'

    response = httpx.post(f"{server.url}/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "over the limit of 65,536 bytes" in response.text
    assert_responsive(server)


def test_a_body_that_stalls_is_answered_408_in_time(server: Server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"query": '
        )
        started = time.perf_counter()
        first = client.recv(65536)
        waited = time.perf_counter() - started
        rest = b"".join(iter(lambda: client.recv(65536), b""))  # the headers and the body may come apart
        answer = (first + rest).decode()
    assert answer.startswith("HTTP/1.1 408")
    assert "did not arrive within 1 s" in answer
    assert 0.8 < waited < 5
    assert_responsive(server)


@pytest.mark.parametrize(
    "request_args",
    [("GET", "/graphql", {"headers": {"accept": "text/html"}}), ("POST", "/graphql", {"json": POINT_QUERY})],
    ids=["GraphiQL page", "GraphQL answer"],
)
def test_every_response_carries_the_security_headers(server: Server, request_args: tuple) -> None:
    method, path, options = request_args
    response = httpx.request(method, f"{server.url}{path}", timeout=10, **options)
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_the_limits_are_settings(tmp_path: Path) -> None:
    from graphsvc.config import load_settings

    settings = load_settings(None, store_dir=tmp_path)
    assert (settings.http_max_body_bytes, settings.http_read_timeout_s) == (1_048_576, 30.0)


@pytest.mark.parametrize(
    ("host", "status"),
    [("127.0.0.1", 200), ("localhost", 200), ("LOCALHOST", 200), ("evil.example", 400), ("127.0.0.1.nip.io", 400)],
)
def test_on_loopback_only_loopback_names_are_answered(server: Server, host: str, status: int) -> None:
    """DNS rebinding: a web page whose name resolves to 127.0.0.1 must not reach a developer's instance."""
    port = server.url.rsplit(":", 1)[1]
    response = httpx.post(f"{server.url}/graphql", json=POINT_QUERY, headers={"host": f"{host}:{port}"}, timeout=10)
    assert response.status_code == status
    if status == 400:
        assert response.json() == {
            "errors": [{"message": f"the Host header {host!r} is not a name this service answers to"}]
        }


def test_the_names_answered_are_a_setting(tmp_path: Path) -> None:
    env = {"CATALOG_ALLOWED_HOSTS": "catalog.internal, 127.0.0.1"}  # 127.0.0.1: the test's own health check
    with serve(tmp_path / "store", tmp_path / "serve.log", env=env) as other:
        port = other.url.rsplit(":", 1)[1]

        def status(host: str) -> int:
            return httpx.post(f"{other.url}/graphql", json=POINT_QUERY, headers={"host": f"{host}:{port}"}).status_code

        assert [status(h) for h in ("catalog.internal", "127.0.0.1", "localhost")] == [200, 200, 400]
