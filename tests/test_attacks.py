"""Every attack of the security review, replayed against a real `catalog serve` configured as deployed.

The service runs closed (no anonymous access; a `write` token and a `read` token), reading only under its
catalog directory, with a secret in its environment and an "internal" HTTP service next to it on loopback.
Each attack is refused with its documented status and message; afterwards nothing of what was aimed at is
in any answer or in the store (no file contents, no secret, no request reached the internal service), and a
point query answers in under 50 ms (`assert_responsive`).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.torture.processes import Server, catalog, serve

SECRET = "s3cret-" + "9f2c41d7e8"
"""In the service's environment, as NEO4J_PASSWORD would be: /proc/self/environ would show it."""
POINT_QUERY = '{ entity(ref: "component:default/hub") { ref } }'
HUB_DEPENDENTS = 40


class Internal(http.server.BaseHTTPRequestHandler):
    """An internal service on loopback that the catalog must never be made to fetch from."""

    requests: list[str] = []  # noqa: RUF012 - shared by the handler instances

    def do_GET(self) -> None:
        Internal.requests.append(self.path)
        body = b"internal-only: " + SECRET.encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Target:
    server: Server
    client: httpx.Client
    writer: str
    reader: str
    hammers: list[str]
    catalogs: Path
    store: Path
    internal_url: str

    def post(self, query: str, token: str | None = None, **variables: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)

    def register(self, target: str) -> dict[str, Any]:
        document = (
            "mutation($t: String!) { registerLocation(target: $t) { syncRun { added errorCount } "
            "errors { category message } } }"
        )
        return self.post(document, self.writer, t=target).json()


def hub_catalog() -> list[dict[str, Any]]:
    """A hub component that many others depend on, each with an owner: a graph relations can fan out in."""
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": "team"},
            "spec": {"type": "team", "children": []},
        },
        component("hub", []),
    ]
    docs += [
        component(f"svc-{i}", ["component:hub", f"component:svc-{(i + 1) % HUB_DEPENDENTS}"])
        for i in range(HUB_DEPENDENTS)
    ]
    return docs


def component(name: str, depends_on: list[str]) -> dict[str, Any]:
    spec = {"type": "service", "lifecycle": "production", "owner": "team", "dependsOn": depends_on}
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": name}, "spec": spec}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    base = tmp_path_factory.mktemp("attacks")
    catalogs = base / "catalogs"
    (catalogs / "main").mkdir(parents=True)
    (catalogs / "main" / "catalog-info.yaml").write_text(yaml.safe_dump_all(hub_catalog()))
    internal = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Internal)
    threading.Thread(target=internal.serve_forever, daemon=True).start()
    config = {
        "auth": {"anonymous": []},
        "reading": {"local_roots": [str(catalogs)]},
        "http_max_body_bytes": 1_048_576,
        "http_read_timeout_s": 2,
    }
    (base / "config.yaml").write_text(yaml.safe_dump(config))
    store, options = base / "store", ["--config", str(base / "config.yaml")]
    tokens = {}
    for name, scope in (("writer", "write"), ("reader", "read"), *((f"hammer-{i}", "read") for i in range(5))):
        created = catalog("token", "create", name, "--scope", scope, "--store", str(store), *options)
        assert created.returncode == 0, created.stderr
        tokens[name] = created.stdout.strip()
    env = {"CATALOG_TEST_SECRET": SECRET}
    with serve(store, base / "serve.log", options=options, env=env, suite_defaults=False) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            hammers = [tokens[f"hammer-{i}"] for i in range(5)]
            internal_url = f"http://127.0.0.1:{internal.server_address[1]}/internal"
            attacked = Target(
                server, client, tokens["writer"], tokens["reader"], hammers, catalogs, store, internal_url
            )
            assert attacked.register(str(catalogs / "main"))["data"]["registerLocation"]["syncRun"] == {
                "added": HUB_DEPENDENTS + 2,
                "errorCount": 0,
            }
            yield attacked
    internal.shutdown()


