"""`validate_entity`: Backstage's entity validation, first error wins.

Backstage checks a new entity with its default entity policies (`SchemaValidEntityPolicy`,
`DefaultNamespaceEntityPolicy`, `NoForeignRootFieldsEntityPolicy`, `FieldFormatEntityPolicy`) and then
asks each processor whether it recognizes the kind (`BuiltinKindsEntityProcessor` and the scaffolder's
processor for Templates, each with the kind's JSON schema). This module applies the same rules in one
pass, in the order most useful to a person fixing a file:

1. the document is a mapping with no root fields besides apiVersion, kind, metadata and spec;
2. apiVersion and kind have a valid format, the kind is built in (compared case-insensitively) or
   configured as a custom kind, and a built-in kind's apiVersion is one Backstage accepts for it;
3. metadata: name, namespace, labels, annotations, tags and links follow the schema and format rules;
4. spec: a mapping, required for built-in kinds and checked against the kind's rules (`kinds.py`).

Only the envelope is checked for custom kinds; their spec just has to be a mapping. The data is first
copied into plain JSON (`_plain.py`), and the rules run on that copy, so that YAML parsing differences
(unquoted dates) are judged the way Backstage would judge them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from graphsvc.model import validators as v
from graphsvc.model._paths import child, describe, item, quote
from graphsvc.model._plain import to_plain
from graphsvc.model.entity import Entity
from graphsvc.model.errors import EntityValidationError, UnknownKindError
from graphsvc.model.kinds import BUILTIN_KIND_NAMES, KIND_RULES

ROOT_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec"})
_MISSING: Any = object()


def validate_entity(data: object, *, custom_kinds: Collection[str] = ()) -> Entity:
    """Check `data` against Backstage's rules and return it as an `Entity`.

    `custom_kinds` lists extra kinds to accept (any case); for them only apiVersion, kind and metadata
    are checked. Raises `UnknownKindError` for any other kind that is not built in, and
    `EntityValidationError` naming the first offending field otherwise.
    """
    if not isinstance(data, Mapping):
        raise EntityValidationError(
            "", f"an entity must be a mapping with apiVersion, kind, metadata and spec, got {_kind_of(data)}"
        )
    if not ROOT_FIELDS.issuperset(data):
        unknown = next(key for key in data if key not in ROOT_FIELDS)
        raise EntityValidationError(
            child("", unknown),
            "unknown root field; an entity has only apiVersion, kind, metadata and spec "
            "(custom data belongs under metadata or spec)",
        )

    api_version = _required(data, "apiVersion", "every entity needs apiVersion")
    kind = _required(data, "kind", "every entity needs kind")
    _check_format("kind", kind, v.is_valid_kind, v.EXPECT_KIND)
    rules = KIND_RULES.get(kind.lower())
    if rules is None or api_version not in rules.api_versions:  # a known apiVersion has a valid format
        _check_format("apiVersion", api_version, v.is_valid_api_version, v.EXPECT_API_VERSION)
    if rules is None:
        if not _is_custom_kind(kind.lower(), custom_kinds):
            raise UnknownKindError(kind, api_version, BUILTIN_KIND_NAMES)
    elif api_version not in rules.api_versions:
        raise EntityValidationError(
            "apiVersion",
            f"kind {rules.kind} needs apiVersion {' or '.join(rules.api_versions)}, got {quote(api_version)}",
        )

    metadata = to_plain(_required(data, "metadata", "every entity needs metadata"), "metadata")
    _check_metadata(metadata)

    if "spec" in data:
        spec = to_plain(data["spec"], "spec")
        if not isinstance(spec, dict):
            raise EntityValidationError("spec", f"expected a mapping, got {describe(spec)}")
        if rules is not None:
            rules.spec(spec, "spec")
    elif rules is not None:
        raise EntityValidationError("spec", f"required field is missing ({rules.kind} needs spec)")
    else:
        spec = {}

    return Entity.model_validate(
        {
            "apiVersion": api_version,
            "kind": rules.kind if rules is not None else kind,
            "metadata": metadata,
            "spec": spec,
        }
    )


def _kind_of(document: object) -> str:
    """What a document that is no mapping is, without repeating it: it may be a whole file that is no catalog
    file (`/etc/passwd` reads as one long string), and error records are for everyone to read."""
    if isinstance(document, str):
        return f"a string of {len(document)} characters" if document else "an empty string"
    if isinstance(document, list):
        return f"a list of {len(document)} items"
    if document is None or isinstance(document, bool):
        return describe(document)
    return "a number" if isinstance(document, int | float) else f"a {type(document).__name__} value"


def _is_custom_kind(kind: str, custom_kinds: Collection[str]) -> bool:
    return kind in custom_kinds or any(custom.lower() == kind for custom in custom_kinds)


def _check_metadata(metadata: object) -> None:
    """EntityMeta's schema and FieldFormatEntityPolicy's rules for every metadata field they cover.

    Paths are only built when an error is raised: this runs for every entity of every sync.
    """
    if not isinstance(metadata, dict):
        raise EntityValidationError("metadata", f"expected a mapping, got {describe(metadata)}")
    name = _required(metadata, "name", "every entity needs metadata.name", "metadata")
    _check_format("metadata.name", name, v.is_valid_object_name, v.EXPECT_OBJECT_NAME)
    for key, is_valid, expectation in _METADATA_SCALARS:
        if key in metadata:
            _check_format("metadata." + key, metadata[key], is_valid, expectation)

    for field, is_valid_key, is_valid_value, expect_value in _METADATA_MAPPINGS:
        pairs = metadata.get(field, _MISSING)
        if pairs is _MISSING:
            continue
        if not isinstance(pairs, dict):
            raise EntityValidationError("metadata." + field, f"expected a mapping of strings, got {describe(pairs)}")
        for key, value in pairs.items():
            if not is_valid_key(key):
                raise EntityValidationError(
                    child("metadata." + field, key),
                    f"the key {quote(key)} is not valid; expected {v.EXPECT_KEY}",
                )
            if not is_valid_value(value):
                _check_format(child("metadata." + field, key), value, is_valid_value, expect_value)

    tags = metadata.get("tags", _MISSING)
    if tags is not _MISSING:
        if not isinstance(tags, list):
            raise EntityValidationError("metadata.tags", f"expected a list of tags, got {describe(tags)}")
        for index, tag in enumerate(tags):
            if not v.is_valid_tag(tag):
                _check_format(item("metadata.tags", index), tag, v.is_valid_tag, v.EXPECT_TAG)

    links = metadata.get("links", _MISSING)
    if links is not _MISSING:
        if not isinstance(links, list):
            raise EntityValidationError("metadata.links", f"expected a list of links, got {describe(links)}")
        for index, link in enumerate(links):
            _check_link(link, index)


def _check_link(link: object, index: int) -> None:
    if not isinstance(link, dict) or "url" not in link:
        path = item("metadata.links", index)
        if not isinstance(link, dict):
            raise EntityValidationError(
                path, f"expected a mapping with url and optional title and icon, got {describe(link)}"
            )
        raise EntityValidationError(path + ".url", f"required field is missing (every link needs {path}.url)")
    for key, is_valid, expectation in _LINK_FIELDS:
        if key in link and not is_valid(link[key]):
            _check_format(f"{item('metadata.links', index)}.{key}", link[key], is_valid, expectation)


def _required(container: Mapping[Any, Any], key: str, needed: str, path: str = "") -> Any:
    value = container.get(key, _MISSING)
    if value is _MISSING:
        raise EntityValidationError(child(path, key), f"required field is missing ({needed})")
    return value


def _check_format(path: str, value: object, is_valid: Callable[[object], bool], expectation: str) -> None:
    if is_valid(value):
        return
    if isinstance(value, str):
        raise EntityValidationError(path, f"{quote(value)} is not valid; expected {expectation}")
    raise EntityValidationError(path, f"expected {expectation}, got {describe(value)}{_quote_hint(value)}")


def _quote_hint(value: object) -> str:
    """YAML turns unquoted `1.0`, `yes`-like and `true` values into numbers and booleans."""
    return " (quote it in YAML to make it a string)" if isinstance(value, bool | int | float) else ""


def _is_string(value: object) -> bool:
    return isinstance(value, str)


def _is_string_of_min_length_1(value: object) -> bool:
    return isinstance(value, str) and len(value) >= 1


_Rule = tuple[str, Callable[[object], bool], str]

_METADATA_SCALARS: tuple[_Rule, ...] = (
    ("namespace", v.is_valid_namespace, v.EXPECT_NAMESPACE),
    ("uid", _is_string_of_min_length_1, v.EXPECT_NON_EMPTY_STRING),
    ("etag", _is_string_of_min_length_1, v.EXPECT_NON_EMPTY_STRING),
    ("title", _is_string_of_min_length_1, v.EXPECT_NON_EMPTY_STRING),
    ("description", _is_string, "a string"),
)
"""Optional metadata fields with one value: field, rule, what a valid value looks like."""

_METADATA_MAPPINGS = (
    ("labels", v.is_valid_label_key, v.is_valid_label_value, v.EXPECT_LABEL_VALUE),
    ("annotations", v.is_valid_annotation_key, v.is_valid_annotation_value, "a string"),
)
"""Key/value metadata fields: field, key rule, value rule, what a valid value looks like."""

_LINK_FIELDS: tuple[_Rule, ...] = (
    ("url", v.is_valid_url, v.EXPECT_URL),
    ("title", v.is_non_empty_string, v.EXPECT_NON_EMPTY_STRING),
    ("icon", v.is_valid_object_name, "an icon name that is " + v.EXPECT_OBJECT_NAME),
    ("type", _is_string_of_min_length_1, v.EXPECT_NON_EMPTY_STRING),
)
"""The fields of a link; url is required."""
