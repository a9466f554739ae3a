"""Relations between entities, derived from spec fields exactly as Backstage derives them.

Backstage's `BuiltinKindsEntityProcessor` (plus the scaffolder's processor for a Template's owner) turns
reference fields in a spec into pairs of directed relations: `spec.owner: team-a` on a Component gives
`component:default/x --ownedBy--> group:default/team-a` and the reverse
`group:default/team-a --ownerOf--> component:default/x`. `RELATION_RULES` is that processor written as
one table; `derive_relations` applies it.

Rules shared by every row, as in Backstage:

- a reference without a namespace gets the entity's own namespace;
- a reference without a kind gets the row's default kind; `dependsOn`/`dependencyOf` have none, so their
  references must name a kind;
- a kind written in the reference wins over the default (`consumesApis: [component:artist-lookup]`
  points at a Component, not an API);
- targets are not checked for existence, and spec fields not in the table produce nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple, cast

from graphsvc.model._paths import child, item, quote
from graphsvc.model.entity import Entity
from graphsvc.model.errors import EntityValidationError, InvalidEntityRefError
from graphsvc.model.refs import parse_entity_ref

OWNED_BY, OWNER_OF = "ownedBy", "ownerOf"
PROVIDES_API, API_PROVIDED_BY = "providesApi", "apiProvidedBy"
CONSUMES_API, API_CONSUMED_BY = "consumesApi", "apiConsumedBy"
DEPENDS_ON, DEPENDENCY_OF = "dependsOn", "dependencyOf"
PARENT_OF, CHILD_OF = "parentOf", "childOf"
MEMBER_OF, HAS_MEMBER = "memberOf", "hasMember"
PART_OF, HAS_PART = "partOf", "hasPart"

RELATION_PAIRS: tuple[tuple[str, str], ...] = (
    (OWNED_BY, OWNER_OF),
    (PROVIDES_API, API_PROVIDED_BY),
    (CONSUMES_API, API_CONSUMED_BY),
    (DEPENDS_ON, DEPENDENCY_OF),
    (PARENT_OF, CHILD_OF),
    (MEMBER_OF, HAS_MEMBER),
    (PART_OF, HAS_PART),
)
"""Backstage's seven (forward, reverse) relation type pairs."""

REVERSE_RELATION: dict[str, str] = {
    **{forward: reverse for forward, reverse in RELATION_PAIRS},
    **{reverse: forward for forward, reverse in RELATION_PAIRS},
}
"""Each of the 14 relation types mapped to its reverse."""


class Relation(NamedTuple):
    """A directed relation between two canonical entity refs."""

    type: str
    source: str
    target: str


class RelationRule(NamedTuple):
    """One spec field of one kind that yields relations."""

    kind: str
    """Lowercase kind of the entity that has the field."""
    field: str
    """The spec field: a single ref or a list of refs."""
    default_kind: str | None
    """Kind for refs that do not name one; None means the ref must name it."""
    relation: str
    """Relation from the entity to the target."""
    reverse: str
    """Relation from the target back to the entity."""


