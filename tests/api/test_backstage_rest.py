"""The REST catalog API answers what the real Backstage catalog backend answers, on the same catalogs.

The golden answers in `backstage_golden/` were recorded from Backstage's catalog backend (catalog-backend 4.0.0 on
PostgreSQL, `bench/record_backstage_golden.py`): one request list for Backstage's example catalog (the fixture,
from its three roots), one for the peer's generated 10k catalog (regenerated here by the peer's own generator,
which is deterministic). Each request is sent to our service on the same catalog and the answers compared whole,
after `normalised` maps what Backstage generates (uids, etags, location ids, cursors) and what depends on the
machine (the catalog's directory, and the generated Location names hashed from it) to placeholders.

What Backstage cannot ingest is left out of our copy of the fixture (`REJECTED_BY_BACKSTAGE`, with Backstage's
reason), so every count and page compares exactly; what we answer differently on purpose is `DIFFERENCES`, each
checked for what we answer instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bench.record_backstage_golden import FIXTURE_ROOTS, GENERATED_SIZE, PEER, resolve_path
from graphsvc.api.app import create_app
from graphsvc.api.backstage.entity_shape import ENTITY_UID_NAMESPACE, entity_uid
from graphsvc.api.backstage.search import search_rows, search_rows_of
from graphsvc.api.response_cache import ResponseCache
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.conftest import FIXTURES
from tests.suite_settings import suite_settings

GOLDEN = Path(__file__).parent / "backstage_golden"
REJECTED_BY_BACKSTAGE = {
    "packages/catalog-model/examples/apis/petstore-api.yaml": "`$text: ./petstore.oas.yaml` beside a file location: "
    "Backstage's placeholder resolver cannot form a URL from a file path",
    "packages/catalog-model/examples/apis/petstore-webhook-api.yaml": "the same, `$text: ./petstore-webhook.oas.yaml`",
    "packages/catalog-model/examples/apis/backstage-mcp-server-api.yaml": "Backstage 4.0's API schema requires "
    "spec.definition, which this entity lacks",
    "packages/catalog-model/examples/apis/wayback-archive-api.yaml": "its `$text` URL cannot be fetched offline",
    "packages/catalog-model/examples/apis/spotify-api.yaml": "its `$text` URL cannot be fetched offline",
    "packages/catalog-model/examples/apis/wayback-search-api.yaml": "its `$text` URL cannot be fetched offline",
    "packages/catalog-model/examples/all-ai-resources.yaml": "the Location emits AiResource entities, a kind the "
    "catalog's rules do not allow: Backstage fails the Location itself",
    "plugins/scaffolder-backend/sample-templates/remote-templates.yaml": "the Location's targets cannot be fetched "
    "offline: Backstage fails the Location itself",
}
"""Files of the fixture whose entity Backstage rejects (its refresh_state errors when recording): our copy holds
them empty. We keep such entities (README: "Backstage REST API"); Backstage's answers lack them."""
DIFFERENCES = {
    "locations_before": "we list every registered location; Backstage lists only those registered through its API, "
    "not its app-config's",
    "locations_after_create": "the same",
    "location_create_file": "we register file locations (Backstage allows only url ones by default)",
    "location_create": "we read a location when it is registered: example.com cannot be read offline, so 400",
    "location_by_id": "follows location_create",
    "location_delete": "follows location_create",
    "location_delete_again": "follows location_create",
    "location_by_id_missing": "follows location_create",
    "validate_bad_entity": "the rules are Backstage's, the messages ours",
    "validate_missing_spec": "the rules are Backstage's, the messages ours",
    "bad_cursor": "the message names the parser's error: ours is Python's, Backstage's JavaScript's",
    "by_query_post": "POST /entities/by-query (predicate queries) is not served",
}
"""Golden answers we do not reproduce, and why; `test_each_difference_answers_what_we_say` checks ours."""
CURSOR_KEYS = {"nextCursor", "prevCursor"}
GENERATED_NAME = re.compile(r"generated-[0-9a-f]{40}")


# --- the catalogs ------------------------------------------------------------------------------------------------


def fixture_copy(directory: Path) -> Path:
    """Backstage's example catalog as Backstage can ingest it: a copy without what it rejects."""
    copy = directory / "backstage-examples"
    shutil.copytree(FIXTURES, copy)
    for path in REJECTED_BY_BACKSTAGE:
        (copy / path).write_text("# left out: Backstage rejects this entity (tests/api/test_backstage_rest.py)\n")
    return copy