def assert_responsive(target: Target) -> None:
    """A point query, right after the attack, answered correctly in under 50 ms."""
    started = time.perf_counter()
    response = target.post(POINT_QUERY, target.reader)
    elapsed = time.perf_counter() - started
    assert response.json() == {"data": {"entity": {"ref": "component:default/hub"}}}
    assert elapsed < 0.05, f"the point query took {elapsed * 1000:.0f} ms"


def assert_nothing_leaked(target: Target, *texts: str) -> None:
    """Neither the secret nor `texts` are in any answer a reader can get, nor in the store's files."""
    everything = target.post(
        "{ entities(first: 1000) { edges { node { ref spec document } } } errors(first: 1000) { message location } "
        "syncRuns(first: 1000) { source } locations { target } }",
        target.reader,
    ).text
    stored = b"".join(path.read_bytes() for path in target.store.rglob("*") if path.is_file())
    for text in (SECRET, *texts):
        assert text not in everything
        assert text.encode() not in stored
    assert Internal.requests == []


def entity_count(target: Target) -> int:
    return target.post("{ entities { totalCount } }", target.reader).json()["data"]["entities"]["totalCount"]


# --- anyone can do anything ----------------------------------------------------------------------------------


def test_an_anonymous_unregister_is_refused_and_closes_nothing(target: Target) -> None:
    response = target.post(
        f'mutation {{ unregisterLocation(target: "{target.catalogs / "main"}") {{ syncRun {{ removed }} }} }}'
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert entity_count(target) == HUB_DEPENDENTS + 2
    assert_responsive(target)


def test_a_reader_cannot_unregister_either(target: Target) -> None:
    response = target.post(
        f'mutation {{ unregisterLocation(target: "{target.catalogs / "main"}") {{ syncRun {{ removed }} }} }}',
        target.reader,
    )
    assert response.status_code == 403 and response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert entity_count(target) == HUB_DEPENDENTS + 2
    assert_responsive(target)


# --- any file of the server ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", r"/etc/passwd is outside the allowed local roots \(reading.local_roots\)"),
        ("/etc/shadow", r"/etc/shadow is outside the allowed local roots \(reading.local_roots\)"),
        ("/proc/self/environ", r"/proc/\d+/environ is under /proc, which is never read"),
        ("/dev/zero", "/dev/zero is under /dev, which is never read"),
    ],
)
def test_registering_a_file_outside_the_roots_is_refused_unread(target: Target, path: str, message: str) -> None:
    started = time.perf_counter()
    answer = target.register(path)
    assert time.perf_counter() - started < 5
    assert answer["data"] is None
    assert re.fullmatch(message, answer["errors"][0]["message"])
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert_nothing_leaked(target, "root:x:0:0", "root:")
    assert path not in [
        loc["target"] for loc in target.post("{ locations { target } }", target.reader).json()["data"]["locations"]
    ]
    assert_responsive(target)


@pytest.mark.parametrize(
    ("placeholder", "rule"),
    [
        ("../../../../../../../../etc/passwd", "outside the location's root"),
        ("/etc/shadow", "outside the location's root"),
        ("/proc/self/environ", "never read"),
        ("file:///etc/passwd", "outside the location's root"),
    ],
)
def test_a_placeholder_pointing_out_of_its_root_is_an_error_record_and_nothing_is_stored(
    target: Target, placeholder: str, rule: str
) -> None:
    name = f"leak-{abs(hash(placeholder)) % 10_000}"
    directory = target.catalogs / name
    directory.mkdir()
    doc = component(name, []) | {}
    doc["spec"]["description"] = {"$text": placeholder}
    (directory / "catalog-info.yaml").write_text(yaml.safe_dump(doc))
    answer = target.register(str(directory))["data"]["registerLocation"]
    assert answer["syncRun"]["errorCount"] == 1
    (error,) = answer["errors"]
    assert error["category"] == "read" and rule in error["message"]
    assert str(target.catalogs) not in error["message"]  # named relative to the location's root
    assert_nothing_leaked(target, "root:x:0:0", "root:*:", "PATH=")
    assert_responsive(target)


