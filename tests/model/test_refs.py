"""Entity references: Backstage's `[kind:][namespace/]name`, its defaults, and hostile input."""

from __future__ import annotations

from typing import Any

import pytest

from graphsvc.model import EntityRef, InvalidEntityRefError, ModelError, format_entity_ref, parse_entity_ref

X_Y = {"default_kind": "x", "default_namespace": "y"}


@pytest.mark.parametrize(
    ("ref", "defaults", "expected"),
    [
        # complete refs need no defaults, and defaults never override what the ref says
        ("a:b/c", {}, ("a", "b", "c")),
        ("a:b/c", X_Y, ("a", "b", "c")),
        # a missing kind or namespace comes from the defaults
        ("b/c", X_Y, ("x", "b", "c")),
        ("a:c", X_Y, ("a", "y", "c")),
        ("c", X_Y, ("x", "y", "c")),
        # the namespace defaults to "default", also when the given default is empty (as in Backstage)
        ("a:c", {}, ("a", "default", "c")),
        ("c", {"default_kind": "x"}, ("x", "default", "c")),
        ("c", {"default_kind": "x", "default_namespace": ""}, ("x", "default", "c")),
        # everything is stored lowercase, defaults included
        ("Component:Default/Artist-Lookup", {}, ("component", "default", "artist-lookup")),
        ("team-a", {"default_kind": "Group"}, ("group", "default", "team-a")),
        ("c", {"default_kind": "x", "default_namespace": "Ops"}, ("x", "ops", "c")),
        # shapes found in Backstage's examples
        ("user:guest", {"default_kind": "Group"}, ("user", "default", "guest")),
        ("group:default/team-a", {"default_kind": "Group", "default_namespace": "development"},
         ("group", "default", "team-a")),
        ("backstage/techdocs-core", {"default_kind": "Group"}, ("group", "backstage", "techdocs-core")),
        ("template:default/springboot-template", {}, ("template", "default", "springboot-template")),
        ("resource:artists-db", {}, ("resource", "default", "artists-db")),
        ("Component:n.a_b-c", {}, ("component", "default", "n.a_b-c")),
        # the longest accepted ref
        ("c" * 1000, {"default_kind": "x"}, ("x", "default", "c" * 1000)),
        # the mapping form, as Backstage's parseEntityRef accepts it
        ({"kind": "a", "namespace": "b", "name": "c"}, {}, ("a", "b", "c")),
        ({"kind": "a", "namespace": "b", "name": "c"}, X_Y, ("a", "b", "c")),
        ({"namespace": "b", "name": "c"}, X_Y, ("x", "b", "c")),
        ({"kind": "a", "name": "c"}, X_Y, ("a", "y", "c")),
        ({"kind": "a", "name": "c"}, {"default_kind": "x"}, ("a", "default", "c")),
        ({"name": "c"}, X_Y, ("x", "y", "c")),
        ({"kind": "API", "namespace": "Default", "name": "Petstore"}, {}, ("api", "default", "petstore")),
    ],
)  # fmt: skip
def test_parse_fills_defaults_and_lowercases(ref: Any, defaults: dict[str, str], expected: tuple) -> None:
    assert parse_entity_ref(ref, **defaults) == EntityRef(*expected)


@pytest.mark.parametrize(
    ("ref", "defaults", "fragment"),
    [
        # bad shapes: at most one ':' (after the kind), one '/' (after the namespace), in that order
        ("a:b:c", X_Y, "not on the form"),
        ("a/b/c", X_Y, "not on the form"),
        ("a/b:c", X_Y, "not on the form"),
        ("a:b/c/d", X_Y, "not on the form"),
        ("a:b/c:d", X_Y, "not on the form"),
        ("::", X_Y, "not on the form"),
        # empty parts, one, two or three of them, or left out next to an empty one
        (":b/c", X_Y, "not on the form"),
        ("a:/c", X_Y, "not on the form"),
        ("a:b/", X_Y, "not on the form"),
        ("a:/", X_Y, "not on the form"),
        (":b/", X_Y, "not on the form"),
        (":/c", X_Y, "not on the form"),
        (":/", X_Y, "not on the form"),
        ("/c", X_Y, "not on the form"),
        ("b/", X_Y, "not on the form"),
        (":x", X_Y, "not on the form"),
        ("x:", X_Y, "not on the form"),
        ("", X_Y, "must not be empty"),
        # no kind in the ref and no default kind
        ("c", {}, "has no kind and no default kind applies"),
        ("b/c", {"default_namespace": "y"}, "e.g. component:c"),
        ({"name": "c"}, {}, "has no kind"),
        # empty strings in the mapping form are errors, not defaults
        ({"kind": "", "namespace": "b", "name": "c"}, X_Y, "non-empty string kind"),
        ({"kind": "a", "namespace": "", "name": "c"}, X_Y, "non-empty string namespace"),
        ({"kind": "a", "namespace": "b", "name": ""}, X_Y, "non-empty string name"),
        ({"kind": "a", "namespace": "b"}, X_Y, "non-empty string name"),
        ({}, X_Y, "non-empty string name"),
        ({"kind": 7, "name": "c"}, X_Y, "got number 7"),
        # hostile input: not a string, too long, control characters
        (7, X_Y, "got number 7"),
        (None, X_Y, "got null"),
        (True, X_Y, "got boolean true"),
        (["component:x"], X_Y, "got a list"),
        (b"component:x", X_Y, "got a bytes value"),
        ("c" * 1001, X_Y, "1001 characters long, more than the 1000 allowed"),
        ("component:" + "c" * 10**6, X_Y, "more than the 1000 allowed"),
        ("component:foo\n", X_Y, "control characters"),
        ("component:fo\x00o", X_Y, "control characters"),
        ("\tcomponent:foo", X_Y, "control characters"),
        ("component:foo\x7f", X_Y, "control characters"),
        ("component:foo\x85", X_Y, "control characters"),
        ({"kind": "a", "name": "c\r\n"}, X_Y, "control characters"),
        ({"kind": "a", "name": "c" * 1001}, X_Y, "more than the 1000 allowed"),
    ],
)
def test_parse_rejects(ref: Any, defaults: dict[str, str], fragment: str) -> None:
    with pytest.raises(InvalidEntityRefError) as raised:
        parse_entity_ref(ref, **defaults)
    assert fragment in str(raised.value)
    assert isinstance(raised.value, ModelError) and isinstance(raised.value, ValueError)


def test_error_messages_stay_short_for_huge_refs() -> None:
    with pytest.raises(InvalidEntityRefError) as raised:
        parse_entity_ref("a:b:" + "c" * 999)
    assert len(str(raised.value)) < 300


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("component", "default", "artist-lookup"), "component:default/artist-lookup"),
        (("Component", "Default", "Artist-Lookup"), "component:default/artist-lookup"),
        (("API", "ops", "Petstore"), "api:ops/petstore"),
    ],
)
def test_format_is_canonical_lowercase(parts: tuple[str, str, str], expected: str) -> None:
    assert format_entity_ref(*parts) == expected
    assert str(EntityRef(*expected.replace(":", "/").split("/"))) == expected


@pytest.mark.parametrize("ref", ["component:default/a", "group:ops/team-a", "user:default/jane.doe"])
def test_canonical_form_parses_back_to_itself(ref: str) -> None:
    parsed = parse_entity_ref(ref)
    assert str(parsed) == ref
    assert parse_entity_ref(str(parsed)) == parsed
    assert (parsed.kind, parsed.namespace, parsed.name) == tuple(ref.replace(":", "/").split("/"))
