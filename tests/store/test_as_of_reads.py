"""Entity reads at an instant answer exactly what the stored versions and owner edges say.

The as-of reads take shortcuts: an entity's version is looked up by key from `version_starts`, an owner's
entities are reached through its edges, and a filtered scan is split into closed and still-open versions whose
pages are merged. Each answer is checked against the same question asked of the raw rows in Python, at every
sync instant, just before and just after it, and before and after the whole history.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from graphsvc.store import GraphStore
from graphsvc.store.cypher import EntityFilter
from graphsvc.sync import sync_source
from tests.store.catalog_builder import entity, group, source

A = "file:/catalog/a.yaml"
T = [1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000]
TEAMS = [group("team-a"), group("team-b")]


def svc(name: str, owner: str, type_: str = "service", tags: list[str] | None = None) -> dict[str, Any]:
    spec = {"type": type_, "lifecycle": "production", "owner": owner, "dependsOn": ["component:nowhere"]}
    return entity("Component", name, spec, tags=tags or [])


STEPS = [
    [svc("a", "team-a", tags=["java"]), svc("b", "team-a", "website"), svc("c", "team-b")],
    [svc("a", "team-b", tags=["java"]), svc("b", "team-a"), svc("c", "team-b"), svc("d", "team-a")],
    [svc("a", "team-b", tags=["python"]), svc("b", "team-a"), svc("d", "team-a")],
    [svc("a", "team-b", tags=["python"]), svc("b", "team-b"), svc("c", "team-a"), svc("d", "team-a")],
    [svc("a", "team-a", "website"), svc("b", "team-b"), svc("c", "team-a"), svc("d", "team-b")],
]  # fmt: skip
FILTERS = [
    EntityFilter(),
    EntityFilter(kind="component"),
    EntityFilter(kind="component", type="service"),
    EntityFilter(type="website"),
    EntityFilter(tag="python"),
    EntityFilter(owner="group:default/team-a"),
    EntityFilter(owner="group:default/team-b", type="service"),
    EntityFilter(owner="group:default/nobody"),
]
INSTANTS = [T[0] - 1, *sorted({t + d for t in T for d in (-1, 0, 1)} - {T[0] - 1}), T[-1] + 10**9]


@pytest.fixture
def history(store: GraphStore) -> GraphStore:
    for at, docs in zip(T, STEPS, strict=True):
        sync_source(store, source((A, [*TEAMS, *docs])), source="s1", at=at)
    return store


def raw_versions(store: GraphStore) -> list[dict[str, Any]]:
    keys = ("ref", "valid_from", "valid_to", "kind", "type", "owner", "tags")
    return [{k: v[k] for k in keys} for v in store.rows("versions")]


def raw_owned(store: GraphStore, at: int) -> dict[str, set[str]]:
    """owner ref -> refs with an OWNED_BY edge to it valid at `at`."""
    rows = [
        (x["src"], x["dst"], x["valid_from"], x["valid_to"]) for x in store.rows("edges") if x["type"] == "OWNED_BY"
    ]
    owned: dict[str, set[str]] = {}
    for ref, owner, valid_from, valid_to in rows:
        if valid_from <= at and (valid_to is None or valid_to > at):
            owned.setdefault(owner, set()).add(ref)
    return owned


def expected(store: GraphStore, where: EntityFilter, at: int) -> list[dict[str, Any]]:
    """The versions valid at `at` that match `where`, by ref."""
    owned = raw_owned(store, at)
    found = []
    for v in raw_versions(store):
        if not (v["valid_from"] <= at and (v["valid_to"] is None or v["valid_to"] > at)):
            continue
        if where.owner is not None and v["ref"] not in owned.get(where.owner, set()):
            continue
        if any(getattr(where, f) not in (None, v[f]) for f in ("kind", "type")):
            continue
        if where.tag is not None and where.tag not in (v["tags"] or []):
            continue
        found.append(v)
    return sorted(found, key=lambda v: v["ref"])


def facet_counts(matches: list[dict[str, Any]], field: str) -> Counter[str | None]:
    """Each value's count, and under None the matches without one (for tags: without tags)."""
    if field == "tag":
        counts = Counter(tag for v in matches for tag in v["tags"] or [])
        counts[None] = sum(1 for v in matches if not v["tags"])
    else:
        counts = Counter(v[field] for v in matches)
    return Counter({value: n for value, n in counts.items() if n})


def intervals(records: list[Any]) -> list[tuple[str, int, int | None]]:
    return [(r.ref, r.created_at, r.updated_at) for r in records]


def test_pages_and_counts_at_every_instant_match_the_raw_versions(history: GraphStore) -> None:
    for at in INSTANTS:
        for where in FILTERS:
            want = [(v["ref"], v["valid_from"], v["valid_to"]) for v in expected(history, where, at)]
            assert history.count_entities(where, at) == len(want), (at, where)
            pages, after = [], None
            while page := history.find_entities(where, first=2, after=after, as_of=at):
                pages += intervals(page)
                after = page[-1].ref
            assert pages == want, (at, where)


def test_facets_at_every_instant_match_the_raw_versions(history: GraphStore) -> None:
    for at in INSTANTS:
        for where in (EntityFilter(), EntityFilter(owner="group:default/team-b")):
            matches = expected(history, where, at)
            for field in ("type", "owner", "tag"):
                counts = facet_counts(matches, field).items()
                want = sorted(counts, key=lambda item: (-item[1], item[0] is None, item[0] or ""))
                assert history.facets(field, where, at) == want, (at, where, field)


def test_entities_by_ref_at_every_instant_are_the_versions_valid_then(history: GraphStore) -> None:
    refs = ["component:default/a", "component:default/c", "component:default/d", "component:default/nowhere"]
    refs.append("component:default/never")
    for at in INSTANTS:
        want = [(v["ref"], v["valid_from"], v["valid_to"]) for v in expected(history, EntityFilter(), at)]
        got = history.entities(refs, at)
        assert intervals([got[ref] for ref in sorted(got)]) == [w for w in want if w[0] in refs], at
