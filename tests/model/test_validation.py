"""`validate_entity`: the envelope and metadata rules, each error naming its exact field."""

from __future__ import annotations

import datetime
import json
import pickle
from typing import Any

import pytest

from graphsvc.model import (
    Entity,
    EntityValidationError,
    ModelError,
    UnknownKindError,
    validate_entity,
)
from tests.model.documents import BACKSTAGE, document


def error_for(data: object, **options: Any) -> EntityValidationError:
    with pytest.raises(EntityValidationError) as raised:
        validate_entity(data, **options)
    return raised.value


# --- the document root -------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [[], "kind: Component", None, 42, [document()]])
def test_root_must_be_a_mapping(data: object) -> None:
    error = error_for(data)
    assert error.path == ""
    assert error.message.startswith("an entity must be a mapping with apiVersion, kind, metadata and spec")


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ("relations", "relations"),  # allowed by Backstage's schema, refused by NoForeignRootFieldsEntityPolicy
        ("status", "status"),
        ("spec2", "spec2"),
        ("Kind", "Kind"),
        ("backstage.io/x", "['backstage.io/x']"),
        (7, "[7]"),
    ],
)
def test_unknown_root_fields_are_rejected_by_name(extra: object, path: str) -> None:
    data: dict[Any, Any] = document()
    data[extra] = {}
    error = error_for(data)
    assert error.path == path
    assert "unknown root field; an entity has only apiVersion, kind, metadata and spec" in error.message


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("apiVersion", "apiVersion: required field is missing (every entity needs apiVersion)"),
        ("kind", "kind: required field is missing (every entity needs kind)"),
        ("metadata", "metadata: required field is missing (every entity needs metadata)"),
        ("spec", "spec: required field is missing (Component needs spec)"),
    ],
)
def test_required_root_fields(field: str, message: str) -> None:
    data = document()
    del data[field]
    assert error_for(data).message == message


@pytest.mark.parametrize(
    ("api_version", "valid"),
    [
        ("backstage.io/v1alpha1", True),
        ("my-company.net/v1", True),
        ("v1", True),
        ("a--b.c/v1", True),
        ("a#b", False),
        ("a-b", False),
        ("a/b/c", False),
        ("", False),
        ("my_company.net/v1", False),
        ("example.com/v1-beta", False),
        (7, False),
        (None, False),
    ],
)
def test_api_version_format(api_version: object, valid: bool) -> None:
    data = document("Widget")
    data["apiVersion"] = api_version
    if valid:
        assert validate_entity(data, custom_kinds={"widget"}).api_version == api_version
    else:
        assert error_for(data, custom_kinds={"widget"}).path == "apiVersion"


@pytest.mark.parametrize(
    ("kind", "valid"),
    [("Widget", True), ("widget", True), ("W", True), ("a#b", False), ("9AZ", False), ("a-b", False),
     ("", False), ("W" * 64, False), (7, False), (None, False), (["Widget"], False)],
)  # fmt: skip
def test_kind_format(kind: object, valid: bool) -> None:
    data = document()
    data["kind"] = kind
    if valid:
        assert validate_entity(data, custom_kinds={"widget", "w"}).kind == kind
    else:
        assert error_for(data, custom_kinds={"widget"}).path == "kind"


@pytest.mark.parametrize(
    ("kind", "api_version", "accepted"),
    [
        ("Component", "backstage.io/v1alpha1", True),
        ("Component", "backstage.io/v1beta1", True),
        ("Group", "backstage.io/v1beta1", True),
        ("Template", "scaffolder.backstage.io/v1beta3", True),
        ("Component", "scaffolder.backstage.io/v1beta3", False),
        ("Component", "backstage.io/v1", False),
        ("Component", "example.com/v1alpha1", False),
        ("Template", "backstage.io/v1alpha1", False),
        ("Template", "scaffolder.backstage.io/v1beta2", False),  # older templates, gone from Backstage
    ],
)
def test_builtin_kinds_accept_only_their_api_versions(kind: str, api_version: str, accepted: bool) -> None:
    data = document(kind, api_version=api_version)
    if accepted:
        assert validate_entity(data).api_version == api_version
    else:
        error = error_for(data)
        assert error.path == "apiVersion"
        assert f"kind {kind} needs apiVersion" in error.message and repr(api_version) in error.message


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("Component", "Component"), ("component", "Component"), ("COMPONENT", "Component"), ("api", "API"),
     ("Api", "API"), ("template", "Template"), ("uSeR", "User")],
)  # fmt: skip
def test_builtin_kinds_match_case_insensitively_and_take_backstages_spelling(written: str, canonical: str) -> None:
    data = document(canonical)
    data["kind"] = written
    entity = validate_entity(data)
    assert entity.kind == canonical
    assert entity.ref == f"{canonical.lower()}:default/n"


