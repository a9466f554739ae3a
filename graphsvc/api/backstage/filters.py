"""Backstage's `filter` query parameter: parsed, pushed down where the store can answer it, matched exactly.

`filter=kind=component,spec.type=service` is one filter: every statement must hold (`key=value`, or `key` alone:
the key exists; several values of one key: any of them). Repeated `filter` parameters are alternatives. Keys and
values compare case-insensitively, against the entity's search rows (`graphsvc.api.backstage.search`), so
`metadata.annotations.x`, `relations.ownedBy=group:default/x` and `metadata.tags.java` work as in Backstage.

`pushdown` turns the statements that map onto a store filter (one value of kind, spec.type, spec.lifecycle,
relations.ownedBy, metadata.tags, or spec.owner written as a full ref) into an `EntityFilter`, so the store
narrows the candidates with its indexes; the exact match then runs over those candidates only. A conjunction
with a `relations.<type>=<ref>` statement (any type) takes as candidates the entities that the named targets'
reverse relation rows name (`relation_statement`): read from the relation's other end, not a catalog scan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from graphsvc.api.backstage.errors import input_error
from graphsvc.api.backstage.search import SearchRow
from graphsvc.model.relations import REVERSE_RELATION
from graphsvc.store.cypher import EntityFilter


@dataclass(frozen=True)
class Statement:
    key: str
    """Lowercased, as search rows are keyed."""
    values: tuple[str, ...] | None
    """Lowercased; None: the key only has to exist."""


Conjunction = tuple[Statement, ...]
Filter = tuple[Conjunction, ...]
"""Alternatives, each a conjunction of statements; () matches every entity."""

PUSHDOWN = {
    "kind": "kind",
    "spec.type": "type",
    "spec.lifecycle": "lifecycle",
    "relations.ownedby": "owner",
    "metadata.tags": "tag",
}
"""Search keys whose single value the store's `EntityFilter` can test (the store keeps them lowercased)."""


RELATION_KEYS = {f"relations.{relation_type.lower()}": relation_type for relation_type in REVERSE_RELATION}
"""The search key of each of Backstage's 14 relation types -> the type."""


def relation_statement(conjunction: Conjunction) -> tuple[str, tuple[str, ...]] | None:
    """(relation type, target refs) of the first `relations.<type>=<ref>` statement of `conjunction`: every
    entity it matches holds such a row, so the entities those targets' reverse rows name are its candidates."""
    for statement in conjunction:
        relation_type = RELATION_KEYS.get(statement.key)
        if relation_type is not None and statement.values is not None:
            return relation_type, statement.values
    return None


def parse_filter(params: Sequence[str]) -> Filter:
    """Backstage's `parseEntityFilterParams`: statements split on commas, blank ones skipped."""
    alternatives = []
    for text in params:
        conjunction = _parse_conjunction(text)
        if conjunction:
            alternatives.append(conjunction)
    return tuple(alternatives)


def _parse_conjunction(text: str) -> Conjunction:
    by_key: dict[str, list[str] | None] = {}
    for statement in (s.strip() for s in text.split(",")):
        if not statement:
            continue
        key, equals, value = statement.partition("=")
        key = key.strip()
        if not key:
            raise input_error(
                f"Invalid filter, '{statement}' is not a valid statement (expected a string on the form a=b or a= or a)"
            )
        values = by_key.setdefault(key, None)
        if equals:
            by_key[key] = [*(values or []), value.strip()]
    return tuple(
        Statement(key.lower(), None if values is None else tuple(v.lower() for v in values))
        for key, values in by_key.items()
    )


def matches(rows_of: Callable[[str], Sequence[SearchRow]], where: Filter) -> bool:
    """Whether the entity whose search rows of a key `rows_of(key)` answers matches `where`."""
    return not where or any(all(_holds(statement, rows_of) for statement in conj) for conj in where)


def _holds(statement: Statement, rows_of: Callable[[str], Sequence[SearchRow]]) -> bool:
    rows = rows_of(statement.key)
    if statement.values is None:
        return bool(rows)
    return any(row.value in statement.values for row in rows)


def pushdown(where: Filter) -> list[EntityFilter]:
    """Store filters whose union holds every entity `where` matches: one per alternative ([EntityFilter()]
    when there is none, or when an alternative has nothing the store can test)."""
    if not where:
        return [EntityFilter()]
    filters = [_pushdown(conjunction) for conjunction in where]
    return [EntityFilter()] if EntityFilter() in filters else filters


def _pushdown(conjunction: Conjunction) -> EntityFilter:
    where = EntityFilter()
    for statement in conjunction:
        if statement.values is None or len(statement.values) != 1:
            continue
        value = statement.values[0]
        field = PUSHDOWN.get(statement.key)
        if statement.key == "spec.owner" and _is_full_ref(value):
            field = "owner"  # a full ref as spec.owner is exactly its ownedBy target
        if field:
            where = replace(where, **{field: value})
    return where


def _is_full_ref(value: str) -> bool:
    kind, colon, rest = value.partition(":")
    return bool(kind and colon and "/" in rest)
