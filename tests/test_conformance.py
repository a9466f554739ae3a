"""Backstage's own example catalog, ingested from its three roots, gives exactly Backstage's entities and rows.

Roots as in Backstage's app-config: the examples' all.yaml and acme-corp.yaml, and the sample templates'
all-templates.yaml. Offline, the remote `$text` definitions and remote template URLs cannot be fetched: each
becomes a specific error record, and everything else is ingested.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from graphsvc.config import Settings
from graphsvc.model import derive_relations, validate_entity
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from graphsvc.store.cypher import EntityFilter
from tests.conftest import FIXTURES

EXAMPLES = FIXTURES / "packages" / "catalog-model" / "examples"
ROOTS = [
    EXAMPLES / "all.yaml",
    EXAMPLES / "acme-corp.yaml",
    FIXTURES / "plugins" / "scaffolder-backend" / "sample-templates" / "all-templates.yaml",
]


@pytest.fixture(scope="module")
def ingested(module_store_settings: Settings) -> Iterator[tuple[CatalogService, list]]:
    settings = module_store_settings.model_copy(update={"fetch_timeout_s": 2})
    service = CatalogService(open_store(settings), settings)
    summaries = [service.register(str(root)) for root in ROOTS]
    yield service, summaries
    service.close()


def all_entities(service: CatalogService) -> list:
    return service.store.find_entities(EntityFilter(), first=1000, after=None)


def test_every_reachable_entity_of_a_built_in_kind_is_stored(ingested: tuple[CatalogService, list]) -> None:
    service, _ = ingested
    kinds = Counter(record.document["kind"] for record in all_entities(service))
    assert kinds == {
        "Location": 11,
        "Component": 13,
        "API": 10,
        "Group": 8,
        "User": 17,
        "System": 3,
        "Domain": 3,
        "Resource": 1,
        "Template": 4,
    }
    # The user guest exists in two namespaces.
    assert service.store.entity("user:default/guest") and service.store.entity("user:development/guest")


def test_relation_rows_are_exactly_backstages(ingested: tuple[CatalogService, list]) -> None:
    service, _ = ingested
    records = all_entities(service)
    expected = {
        (r.source, r.type, r.target) for record in records for r in derive_relations(validate_entity(record.document))
    }
    refs = sorted({source for source, _, _ in expected} | {target for _, _, target in expected})
    stored = {(ref, row.type, row.target) for ref, rows in service.store.relations(refs).items() for row in rows}
    assert stored == expected
    assert len(stored) == 162
    dangling = {target for _, _, target in stored if service.store.entity(target) is None}
    assert dangling == {"group:backstage/techdocs-core"}
    www = {
        (row.type, row.target)
        for row in service.store.relations(["component:default/www-artist"])["component:default/www-artist"]
    }
    assert ("consumesApi", "component:default/artist-lookup") in www


def test_what_cannot_be_ingested_becomes_specific_errors(ingested: tuple[CatalogService, list]) -> None:
    service, summaries = ingested
    errors = [e for summary in summaries for e in summary.errors]
    unknown = [e for e in errors if "unknown kind 'AiResource'" in e["message"]]
    assert sorted(e["entity_ref"] for e in unknown) == [
        "airesource:default/code-review-plugin",
        "airesource:default/frontend-design",
        "airesource:default/use-internal-apis",
    ]
    text_errors = [e for e in errors if "$text" in e["message"]]
    assert sorted(e["entity_ref"] for e in text_errors) == [
        "api:default/spotify",
        "api:default/wayback-archive",
        "api:default/wayback-search",
    ]
    assert all("https://" in e["message"] for e in text_errors)
    remote = [e for e in errors if "remote-templates.yaml" in (e["location"] or "") and e not in text_errors]
    assert len(remote) == 5 and all("https://" in e["message"] for e in remote)
    assert len(errors) == 3 + 3 + 5, [e["message"] for e in errors]
    # The petstore definition was read from the relative $text file.
    petstore = service.store.entity("api:default/petstore")
    assert petstore.spec["definition"].startswith("openapi:")


def test_a_second_sync_of_the_same_roots_changes_nothing(ingested: tuple[CatalogService, list]) -> None:
    service, _ = ingested
    again = [service.refresh(str(root)) for root in ROOTS]
    assert sum(s.added + s.updated + s.removed for s in again) == 0
    assert sum(s.unchanged for s in again) == 70
