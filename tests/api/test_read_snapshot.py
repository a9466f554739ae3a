"""Each query executes on a worker thread, off the server's event loop, inside one read snapshot; a
mutation gets no snapshot, so that its answer shows what it wrote."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.api.snapshot_threads import record_snapshot_threads
from tests.store.catalog_builder import component, entity, group


@pytest.fixture
def served(tmp_path: Path, store_settings: Settings) -> Iterator[tuple[TestClient, CatalogService, list[str]]]:
    path = tmp_path / "catalog-info.yaml"
    database = entity("Resource", "db", {"type": "database", "owner": "team-a"})
    path.write_text(yaml.safe_dump_all([group("team-a"), component("web"), database]))
    settings = store_settings
    service = CatalogService(open_store(settings), settings)
    service.write_now(lambda: service.register(str(path)))
    opened = record_snapshot_threads(service)
    with TestClient(create_app(service)) as http:
        yield http, service, opened
    service.close()


def test_a_query_reads_one_snapshot_on_a_worker_thread(served: tuple[TestClient, CatalogService, list[str]]) -> None:
    http, _, opened = served
    query = "{ entities(first: 2) { totalCount edges { node { ref owner { ref } relations { targetRef } } } } }"
    body = http.post("/graphql", json={"query": query}).json()
    assert body["data"]["entities"]["totalCount"] == 3
    assert len(opened) == 1 and opened[0].startswith("graphql") and opened[0] != threading.main_thread().name


def test_a_mutation_answers_what_it_wrote_without_a_snapshot(
    served: tuple[TestClient, CatalogService, list[str]], tmp_path: Path
) -> None:
    http, _, opened = served
    path = tmp_path / "catalog-info.yaml"
    path.write_text(yaml.safe_dump_all([group("team-a"), component("web")]))
    mutation = "mutation($s: String!) { refresh(source: $s) { syncRun { removed unchanged } } }"
    body = http.post("/graphql", json={"query": mutation, "variables": {"s": str(path)}}).json()
    assert body["data"]["refresh"]["syncRun"] == {"removed": 1, "unchanged": 2}
    assert opened == []
