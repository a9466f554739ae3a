"""The built-in kinds: which apiVersions each accepts and the rules for its `spec`.

Transcribed from Backstage's kind JSON schemas (`packages/catalog-model/src/schema/kinds/*.schema.json`)
and the scaffolder's `Template.v1beta3.schema.json`, keeping only what validates (types, required fields,
`minLength: 1`, enums) and dropping descriptions and examples. As in those schemas, spec fields that a
kind does not mention are allowed and ignored (upstream's own example `artist-lookup` carries an unknown
`spec.apiConsumedBy`).

Three deliberate additions to the schemas, each marked where it is written:

- `dependencyOf` (Component and Resource) is type-checked as a list of refs: Backstage's relation
  processor reads it, so a wrong type there would otherwise only fail later, at relation time.
- `API` with `spec.type: mcp-server` follows its own schema (`API.v1alpha1.mcp-server.schema.json`,
  catalog-model 1.9+): it has `remotes` instead of a `definition`.
- An API `definition` may be an unresolved placeholder, see `api_definition`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graphsvc.model._paths import describe
from graphsvc.model._schema import (
    Check,
    array,
    mapping,
    mapping_or_array_of_mappings,
    string,
    string_or_boolean,
)
from graphsvc.model.errors import EntityValidationError

BACKSTAGE_API_VERSIONS = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
TEMPLATE_API_VERSIONS = ("scaffolder.backstage.io/v1beta3",)
PLACEHOLDER_KEYS = frozenset({"$text", "$json", "$yaml"})


@dataclass(frozen=True)
class KindRules:
    """What Backstage accepts for one built-in kind."""

    kind: str
    """The kind as Backstage spells it (`API`, `Component`)."""
    api_versions: tuple[str, ...]
    spec: Check
    """Checks the whole `spec` mapping, raising `EntityValidationError` with the field path."""


_TEXT = string(min_length=1)
_REF = string(min_length=1, expected="an entity ref (a non-empty string such as group:default/team-a)")
_REFS = array(_REF, expected="a list of entity refs")
_PROFILE = mapping({"displayName": _TEXT, "email": _TEXT, "picture": _TEXT})


def api_definition(value: object, path: str) -> None:
    """`spec.definition` of an API: a non-empty string, or a placeholder our readers could not resolve.

    Backstage requires the definition text itself. Our readers resolve `$text`/`$json`/`$yaml`
    placeholders the way Backstage's PlaceholderProcessor does, but when the target cannot be fetched
    (offline, a 404) they leave the placeholder mapping in place and report that as a separate read
    error, so that the API entity itself is still catalogued. Hence a mapping with exactly one key among
    `$text`, `$json`, `$yaml` whose value is a string is accepted here too.
    """
    if isinstance(value, str) and value:
        return
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, target),) = value.items()
        if key in PLACEHOLDER_KEYS and isinstance(target, str):
            return
    raise EntityValidationError(
        path,
        "expected the API definition as a non-empty string, or an unresolved placeholder such as "
        f"{{$text: ./openapi.yaml}}, got {describe(value)}",
    )


_API_BASE = mapping(
    {"type": _TEXT, "lifecycle": _TEXT, "owner": _REF, "system": _REF, "definition": api_definition},
    required=("type", "lifecycle", "owner", "definition"),
    owner="API",
)
# Addition: the mcp-server spec type (Backstage catalog-model 1.9+), remotes instead of a definition.
_API_MCP_SERVER = mapping(
    {
        "type": string(enum=("mcp-server",)),
        "lifecycle": _TEXT,
        "owner": _REF,
        "system": _REF,
        "remotes": array(
            mapping({"type": _TEXT, "url": _TEXT}, required=("type", "url")),
            min_items=1,
            expected="a list of remotes ({type, url} mappings)",
        ),
    },
    required=("type", "lifecycle", "owner", "remotes"),
    owner="API of type mcp-server",
)


def _api_spec(value: object, path: str) -> None:
    if isinstance(value, Mapping) and value.get("type") == "mcp-server":
        _API_MCP_SERVER(value, path)
    else:
        _API_BASE(value, path)


_PERMISSIONS = mapping({"tags": array(string(), expected="a list of strings")})
_TEMPLATE_STEP = mapping(
    {
        "id": string(),
        "name": string(),
        "action": string(),
        "input": mapping(),
        "if": string_or_boolean(),
        "backstage:permissions": _PERMISSIONS,
    },
    required=("action",),
)
_TEMPLATE_OUTPUT = mapping(
    {
        "links": array(
            mapping({"if": string_or_boolean(), "url": _TEXT, "entityRef": _TEXT, "title": _TEXT, "icon": _TEXT}),
            expected="a list of links",
        ),
        "text": array(
            mapping({"if": string_or_boolean(), "title": _TEXT, "icon": _TEXT, "content": string()}),
            expected="a list of text blocks",
        ),
    },
    other_values=string(),
)
_TEMPLATE = mapping(
    {
        "type": _TEXT,
        "owner": _REF,
        "lifecycle": _TEXT,
        "parameters": mapping_or_array_of_mappings(mapping({"backstage:permissions": _PERMISSIONS})),
        "secrets": mapping({"schema": mapping()}),
        "presentation": mapping(
            {
                "buttonLabels": mapping(
                    {"backButtonText": string(), "createButtonText": string(), "reviewButtonText": string()}
                )
            }
        ),
        "EXPERIMENTAL_recovery": mapping({"EXPERIMENTAL_strategy": string()}),
        "EXPERIMENTAL_formDecorators": array(mapping({"id": string(), "input": mapping()})),
        "steps": array(_TEMPLATE_STEP, expected="a list of steps"),
        "output": _TEMPLATE_OUTPUT,
    },
    required=("type", "steps"),
    owner="Template",
)

_RULES = (
    KindRules("API", BACKSTAGE_API_VERSIONS, _api_spec),
    KindRules(
        "Component",
        BACKSTAGE_API_VERSIONS,
        mapping(
            {
                "type": _TEXT,
                "lifecycle": _TEXT,
                "owner": _REF,
                "system": _REF,
                "subcomponentOf": _REF,
                "providesApis": _REFS,
                "consumesApis": _REFS,
                "dependsOn": _REFS,
                "dependencyOf": _REFS,  # addition: read by the relation processor
            },
            required=("type", "lifecycle", "owner"),
            owner="Component",
        ),
    ),
    KindRules(
        "Domain",
        BACKSTAGE_API_VERSIONS,
        mapping({"owner": _REF, "subdomainOf": _REF, "type": _TEXT}, required=("owner",), owner="Domain"),
    ),
    KindRules(
        "Group",
        BACKSTAGE_API_VERSIONS,
        mapping(
            {"type": _TEXT, "profile": _PROFILE, "parent": _REF, "children": _REFS, "members": _REFS},
            required=("type", "children"),
            owner="Group",
        ),
    ),
    KindRules(
        "Location",
        BACKSTAGE_API_VERSIONS,
        mapping(
            {
                "type": _TEXT,
                "target": _TEXT,
                "targets": array(_TEXT, expected="a list of non-empty strings"),
                "presence": string(enum=("required", "optional")),
            }
        ),
    ),
    KindRules(
        "Resource",
        BACKSTAGE_API_VERSIONS,
        mapping(
            {
                "type": _TEXT,
                "owner": _REF,
                "dependsOn": _REFS,
                "dependencyOf": _REFS,  # addition: read by the relation processor
                "system": _REF,
            },
            required=("type", "owner"),
            owner="Resource",
        ),
    ),
    KindRules(
        "System",
        BACKSTAGE_API_VERSIONS,
        mapping({"owner": _REF, "domain": _REF, "type": _TEXT}, required=("owner",), owner="System"),
    ),
    KindRules("Template", TEMPLATE_API_VERSIONS, _TEMPLATE),
    KindRules(
        "User",
        BACKSTAGE_API_VERSIONS,
        mapping({"profile": _PROFILE, "memberOf": _REFS}, required=("memberOf",), owner="User"),
    ),
)

KIND_RULES: Mapping[str, KindRules] = {rules.kind.lower(): rules for rules in _RULES}
"""Rules by lowercase kind: Backstage kinds are matched case-insensitively here."""

BUILTIN_KINDS: frozenset[str] = frozenset(KIND_RULES)
"""The built-in kinds, lowercase."""

BUILTIN_KIND_NAMES = ", ".join(rules.kind for rules in _RULES)
"""The built-in kinds as Backstage spells them, for messages."""