def test_unknown_kinds_are_rejected_with_what_to_do() -> None:
    data = document("AiResource", {"type": "skill"})
    with pytest.raises(UnknownKindError) as raised:
        validate_entity(data)
    error = raised.value
    assert error.path == "kind"
    assert error.kind == "AiResource"
    assert error.message == (
        "kind: unknown kind 'AiResource' (apiVersion backstage.io/v1alpha1); built-in kinds are API, "
        "Component, Domain, Group, Location, Resource, System, Template, User; add it to custom_kinds in "
        "the configuration to accept it"
    )


@pytest.mark.parametrize("custom_kinds", [["AiResource"], ["airesource"], frozenset({"airesource"}), ("AIRESOURCE",)])
def test_custom_kinds_are_accepted_in_any_case(custom_kinds: Any) -> None:
    data = document("AiResource", {"type": "skill", "anything": [{"goes": 1}]})
    entity = validate_entity(data, custom_kinds=custom_kinds)
    assert (entity.kind, entity.ref) == ("AiResource", "airesource:default/n")
    assert entity.spec == {"type": "skill", "anything": [{"goes": 1}]}


@pytest.mark.parametrize(
    ("spec", "result"),
    [
        ("absent", {}),
        ({}, {}),
        ({"owner": 42}, {"owner": 42}),  # no spec rules for custom kinds
        ("x", "spec: expected a mapping, got string 'x'"),
        (None, "spec: expected a mapping, got null (an empty value)"),
        ([], "spec: expected a mapping, got a list"),
    ],
)
def test_custom_kinds_only_need_a_mapping_spec(spec: Any, result: Any) -> None:
    data = document("Widget")
    if spec == "absent":
        del data["spec"]
    else:
        data["spec"] = spec
    if isinstance(result, dict):
        assert validate_entity(data, custom_kinds=["Widget"]).spec == result
    else:
        assert error_for(data, custom_kinds=["Widget"]).message == result


def test_custom_kinds_still_get_their_metadata_checked() -> None:
    error = error_for(document("Widget", name="not valid"), custom_kinds=["widget"])
    assert error.path == "metadata.name"


def test_a_custom_kind_cannot_override_a_builtin_one() -> None:
    assert error_for(document("Component", {"owner": 42}), custom_kinds=["component"]).path == "spec.owner"


# --- metadata -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("x", "metadata: expected a mapping, got string 'x'"),
        ([], "metadata: expected a mapping, got a list"),
        (None, "metadata: expected a mapping, got null (an empty value)"),
        ({}, "metadata.name: required field is missing (every entity needs metadata.name)"),
    ],
)
def test_metadata_must_be_a_mapping_with_a_name(metadata: object, message: str) -> None:
    data = document()
    data["metadata"] = metadata
    assert error_for(data).message == message


NAME_RULE = "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total"


def metadata_cases(field: str, valid: list[object], invalid: list[object]) -> list:
    return [pytest.param(field, value, True, id=f"{field}-ok-{str(value)[:20]}") for value in valid] + [
        pytest.param(field, value, False, id=f"{field}-bad-{str(value)[:20]}") for value in invalid
    ]


