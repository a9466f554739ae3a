"""The spec rules of each built-in kind (Backstage's kind JSON schemas and the scaffolder's Template)."""

from __future__ import annotations

from typing import Any

import pytest

from graphsvc.model import BUILTIN_KINDS, EntityValidationError, validate_entity
from tests.model.documents import MINIMAL_SPECS, document, without


def error_for(data: object) -> EntityValidationError:
    with pytest.raises(EntityValidationError) as raised:
        validate_entity(data)
    return raised.value


def test_the_builtin_kinds() -> None:
    assert BUILTIN_KINDS == {
        "component", "api", "resource", "system", "domain", "group", "user", "location", "template",
    }  # fmt: skip


@pytest.mark.parametrize("kind", sorted(MINIMAL_SPECS))
def test_the_minimal_spec_of_each_kind_is_valid(kind: str) -> None:
    assert validate_entity(document(kind)).kind == kind


REQUIRED = {
    "API": ["type", "lifecycle", "owner", "definition"],
    "Component": ["type", "lifecycle", "owner"],
    "Domain": ["owner"],
    "Group": ["type", "children"],
    "Resource": ["type", "owner"],
    "System": ["owner"],
    "Template": ["type", "steps"],
    "User": ["memberOf"],
}


@pytest.mark.parametrize(("kind", "field"), [(kind, field) for kind, fields in REQUIRED.items() for field in fields])
def test_required_spec_fields(kind: str, field: str) -> None:
    error = error_for(without(document(kind), f"spec.{field}"))
    needed = ", ".join(f"spec.{name}" for name in REQUIRED[kind])
    assert error.path == f"spec.{field}"
    assert error.message == f"spec.{field}: required field is missing ({kind} needs {needed})"


@pytest.mark.parametrize("kind", sorted(MINIMAL_SPECS))
def test_builtin_kinds_need_a_spec_mapping(kind: str) -> None:
    assert error_for(without(document(kind), "spec")).message == (
        f"spec: required field is missing ({kind} needs spec)"
    )
    for spec in ("x", None, [], 5):
        data = document(kind)
        data["spec"] = spec
        assert error_for(data).path == "spec"


REF = "an entity ref (a non-empty string such as group:default/team-a)"

WRONG_TYPES = [
    # kind, spec field -> value, path, expected message after the path
    ("Component", {"owner": 42}, "spec.owner", f"expected {REF}, got number 42"),
    ("Component", {"owner": ""}, "spec.owner", f"expected {REF}, got an empty string"),
    ("Component", {"owner": None}, "spec.owner", f"expected {REF}, got null (an empty value)"),
    ("Component", {"owner": ["team-a"]}, "spec.owner", f"expected {REF}, got a list"),
    ("Component", {"type": 5}, "spec.type", "expected a non-empty string, got number 5"),
    ("Component", {"lifecycle": ""}, "spec.lifecycle", "expected a non-empty string, got an empty string"),
    ("Component", {"system": []}, "spec.system", f"expected {REF}, got a list"),
    ("Component", {"subcomponentOf": {"name": "x"}}, "spec.subcomponentOf", f"expected {REF}, got a mapping"),
    ("Component", {"providesApis": "petstore"}, "spec.providesApis",
     "expected a list of entity refs, got string 'petstore'"),
    ("Component", {"consumesApis": ["a", 1]}, "spec.consumesApis[1]", f"expected {REF}, got number 1"),
    ("Component", {"dependsOn": [""]}, "spec.dependsOn[0]", f"expected {REF}, got an empty string"),
    ("Component", {"dependencyOf": "component:x"}, "spec.dependencyOf",
     "expected a list of entity refs, got string 'component:x'"),
    ("API", {"system": 5}, "spec.system", f"expected {REF}, got number 5"),
    ("Resource", {"dependsOn": "resource:x"}, "spec.dependsOn",
     "expected a list of entity refs, got string 'resource:x'"),
    ("Resource", {"dependencyOf": [None]}, "spec.dependencyOf[0]", f"expected {REF}, got null (an empty value)"),
    ("System", {"domain": ""}, "spec.domain", f"expected {REF}, got an empty string"),
    ("System", {"type": 1}, "spec.type", "expected a non-empty string, got number 1"),
    ("Domain", {"subdomainOf": 5}, "spec.subdomainOf", f"expected {REF}, got number 5"),
    ("Domain", {"type": ""}, "spec.type", "expected a non-empty string, got an empty string"),
    ("Group", {"children": "team-a"}, "spec.children", "expected a list of entity refs, got string 'team-a'"),
    ("Group", {"members": [None]}, "spec.members[0]", f"expected {REF}, got null (an empty value)"),
    ("Group", {"parent": ["a"]}, "spec.parent", f"expected {REF}, got a list"),
    ("Group", {"profile": "x"}, "spec.profile", "expected a mapping, got string 'x'"),
    ("Group", {"profile": {"email": 5}}, "spec.profile.email", "expected a non-empty string, got number 5"),
    ("User", {"memberOf": "team-a"}, "spec.memberOf", "expected a list of entity refs, got string 'team-a'"),
    ("User", {"profile": {"displayName": ""}}, "spec.profile.displayName",
     "expected a non-empty string, got an empty string"),
    ("Location", {"type": ""}, "spec.type", "expected a non-empty string, got an empty string"),
    ("Location", {"target": 5}, "spec.target", "expected a non-empty string, got number 5"),
    ("Location", {"targets": "./a.yaml"}, "spec.targets",
     "expected a list of non-empty strings, got string './a.yaml'"),
    ("Location", {"targets": ["./a.yaml", ""]}, "spec.targets[1]",
     "expected a non-empty string, got an empty string"),
    ("Location", {"presence": "sometimes"}, "spec.presence",
     "expected one of 'required', 'optional', got string 'sometimes'"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "spec", "path", "reason"), WRONG_TYPES)
