"""A store of schema version 5 (before annotation and label entries were stored) is migrated in place when
it is opened: its entities and versions get their entries from their documents, and filter as new ones do."""

from __future__ import annotations

from graphsvc.config import Settings
from graphsvc.store import EntityFilter, GraphStore, open_store
from graphsvc.store.schema import SCHEMA_VERSION
from graphsvc.sync import sync_source
from tests.store.catalog_builder import component, source

T1, T2 = 1_000_000, 2_000_000
SLUG = "github.com/project-slug"


def _with_metadata(name: str, **metadata: dict[str, str]) -> dict:
    document = component(name)
    return {**document, "metadata": {**document["metadata"], **metadata}}


def _make_version_5(store: GraphStore, settings: Settings) -> None:
    """What a store written by the previous version holds: no annotation or label entries anywhere."""
    if settings.backend == "sqlite":
        drops = [
            f"ALTER TABLE {t} DROP COLUMN {c}" for t in ("entity", "entity_version") for c in ("annotations", "labels")
        ]
        store.backend.write_schema([*drops, "UPDATE store_meta SET schema_version = 5 WHERE id = 'store'"])
    else:
        store.backend.write_schema(
            [
                "MATCH (n) WHERE n:Entity OR n:EntityVersion REMOVE n.annotations, n.labels",
                "MATCH (m:StoreMeta {id: 'store'}) SET m.schema_version = 5",
            ]
        )


def _refs(store: GraphStore, where: EntityFilter, as_of: int | None = None) -> list[str]:
    return [r.ref for r in store.find_entities(where, first=100, after=None, as_of=as_of)]


def test_a_version_5_store_gets_its_entries_from_its_documents(store_settings: Settings) -> None:
    store = open_store(store_settings)
    first = [_with_metadata("web", annotations={SLUG: "acme/web"}, labels={"tier": "1"}), component("plain")]
    sync_source(store, source(("file:/catalog.yaml", first)), source="s", at=T1)
    second = [_with_metadata("web", labels={"tier": "2"}), component("plain")]
    sync_source(store, source(("file:/catalog.yaml", second)), source="s", at=T2)
    _make_version_5(store, store_settings)
    store.close()

    migrated = open_store(store_settings)
    try:
        assert migrated.schema_version() == SCHEMA_VERSION == 6
        assert migrated.check() == []
        web = ["component:default/web"]
        assert _refs(migrated, EntityFilter(label=("tier=2",))) == web
        assert _refs(migrated, EntityFilter(annotation=(SLUG,))) == []
        assert _refs(migrated, EntityFilter(annotation=(f"{SLUG}=acme/web",)), as_of=T1) == web
        assert _refs(migrated, EntityFilter(label=("tier",)), as_of=T1) == web
    finally:
        migrated.close()
