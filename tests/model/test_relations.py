"""`derive_relations`: Backstage's BuiltinKindsEntityProcessor (and the Template owner rule) as a table."""

from __future__ import annotations

from typing import Any

import pytest

from graphsvc.model import (
    BUILTIN_KINDS,
    RELATION_PAIRS,
    REVERSE_RELATION,
    EntityValidationError,
    Relation,
    derive_relations,
    validate_entity,
)
from graphsvc.model.relations import RELATION_RULES
from tests.model.documents import document

Row = tuple[str, str, str]


def relations_of(kind: str, spec: dict[str, Any], **metadata: Any) -> list[Relation]:
    return derive_relations(validate_entity(document(kind, spec, **metadata)))


def both_ways(forward: set[Row]) -> list[Relation]:
    """The forward rows plus the reverse of each, sorted: what derive_relations must return."""
    rows = {Relation(*row) for row in forward}
    rows |= {Relation(REVERSE_RELATION[r.type], r.target, r.source) for r in rows}
    return sorted(rows)


def test_the_seven_relation_pairs() -> None:
    assert RELATION_PAIRS == (
        ("ownedBy", "ownerOf"),
        ("providesApi", "apiProvidedBy"),
        ("consumesApi", "apiConsumedBy"),
        ("dependsOn", "dependencyOf"),
        ("parentOf", "childOf"),
        ("memberOf", "hasMember"),
        ("partOf", "hasPart"),
    )
    assert len(REVERSE_RELATION) == 14
    assert all(REVERSE_RELATION[REVERSE_RELATION[t]] == t for t in REVERSE_RELATION)


def test_every_rule_pairs_a_relation_with_its_reverse() -> None:
    assert all(REVERSE_RELATION[rule.relation] == rule.reverse for rule in RELATION_RULES)


C = "component:default/n"

PER_KIND = [
    # The cases of Backstage's BuiltinKindsEntityProcessor.test.ts, one per kind.
    (
        "Component",
        {"owner": "o", "subcomponentOf": "s", "providesApis": ["b"], "consumesApis": ["c"],
         "dependsOn": ["Resource:r", "Component:d"], "system": "s"},
        {("ownedBy", C, "group:default/o"), ("partOf", C, "component:default/s"),
         ("providesApi", C, "api:default/b"), ("consumesApi", C, "api:default/c"),
         ("dependsOn", C, "resource:default/r"), ("dependsOn", C, "component:default/d"),
         ("partOf", C, "system:default/s")},
    ),
    (
        "Component",
        {"owner": "o", "dependencyOf": ["component:x"]},
        {("ownedBy", C, "group:default/o"), ("dependencyOf", C, "component:default/x")},
    ),
    (
        "API",
        {"owner": "o", "system": "s"},
        {("ownedBy", "api:default/n", "group:default/o"), ("partOf", "api:default/n", "system:default/s")},
    ),
    (
        "Resource",
        {"owner": "o", "dependsOn": ["Component:c", "Resource:r"], "dependencyOf": ["Component:d"], "system": "s"},
        {("ownedBy", "resource:default/n", "group:default/o"),
         ("dependsOn", "resource:default/n", "component:default/c"),
         ("dependsOn", "resource:default/n", "resource:default/r"),
         ("dependencyOf", "resource:default/n", "component:default/d"),
         ("partOf", "resource:default/n", "system:default/s")},
    ),
    (
        "System",
        {"owner": "o", "domain": "d"},
        {("ownedBy", "system:default/n", "group:default/o"), ("partOf", "system:default/n", "domain:default/d")},
    ),
    (
        "Domain",
        {"owner": "o"},
        {("ownedBy", "domain:default/n", "group:default/o")},
    ),
    (
        "Domain",
        {"owner": "o", "subdomainOf": "audio"},
        {("ownedBy", "domain:default/n", "group:default/o"),
         ("partOf", "domain:default/n", "domain:default/audio")},
    ),
    (
        "User",
        {"memberOf": ["g"]},
        {("memberOf", "user:default/n", "group:default/g")},
    ),
    (
        "Group",
        {"type": "t", "parent": "p", "children": ["c"], "members": ["m"]},
        {("childOf", "group:default/n", "group:default/p"), ("parentOf", "group:default/n", "group:default/c"),
         ("hasMember", "group:default/n", "user:default/m")},
    ),
    (
        "Template",
        {"owner": "backstage/techdocs-core"},
        {("ownedBy", "template:default/n", "group:backstage/techdocs-core")},
    ),
    (
        "Template",
        {"owner": "user:jane"},
        {("ownedBy", "template:default/n", "user:default/jane")},
    ),
    ("Template", {}, set()),  # the owner of a Template is optional
    ("Location", {"targets": ["./a.yaml"]}, set()),
    ("Group", {"type": "t", "children": []}, set()),
    ("User", {"memberOf": []}, set()),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "spec", "forward"), PER_KIND)