@pytest.mark.parametrize(
    ("field", "value", "valid"),
    [
        *metadata_cases(
            "name",
            ["a", "AZ09", "a" * 63, "a-b", "a--b", "a_b", "a.b", "a..b", "CircleciBuildsDumpV2_avro_gcs"],
            ["", "a" * 64, "a/b", "-a-b", "a-b-", "my name", "a:b", "a\n", 7, None, True, ["a"]],
        ),
        *metadata_cases(
            "namespace",
            ["default", "a", "a-b", "a--b", "xn--c6h", "a" * 63],
            ["", "Default", "a_b", "a.b", "-a", "a-", "a" * 64, 7, None],
        ),
        *metadata_cases("title", ["Artists", " ", "Ünïcödé title"], ["", 5, None, ["x"]]),
        *metadata_cases("description", ["", "Multi\nline [markdown](http://x)"], [5, None, {"a": "b"}]),
        *metadata_cases("uid", ["e01199ab-08cc-44c2-8e19-5c29ded82521"], ["", 5]),
        *metadata_cases("etag", ["lsndfkjsndfkjnsdfkjnsd=="], ["", 5]),
    ],
)
def test_metadata_scalar_fields(field: str, value: object, valid: bool) -> None:
    data = document(**{field: value})
    if valid:
        assert validate_entity(data).to_document()["metadata"][field] == value
    else:
        error = error_for(data)
        assert error.path == f"metadata.{field}"
        assert error.message.startswith(f"metadata.{field}: ")


def test_name_errors_say_what_a_name_looks_like() -> None:
    assert error_for(document(name="my service")).message == (
        f"metadata.name: 'my service' is not valid; expected {NAME_RULE}"
    )
    assert error_for(document(name=7)).message == (
        f"metadata.name: expected {NAME_RULE}, got number 7 (quote it in YAML to make it a string)"
    )


@pytest.mark.parametrize(
    ("labels", "path"),
    [
        ({"a": "b"}, None),
        ({"backstage.io/custom": "ValueStuff", "goVersion": "go1.15.3", "empty": ""}, None),
        ({"a-b.c/a_b": "x"}, None),
        ({"a/b/c": "x"}, "metadata.labels['a/b/c']"),
        ({"a#b": "x"}, "metadata.labels['a#b']"),
        ({"/a": "x"}, "metadata.labels['/a']"),
        ({"Example.com/a": "x"}, "metadata.labels['Example.com/a']"),
        ({"a" * 64: "x"}, "metadata.labels['" + "a" * 60 + "'... (64 characters)]"),
        ({"a": "a#b"}, "metadata.labels.a"),
        ({"a": "a/b"}, "metadata.labels.a"),
        ({"a": "x" * 64}, "metadata.labels.a"),
        ({"a": 1}, "metadata.labels.a"),
        ({"a": True}, "metadata.labels.a"),
        ({"a": None}, "metadata.labels.a"),
        ({"ok": "x", "a/b": ["x"]}, "metadata.labels['a/b']"),
        (["a"], "metadata.labels"),
        ("a=b", "metadata.labels"),
        (None, "metadata.labels"),
    ],
)
def test_labels(labels: object, path: str | None) -> None:
    data = document(labels=labels)
    if path is None:
        assert validate_entity(data).metadata.labels == labels
    else:
        assert error_for(data).path == path


@pytest.mark.parametrize(
    ("annotations", "path"),
    [
        ({"backstage.io/techdocs-ref": "dir:."}, None),
        ({"a": ""}, None),
        ({"example.com/long": "/" * 6000}, None),
        ({"backstage.io/linguist": "https://github.com/backstage/backstage/tree/master/plugins/playlist"}, None),
        ({"a#b": "x"}, "metadata.annotations['a#b']"),
        ({"a/b/c": "x"}, "metadata.annotations['a/b/c']"),
        ({"a": 7}, "metadata.annotations.a"),
        ({"a": None}, "metadata.annotations.a"),
        ({"a": {"$text": "./x"}}, "metadata.annotations.a"),
        ("x", "metadata.annotations"),
    ],
)
def test_annotations(annotations: object, path: str | None) -> None:
    data = document(annotations=annotations)
    if path is None:
        assert validate_entity(data).metadata.annotations == annotations
    else:
        assert error_for(data).path == path


def test_non_string_label_values_get_a_yaml_hint() -> None:
    assert error_for(document(labels={"version": 1.0})).message.endswith(
        "got number 1.0 (quote it in YAML to make it a string)"
    )