def generated_copy(directory: Path) -> Path:
    """The peer's generated 10k catalog, written by its own generator (python3 only, deterministic)."""
    env = {"BS_ROOT": str(directory), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, str(PEER / "bench.py"), "--sizes", str(GENERATED_SIZE), "--generate-only"]
    subprocess.run(command, env=env, check=True, capture_output=True)
    return directory / "data" / f"n{GENERATED_SIZE}"


class Catalog:
    """A service on one catalog, its HTTP client, and how its paths map to the golden answers'."""

    def __init__(self, name: str, service: CatalogService, root: Path, targets: list[str]) -> None:
        self.name = name
        self.service = service
        self.http = TestClient(create_app(service))
        meta = json.loads((GOLDEN / name / "_meta.json").read_text())
        self.golden_root = meta["catalog_dir"]
        self.root = str(root)
        self.generated_names = {
            **{
                _generated(t.replace(self.root, self.golden_root)): _generated(t.replace(self.root, "<CATALOG>"))
                for t in targets
            },
            **{_generated(t): _generated(t.replace(self.root, "<CATALOG>")) for t in targets},
        }

    def requests(self) -> list[dict[str, Any]]:
        return json.loads((GOLDEN / f"{self.name}-requests.json").read_text())

    def golden(self, name: str) -> dict[str, Any]:
        return json.loads((GOLDEN / self.name / f"{name}.json").read_text())

    def send(self, request: dict[str, Any], answers: dict[str, Any]) -> Any:
        path = resolve_path(request["path"], answers)
        response = self.http.request(request["method"], path, json=request.get("body"))
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        answers[request["name"]] = body
        return response, body

    def normalised(self, value: Any, root: str) -> Any:
        if isinstance(value, dict):
            return {k: self._placeholder(k, v, root) for k, v in value.items()}
        if isinstance(value, list):
            return [self.normalised(item, root) for item in value]
        if isinstance(value, str):
            value = value.replace(root, "<CATALOG>")
            return GENERATED_NAME.sub(lambda m: self.generated_names.get(m.group(0), m.group(0)), value)
        return value

    def _placeholder(self, key: str, value: Any, root: str) -> Any:
        if key in ("uid", "etag") or key in CURSOR_KEYS:
            return f"<{key}>"
        return self.normalised(value, root)


def _generated(location_ref: str) -> str:
    return "generated-" + hashlib.sha1(location_ref.encode()).hexdigest()  # noqa: S324 - Backstage's naming


def _open(settings: Settings) -> CatalogService:
    return CatalogService(open_store(settings), settings)


