"""Bad input, end to end: each case yields a specific error record, and what is stored stays intact.

A good catalog is synced first; then one file is replaced by a bad variant and the location refreshed. The
entity's stored versions must be exactly what they were (no new version, none closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from tests.store.catalog_builder import component, group

GOOD = [component("checkout", owner="team-a"), group("team-a")]


@pytest.fixture
def catalog(tmp_path: Path, store_settings: Settings) -> Iterator[tuple[CatalogService, Path]]:
    root = tmp_path / "catalog"
    root.mkdir()
    (root / "catalog-info.yaml").write_text(yaml.safe_dump_all(GOOD))
    settings = store_settings
    service = CatalogService(open_store(settings), settings)
    service.register(str(root / "catalog-info.yaml"))
    yield service, root
    service.close()


def versions(service: CatalogService, ref: str) -> list[tuple[int, int | None]]:
    return sorted((v["valid_from"], v["valid_to"]) for v in service.store.rows("versions") if v["ref"] == ref)


def dump(documents: list) -> str:
    return yaml.safe_dump_all(documents)


def deep(levels: int) -> str:
    return (
        dump([component("checkout", owner="team-a"), group("team-a")])
        + "---\n"
        + (
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: deep}\nspec: "
            + "[" * levels
            + "]" * levels
        )
    )


BAD_INPUTS: dict[str, tuple[Callable[[], str], str]] = {
    "malformed YAML": (lambda: dump(GOOD) + "---\nkind: [unclosed\n", "line"),
    "wrong field type": (lambda: dump([component("checkout", owner=42), group("team-a")]), "spec.owner"),
    "duplicate ref in one file": (
        lambda: dump([component("checkout", owner="team-a"), group("team-a"), component("checkout", owner="x")]),
        "defined twice",
    ),
    "a 10 MB document": (
        lambda: dump(
            [
                {
                    **component("checkout", owner="team-a"),
                    "metadata": {"name": "checkout", "description": "x" * 10_000_000},
                },
                group("team-a"),
            ]
        ),
        "MiB",
    ),
    "deep nesting": (lambda: deep(5000), "deep"),
    "hostile ref": (
        lambda: dump([component("checkout", owner="team-a", dependsOn=["component:a:b:c\u0000"]), group("team-a")]),
        "spec.dependsOn[0]",
    ),
    "a 10,000-character name (Neo4j indexes at most 8 KiB of a value)": (
        lambda: dump(
            [
                *GOOD,
                {
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "Location",
                    "metadata": {"name": "x" * 10_000},
                    "spec": {"targets": ["./missing.yml"]},
                },
            ]
        ),
        "metadata.name",
    ),
    "unknown kind": (
        lambda: dump([*GOOD, {"apiVersion": "x.io/v1", "kind": "Gadget", "metadata": {"name": "g"}}]),
        "unknown kind 'Gadget'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_a_specific_error_and_nothing_stored_changes(
    catalog: tuple[CatalogService, Path], case: str
) -> None:
    service, root = catalog
    before = versions(service, "component:default/checkout")
    text, expected = BAD_INPUTS[case]
    (root / "catalog-info.yaml").write_text(text())
    summary = service.refresh(str(root / "catalog-info.yaml"))
    assert any(expected in error["message"] for error in summary.errors), [e["message"] for e in summary.errors]
    assert all(error["location"] for error in summary.errors)
    assert versions(service, "component:default/checkout") == before
    assert service.store.entity("component:default/checkout").spec["owner"] == "team-a"
    assert summary.removed == 0


def test_two_locations_claiming_one_entity(catalog: tuple[CatalogService, Path], tmp_path: Path) -> None:
    service, _ = catalog
    other = tmp_path / "other.yaml"
    other.write_text(dump([component("checkout", owner="intruders")]))
    summary = service.register(str(other))
    [error] = summary.errors
    assert (
        error["category"] == "conflict"
        and str(Path(service.store.entity("component:default/checkout").source)) in error["message"]
    )
    assert service.store.entity("component:default/checkout").spec["owner"] == "team-a"


def test_a_location_cycle_is_reported_once(tmp_path: Path, store_settings: Settings) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    location = "apiVersion: backstage.io/v1alpha1\\nkind: Location\\nmetadata: {{name: {}}}\\nspec: {{target: ./{}}}\\n"
    a.write_text(location.format("a", "b.yaml").replace("\\n", "\n"))
    b.write_text(location.format("b", "a.yaml").replace("\\n", "\n"))
    settings = store_settings
    service = CatalogService(open_store(settings), settings)
    try:
        summary = service.register(str(a))
        cycles = [e for e in summary.errors if "cycle" in e["message"].lower()]
        assert len(cycles) == 1 and "a.yaml" in cycles[0]["message"] and "b.yaml" in cycles[0]["message"]
        assert summary.added == 2  # both Location entities are stored
    finally:
        service.close()
