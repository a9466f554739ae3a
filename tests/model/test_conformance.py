"""Conformance with Backstage's own example catalog and sample templates (see the fixture README).

Every entity of a built-in kind must validate, AiResource entities must be refused as an unknown kind,
and the relations derived from the 70 entities reachable from Backstage's three Location roots must be
the 162 rows the fixture README states. For this test the reachable set is taken by file: everything
under `examples/` except `ai-resources/`, and everything under `sample-templates/` except
`bitbucket-demo/` (the four `template.yaml` files plus the two Location files that list them).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from graphsvc.model import (
    REVERSE_RELATION,
    Entity,
    EntityValidationError,
    Relation,
    UnknownKindError,
    derive_relations,
    validate_entity,
)

FIXTURES = Path(
    os.environ.get("BACKSTAGE_EXAMPLES", Path(__file__).resolve().parents[3] / "shared/fixtures/backstage-examples")
)
EXAMPLES = FIXTURES / "packages/catalog-model/examples"
TEMPLATES = FIXTURES / "plugins/scaffolder-backend/sample-templates"

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"Backstage examples not found at {FIXTURES}")


def documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as file:
        return [data for data in yaml.safe_load_all(file) if data is not None]


def entity_files() -> list[Path]:
    """YAML files holding entities: the `*.oas.yaml` files are API definitions read through `$text`."""
    return sorted(p for p in FIXTURES.rglob("*.yaml") if not p.name.endswith(".oas.yaml"))


def is_skeleton(path: Path) -> bool:
    """bitbucket-demo's `template/catalog-info.yaml` is a template skeleton full of `${{ }}` placeholders."""
    return path.parts[-2:] == ("template", "catalog-info.yaml")


def reachable(path: Path) -> bool:
    relative = path.relative_to(FIXTURES).as_posix()
    return "/ai-resources/" not in relative and "/bitbucket-demo/" not in relative


@pytest.fixture(scope="module")
def catalog() -> list[Entity]:
    """The entities reachable from all.yaml, acme-corp.yaml and all-templates.yaml."""
    return [validate_entity(data) for path in entity_files() if reachable(path) for data in documents(path)]


@pytest.fixture(scope="module")
def relations(catalog: list[Entity]) -> set[Relation]:
    return {relation for entity in catalog for relation in derive_relations(entity)}


def all_documents() -> list[Any]:
    return [
        pytest.param(data, id=f"{path.relative_to(FIXTURES).as_posix()}#{index}")
        for path in entity_files()
        if not is_skeleton(path)
        for index, data in enumerate(documents(path))
    ]


@pytest.mark.parametrize("data", all_documents())
def test_every_example_validates_except_the_alpha_ai_resources(data: dict[str, Any]) -> None:
    if data["kind"] == "AiResource":
        with pytest.raises(UnknownKindError):
            validate_entity(data)
        assert validate_entity(data, custom_kinds=["AiResource"]).kind == "AiResource"
    else:
        entity = validate_entity(data)
        assert derive_relations(entity) == derive_relations(validate_entity(entity.to_document()))


def test_the_template_skeleton_is_not_an_entity() -> None:
    (skeleton,) = documents(TEMPLATES / "bitbucket-demo/template/catalog-info.yaml")
    with pytest.raises(EntityValidationError) as raised:
        validate_entity(skeleton)
    assert raised.value.path == "metadata.name"


def test_the_reachable_catalog_has_70_entities(catalog: list[Entity]) -> None:
    assert len(catalog) == 70
    assert len({entity.ref for entity in catalog}) == 70
    assert Counter(entity.kind for entity in catalog) == {
        "Location": 11, "Component": 13, "API": 10, "Group": 8, "User": 17,
        "System": 3, "Domain": 3, "Resource": 1, "Template": 4,
    }  # fmt: skip


def test_the_readme_figure_162_relation_rows(relations: set[Relation]) -> None:
    assert len(relations) == 162
    assert Counter(relation.type for relation in relations) == {
        "ownedBy": 34, "ownerOf": 34, "memberOf": 17, "hasMember": 17, "partOf": 15, "hasPart": 15,
        "parentOf": 7, "childOf": 7, "providesApi": 5, "apiProvidedBy": 5, "consumesApi": 2,
        "apiConsumedBy": 2, "dependsOn": 1, "dependencyOf": 1,
    }  # fmt: skip


def test_every_forward_row_has_its_reverse(relations: set[Relation]) -> None:
    for relation in relations:
        assert Relation(REVERSE_RELATION[relation.type], relation.target, relation.source) in relations


def test_the_only_missing_target_is_the_template_owner(catalog: list[Entity], relations: set[Relation]) -> None:
    refs = {entity.ref for entity in catalog}
    assert {relation.target for relation in relations} - refs == {"group:backstage/techdocs-core"}
    owned_templates = {r.source for r in relations if r.type == "ownedBy" and r.target.startswith("group:backstage")}
    assert owned_templates == {
        "template:default/notifications-demo",
        "template:default/conditional-output-demo",
        "template:default/conditional-parameters-demo",
        "template:default/bui-kitchen-sink-demo",
    }


def test_the_readme_quirks(catalog: list[Entity], relations: set[Relation]) -> None:
    by_ref = {entity.ref: entity for entity in catalog}
    # www-artist consumes a Component: the explicit kind overrides the default kind API
    assert Relation("consumesApi", "component:default/www-artist", "component:default/artist-lookup") in relations
    # artist-lookup's unknown spec.apiConsumedBy produces nothing of its own
    assert by_ref["component:default/artist-lookup"].spec["apiConsumedBy"] == ["component:www-artist"]
    assert not any(
        r.source == "component:default/artist-lookup" and r.type == "apiConsumedBy"
        for r in derive_relations(by_ref["component:default/artist-lookup"])
    )
    # the user guest exists in two namespaces; the one in development is a member of default's team-a
    assert {"user:default/guest", "user:development/guest"} <= by_ref.keys()
    assert Relation("memberOf", "user:development/guest", "group:default/team-a") in relations
    # unresolved $text placeholders are accepted as API definitions
    assert by_ref["api:default/spotify"].spec["definition"] == {
        "$text": "https://github.com/APIs-guru/openapi-directory/blob/dab6854d4d599aafb0eb36e6c7ae1fe0c37509b7/"
        "APIs/spotify.com/2021.4.2/openapi.yaml"
    }
    assert by_ref["api:default/petstore"].spec["definition"] == {"$text": "./petstore.oas.yaml"}
    # the MCP server API has remotes and no definition
    assert "definition" not in by_ref["api:default/backstage-mcp-server"].spec