@pytest.mark.parametrize(
    ("tags", "path"),
    [
        (["java", "data-service", "c++", "c#", "tier:1"], None),
        ([], None),
        ("x", "metadata.tags"),
        (None, "metadata.tags"),
        ({"java": True}, "metadata.tags"),
        (["Hello World"], "metadata.tags[0]"),
        (["java", "Java"], "metadata.tags[1]"),
        (["java", "ok", "a--b"], "metadata.tags[2]"),
        ([""], "metadata.tags[0]"),
        ([7], "metadata.tags[0]"),
        ([None], "metadata.tags[0]"),
        (["a" * 64], "metadata.tags[0]"),
    ],
)
def test_tags(tags: object, path: str | None) -> None:
    data = document(tags=tags)
    if path is None:
        assert validate_entity(data).metadata.tags == tags
    else:
        assert error_for(data).path == path


@pytest.mark.parametrize(
    ("links", "path"),
    [
        ([], None),
        ([{"url": "http://foo"}, {"url": "https://bar"}], None),
        ([{"url": "https://x.com", "title": "Admin", "icon": "dashboard", "type": "admin-dashboard"}], None),
        ([{"url": "http://foo", "icon": "foo_dashboard"}], None),
        ([{"url": "http://foo", "custom": {"any": "thing"}}], None),
        ("http://foo", "metadata.links"),
        (["http://foo"], "metadata.links[0]"),
        ([{}], "metadata.links[0].url"),
        ([{"title": "x"}], "metadata.links[0].url"),
        ([{"url": ""}], "metadata.links[0].url"),
        ([{"url": "invalid"}], "metadata.links[0].url"),
        ([{"url": 7}], "metadata.links[0].url"),
        ([{"url": "http://good"}, {"url": ""}], "metadata.links[1].url"),
        ([{"url": "http://foo", "title": ""}], "metadata.links[0].title"),
        ([{"url": "http://foo", "title": "   "}], "metadata.links[0].title"),
        ([{"url": "http://foo", "title": 123}], "metadata.links[0].title"),
        ([{"url": "http://foo", "title": {}}], "metadata.links[0].title"),
        ([{"url": "http://foo", "icon": ""}], "metadata.links[0].icon"),
        ([{"url": "http://foo", "icon": "abc xyz"}], "metadata.links[0].icon"),
        ([{"url": "http://foo", "icon": 123}], "metadata.links[0].icon"),
        ([{"url": "http://foo", "icon": "good"}, {"url": "http://foo", "icon": "not good"}],
         "metadata.links[1].icon"),
        ([{"url": "http://foo", "type": ""}], "metadata.links[0].type"),
    ],
)  # fmt: skip
def test_links(links: object, path: str | None) -> None:
    data = document(links=links)
    if path is None:
        assert validate_entity(data).to_document()["metadata"]["links"] == links
    else:
        assert error_for(data).path == path


def test_link_errors_name_the_field_and_the_rule() -> None:
    assert error_for(document(links=[{"url": "invalid"}])).message == (
        "metadata.links[0].url: 'invalid' is not valid; expected a valid URL with a scheme, "
        "e.g. https://example.com/page"
    )
    assert error_for(document(links=[{}])).message == (
        "metadata.links[0].url: required field is missing (every link needs metadata.links[0].url)"
    )


# --- the Entity ---------------------------------------------------------------------------------------


def test_entity_fields_and_defaults() -> None:
    entity = validate_entity(document(name="Artist-Lookup"))
    assert isinstance(entity, Entity)
    assert (entity.api_version, entity.kind, entity.namespace) == (BACKSTAGE, "Component", "default")
    assert entity.ref == "component:default/artist-lookup"
    metadata = entity.metadata
    assert (metadata.name, metadata.namespace, metadata.title, metadata.description) == (
        "Artist-Lookup",
        "default",
        None,
        None,
    )
    assert (metadata.labels, metadata.annotations, metadata.tags, metadata.links) == ({}, {}, [], [])


def test_entity_in_a_namespace() -> None:
    entity = validate_entity(document(namespace="ops"))
    assert (entity.namespace, entity.ref) == ("ops", "component:ops/n")


