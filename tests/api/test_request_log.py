"""The request log of a real `catalog serve`, read from its stderr: one JSON object per line, uvicorn's lines
included, one line per request with its id, principal, operation and duration; the id echoed to the client,
a hostile one replaced; no credentials in the log."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphsvc.auth.tokens import ApiTokens
from graphsvc.store import open_store
from tests.suite_settings import suite_settings
from tests.torture.processes import Server, serve

GENERATED_ID = re.compile(r"[0-9a-f]{16}")
OWNERS = {"query": "query Owners { entities(first: 1) { totalCount } }"}


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An API token in the store the server will open."""
    store = open_store(suite_settings(store_dir=tmp_path_factory.getbasetemp() / "request-log-store"))
    try:
        return ApiTokens(lambda: store).create("ci", ["read"], "cli:test").token
    finally:
        store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, token: str) -> Iterator[Server]:
    base = tmp_path_factory.getbasetemp()
    with serve(base / "request-log-store", base / "request-log.log", options=["-v"]) as running:
        yield running


def log_lines(server: Server) -> list[str]:
    """The service's output, less the one line `catalog serve` prints to say where it serves."""
    return [line for line in server.log.read_text().splitlines() if not line.startswith("catalog: serving ")]


def request_line(server: Server, request_id: str) -> dict[str, Any]:
    """The log line of one request (written once the response is sent: waited for)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in log_lines(server):
            record = json.loads(line)
            if record["logger"] == "graphsvc.request" and record["request_id"] == request_id:
                return record
        time.sleep(0.05)
    raise AssertionError(f"no log line for request {request_id}:\n{server.log.read_text()}")


def test_a_request_is_logged_as_one_json_line_with_its_id(server: Server) -> None:
    response = httpx.post(f"{server.url}/graphql", json=OWNERS, headers={"x-request-id": "deploy-42.a_B"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "deploy-42.a_B"

    line = request_line(server, "deploy-42.a_B")

    assert datetime.fromisoformat(line.pop("ts")).utcoffset() == timedelta(0)
    assert 0 < line.pop("duration_ms") < 5000
    assert line.pop("message").startswith("POST /graphql 200 ")
    assert line == {
        "level": "info",
        "logger": "graphsvc.request",
        "request_id": "deploy-42.a_B",
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "principal": "anonymous",
        "operation": "Owners",
        "bytes_sent": len(response.content),
        "client": "127.0.0.1",
    }


def test_the_path_is_logged_without_its_query_string(server: Server) -> None:
    response = httpx.get(f"{server.url}/health", params={"secret": "s3cr3t"})
    line = request_line(server, response.headers["x-request-id"])
    assert (line["path"], line["status"], line["operation"]) == ("/health", 200, None)
    assert "s3cr3t" not in server.log.read_text()


@pytest.mark.parametrize("given", ["x" * 65, "has space", "<script>", "a/b", ""])
def test_a_request_id_that_is_not_short_and_safe_is_replaced(server: Server, given: str) -> None:
    response = httpx.post(f"{server.url}/graphql", json=OWNERS, headers={"x-request-id": given})
    assigned = response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(assigned)
    assert request_line(server, assigned)["status"] == 200


def test_refusals_are_logged_too_and_credentials_never(server: Server, token: str) -> None:
    bogus = "cgt_000000000000_notarealtokennotarealtokennotarealtoken00"
    accepted = httpx.post(f"{server.url}/graphql", json=OWNERS, headers={"authorization": f"Bearer {token}"})
    refused = httpx.post(f"{server.url}/graphql", json=OWNERS, headers={"authorization": f"Bearer {bogus}"})
    assert (accepted.status_code, refused.status_code) == (200, 401)

    assert request_line(server, accepted.headers["x-request-id"])["principal"] == "token:ci"
    line = request_line(server, refused.headers["x-request-id"])
    assert (line["status"], line["principal"], line["operation"]) == (401, "anonymous", "Owners")
    log = server.log.read_text()
    assert token not in log and bogus not in log and "Bearer" not in log


def test_every_line_is_json_uvicorns_included_and_its_access_log_is_off(server: Server) -> None:
    httpx.get(f"{server.url}/health")
    records = [json.loads(line) for line in log_lines(server)]
    loggers = {record["logger"] for record in records}
    assert {"uvicorn.error", "graphsvc.request"} <= loggers
    assert "uvicorn.access" not in loggers


def test_text_lines_when_configured(tmp_path: Path) -> None:
    with serve(tmp_path / "store", tmp_path / "serve.log", env={"CATALOG_LOG_FORMAT": "text"}) as text:
        response = httpx.post(f"{text.url}/graphql", json=OWNERS)
        request_id = response.headers["x-request-id"]
        deadline = time.monotonic() + 10
        while request_id not in text.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    [line] = [line for line in text.log.read_text().splitlines() if request_id in line]
    assert re.fullmatch(
        rf"\S+ \S+ INFO graphsvc\.request: POST /graphql 200 [0-9.]+ ms request_id={request_id} "
        r"principal=anonymous operation=Owners",
        line,
    ), line


def test_bad_input_is_one_line_carrying_the_request_id(server: Server) -> None:
    query = {"query": '{ entity(ref: "no-kind-here") { ref } }'}
    response = httpx.post(f"{server.url}/graphql", json=query, headers={"x-request-id": "bad-input-1"})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    request_line(server, "bad-input-1")  # written after the refusal's line: both are in the log now
    records = [json.loads(line) for line in log_lines(server)]
    refusals = [r for r in records if r.get("request_id") == "bad-input-1" and r["logger"] == "graphsvc.api.schema"]
    assert [(r["level"], r["message"]) for r in refusals] == [
        (
            "info",
            "refused: invalid entity ref 'no-kind-here': entity ref 'no-kind-here' has no kind and no default kind "
            "applies; write it as [<kind>:][<namespace>/]<name>, e.g. component:no-kind-here",
        )
    ]
    assert "Traceback" not in server.log.read_text()
