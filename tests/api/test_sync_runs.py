"""`syncRuns`: each run's source, principal and counts, and its errors counted for the whole source or for one
file of it (`errorCount(location:)`), on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.api.test_graphql import data
from tests.store.catalog_builder import component

BROKEN = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "bad name!"}, "spec": {}}


@pytest.fixture
def client(tmp_path: Path, store_settings: Settings) -> Iterator[TestClient]:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "a.yaml").write_text(yaml.safe_dump_all([component("a", owner="team"), BROKEN, BROKEN]))
    (catalog / "b.yaml").write_text(yaml.safe_dump_all([component("b", owner="team"), BROKEN]))
    (catalog / "c.yaml").write_text(yaml.safe_dump_all([component("c", owner="team")]))
    service = CatalogService(open_store(store_settings), store_settings)
    with TestClient(create_app(service)) as http:
        http.catalog_dir = catalog  # type: ignore[attr-defined]
        data(
            http,
            'mutation($t: String!) { registerLocation(target: $t, glob: "*.yaml") { syncRun { id } } }',
            t=str(catalog),
        )
        yield http
    service.close()


def test_a_sync_runs_errors_are_counted_for_its_source_and_for_each_file(client: TestClient) -> None:
    catalog = client.catalog_dir  # type: ignore[attr-defined]
    query = """query($a: String, $b: String, $c: String) { syncRuns { source added errorCount
        a: errorCount(location: $a) b: errorCount(location: $b) c: errorCount(location: $c) } }"""
    locations = {name: f"file:{catalog}/{name}.yaml" for name in "abc"}
    [run] = data(client, query, **locations)["syncRuns"]
    assert run == {"source": str(catalog), "added": 3, "errorCount": 3, "a": 2, "b": 1, "c": 0}
    listed = data(client, "query($a: String) { errors(location: $a) { location } }", a=locations["a"])["errors"]
    assert len(listed) == run["a"]