def test_relations_per_kind(kind: str, spec: dict[str, Any], forward: set[Row]) -> None:
    assert relations_of(kind, spec) == both_ways(forward)


@pytest.mark.parametrize(
    ("field", "ref", "target"),
    [
        # no kind: the field's default kind; no namespace: the entity's own namespace
        ("owner", "team-a", "group:ops/team-a"),
        ("owner", "default/team-a", "group:default/team-a"),
        ("owner", "user:jane", "user:ops/jane"),
        ("owner", "User:Other/Jane", "user:other/jane"),
        ("system", "s", "system:ops/s"),
        ("subcomponentOf", "s", "component:ops/s"),
        # an explicit kind wins over the default (upstream's www-artist consumes a Component)
        ("consumesApis", ["component:artist-lookup"], "component:ops/artist-lookup"),
        ("providesApis", ["API:default/Petstore"], "api:default/petstore"),
        ("dependsOn", ["resource:db"], "resource:ops/db"),
    ],
)
def test_defaults_come_from_the_field_and_the_entitys_namespace(field: str, ref: Any, target: str) -> None:
    relations = relations_of("Component", {field: ref}, namespace="ops")
    own = [r for r in relations if r.source == "component:ops/n" and r.target == target]
    assert len(own) == 1


def test_both_directions_are_emitted() -> None:
    assert relations_of("Component", {"owner": "team-a"}) == [
        Relation("ownedBy", "component:default/n", "group:default/team-a"),
        Relation("ownerOf", "group:default/team-a", "component:default/n"),
    ]


def test_output_is_deduplicated_and_sorted() -> None:
    relations = relations_of(
        "Component", {"providesApis": ["b", "api:b", "API:default/B", "default/b"], "owner": "group:default/team-a"}
    )
    assert (
        relations
        == sorted(relations)
        == both_ways({("ownedBy", C, "group:default/team-a"), ("providesApi", C, "api:default/b")})
    )


def test_kinds_are_matched_case_insensitively() -> None:
    data = document("Component", {"owner": "o"})
    data["kind"] = "component"
    assert derive_relations(validate_entity(data)) == both_ways({("ownedBy", C, "group:default/o")})


@pytest.mark.parametrize(
    ("kind", "spec", "path", "ref"),
    [
        ("Component", {"dependsOn": ["resource:db", "foo"]}, "spec.dependsOn[1]", "foo"),
        ("Component", {"dependencyOf": ["foo"]}, "spec.dependencyOf[0]", "foo"),
        ("Resource", {"dependsOn": ["foo"]}, "spec.dependsOn[0]", "foo"),
        ("Resource", {"dependencyOf": ["ops/foo"]}, "spec.dependencyOf[0]", "ops/foo"),
    ],
)
def test_dependency_refs_need_a_kind(kind: str, spec: dict[str, Any], path: str, ref: str) -> None:
    with pytest.raises(EntityValidationError) as raised:
        relations_of(kind, spec)
    assert raised.value.path == path
    assert raised.value.message == f"{path}: entity ref {ref!r} needs a kind, e.g. component:{ref}"


@pytest.mark.parametrize(
    ("spec", "path", "fragment"),
    [
        ({"owner": "a:b:c"}, "spec.owner", "is not on the form [<kind>:][<namespace>/]<name>"),
        ({"system": "a/b/c"}, "spec.system", "is not on the form"),
        ({"providesApis": ["ok", ":x"]}, "spec.providesApis[1]", "is not on the form"),
        ({"consumesApis": ["x" * 1001]}, "spec.consumesApis[0]", "more than the 1000 allowed"),
        ({"dependsOn": ["component:a\nb"]}, "spec.dependsOn[0]", "control characters"),
    ],
)
def test_unparsable_refs_name_their_field(spec: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(EntityValidationError) as raised:
        relations_of("Component", spec)
    assert raised.value.path == path
    assert fragment in raised.value.reason


def test_unknown_spec_fields_produce_nothing() -> None:
    # upstream's artist-lookup declares spec.apiConsumedBy, which no processor reads
    assert relations_of("Component", {"apiConsumedBy": ["component:www-artist"]}) == both_ways(
        {("ownedBy", C, "group:default/team-a")}
    )


def test_custom_kinds_produce_nothing() -> None:
    entity = validate_entity(document("Widget", {"owner": "team-a"}), custom_kinds=["widget"])
    assert derive_relations(entity) == []


def test_targets_need_not_exist_and_repeat_calls_agree() -> None:
    entity = validate_entity(document("Component", {"owner": "nobody-knows-this-group"}))
    assert derive_relations(entity) == derive_relations(entity)
    assert derive_relations(entity)[0].target == "group:default/nobody-knows-this-group"


def test_every_rule_belongs_to_a_builtin_kind() -> None:
    assert {rule.kind for rule in RELATION_RULES} <= BUILTIN_KINDS - {"location"}