def test_wrong_field_types(kind: str, spec: dict[str, Any], path: str, reason: str) -> None:
    error = error_for(document(kind, spec))
    assert (error.path, error.reason) == (path, reason)
    assert error.message == f"{path}: {reason}"


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("Component", {"system": "s", "subcomponentOf": "c", "providesApis": [], "consumesApis": ["a"],
                       "dependsOn": ["resource:r"], "dependencyOf": ["component:d"]}),
        ("Component", {"apiConsumedBy": ["component:www-artist"]}),  # unknown fields are allowed
        ("Component", {"type": " "}),  # minLength 1 counts characters, not visible ones
        ("Group", {"profile": {"displayName": "D", "email": "e@x.com", "picture": "https://x/p.png"},
                   "parent": "p", "members": ["u"], "children": ["c"]}),
        ("User", {"profile": {}, "memberOf": ["g"], "leaderOf": "anything"}),
        ("Location", {"type": "url", "target": "https://x/a.yaml", "presence": "optional"}),
        ("Location", {"targets": ["./a.yaml", "./b.yaml"], "presence": "required"}),
        ("Resource", {"dependsOn": ["component:c"], "dependencyOf": ["component:d"], "system": "s"}),
        ("System", {"domain": "d", "type": "feature-set"}),
        ("Domain", {"subdomainOf": "audio", "type": "product-group"}),
    ],
)  # fmt: skip
def test_valid_optional_fields(kind: str, spec: dict[str, Any]) -> None:
    assert validate_entity(document(kind, spec)).spec == {**MINIMAL_SPECS[kind], **spec}


# --- API definitions ----------------------------------------------------------------------------------

DEFINITION = (
    "expected the API definition as a non-empty string, or an unresolved placeholder such as "
    "{$text: ./openapi.yaml}, got "
)


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        ("openapi: 3.0.0", None),
        ("x", None),
        # placeholders our readers could not resolve (reported by them as separate errors)
        ({"$text": "./petstore.oas.yaml"}, None),
        ({"$text": "https://github.com/APIs-guru/openapi-directory/blob/main/x.yaml"}, None),
        ({"$json": "./schema.json"}, None),
        ({"$yaml": "./schema.yaml"}, None),
        # anything else
        ("", "an empty string"),
        (None, "null (an empty value)"),
        (5, "number 5"),
        ([], "a list"),
        ({}, "a mapping"),
        ({"$text": 5}, "a mapping"),
        ({"$text": None}, "a mapping"),
        ({"$text": "./a", "$json": "./b"}, "a mapping"),
        ({"$other": "./a"}, "a mapping"),
        ({"openapi": "3.0.0"}, "a mapping"),  # a parsed definition is not a definition string
    ],
)
def test_api_definition_is_a_string_or_an_unresolved_placeholder(definition: object, problem: str | None) -> None:
    data = document("API", {"definition": definition})
    if problem is None:
        assert validate_entity(data).spec["definition"] == definition
    else:
        error = error_for(data)
        assert (error.path, error.reason) == ("spec.definition", DEFINITION + problem)


MCP = {"type": "mcp-server", "lifecycle": "experimental", "owner": "team-a"}
REMOTE = {"type": "streamable-http", "url": "http://localhost:7007/api/mcp/v1"}


