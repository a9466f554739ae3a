"""Entity references: `[kind:][namespace/]name`, parsed and formatted like Backstage.

A reference names an entity by kind, namespace and name. Catalog files usually write short forms
(`team-a`, `user:guest`, `group:default/team-a`) and let the field they appear in supply the missing
kind and namespace; the canonical form is always complete and lowercase (`group:default/team-a`),
because Backstage compares entity identities case-insensitively.

The string grammar is the strict one of Backstage's `parseEntityRef` tests: at most one `:` (after the
kind) and at most one `/` (after the namespace), in that order, with no empty part. (Since 2022 Backstage
itself is more lenient and reads `a:b:c` as kind `a`, name `b:c`; such a name can never match an entity,
because names cannot contain `:` or `/`, so rejecting it only makes the mistake visible sooner.)
References are also read from untrusted files, so non-strings, very long strings and control characters
are rejected with a clear message instead of flowing into the graph.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from graphsvc.model._paths import describe, quote
from graphsvc.model.errors import InvalidEntityRefError

DEFAULT_NAMESPACE = "default"
MAX_REF_LENGTH = 1000

_REF = re.compile(r"(?:([^:/]+):)?(?:([^:/]+)/)?([^:/]+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FORM = "[<kind>:][<namespace>/]<name>"


class EntityRef(NamedTuple):
    """A complete entity reference; all parts are stored lowercase."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"


def format_entity_ref(kind: str, namespace: str, name: str) -> str:
    """The canonical string form, `kind:namespace/name`, lowercase."""
    return f"{kind}:{namespace}/{name}".lower()


def parse_entity_ref(
    ref: str | Mapping[str, object],
    *,
    default_kind: str | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> EntityRef:
    """Parse a reference, filling a missing kind or namespace from the defaults.

    `ref` is a string (`[kind:][namespace/]name`) or, as Backstage also accepts, a mapping with `name` and
    optional `kind` and `namespace`. An empty `default_namespace` means "default", like Backstage. Raises
    `InvalidEntityRefError` when the shape is wrong, a part is empty, or no kind is given and there is
    no `default_kind`.
    """
    if isinstance(ref, str):
        kind, namespace, name = _split(ref)
    elif isinstance(ref, Mapping):
        kind, namespace, name = _from_mapping(ref)
    else:
        raise InvalidEntityRefError(
            f"entity ref must be a string like 'component:default/name' or a mapping with kind, "
            f"namespace and name, got {describe(ref)}"
        )
    if kind is None:
        if not default_kind:
            raise InvalidEntityRefError(
                f"entity ref {_shown(ref)} has no kind and no default kind applies; "
                f"write it as {_FORM}, e.g. component:{name}"
            )
        kind = default_kind
    if namespace is None:
        namespace = default_namespace or DEFAULT_NAMESPACE
    return EntityRef(kind.lower(), namespace.lower(), name.lower())


def _split(ref: str) -> tuple[str | None, str | None, str]:
    _check_text(ref, ref)
    match = _REF.fullmatch(ref)
    if match is None:
        raise InvalidEntityRefError(
            f"entity ref {_shown(ref)} is not on the form {_FORM} "
            "(at most one ':' after the kind and one '/' after the namespace, no empty parts)"
        )
    kind, namespace, name = match.groups()
    return kind, namespace, name


def _from_mapping(ref: Mapping[str, object]) -> tuple[str | None, str | None, str]:
    """`{kind?, namespace?, name}`; an absent kind or namespace takes the default, an empty one is an error."""
    kind, namespace = (_mapping_part(ref, key) if ref.get(key) is not None else None for key in ("kind", "namespace"))
    return kind, namespace, _mapping_part(ref, "name")


def _mapping_part(ref: Mapping[str, object], key: str) -> str:
    value = ref.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEntityRefError(f"entity ref mapping needs a non-empty string {key}, got {describe(value)}")
    _check_text(value, ref)
    return value


def _check_text(text: str, ref: object) -> None:
    if not text:
        raise InvalidEntityRefError(f"entity ref must not be empty; write it as {_FORM}")
    if len(text) > MAX_REF_LENGTH:
        raise InvalidEntityRefError(
            f"entity ref is {len(text)} characters long, more than the {MAX_REF_LENGTH} allowed"
        )
    if _CONTROL.search(text):
        raise InvalidEntityRefError(f"entity ref {_shown(ref)} contains control characters")


def _shown(ref: str | Mapping[str, object]) -> str:
    return quote(ref if isinstance(ref, str) else dict(ref))