def test_a_symlink_out_of_the_root_is_not_followed(target: Target) -> None:
    directory = target.catalogs / "linked"
    directory.mkdir()
    (directory / "passwd.txt").symlink_to("/etc/passwd")
    doc = component("linked", [])
    doc["spec"]["description"] = {"$text": "./passwd.txt"}
    (directory / "catalog-info.yaml").write_text(yaml.safe_dump(doc))
    answer = target.register(str(directory))["data"]["registerLocation"]
    assert answer["syncRun"]["errorCount"] == 1 and "outside the location's root" in answer["errors"][0]["message"]
    assert_nothing_leaked(target, "root:x:0:0")
    assert_responsive(target)


def test_a_fifo_as_a_target_is_refused_without_waiting_for_a_writer(target: Target) -> None:
    fifo = target.catalogs / "main" / "pipe.yaml"
    os.mkfifo(fifo)
    try:
        started = time.perf_counter()
        answer = target.register(str(fifo))
        assert time.perf_counter() - started < 5
        assert answer["data"] is None and "not a regular file" in answer["errors"][0]["message"]
    finally:
        fifo.unlink()
    assert_responsive(target)


def test_a_file_that_is_no_catalog_is_not_quoted(target: Target) -> None:
    directory = target.catalogs / "secrets"
    directory.mkdir()
    (directory / "catalog-info.yaml").write_text(f"DATABASE_URL=postgres://admin:{SECRET}@db.internal/prod\n")
    answer = target.register(str(directory / "catalog-info.yaml"))["data"]["registerLocation"]
    assert answer["syncRun"]["errorCount"] == 1
    assert SECRET not in json.dumps(answer) and "postgres://" not in json.dumps(answer)
    assert_nothing_leaked(target, "postgres://admin")
    assert_responsive(target)


# --- server-side request forgery ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "{internal}",
        "http://localhost:{port}/internal",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433:{port}/",
    ],
)
def test_a_placeholder_url_to_an_internal_address_is_refused_without_connecting(target: Target, url: str) -> None:
    port = target.internal_url.split(":")[2].split("/")[0]
    url = url.format(internal=target.internal_url, port=port)
    name = f"ssrf-{abs(hash(url)) % 10_000}"
    directory = target.catalogs / name
    directory.mkdir()
    doc = component(name, [])
    doc["spec"]["description"] = {"$text": url}
    (directory / "catalog-info.yaml").write_text(yaml.safe_dump(doc))
    answer = target.register(str(directory))["data"]["registerLocation"]
    assert answer["syncRun"]["errorCount"] == 1 and "reading.url_hosts" in answer["errors"][0]["message"]
    assert_nothing_leaked(target, "internal-only")
    assert_responsive(target)


@pytest.mark.parametrize("url", ["{internal}.yaml", "git+http://127.0.0.1:{port}/repo.git"])
def test_registering_an_internal_url_or_repository_is_refused(target: Target, url: str) -> None:
    port = target.internal_url.split(":")[2].split("/")[0]
    answer = target.register(url.format(internal=target.internal_url, port=port))
    assert answer["data"] is None and "hosts" in answer["errors"][0]["message"]
    assert_nothing_leaked(target, "internal-only")
    assert_responsive(target)


# --- one request exhausting the server -----------------------------------------------------------------------