@pytest.fixture(scope="module")
def fixture_catalog(module_store_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    root = fixture_copy(tmp_path_factory.mktemp("fixture"))
    service = _open(module_store_settings.model_copy(update={"fetch_timeout_s": 1}))
    targets = [str(root / path) for path in FIXTURE_ROOTS]
    for target in targets:
        service.register(target)
    yield Catalog("fixture", service, root, [f"file:{t}" for t in targets])
    service.close()


@pytest.fixture(scope="module")
def generated_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """On SQLite only: ingesting 10k entities into Neo4j would add minutes to every CI run (the fixture catalog
    covers the Neo4j store's part of every endpoint)."""
    directory = tmp_path_factory.mktemp("generated")
    root = generated_copy(directory)
    service = _open(suite_settings(store_dir=directory / "store"))
    service.register(str(root), glob="*.yaml")
    yield Catalog("generated-10k", service, root, [f"file:{root}/*.yaml"])
    service.close()


# --- the golden answers ------------------------------------------------------------------------------------------


def unordered(path: str) -> bool:
    """Requests whose order Backstage leaves to its uids (random): compared as sets."""
    query = path.partition("?")[2]
    if path.split("?")[0].endswith("/entities"):
        return not any(p in query for p in ("order=", "limit=", "offset=", "after="))
    if path.split("?")[0].endswith("/entities/by-query"):
        return "orderField=" not in query and "cursor=" not in query
    return False


def comparable(catalog: Catalog, golden: dict[str, Any], body: Any, root: str) -> Any:
    body = catalog.normalised(body, root)
    if unordered(golden["request"]["path"]):
        key = lambda item: json.dumps(item, sort_keys=True)  # noqa: E731
        if isinstance(body, list):
            body = sorted(body, key=key)
        elif isinstance(body, dict) and "items" in body:
            body = {**body, "items": sorted(body["items"], key=key)}
    return body


def compare_all(catalog: Catalog) -> list[str]:
    """Send every request of the catalog's list; the names whose answer differs from Backstage's, with both."""
    answers: dict[str, Any] = {}
    wrong = []
    for request in catalog.requests():
        if request.get("auth") is False or request["name"] in DIFFERENCES:
            continue  # test_unauthenticated_requests_get_backstages_401, test_each_difference_answers_what_we_say
        response, body = catalog.send(request, answers)
        golden = catalog.golden(request["name"])
        ours = (response.status_code, comparable(catalog, golden, body, catalog.root), response.headers.get("link"))
        theirs = (golden["status"], comparable(catalog, golden, golden["body"], catalog.golden_root), golden["link"])
        if ours != theirs:
            wrong.append(f"{request['name']}: {first_difference(list(ours), list(theirs))}")
    return wrong


def first_difference(ours: Any, theirs: Any, path: str = "") -> str:
    """Where two JSON values first differ, and how (for a failure message a reader can act on)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(set(ours) | set(theirs)):
            if ours.get(key, "<absent>") != theirs.get(key, "<absent>"):
                return first_difference(ours.get(key, "<absent>"), theirs.get(key, "<absent>"), f"{path}.{key}")
    if isinstance(ours, list) and isinstance(theirs, list):
        for index, (a, b) in enumerate(zip(ours, theirs, strict=False)):
            if a != b:
                return first_difference(a, b, f"{path}[{index}]")
        if len(ours) != len(theirs):
            return f"{path}: {len(ours)} items, Backstage {len(theirs)}"
    return f"{path}: ours {json.dumps(ours)[:400]}, Backstage {json.dumps(theirs)[:400]}"


def test_fixture_catalog_answers_are_backstages(fixture_catalog: Catalog) -> None:
    wrong = compare_all(fixture_catalog)
    assert not wrong, "\n".join(wrong)


def test_generated_10k_catalog_answers_are_backstages(generated_catalog: Catalog) -> None:
    wrong = compare_all(generated_catalog)
    assert not wrong, "\n".join(wrong)


# --- what we answer differently, on purpose ----------------------------------------------------------------------


def test_each_difference_answers_what_we_say(fixture_catalog: Catalog) -> None:
    http = fixture_catalog.http
    listed = http.get("/api/catalog/locations").json()
    assert sorted(item["data"]["target"] for item in listed) == sorted(
        f"{fixture_catalog.root}/{root}" for root in FIXTURE_ROOTS
    )
    assert all(item["data"]["type"] == "file" for item in listed)
    assert {item["data"]["entityRef"] for item in listed} == {
        f"location:default/{_generated('file:' + item['data']['target'])}" for item in listed
    }
    offline = http.post("/api/catalog/locations", json={"type": "url", "target": "https://example.invalid/c.yaml"})
    assert offline.status_code == 400 and offline.json()["error"]["name"] == "InputError"
    assert "could not fetch" in offline.json()["error"]["message"]
    for name in ("validate_bad_entity", "validate_missing_spec"):
        golden = fixture_catalog.golden(name)
        answer = http.post("/api/catalog/validate-entity", json=golden["request"]["body"])
        assert answer.status_code == golden["status"] == 400
        assert [e["name"] for e in answer.json()["errors"]] == ["InputError"]
    assert (
        "metadata.name"
        in http.post(
            "/api/catalog/validate-entity", json=fixture_catalog.golden("validate_bad_entity")["request"]["body"]
        ).json()["errors"][0]["message"]
    )
    cursor = http.get("/api/catalog/entities/by-query?cursor=bm90LWpzb24")
    assert cursor.status_code == 400 and cursor.json()["error"]["message"].startswith("Malformed cursor: ")
    assert http.post("/api/catalog/entities/by-query", json={"query": {"kind": "component"}}).status_code == 404


# --- answers kept per store commit (graphsvc.api.response_cache) -------------------------------------------------


def test_every_read_asked_again_is_answered_from_the_cache_byte_for_byte(fixture_catalog: Catalog) -> None:
    """Every read of the golden list asked twice: the second answer is the kept one (a hit), and it is the
    first one exactly: status, link header, body bytes. (An app of its own: its own rate limit too.)"""
    http = TestClient(create_app(fixture_catalog.service))
    cache: ResponseCache = http.app.state.response_cache  # type: ignore[attr-defined]
    answers: dict[str, Any] = {}
    reads = [r for r in fixture_catalog.requests() if r["method"] == "GET" and "/locations" not in r["path"]]
    reads += [r for r in fixture_catalog.requests() if r["path"].endswith("/by-refs")]
    assert len(reads) > 40
    for request in reads:
        path = resolve_path(request["path"], answers)
        first = http.request(request["method"], path, json=request.get("body"))
        answers[request["name"]] = first.json() if first.content else None
        hits = cache.hits
        second = http.request(request["method"], path, json=request.get("body"))
        triple = lambda r: (r.status_code, r.headers.get("link"), r.content)  # noqa: E731
        assert triple(second) == triple(first), request["name"]
        assert cache.hits == hits + (first.status_code == 200), request["name"]


def test_a_write_makes_the_kept_answers_stale(writable: tuple[TestClient, Path]) -> None:
    http, catalog = writable
    components = "/api/catalog/entities?filter=kind=component&fields=metadata.name"
    before = http.get(components).json()
    assert http.get(components).json() == before  # kept
    created = http.post("/api/catalog/locations", json={"type": "file", "target": str(catalog)}).json()
    try:
        assert sorted(e["metadata"]["name"] for e in http.get(components).json()) == sorted(
            [*(e["metadata"]["name"] for e in before), "billing"]
        )
    finally:
        http.delete(f"/api/catalog/locations/{created['location']['id']}")
    assert http.get(components).json() == before


# --- registering and removing locations, end to end ------------------------------------------------------------


@pytest.fixture
def writable(fixture_catalog: Catalog, tmp_path: Path) -> tuple[TestClient, Path]:
    """The fixture catalog's service (one store per module: Neo4j holds one database), and a catalog file to
    register in it; each test leaves the registered locations as it found them."""
    catalog = tmp_path / "team" / "catalog-info.yaml"
    catalog.parent.mkdir()
    catalog.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: billing}\n"
        "spec: {type: service, lifecycle: production, owner: group:default/payments}\n"
    )
    return fixture_catalog.http, catalog


def test_post_and_delete_locations_register_and_remove_a_location(writable: tuple[TestClient, Path]) -> None:
    http, catalog = writable
    created = http.post("/api/catalog/locations", json={"type": "file", "target": str(catalog)})
    assert created.status_code == 201
    location = created.json()["location"]
    assert created.json()["entities"] == []
    name = _generated(f"file:{catalog}")
    assert location == {
        "entityRef": f"location:default/{name}",
        "id": location["id"],
        "target": str(catalog),
        "type": "file",
    }
    before = [item for item in http.get("/api/catalog/locations").json() if item != {"data": location}]
    assert len(before) == len(FIXTURE_ROOTS)
    assert http.get(f"/api/catalog/locations/{location['id']}").json() == location
    billing = http.get("/api/catalog/entities/by-name/component/default/billing").json()
    assert billing["metadata"]["annotations"] == {
        "backstage.io/managed-by-location": f"file:{catalog}",
        "backstage.io/managed-by-origin-location": f"file:{catalog}",
    }
    assert billing["relations"] == [{"type": "ownedBy", "targetRef": "group:default/payments"}]
    assert http.get(f"/api/catalog/entities/by-uid/{billing['metadata']['uid']}").json() == billing
    ancestry = http.get("/api/catalog/entities/by-name/component/default/billing/ancestry").json()
    assert [(i["entity"]["metadata"]["name"], i["parentEntityRefs"]) for i in ancestry["items"]] == [
        ("billing", [f"location:default/{name}"]),
        (name, []),
    ]
    again = http.post("/api/catalog/locations", json={"type": "file", "target": str(catalog)})
    assert again.status_code == 409 and again.json()["error"]["name"] == "ConflictError"

    catalog.write_text(catalog.read_text().replace("production", "experimental"))
    assert http.post("/api/catalog/refresh", json={"entityRef": "component:default/billing"}).status_code == 200
    refreshed = http.get("/api/catalog/entities/by-name/component/default/billing").json()
    assert refreshed["spec"]["lifecycle"] == "experimental"
    assert refreshed["metadata"]["uid"] == billing["metadata"]["uid"]
    assert refreshed["metadata"]["etag"] != billing["metadata"]["etag"]

    assert http.delete(f"/api/catalog/locations/{location['id']}").status_code == 204
    assert http.get("/api/catalog/locations").json() == before
    gone = http.get("/api/catalog/entities/by-name/component/default/billing")
    assert gone.status_code == 404 and gone.json()["error"]["name"] == "NotFoundError"
    missing = http.delete(f"/api/catalog/locations/{location['id']}")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"name": "NotFoundError", "message": f"Found no location with ID {location['id']}"},
        "request": {"method": "DELETE", "url": f"/locations/{location['id']}"},
        "response": {"statusCode": 404},
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "url"}, "request/body must have required property 'target'"),
        ({"type": "file", "target": "/x", "extra": 1}, "request/body must NOT have additional properties: 'extra'"),
        (
            {"type": "git", "target": "/x"},
            'Registered locations must be of an allowed type ["url","file"]; git:/x is not',
        ),
        ({"type": "file", "target": "/nowhere/catalog-info.yaml"}, "/nowhere/catalog-info.yaml"),
    ],
)
def test_bad_location_requests_are_refused_and_register_nothing(
    writable: tuple[TestClient, Path], body: dict[str, Any], message: str
) -> None:
    http, _ = writable
    before = http.get("/api/catalog/locations").json()
    answer = http.post("/api/catalog/locations", json=body)
    assert answer.status_code == 400 and answer.json()["error"]["name"] == "InputError"
    assert message in answer.json()["error"]["message"]
    assert http.get("/api/catalog/locations").json() == before


# --- authentication: Backstage's 401, and our scopes -----------------------------------------------------------


@pytest.fixture
def closed(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A service that lets nobody in without a token, and a read-only and a write token for it."""
    service = _open(suite_settings(store_dir=tmp_path / "store", auth={"anonymous": []}))
    tokens = {
        scope: service.write_now(lambda scope=scope: service.tokens.create(f"rest-{scope}", [scope], "test").token)
        for scope in ("read", "write")
    }
    with TestClient(create_app(service)) as http:
        yield http, tokens
    service.close()


def test_unauthenticated_requests_get_backstages_401(closed: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = closed
    golden = json.loads((GOLDEN / "fixture" / "unauthenticated.json").read_text())
    answer = http.get(golden["request"]["path"])
    assert (answer.status_code, answer.json()) == (golden["status"], golden["body"])
    bad = http.get("/api/catalog/entities", headers={"Authorization": "Bearer cgt_nope_nope"})
    assert bad.status_code == 401 and bad.json()["error"]["name"] == "AuthenticationError"
    assert bad.json()["response"] == {"statusCode": 401}


def test_writes_need_the_write_scope(closed: tuple[TestClient, dict[str, str]], tmp_path: Path) -> None:
    http, tokens = closed
    read = {"Authorization": f"Bearer {tokens['read']}"}
    assert http.get("/api/catalog/entities", headers=read).json() == []
    for method, path, body in [
        ("POST", "/api/catalog/locations", {"type": "file", "target": str(tmp_path)}),
        ("DELETE", "/api/catalog/locations/some-id", None),
        ("POST", "/api/catalog/refresh", {"entityRef": "component:default/x"}),
    ]:
        answer = http.request(method, path, json=body, headers=read)
        assert answer.status_code == 403, path
        assert answer.json()["error"]["name"] == "NotAllowedError"
    write = {"Authorization": f"Bearer {tokens['write']}"}
    refused = http.post("/api/catalog/refresh", json={"entityRef": "component:default/x"}, headers=write)
    assert refused.status_code == 404
    assert refused.json()["error"] == {"name": "NotFoundError", "message": "Entity component:default/x not found"}
    valid = http.post(
        "/api/catalog/validate-entity",
        json=json.loads((GOLDEN / "fixture" / "validate_ok.json").read_text())["request"]["body"],
        headers=read,
    )
    assert valid.status_code == 200


def test_refusals_before_any_route_are_backstage_errors_too(tmp_path: Path) -> None:
    """A body over the limit and a request past the rate limit, refused by the middleware before the REST
    routes see them, are answered in Backstage's error body on /api/catalog (and in GraphQL's on /graphql)."""
    settings = suite_settings(store_dir=tmp_path / "store", http_max_body_bytes=1000, rate_limit_burst=1)
    service = _open(settings.model_copy(update={"rate_limit_per_s": 0.001}))
    try:
        with TestClient(create_app(service)) as http:
            big = http.post("/api/catalog/entities/by-refs", json={"entityRefs": ["component:x" * 200]})
            assert (big.status_code, big.json()) == (
                413,
                {
                    "error": {
                        "name": "PayloadTooLargeError",
                        "message": "the request body (2,219 bytes or more) is over the limit of 1,000 bytes",
                    },
                    "request": {"method": "POST", "url": "/entities/by-refs"},
                    "response": {"statusCode": 413},
                },
            )
            answers = [http.get("/api/catalog/entities?limit=1") for _ in range(2)]  # a burst of one
            assert [a.status_code for a in answers] == [200, 429]
            limited = answers[1].json()
            assert limited["error"]["name"] == "TooManyRequestsError" and limited["response"] == {"statusCode": 429}
            assert limited["request"] == {"method": "GET", "url": "/entities?limit=1"}
            assert http.post("/graphql", json={"query": "{ locations { target } }"}).json()["errors"][0][
                "extensions"
            ] == {"code": "RATE_LIMITED"}
    finally:
        service.close()


# --- the search rows, read one key at a time -------------------------------------------------------------------


def test_one_keys_search_rows_are_that_keys_rows_of_all(fixture_catalog: Catalog) -> None:
    """`search_rows_of` (what listings read) gives, for every key, exactly the rows `search_rows` (Backstage's
    whole table of an entity) holds for it: checked on every entity of the fixture, and for keys it lacks."""
    entities = fixture_catalog.http.get("/api/catalog/entities").json()
    checked = 0
    for entity in entities:
        rows = search_rows(entity)
        for key in {row.key for row in rows} | {"spec.nothing", "metadata.annotations", "relations.nothing"}:
            assert search_rows_of(entity, key) == [row for row in rows if row.key == key], (entity, key)
            checked += 1
    assert checked > 1000


# --- relation filters, answered from the relation's other end --------------------------------------------------


def _names(answer: list[dict[str, Any]]) -> list[str]:
    return sorted(
        f"{e['kind']}:{e['metadata'].get('namespace', 'default')}/{e['metadata']['name']}".lower() for e in answer
    )


def test_every_relation_filter_lists_exactly_the_entities_holding_that_row(fixture_catalog: Catalog) -> None:
    """`relations.<type>=<ref>` is answered from the target's reverse rows, not by matching every entity: for
    every relation row of the fixture, the answer is exactly the entities whose relations hold it, as the whole
    listing shows them."""
    http = fixture_catalog.http
    entities = http.get("/api/catalog/entities").json()
    holders: dict[tuple[str, str], set[str]] = {}
    for entity in entities:
        for relation in entity.get("relations", []):
            holders.setdefault((relation["type"], relation["targetRef"]), set()).update(_names([entity]))
    assert len({relation_type for relation_type, _ in holders}) >= 10
    for (relation_type, target), expected in sorted(holders.items()):
        answer = http.get("/api/catalog/entities", params={"filter": f"relations.{relation_type}={target}"}).json()
        assert _names(answer) == sorted(expected), (relation_type, target)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # written in any case, as Backstage compares keys and values
        (["RELATIONS.OWNEDBY=Group:Default/Team-A,kind=component"], "owned by team-a, components"),
        # several values of the key: any of them
        (["relations.ownedBy=group:default/team-a,relations.ownedBy=group:default/team-b"], "owned by team-a or b"),
        # an alternative without a relation statement still scans
        (["relations.ownedBy=group:default/team-a", "kind=domain"], "owned by team-a, or domains"),
        # a target no entity relates to, and one that is not a ref
        (["relations.dependsOn=component:default/nothing-here"], "none"),
        (["relations.dependsOn=nothing"], "none"),
    ],
)
def test_relation_filters_combine_as_backstages_do(fixture_catalog: Catalog, filters: list[str], expected: str) -> None:
    entities = fixture_catalog.http.get("/api/catalog/entities").json()

    def owned(*teams: str) -> set[str]:
        refs = {f"group:default/{team}" for team in teams}
        return {
            name
            for entity in entities
            for name in _names([entity])
            if any(r["type"] == "ownedBy" and r["targetRef"] in refs for r in entity.get("relations", []))
        }

    kinds = {name for entity in entities for name in _names([entity]) if entity["kind"] == "Domain"}
    components = {name for entity in entities for name in _names([entity]) if entity["kind"] == "Component"}
    wanted = {
        "owned by team-a, components": owned("team-a") & components,
        "owned by team-a or b": owned("team-a", "team-b"),
        "owned by team-a, or domains": owned("team-a") | kinds,
        "none": set(),
    }[expected]
    assert expected == "none" or wanted
    answer = fixture_catalog.http.get("/api/catalog/entities", params=[("filter", f) for f in filters]).json()
    assert _names(answer) == sorted(wanted)


