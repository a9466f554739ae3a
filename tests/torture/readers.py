"""Readers that run while syncs commit, and the answers they may give.

A probe is a named question (a store call, or a GraphQL query) whose answer is known for catalog version A
and for version B, computed once on the clean reference stores. A reader asks its probes over and over; an
answer equal to neither A's nor B's is inconsistent: it shows a state no sync committed (a sync seen half
done, or two states mixed within one answer).

Answers leave out what differs between two stores holding the same catalog: instants and the catalog
directory (replaced by `<root>`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from graphsvc.store import EntityFilter, GraphStore
from tests.suite_settings import suite_settings
from tests.torture.catalogs import Probes

Answer = Any
StoreProbe = Callable[[GraphStore, str], Answer]
VERSIONS = ("A", "B")


# --- probes on the store, in process -----------------------------------------------------------------------


def entity_answer(store: GraphStore, ref: str, root: str) -> Answer:
    record = store.entity(ref)
    if record is None:
        return None
    fields = (record.ref, record.kind, record.title, record.description, record.state, record.document_json)
    return (*fields, _scrub(record.source, root), _scrub(record.location, root))


def relations_answer(store: GraphStore, ref: str) -> Answer:
    return tuple((row.type, row.target) for row in store.relations([ref])[ref])


def owner_page_answer(store: GraphStore, owner: str) -> Answer:
    page = store.find_entities(EntityFilter(kind="component", owner=owner), first=200, after=None)
    return tuple((record.ref, record.description) for record in page)


def components_answer(store: GraphStore) -> Answer:
    return store.count_entities(EntityFilter(kind="component"))


def request_answer(store: GraphStore, probes: Probes, root: str) -> Answer:
    """What one GraphQL request would read, all in one read snapshot (`GraphStore.snapshot`)."""
    with store.snapshot() as view:
        return (
            entity_answer(view, probes.pivot, root),
            relations_answer(view, probes.pivot),
            relations_answer(view, probes.new_owner),
            owner_page_answer(view, probes.new_owner),
            components_answer(view),
            entity_answer(view, probes.added[0], root),
            entity_answer(view, probes.removed[0], root),
            entity_answer(view, probes.invalid, root),
        )


def store_probes(probes: Probes) -> dict[str, StoreProbe]:
    """Named questions to the store: plain calls (each on its own) and one whole request in a snapshot."""
    out: dict[str, StoreProbe] = {}
    for ref in probes.refs:
        out[f"entity {ref}"] = lambda store, root, ref=ref: entity_answer(store, ref, root)
        out[f"relations {ref}"] = lambda store, root, ref=ref: relations_answer(store, ref)
    for owner in (probes.old_owner, probes.new_owner):
        out[f"find_entities owner={owner}"] = lambda store, root, owner=owner: owner_page_answer(store, owner)
    out["count_entities kind=component"] = lambda store, root: components_answer(store)
    out["snapshot request"] = lambda store, root: request_answer(store, probes, root)
    return out


def expected_store_answers(
    probes: dict[str, StoreProbe], stores: dict[str, GraphStore], root: str
) -> dict[str, dict[str, Answer]]:
    """probe -> version -> answer, read from clean stores holding each version."""
    return {name: {v: probe(store, root) for v, store in stores.items()} for name, probe in probes.items()}


# --- probes over GraphQL -----------------------------------------------------------------------------------

PIVOT_QUERY = """query($ref: String!) { entity(ref: $ref) {
  ref description owner { ref } relations { type targetRef }
  dependents { ref description } dependsOn { ref } } }"""
OWNER_QUERY = """query($owner: String!, $group: String!) {
  page: entities(filter: {kind: "component", owner: $owner}, first: 100) {
    totalCount edges { node { ref description owner { ref } } } pageInfo { hasNextPage } }
  group: entity(ref: $group) { ref ownedEntities { ref } relations(type: "ownerOf") { targetRef } } }"""
CATALOG_QUERY = """query($added: String!, $removed: String!, $invalid: String!) {
  components: entities(filter: {kind: "component"}, first: 25) { totalCount edges { node { ref } } }
  owners: facets(field: "owner", filter: {kind: "component"}) { value count }
  added: entity(ref: $added) { ref description dependsOn { ref } }
  removed: entity(ref: $removed) { ref description }
  invalid: entity(ref: $invalid) { ref description spec } }"""


def graphql_probes(probes: Probes) -> dict[str, tuple[str, dict[str, Any]]]:
    """Named GraphQL requests whose fields must agree with each other within one response."""
    return {
        "pivot": (PIVOT_QUERY, {"ref": probes.pivot}),
        "old owner": (OWNER_QUERY, {"owner": probes.old_owner, "group": probes.old_owner}),
        "new owner": (OWNER_QUERY, {"owner": probes.new_owner, "group": probes.new_owner}),
        "catalog": (
            CATALOG_QUERY,
            {"added": probes.added[0], "removed": probes.removed[0], "invalid": probes.invalid},
        ),
    }


def execute_in_process(store: GraphStore, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The response the real schema gives for `store` (executed in process, as `catalog query` does)."""
    from graphsvc.api.context import Context
    from graphsvc.api.schema import schema
    from graphsvc.service import CatalogService

    service = CatalogService(store, suite_settings())  # not closed: the store belongs to the caller; no write runs
    result = asyncio.run(schema.execute(document, variable_values=variables, context_value=Context(service)))
    if result.errors:
        raise AssertionError(f"GraphQL errors on a clean store: {[e.formatted for e in result.errors]}")
    return result.data