NESTED_RELATIONS = "{ entity(ref: $r) { " + "relations { target { " * 5 + "ref" + " } }" * 5 + " } }"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($r: String!) " + NESTED_RELATIONS, {"r": "component:hub"}),
        ("{ entities(first: 1000) { edges { node { ref dependencies(depth: 10) { ref owner { ref } } } } } }", {}),
    ],
)
def test_a_query_that_would_exhaust_the_server_is_refused_before_it_runs(
    target: Target, query: str, variables: dict[str, str]
) -> None:
    started = time.perf_counter()
    response = target.post(query, target.reader, **variables)
    assert time.perf_counter() - started < 1
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY" and "(query_max_cost)" in error["message"]
    assert error["extensions"]["cost"] > error["extensions"]["limit"] == 20_000
    assert_responsive(target)


def test_a_point_query_stays_fast_while_the_costliest_allowed_queries_run(target: Target) -> None:
    costly = (
        "{ entities(first: 39) { edges { node { ref dependencies(depth: 10, first: 100) { ref owner { ref } } } } } }"
    )
    stop = threading.Event()
    answered: list[str] = []

    def hammer(token: str) -> None:
        with httpx.Client(base_url=target.server.url, timeout=60) as client:
            while not stop.is_set():
                response = client.post("/graphql", json={"query": costly}, headers={"authorization": f"Bearer {token}"})
                errors = response.json().get("errors")
                answered.append(errors[0]["extensions"]["code"] if errors else "answered")

    threads = [threading.Thread(target=hammer, args=(token,)) for token in target.hammers]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        for _ in range(5):
            assert_responsive(target)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    # each answered in full (cost 19,619, just within the limit), or refused past its token's rate
    assert "answered" in answered and set(answered) <= {"answered", "RATE_LIMITED"}


# --- HTTP ----------------------------------------------------------------------------------------------------


def raw_post(target: Target, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    all_headers = {"content-type": "application/json", "authorization": f"Bearer {target.reader}", **(headers or {})}
    return target.client.post("/graphql", content=body, headers=all_headers)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'"just a string"', 400, 'the request body must be a JSON object: {"query": "..."}'),
        (b"[" * 100_000 + b"]" * 100_000, 400, "the request body is JSON nested too deeply"),
        (
            json.dumps(
                {
                    "query": "query($f: EntityFilter) { entities(filter: $f) { totalCount } }",
                    "variables": {"f": {"kind": json.loads("[" * 500 + "]" * 500)}},
                }
            ).encode(),
            400,
            "the request body is JSON nested more than 32 levels deep (variables included)",
        ),
        (
            b'{"query": "' + b"x" * (50 * 1024 * 1024) + b'"}',
            413,
            "the request body (52,428,813 bytes or more) is over the limit of 1,048,576 bytes",
        ),
    ],
)
def test_a_malformed_or_oversized_body_is_a_clear_4xx(target: Target, body: bytes, status: int, message: str) -> None:
    response = raw_post(target, body)
    assert (response.status_code, response.json()["errors"][0]["message"]) == (status, message)
    assert_responsive(target)


def test_a_partial_request_is_answered_408_not_held_open(target: Target) -> None:
    host, port = target.server.url.removeprefix("http://").split(":")
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: 1000\r\nauthorization: Bearer " + target.reader.encode() + b'\r\n\r\n{"query": '
        )
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408") and time.perf_counter() - started < 5
    assert_responsive(target)


def test_a_foreign_host_header_is_refused(target: Target) -> None:
    response = target.client.post(
        "/graphql",
        json={"query": POINT_QUERY},
        headers={"host": "attacker.example", "authorization": f"Bearer {target.reader}"},
    )
    assert response.status_code == 400 and "attacker.example" in response.json()["errors"][0]["message"]
    assert_responsive(target)


def test_error_texts_name_no_absolute_server_path(target: Target) -> None:
    directory = target.catalogs / "broken"
    directory.mkdir()
    (directory / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: 'bad name!'}\n"
    )
    answer = target.register(str(directory))["data"]["registerLocation"]
    assert answer["errors"] and all(str(target.catalogs) not in e["message"] for e in answer["errors"])
    assert_responsive(target)
