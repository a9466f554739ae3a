"""Latency of the questions issue 10 made answerable: traversals and impact analysis, hygiene filters, the change
feed's type filter, and the Backstage REST API, against a real `catalog serve` on a generated catalog.

    .venv/bin/python bench/run_questions_bench.py --entities 10000 [--requests 100] [--reuse-store]
    .venv/bin/python bench/run_questions_bench.py --entities 10000 --backend neo4j   # NEO4J_URI etc. set

One client, one keep-alive connection, sequential requests (as `run_bench.py` measures its five queries); each
question cycles through variables taken from the catalog (hubs, owners, components with relations) and fails
the run if an answer is empty. Prints a markdown table of p50 / p99 and the answer sizes.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate_catalog import CatalogSummary, generate  # noqa: E402
from bench.run_bench import (  # noqa: E402
    DEFAULT_CLI,
    DEFAULT_OUT,
    HOST,
    BenchError,
    Engine,
    free_port,
    fresh_store,
    neo4j_settings_from_env,
    percentile,
    run_child,
    running_server,
    timed_requests,
)

THROUGH_APIS = '["dependsOn", "consumesApi", "apiProvidedBy"]'


@dataclass(frozen=True)
class Question:
    """One request shape: GraphQL (a query) or REST (a path template), its variables, and its answer's size."""

    label: str
    variables: list[dict[str, str]]
    size: Callable[[Any], int]
    query: str | None = None
    path: str | None = None


def questions(summary: CatalogSummary) -> list[Question]:
    hubs = [{"ref": r} for r in summary.hub_refs]
    owners = [{"owner": o} for o in summary.owner_refs]
    names = [{"kind": r.split(":")[0], "name": r.split("/")[1]} for r in summary.relation_refs]
    return [
        Question(
            "walk through APIs, depth 6, from a hub",
            hubs,
            lambda d: len(d["entity"]["walk"]),
            query=f"query($ref: String!) {{ entity(ref: $ref) {{ walk(relations: {THROUGH_APIS}, depth: 6, "
            "first: 1000) { entity { ref } distance } } }",
        ),
        Question(
            "impact set (walk IN through APIs, depth 6) of a hub's first dependency",
            hubs,
            lambda d: sum(len(x["walk"]) for x in d["entity"]["dependencies"]),
            query=f"query($ref: String!) {{ entity(ref: $ref) {{ dependencies(first: 1) {{ walk(relations: "
            f"{THROUGH_APIS}, direction: IN, depth: 6, first: 1000) {{ entity {{ ref }} }} }} }} }}",
        ),
        Question(
            "dependents depth 3 of a hub's dependencies",
            hubs,
            lambda d: sum(len(x["dependents"]) for x in d["entity"]["dependencies"]),
            query="query($ref: String!) { entity(ref: $ref) { dependencies(first: 5) "
            "{ dependents(depth: 3) { ref } } } }",
        ),
        Question(
            "paths between a component and a hub, every relation type",
            [{"from": r, "to": h["ref"]} for r, h in zip(summary.relation_refs, itertools.cycle(hubs), strict=False)],
            lambda d: len(d["paths"]) + 1,  # no path is an answer too (counted as 1)
            query="query($from: String!, $to: String!) { paths(from: $from, to: $to, maxDepth: 6) { refs } }",
        ),
        Question(
            "dependencyCycles",
            [{}],
            lambda d: len(d["dependencyCycles"]) + 1,
            query="{ dependencyCycles { refs } }",
        ),
        Question(
            "components missing a system, count and first 100",
            [{}],
            lambda d: d["entities"]["totalCount"] + 1,
            query='{ entities(filter: {kind: "component", missing: ["partOf"]}, first: 100) '
            "{ totalCount edges { node { ref } } } }",
        ),
        Question(
            "APIs nobody consumes, count and first 100",
            [{}],
            lambda d: d["entities"]["totalCount"] + 1,
            query='{ entities(filter: {kind: "api", missing: ["apiConsumedBy"]}, first: 100) '
            "{ totalCount edges { node { ref } } } }",
        ),
        Question(
            "entities with a dangling owner, count",
            [{}],
            lambda d: d["entities"]["totalCount"] + 1,
            query='{ entities(filter: {dangling: ["ownedBy"]}, first: 1) { totalCount } }',
        ),
        Question(
            "an owner's components with an annotation, count and first 50",
            owners,
            lambda d: d["entities"]["totalCount"] + 1,
            query="query($owner: String!) { entities(filter: {owner: $owner, "
            'annotation: [{key: "backstage.io/techdocs-ref"}]}, first: 50) { totalCount edges { node { ref } } } }',
        ),
        Question(
            "lifecycle facets with the null bucket",
            [{}],
            lambda d: len(d["facets"]),
            query='{ facets(field: "lifecycle") { value count } }',
        ),
        Question(
            "REST: entity by name",
            names,
            lambda d: len(d["relations"]),
            path="/api/catalog/entities/by-name/{kind}/default/{name}",
        ),
        Question(
            "REST: an owner's components, full (by-query)",
            owners,
            lambda d: len(d["items"]),
            path="/api/catalog/entities/by-query?filter=kind=component,relations.ownedBy={owner}&limit=100",
        ),
        Question(
            "REST: names of every service component",
            [{}],
            len,
            path="/api/catalog/entities?filter=kind=component,spec.type=service&fields=metadata.name",
        ),
        Question(
            "REST: spec.type facets of components",
            [{}],
            lambda d: len(d["facets"]["spec.type"]),
            path="/api/catalog/entity-facets?facet=spec.type&filter=kind=component",
        ),
    ]


