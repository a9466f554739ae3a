"""Catalog hygiene: what the `missing`, `dangling`, `annotation` and `label` entity filters mean.

The filters take Backstage's names (relation types, metadata keys and values); each engine writes the
conditions in its own language (`cypher.py`, `sql.py`). What the names stand for is decided here, once:

- A relation type, forward (`ownedBy`) or reverse (`apiConsumedBy`), is one stored edge label read from one
  end: the store keeps one edge per pair, in the forward direction (`schema.EDGE_LABELS`).
- `missing:<type>`: the entity has no relation row of that type. `dangling:<type>`: it has a row of that type
  whose target does not exist (no source defines it, or it was removed), now or at the instant asked about.
- Annotations and labels are stored as lists of entries, `key` and `key=value` for each pair, so that "key
  present" and "key = value" are both one membership test on either engine (a key holds no `=`: keys are
  `[prefix/]name`, see `graphsvc.model.validators`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphsvc.model.validators import is_valid_label_key
from graphsvc.store.errors import UnknownRelationError
from graphsvc.store.schema import RELATION_TYPE_EDGES

RELATION_EDGE = RELATION_TYPE_EDGES
"""Each of Backstage's 14 relation types -> (the edge label that stores it, the direction read from the entity)."""
RELATION_TESTS = ("missing", "dangling")
"""The relation filters: an active filter name is `<test>:<relation type>` (`missing:ownedBy`)."""
_BY_LOWER = {name.lower(): name for name in RELATION_EDGE}


def relation_types(names: Iterable[str]) -> tuple[str, ...]:
    """The relation types named (any case), in Backstage's spelling, each once, in the order given."""
    found: dict[str, None] = {}
    for name in names:
        canonical = _BY_LOWER.get(name.lower())
        if canonical is None:
            known = ", ".join(sorted(RELATION_EDGE))
            raise UnknownRelationError(f"unknown relation type {name[:100]!r}; the relation types are: {known}")
        found[canonical] = None
    return tuple(found)


def relation_filter(name: str) -> tuple[str, str, str] | None:
    """For an active filter name `missing:<type>` or `dangling:<type>`: (test, edge label, direction)."""
    test, _, relation = name.partition(":")
    if test not in RELATION_TESTS:
        return None
    label, direction = RELATION_EDGE[relation]
    return test, label, direction


def metadata_entries(values: Mapping[str, str] | None) -> list[str]:
    """What an entity's annotations (or labels) are stored as: `key` and `key=value` for each pair, sorted."""
    return sorted(entry for key, value in (values or {}).items() for entry in (key, f"{key}={value}"))


def document_entries(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """The `annotations` and `labels` columns of an entity (or version) with this Backstage document."""
    metadata = document.get("metadata") or {}
    return {name: metadata_entries(metadata.get(name)) for name in ("annotations", "labels")}


def metadata_entry(field: str, key: str, value: str | None) -> str:
    """The entry a filter looks for: `key` (present, any value) or `key=value`. `field` names the filter (an
    invalid key could never match: say so rather than answer nothing)."""
    if not is_valid_label_key(key):
        raise ValueError(f"{field} key {key[:100]!r} is not a valid key: [prefix/]name, e.g. backstage.io/owner")
    return key if value is None else f"{key}={value}"
