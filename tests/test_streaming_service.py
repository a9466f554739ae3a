"""The service's ingest streams, read here or in a reading process of its own (`read_in_worker_process`, which
also prepares each document there: validated, its row and relations made): both store exactly the same, errors
included, and a sync that fails midway leaves nothing of itself and stops the read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.store.catalog_builder import component, entity, group
from tests.suite_settings import suite_settings

DOCUMENTS = {
    "a.yaml": [component("web", dependsOn=["component:api"]), group("team-a"), {"kind": "Component"}],
    "b.yaml": [component("api", owner="team-b"), component("web"), component("bad name!")],
    "c.yaml": [entity("Component", "no-spec"), entity("Location", "more", {"targets": ["./d.yaml"]})],
    "d.yaml": [component("db-client", dependsOn=["resource:db"])],
}


def write_catalog(root: Path, documents: dict[str, list[Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, docs in documents.items():
        (root / name).write_text(yaml.safe_dump_all(docs))
    return root


@pytest.fixture
def services(tmp_path: Path) -> Iterator[dict[str, CatalogService]]:
    """A service reading here, and one reading in a reading process: each with its own store."""
    made = {}
    for name in ("here", "process"):
        settings = suite_settings(store_dir=tmp_path / f"store-{name}", refresh_interval_s=0)
        made[name] = CatalogService(open_store(settings), settings)
    made["process"].read_in_worker_process()
    yield made
    for service in made.values():
        service.close()


def stored(service: CatalogService, summaries: list[Any]) -> dict[str, Any]:
    """What the syncs left, each sync's run id and instant written as its position (each sync has its own)."""
    runs = {summary.run_id: f"run{n}" for n, summary in enumerate(summaries)}
    instants = {summary.started_at: f"T{n}" for n, summary in enumerate(summaries)}

    def plain(value: Any) -> Any:
        if isinstance(value, list):
            return [plain(item) for item in value]
        if isinstance(value, int) and value in instants:
            return instants[value]
        if isinstance(value, str):
            for known, name in [*runs.items(), *((str(at), name) for at, name in instants.items())]:
                value = value.replace(known, name)
        return value

    tables = {
        table: sorted(
            (tuple((k, plain(v)) for k, v in sorted(row.items())) for row in service.store.rows(table)), key=repr
        )
        for table in ("entities", "versions", "edges", "change_events", "sync_errors")
    }
    return {"counts": [summary.counts for summary in summaries], **tables}


def test_a_reading_process_stores_what_reading_here_stores(tmp_path: Path, services: dict[str, CatalogService]) -> None:
    root = write_catalog(tmp_path / "catalog", DOCUMENTS)
    summaries: dict[str, list[Any]] = {name: [] for name in services}
    for name, service in services.items():
        summaries[name].append(service.write_now(lambda s=service: s.register(str(root), glob="*.yaml")))
    errors = [(e["category"], e["entity_ref"]) for e in summaries["here"][0].errors]
    assert errors == [
        ("validation", None),  # names no entity: a.yaml is kept whole
        ("duplicate", "component:default/web"),
        ("validation", "component:default/bad name!"),
        ("validation", "component:default/no-spec"),
    ]
    write_catalog(root, {"b.yaml": [component("api", owner="team-c")], "d.yaml": []})
    for name, service in services.items():
        summaries[name].append(service.write_now(lambda s=service: s.refresh(str(root))))
    here, process = (stored(services[name], summaries[name]) for name in ("here", "process"))
    assert process == here
    assert here["counts"] == [
        {"added": 5, "updated": 0, "removed": 0, "unchanged": 0, "errors": 4},  # web, team-a, api, more, db-client
        {"added": 0, "updated": 1, "removed": 1, "unchanged": 3, "errors": 2},  # api; db-client; a, c again
    ]


def test_a_sync_that_fails_midway_leaves_nothing_and_the_next_read_is_whole(
    tmp_path: Path, services: dict[str, CatalogService]
) -> None:
    service = services["process"]
    root = write_catalog(
        tmp_path / "big", {f"f{n}.yaml": [component(f"c{n}-{i}") for i in range(100)] for n in range(30)}
    )

    def fail(files_read: int, files_known: int, documents: int) -> None:
        if documents > 1_000:
            raise RuntimeError("stopped midway")

    with pytest.raises(RuntimeError, match="stopped midway"):
        service.write_now(lambda: service.register(str(root), glob="*.yaml", read_progress=fail))
    assert service.store.rows("entities") == []
    assert [run.status for run in service.store.sync_runs()] == ["failed"]
    summary = service.write_now(lambda: service.refresh(str(root)))
    assert summary.counts == {"added": 3_000, "updated": 0, "removed": 0, "unchanged": 0, "errors": 0}