def ask(client: httpx.Client, question: Question, variables: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    if question.query is not None:
        response = client.post("/graphql", json={"query": question.query, "variables": variables})
    else:
        response = client.get(question.path.format(**variables))  # type: ignore[union-attr]
    elapsed = (time.perf_counter() - started) * 1000
    body = response.json()
    if response.status_code != 200 or (question.query and body.get("errors")):
        raise BenchError(f"{question.label} with {variables}: HTTP {response.status_code}: {response.text[:500]}")
    answer = body["data"] if question.query else body
    size = question.size(answer)
    if not size:
        raise BenchError(f"{question.label} with {variables}: an empty answer: {response.text[:300]}")
    return elapsed, size


def measure(client: httpx.Client, question: Question, requests: int, warmup: int) -> tuple[list[float], list[int]]:
    return timed_requests(lambda variables: ask(client, question, variables), question.variables, requests, warmup)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--backend", choices=("sqlite", "neo4j"), default="sqlite")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--reuse-store", action="store_true", help="query the store a previous run left")
    args = parser.parse_args(argv)

    engine = Engine("neo4j", neo4j_settings_from_env()) if args.backend == "neo4j" else Engine("sqlite")
    root = args.out / f"questions-catalog-{args.entities}"
    store = args.out / "stores" / f"questions-{args.backend}-{args.entities}"
    summary = generate(args.entities, root)
    env = engine.env() | {"CATALOG_LOCAL_ROOTS": str(args.out.resolve())}  # the catalog may be read
    if not args.reuse_store:
        fresh_store(engine, store)
        ingest = run_child(
            [str(DEFAULT_CLI), "ingest", str(root), *engine.store_args(store)],
            args.out / "logs" / "questions-ingest.log",
            3600,
            env,
        )
        print(f"ingested {args.entities:,} entities in {ingest.seconds:.1f} s", file=sys.stderr)
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    serve = [str(DEFAULT_CLI), "serve", *engine.store_args(store), "--host", HOST, "--port", str(port)]
    rows = []
    with running_server(serve, base_url, args.out / "logs" / "questions-serve.log", 120, env):
        with httpx.Client(base_url=base_url, timeout=120, trust_env=False) as client:
            for question in questions(summary):
                timings, sizes = measure(client, question, args.requests, args.warmup)
                ordered = sorted(timings)
                answers = f"{min(sizes)}" if min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)}"
                rows.append((question.label, percentile(ordered, 0.5), percentile(ordered, 0.99), answers))
                print(f"{question.label}: p50 {rows[-1][1]:.2f} ms", file=sys.stderr)
    print(f"| question, {args.entities:,} entities, {args.backend} | p50 | p99 | answer size |")
    print("|---|---:|---:|---:|")
    for label, p50, p99, answers in rows:
        print(f"| {label} | {p50:.2f} ms | {p99:.2f} ms | {answers} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
