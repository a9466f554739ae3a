"""The catalog as Backstage's REST API sees it: the store's present entities shaped as Backstage's final
entities, plus the `Location` entity Backstage generates for each registered location.

Every method reads one store state (`GraphStore.in_one_state` by the caller): the entities, their relations
and the registered locations of one answer agree with each other.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urljoin

from graphsvc.api.backstage.entity_shape import backstage_entity, entity_ref_of, entity_uid
from graphsvc.api.backstage.filters import Filter, Statement, matches, pushdown, relation_statement
from graphsvc.api.backstage.locations import (
    ANNOTATION_LOCATION,
    ANNOTATION_ORIGIN_LOCATION,
    backstage_location,
    generated_location_entity,
)
from graphsvc.api.backstage.search import SearchRow, search_rows_of
from graphsvc.model.relations import REVERSE_RELATION
from graphsvc.store import GraphStore
from graphsvc.store.cypher import EntityFilter
from graphsvc.store.graph_store import MAX_PAGE
from graphsvc.store.records import EntityRecord

LOCATION_ENTITIES: Filter = ((Statement("kind", ("location",)),),)


class Shaped:
    """One entity as answered, with the search rows (what filters, orderings and facets read) of the keys asked,
    built on first use: a listing reads one or two keys of thousands of entities."""

    def __init__(self, entity: dict[str, Any]) -> None:
        self.entity = entity
        self.ref = entity_ref_of(entity)
        self._rows: dict[str, list[SearchRow]] = {}

    @property
    def uid(self) -> str:
        return str(self.entity["metadata"]["uid"])

    def rows(self, key: str) -> list[SearchRow]:
        """The search rows of a (lowercased) key; none when the entity lacks it."""
        if key not in self._rows:
            self._rows[key] = search_rows_of(self.entity, key)
        return self._rows[key]

    def values(self, key: str) -> list[str]:
        """The lowercased values of a search key (none when the entity lacks it or holds only nulls)."""
        return [row.value for row in self.rows(key) if row.value is not None]


class BackstageCatalog:
    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.locations = [backstage_location(record) for record in store.registered_locations()]
        self._origins = {location.registered_target: location.ref for location in self.locations}

    # --- lookups ---------------------------------------------------------------------------------------------

    def by_refs(self, refs: Sequence[str]) -> dict[str, Shaped]:
        """The entities of those refs that exist (generated Location entities included), by ref."""
        found = {
            shaped.ref: shaped for shaped in self._shape(list(self.store.entities(list(dict.fromkeys(refs))).values()))
        }
        for shaped in self._generated():
            if shaped.ref in refs:
                found[shaped.ref] = shaped
        return found

    def matching(self, where: Filter) -> list[Shaped]:
        """Every entity `where` matches, in no particular order: the store narrows by what it can test
        (`filters.pushdown`, or for a `relations.<type>` statement the named entities' relations), the search
        rows decide."""
        records: dict[str, EntityRecord] = {}
        scanned = tuple(conjunction for conjunction in where if relation_statement(conjunction) is None)
        for related in filter(None, map(relation_statement, where)):
            records.update(self._related(*related))
        if scanned or not where:  # pushdown(()) is the whole catalog; several unfiltered alternatives, one scan
            for store_filter in pushdown(scanned):
                for record in self._find_all(store_filter):
                    records[record.ref] = record
        shaped = [*self._shape(list(records.values())), *self._generated()]
        return [entity for entity in shaped if matches(entity.rows, where)]

    def by_uid(self, uid: str) -> Shaped | None:
        """The entity whose uid is `uid`. Uids are derived from refs, so the refs are scanned (without reading
        documents twice: only the one found is shaped)."""
        for shaped in self._generated():
            if shaped.uid == uid:
                return shaped
        for record in self._find_all(EntityFilter()):
            if entity_uid(record.ref) == uid:
                return self._shape([record])[0]
        return None

    def ancestry(self, shaped: Shaped) -> list[tuple[Shaped, list[str]]]:
        """Backstage's ancestry of an entity: it, the Location entity that emitted its file, that one's, ... up
        to the generated Location of its registered location; each with its parents' refs."""
        out: list[tuple[Shaped, list[str]]] = []
        seen = {shaped.ref}
        current: Shaped | None = shaped
        while current is not None:
            parents = self._parents(current)
            out.append((current, [parent.ref for parent in parents]))
            fresh = [parent for parent in parents if parent.ref not in seen]
            seen.update(parent.ref for parent in fresh)
            current = fresh[0] if fresh else None
        return out

    # --- helpers ---------------------------------------------------------------------------------------------

    def _related(self, relation_type: str, targets: Sequence[str]) -> dict[str, EntityRecord]:
        """The entities holding a `relation_type` row to any of `targets`: those the targets' rows of the
        reverse type name (the store keeps each relation once, read from both ends), without scanning the
        catalog for them."""
        reverse = REVERSE_RELATION[relation_type]
        rows = self.store.relations(list(dict.fromkeys(targets)))
        holders = sorted({row.target for found in rows.values() for row in found if row.type == reverse})
        return self.store.entities(holders) if holders else {}

    def _find_all(self, where: EntityFilter) -> Iterable[EntityRecord]:
        after: str | None = None
        while True:
            page = self.store.find_entities(where, first=MAX_PAGE, after=after)
            yield from page
            if len(page) < MAX_PAGE:
                return
            after = page[-1].ref

    def _shape(self, records: Sequence[EntityRecord]) -> list[Shaped]:
        relations = self.store.relations([record.ref for record in records]) if records else {}
        return [
            _shaped(
                backstage_entity(
                    record.ref,
                    record.document_json,
                    relations.get(record.ref, []),
                    location=record.location,
                    origin=self._origins.get(record.source or ""),
                )
            )
            for record in records
        ]

    def _generated(self) -> list[Shaped]:
        return [
            _shaped(
                backstage_entity(
                    loc.entity_ref, json.dumps(generated_location_entity(loc)), [], location=None, origin=None
                )
            )
            for loc in self.locations
        ]

    def _parents(self, shaped: Shaped) -> list[Shaped]:
        """The Location entities whose targets name the file `shaped` was read from; for what a registered
        location read directly, that location's generated entity; for a generated entity, none."""
        annotations = shaped.entity["metadata"].get("annotations") or {}
        location = annotations.get(ANNOTATION_LOCATION)
        origin = annotations.get(ANNOTATION_ORIGIN_LOCATION)
        if shaped.ref.startswith("location:default/generated-") or not location:
            return []
        emitters = [
            candidate for candidate in self.matching(LOCATION_ENTITIES) if location in _target_refs(candidate.entity)
        ]
        if emitters:
            return emitters
        return [g for g in self._generated() if g.entity["metadata"]["annotations"][ANNOTATION_LOCATION] == origin]


def _shaped(entity: dict[str, Any]) -> Shaped:
    return Shaped(entity)


def _target_refs(location_entity: dict[str, Any]) -> set[str]:
    """The location refs a `Location` entity's target(s) name, relative ones resolved against its own file."""
    annotations = location_entity["metadata"].get("annotations") or {}
    own = annotations.get(ANNOTATION_LOCATION, "")
    own_type, _, own_path = own.partition(":")
    spec = location_entity.get("spec") or {}
    targets = [spec["target"]] if isinstance(spec.get("target"), str) else []
    targets += [t for t in spec.get("targets") or [] if isinstance(t, str)]
    refs = set()
    for target in targets:
        if "://" in target:
            refs.add(f"url:{target}")
        elif own_type == "file":
            refs.add("file:" + posixpath.normpath(posixpath.join(posixpath.dirname(own_path), target)))
        elif own_type == "url":
            refs.add("url:" + urljoin(own_path, target))
    return refs
