"""A re-sync skips parsing files whose content is unchanged, and still means exactly what a full read means."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.store.catalog_builder import component, group


@pytest.fixture
def catalog(tmp_path: Path, store_settings: Settings) -> Iterator[tuple[CatalogService, Path]]:
    root = tmp_path / "catalog"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    write(root / "a", [component("web"), component("api-gw")])
    write(root / "b", [group("team-a")])
    settings = store_settings
    service = CatalogService(open_store(settings), settings)
    service.register(str(root))
    yield service, root
    service.close()


def write(directory: Path, documents: list) -> None:
    (directory / "catalog-info.yaml").write_text(yaml.safe_dump_all(documents))


def test_an_unchanged_file_is_not_parsed_and_its_entities_stay(catalog: tuple[CatalogService, Path]) -> None:
    service, root = catalog
    write(root / "b", [group("team-a", description="changed")])
    summary = service.refresh(str(root))
    assert (summary.unchanged, summary.updated, summary.removed) == (2, 1, 0)
    assert service.store.file_digests(str(root)).keys() == {
        f"file:{root}/a/catalog-info.yaml",
        f"file:{root}/b/catalog-info.yaml",
    }
    assert service.store.entity("component:default/web") is not None


def test_a_change_to_a_skipped_entity_is_seen_once_its_file_changes(catalog: tuple[CatalogService, Path]) -> None:
    service, root = catalog
    write(root / "a", [component("web", owner="team-b")])
    summary = service.refresh(str(root))
    assert (summary.updated, summary.removed, summary.unchanged) == (1, 1, 1)
    assert service.store.entity("component:default/web").spec["owner"] == "team-b"
    assert service.store.entity("component:default/api-gw") is None


def test_a_deleted_file_closes_its_entities(catalog: tuple[CatalogService, Path]) -> None:
    service, root = catalog
    (root / "a" / "catalog-info.yaml").unlink()
    summary = service.refresh(str(root))
    assert (summary.removed, summary.unchanged) == (2, 1)


def test_redefining_an_entity_of_a_skipped_file_is_a_duplicate(catalog: tuple[CatalogService, Path]) -> None:
    service, root = catalog
    write(root / "b", [group("team-a"), component("web", owner="intruder")])
    summary = service.refresh(str(root))
    [error] = summary.errors
    assert error["category"] == "duplicate" and error["entity_ref"] == "component:default/web"
    assert service.store.entity("component:default/web").spec["owner"] == "team-a"


def test_a_file_with_errors_is_parsed_again_every_time(catalog: tuple[CatalogService, Path]) -> None:
    service, root = catalog
    write(
        root / "b",
        [
            group("team-a"),
            {"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": {"name": "broken"}, "spec": {}},
        ],
    )
    assert len(service.refresh(str(root)).errors) == 1
    assert f"file:{root}/b/catalog-info.yaml" not in service.store.file_digests(str(root))
    assert len(service.refresh(str(root)).errors) == 1  # still reported on the next sync, not skipped