def expected_graphql_answers(
    queries: dict[str, tuple[str, dict[str, Any]]], stores: dict[str, GraphStore]
) -> dict[str, dict[str, Answer]]:
    return {
        name: {v: execute_in_process(store, document, variables) for v, store in stores.items()}
        for name, (document, variables) in queries.items()
    }


# --- readers -----------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What readers asked and what they got, per probe and in total."""

    requests: int = 0
    inconsistent: int = 0
    errors: int = 0
    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    """probe -> "A" / "B" / "neither" / "error" -> count."""
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, probe: str, outcome: str, detail: str | None = None) -> None:
        with self.lock:
            self.requests += 1
            self.inconsistent += outcome == "neither"
            self.errors += outcome == "error"
            counts = self.seen.setdefault(probe, {})
            counts[outcome] = counts.get(outcome, 0) + 1
            if detail and len(self.samples) < 10:
                self.samples.append(detail)

    def both_seen(self) -> list[str]:
        """Probes whose A and B answers differ and that were seen answering both (the readers overlapped
        a change of state)."""
        return [p for p, counts in self.seen.items() if counts.get("A") and counts.get("B")]

    def summary(self) -> str:
        lines = [f"{self.requests} requests, {self.inconsistent} inconsistent answers, {self.errors} errors"]
        lines += [f"  {probe}: {counts}" for probe, counts in sorted(self.seen.items()) if set(counts) - {"A", "B"}]
        lines += [f"  sample: {s}" for s in self.samples]
        return "\n".join(lines)


def classify(answer: Answer, expected: dict[str, Answer]) -> str:
    """The version whose answer this is ("A" when A's and B's are equal), else "neither"."""
    for version in VERSIONS:
        if answer == expected[version]:
            return version
    return "neither"


def run_store_reader(
    store: GraphStore,
    probes: dict[str, StoreProbe],
    expected: dict[str, dict[str, Answer]],
    root: str,
    tally: Tally,
    stop: threading.Event,
    pause: float = 0.0005,
) -> None:
    """Ask every probe in turn until `stop` is set (a short pause between requests leaves the writer time)."""
    names = list(probes)
    while not stop.is_set():
        for name in names:
            try:
                answer = probes[name](store, root)
            except Exception as error:  # an exception is an answer no state gives
                tally.record(name, "error", f"{name}: {type(error).__name__}: {error}")
                continue
            outcome = classify(answer, expected[name])
            tally.record(name, outcome, f"{name}: {_short(answer)}" if outcome == "neither" else None)
            if stop.is_set():
                break
            time.sleep(pause)


def run_http_reader(
    url: str,
    queries: dict[str, tuple[str, dict[str, Any]]],
    expected: dict[str, dict[str, Answer]],
    tally: Tally,
    stop: threading.Event,
) -> None:
    names = list(queries)
    with httpx.Client(base_url=url, timeout=120) as client:
        while not stop.is_set():
            for name in names:
                document, variables = queries[name]
                try:
                    response = client.post("/graphql", json={"query": document, "variables": variables})
                    body = response.json()
                except (httpx.HTTPError, ValueError) as error:
                    tally.record(name, "error", f"{name}: {type(error).__name__}: {error}")
                    continue
                if response.status_code != 200 or body.get("errors"):
                    tally.record(name, "error", f"{name}: HTTP {response.status_code}: {_short(body)}")
                    continue
                outcome = classify(body["data"], expected[name])
                tally.record(name, outcome, f"{name}: {_short(body['data'])}" if outcome == "neither" else None)
                if stop.is_set():
                    break


def graphql(client: httpx.Client, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": document, "variables": variables or {}})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise AssertionError(f"GraphQL request failed: HTTP {response.status_code}: {_short(body, 2000)}")
    return body["data"]


REFRESH = "mutation($source: String!) { refresh(source: $source) { syncRun { id status added updated removed } } }"


def _scrub(value: str | None, root: str) -> str | None:
    return value.replace(root, "<root>") if value and root else value


def _short(value: Any, width: int = 400) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."