def _cursor(data: object) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("GET", f"/api/catalog/entities/by-query?cursor={_cursor({'filter': 5})}", None, "Malformed cursor: "),
        ("GET", f"/api/catalog/entities/by-query?cursor={_cursor([1, 2])}", None, "Malformed cursor: "),
        (
            "GET",
            "/api/catalog/entities/by-query?cursor="
            + _cursor({"filter": [], "order_field": [], "term": "", "term_fields": None, "total": 1, "first": [1, 2]}),
            None,
            "Malformed cursor: a value has the wrong type",
        ),
        ("GET", "/api/catalog/entities?offset=-3", None, "request/query/offset must be >= 0"),
        ("GET", "/api/catalog/entities?limit=0", None, "Invalid limit, must be greater than zero"),
        ("GET", "/api/catalog/entities?after=", None, "request/query/after must NOT have fewer than 1 characters"),
        ("GET", "/api/catalog/entities?frobnicate=1", None, "Unknown query parameter 'frobnicate'"),
        ("GET", "/api/catalog/entities/by-query?totalItems=some", None, "request/query/totalItems must be equal"),
        ("GET", "/api/catalog/entity-facets?facet=", None, "Missing facet parameter"),
        (
            "POST",
            "/api/catalog/entities/by-refs",
            {"entityRefs": "component:default/x"},
            "request/body/entityRefs must be array",
        ),
        (
            "POST",
            "/api/catalog/entities/by-refs",
            {"entityRefs": [], "fields": "metadata.name"},
            "request/body/fields must be array",
        ),
        (
            "POST",
            "/api/catalog/entities/by-refs",
            ["not", "an", "object"],
            "request/body must have required property 'entityRefs'",
        ),
        (
            "POST",
            "/api/catalog/refresh",
            {"ref": "component:default/x"},
            "request/body must have required property 'entityRef'",
        ),
    ],
)
def test_bad_requests_are_backstage_input_errors(
    fixture_catalog: Catalog, method: str, path: str, body: Any, message: str
) -> None:
    answer = fixture_catalog.http.request(method, path, json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["error"]["name"] == "InputError" and error["error"]["message"].startswith(message), error
    assert error["response"] == {"statusCode": 400}


def test_a_body_that_is_not_json_is_an_input_error(fixture_catalog: Catalog) -> None:
    http = fixture_catalog.http
    for headers, content, message in [
        ({"content-type": "application/json"}, b"{not json", "the request body is not valid JSON"),
        ({"content-type": "text/plain"}, b"{}", "Illegal Content-Type"),
        ({}, b"", "Content-Type missing"),
    ]:
        answer = http.post("/api/catalog/entities/by-refs", content=content, headers=headers)
        assert (answer.status_code, answer.json()["error"]["message"]) == (400, message)


@pytest.mark.parametrize(
    "ref", ["component:default/a", "group:payments/ü-team", "resource:default/数据库", "api:default/" + "z" * 300, ""]
)
def test_an_entitys_uid_is_the_uuid5_of_its_ref(ref: str) -> None:
    """`entity_uid` writes the UUIDv5 out by hand (no UUID object): the same text as `uuid.uuid5`."""
    assert entity_uid.__wrapped__(ref) == str(uuid.uuid5(ENTITY_UID_NAMESPACE, ref))