@pytest.mark.parametrize(
    ("spec", "path", "reason"),
    [
        ({**MCP, "remotes": [REMOTE]}, None, None),
        ({**MCP, "remotes": [REMOTE, {"type": "stdio", "url": "npx my-server"}], "system": "s"}, None, None),
        (MCP, "spec.remotes",
         "required field is missing (API of type mcp-server needs spec.type, spec.lifecycle, spec.owner, "
         "spec.remotes)"),
        ({**MCP, "remotes": []}, "spec.remotes",
         "expected a list of remotes ({type, url} mappings) with at least 1 element(s)"),
        ({**MCP, "remotes": [{"type": "sse"}]}, "spec.remotes[0].url",
         "required field is missing (spec.remotes[0] needs type, url)"),
        ({**MCP, "remotes": [{**REMOTE, "url": ""}]}, "spec.remotes[0].url",
         "expected a non-empty string, got an empty string"),
        ({**MCP, "remotes": "http://x"}, "spec.remotes",
         "expected a list of remotes ({type, url} mappings), got string 'http://x'"),
    ],
)  # fmt: skip
def test_mcp_server_apis_have_remotes_instead_of_a_definition(
    spec: dict[str, Any], path: str | None, reason: str | None
) -> None:
    data = document("API")
    data["spec"] = spec
    if path is None:
        assert validate_entity(data).spec == spec
    else:
        error = error_for(data)
        assert (error.path, error.reason) == (path, reason)


# --- Templates (scaffolder.backstage.io/v1beta3) --------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"owner": "backstage/techdocs-core", "lifecycle": "production"},
        {"parameters": {"required": ["name"], "properties": {"name": {"type": "string"}}}},
        {"parameters": [{"title": "A", "backstage:permissions": {"tags": ["one"]}}, {"title": "B"}]},
        {"steps": [{"id": "fetch", "name": "Fetch", "action": "fetch:plain", "input": {"url": "./x"},
                    "if": "${{ parameters.x }}", "backstage:permissions": {"tags": ["a"]}},
                   {"action": "debug:log", "if": False}]},
        {"steps": []},
        {"output": {"links": [{"if": "${{ x }}", "title": "Repo", "url": "${{ steps.p.output.remoteUrl }}"},
                              {"icon": "catalog", "entityRef": "${{ steps.r.output.entityRef }}"}],
                    "text": [{"title": "Summary", "content": "**hi**", "if": True}],
                    "catalogInfoUrl": "${{ steps.p.output.url }}"}},
        {"secrets": {"schema": {"type": "object"}}, "presentation": {"buttonLabels": {"createButtonText": "Go"}},
         "EXPERIMENTAL_recovery": {"EXPERIMENTAL_strategy": "startOver"},
         "EXPERIMENTAL_formDecorators": [{"id": "d", "input": {}}]},
    ],
)  # fmt: skip
def test_valid_templates(spec: dict[str, Any]) -> None:
    assert validate_entity(document("Template", spec)).spec["type"] == "service"


@pytest.mark.parametrize(
    ("spec", "path", "reason"),
    [
        ({"owner": 42}, "spec.owner", f"expected {REF}, got number 42"),
        ({"type": ""}, "spec.type", "expected a non-empty string, got an empty string"),
        ({"lifecycle": ""}, "spec.lifecycle", "expected a non-empty string, got an empty string"),
        ({"steps": "fetch"}, "spec.steps", "expected a list of steps, got string 'fetch'"),
        ({"steps": [{"id": "a"}]}, "spec.steps[0].action",
         "required field is missing (spec.steps[0] needs action)"),
        ({"steps": [{"action": "a"}, "b"]}, "spec.steps[1]", "expected a mapping, got string 'b'"),
        ({"steps": [{"action": 5}]}, "spec.steps[0].action", "expected a string, got number 5"),
        ({"steps": [{"action": "a", "if": 1}]}, "spec.steps[0].if",
         "expected a string or a boolean, got number 1"),
        ({"steps": [{"action": "a", "input": "x"}]}, "spec.steps[0].input", "expected a mapping, got string 'x'"),
        ({"steps": [{"action": "a", "backstage:permissions": {"tags": "x"}}]},
         "spec.steps[0]['backstage:permissions'].tags", "expected a list of strings, got string 'x'"),
        ({"parameters": "x"}, "spec.parameters", "expected a mapping or a list of mappings, got string 'x'"),
        ({"parameters": [{}, "x"]}, "spec.parameters[1]", "expected a mapping, got string 'x'"),
        ({"output": []}, "spec.output", "expected a mapping, got a list"),
        ({"output": {"links": [{"url": ""}]}}, "spec.output.links[0].url",
         "expected a non-empty string, got an empty string"),
        ({"output": {"text": [{"content": 5}]}}, "spec.output.text[0].content", "expected a string, got number 5"),
        ({"output": {"repoUrl": 5}}, "spec.output.repoUrl", "expected a string, got number 5"),
        ({"presentation": {"buttonLabels": {"backButtonText": 5}}},
         "spec.presentation.buttonLabels.backButtonText", "expected a string, got number 5"),
    ],
)  # fmt: skip
def test_invalid_templates(spec: dict[str, Any], path: str, reason: str) -> None:
    error = error_for(document("Template", spec))
    assert (error.path, error.reason) == (path, reason)