RELATION_RULES: tuple[RelationRule, ...] = tuple(
    RelationRule(*row)
    for row in (
        # kind        spec field        default kind  relation       reverse
        ("component", "owner",          "group",      OWNED_BY,      OWNER_OF),
        ("component", "subcomponentOf", "component",  PART_OF,       HAS_PART),
        ("component", "providesApis",   "api",        PROVIDES_API,  API_PROVIDED_BY),
        ("component", "consumesApis",   "api",        CONSUMES_API,  API_CONSUMED_BY),
        ("component", "dependsOn",      None,         DEPENDS_ON,    DEPENDENCY_OF),
        ("component", "dependencyOf",   None,         DEPENDENCY_OF, DEPENDS_ON),
        ("component", "system",         "system",     PART_OF,       HAS_PART),
        ("api",       "owner",          "group",      OWNED_BY,      OWNER_OF),
        ("api",       "system",         "system",     PART_OF,       HAS_PART),
        ("resource",  "owner",          "group",      OWNED_BY,      OWNER_OF),
        ("resource",  "dependsOn",      None,         DEPENDS_ON,    DEPENDENCY_OF),
        ("resource",  "dependencyOf",   None,         DEPENDENCY_OF, DEPENDS_ON),
        ("resource",  "system",         "system",     PART_OF,       HAS_PART),
        ("user",      "memberOf",       "group",      MEMBER_OF,     HAS_MEMBER),
        ("group",     "parent",         "group",      CHILD_OF,      PARENT_OF),
        ("group",     "children",       "group",      PARENT_OF,     CHILD_OF),
        ("group",     "members",        "user",       HAS_MEMBER,    MEMBER_OF),
        ("system",    "owner",          "group",      OWNED_BY,      OWNER_OF),
        ("system",    "domain",         "domain",     PART_OF,       HAS_PART),
        ("domain",    "owner",          "group",      OWNED_BY,      OWNER_OF),
        ("domain",    "subdomainOf",    "domain",     PART_OF,       HAS_PART),
        # The scaffolder's processor, for scaffolder.backstage.io/v1beta3 Templates:
        ("template",  "owner",          "group",      OWNED_BY,      OWNER_OF),
    )
)  # fmt: skip

_RULES_BY_KIND: dict[str, tuple[RelationRule, ...]] = {
    kind: tuple(rule for rule in RELATION_RULES if rule.kind == kind) for kind in {rule.kind for rule in RELATION_RULES}
}


def derive_relations(entity: Entity) -> list[Relation]:
    """All relations the entity's spec declares, both directions, deduplicated and sorted.

    Raises `EntityValidationError` naming the field (and index) of a reference that cannot be parsed or
    that needs a kind (`spec.dependsOn[0]`). Kinds without rules (Location, custom kinds) yield nothing.
    """
    rules = _RULES_BY_KIND.get(entity.kind.lower())
    if not rules:
        return []
    source = entity.ref
    namespace = entity.metadata.namespace
    spec = entity.spec
    relations: set[Relation] = set()
    for rule in rules:
        value = spec.get(rule.field)
        if not value:  # like Backstage: an absent or empty field declares nothing
            continue
        # A list field holds refs; a single ref is accepted for list fields too, as in Backstage.
        for index, ref in enumerate(value) if type(value) is list else ((None, value),):
            target = _target(ref, rule, namespace, index)
            relations.add(Relation(rule.relation, source, target))
            relations.add(Relation(rule.reverse, target, source))
    return sorted(relations)


def _target(ref: object, rule: RelationRule, namespace: str, index: int | None) -> str:
    """The canonical ref of one target; the field path is only worked out for an error."""
    try:
        if type(ref) is str:
            return _resolve(ref, rule.default_kind, namespace)
        # Only hand-built entities get here (validation requires strings); parsing rejects non-mappings.
        unchecked = cast("str | Mapping[str, object]", ref)
        return str(parse_entity_ref(unchecked, default_kind=rule.default_kind, default_namespace=namespace))
    except InvalidEntityRefError as error:
        path = child("spec", rule.field)
        path = path if index is None else item(path, index)
        if rule.default_kind is None and _parses_with_a_kind(ref):
            raise EntityValidationError(path, f"entity ref {quote(ref)} needs a kind, e.g. component:{ref}") from error
        raise EntityValidationError(path, str(error)) from error


@lru_cache(maxsize=1 << 16)
def _resolve(ref: str, default_kind: str | None, namespace: str) -> str:
    """Parsing memoised: a sync resolves the same few owners and systems thousands of times."""
    return str(parse_entity_ref(ref, default_kind=default_kind, default_namespace=namespace))


def _parses_with_a_kind(ref: object) -> bool:
    """Whether a ref failed only for want of a kind, to say so instead of a generic message."""
    try:
        parse_entity_ref(cast("str | Mapping[str, object]", ref), default_kind="component")
    except InvalidEntityRefError:
        return False
    return True