def test_to_document_is_backstages_shape_with_the_namespace_filled_in() -> None:
    data = document(
        title="N",
        labels={"a": "b"},
        links=[{"url": "http://x", "title": "X"}],
        customField={"kept": [1, 2.5, True, None]},
    )
    entity = validate_entity(data)
    expected = {**data, "metadata": {"name": "n", "namespace": "default", **data["metadata"]}}
    assert entity.to_document() == expected
    assert list(entity.to_document()) == ["apiVersion", "kind", "metadata", "spec"]
    assert json.loads(json.dumps(entity.to_document())) == expected
    assert entity.metadata.model_extra == {"customField": {"kept": [1, 2.5, True, None]}}


def test_to_document_adds_an_empty_spec_for_custom_kinds_without_one() -> None:
    data = document("Widget")
    del data["spec"]
    assert validate_entity(data, custom_kinds=["widget"]).to_document()["spec"] == {}


def test_the_entity_owns_its_data() -> None:
    data = document(labels={"a": "b"}, spec={"providesApis": ["x"]})
    entity = validate_entity(data)
    data["metadata"]["labels"]["a"] = "changed"
    data["spec"]["providesApis"].append("y")
    copy_ = entity.to_document()
    copy_["spec"]["owner"] = "someone-else"
    assert entity.metadata.labels == {"a": "b"}
    assert entity.spec["providesApis"] == ["x"]
    assert entity.spec["owner"] == "team-a"


def test_entities_are_frozen() -> None:
    entity = validate_entity(document())
    with pytest.raises(ValueError):
        entity.kind = "API"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("spec", "plain"),
    [
        # PyYAML reads unquoted dates as dates; Backstage's YAML 1.2 parser keeps them as strings
        ({"since": datetime.date(2021, 11, 10)}, {"since": "2021-11-10"}),
        ({"at": datetime.datetime(2021, 11, 10, 8, 30)}, {"at": "2021-11-10T08:30:00"}),
        # JSON keys are strings
        ({"codes": {200: "ok", True: "yes", None: "null", 1.5: "x"}},
         {"codes": {"200": "ok", "true": "yes", "null": "null", "1.5": "x"}}),
        ({"pair": ("a", "b")}, {"pair": ["a", "b"]}),
    ],
)  # fmt: skip
def test_yaml_values_become_plain_json(spec: dict[str, Any], plain: dict[str, Any]) -> None:
    entity = validate_entity(document("Location", spec))
    assert entity.spec == plain


def test_yaml_dates_count_as_strings_in_metadata_like_in_backstage() -> None:
    assert validate_entity(document(title=datetime.date(2024, 1, 2))).metadata.title == "2024-01-02"


def test_self_containing_yaml_is_rejected() -> None:
    loop: list[Any] = []
    loop.append(loop)
    error = error_for(document("Location", {"loop": loop}))
    assert error.path.startswith("spec.loop[0][0]")
    assert error.reason == "nested more than 100 levels deep"


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"x": float("nan")}, "spec.x"),
        ({"x": [1, float("inf")]}, "spec.x[1]"),
        ({"x": b"binary"}, "spec.x"),
        ({"x": {1, 2}}, "spec.x"),
        ({"x": {("a", "b"): 1}}, "spec.x"),
        ({"x": object()}, "spec.x"),
    ],
)
def test_values_json_cannot_hold_are_rejected(spec: dict[str, Any], path: str) -> None:
    error = error_for(document("Location", spec))
    assert error.path == path
    assert "cannot be represented in JSON" in error.reason


def test_hostile_metadata_keys_are_just_data() -> None:
    data = document(**{"model_config": "x", "__dict__": {"a": 1}, "model_dump": 3})
    assert validate_entity(data).to_document()["metadata"]["model_dump"] == 3


# --- the errors ---------------------------------------------------------------------------------------


def test_errors_form_one_hierarchy_and_survive_pickling() -> None:
    with pytest.raises(UnknownKindError) as unknown:
        validate_entity(document("AiResource"))
    for error in (unknown.value, error_for(document(name="not valid"))):
        assert isinstance(error, EntityValidationError) and isinstance(error, ModelError)
        assert isinstance(error, ValueError)
        copy_ = pickle.loads(pickle.dumps(error))
        assert (type(copy_), copy_.path, copy_.message, str(copy_)) == (
            type(error),
            error.path,
            error.message,
            str(error),
        )
        assert error.message.startswith(f"{error.path}: ")
