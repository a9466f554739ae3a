"""GraphQL execution in process, planned (`graphsvc.api.fast_execution`) against graphql-core's standard way.

Opens an existing store (read-only, so a running service may hold it) and executes each query shape of the
table below the two ways, alternating, `--requests` times each after `--warmup`: the difference is the
execution's own cost, without HTTP. The shapes are the reads of the side-by-side benchmark against Backstage
(`bench/run_versus_backstage.py`), on a catalog its generator wrote.

    .venv/bin/python bench/run_execution_bench.py --store bench/out/stores/store-10000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from graphsvc.api import fast_execution
from graphsvc.api.context import Context
from graphsvc.api.schema import schema
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_reader

FULL = "ref kind namespace name title description tags labels annotations spec relations { type targetRef }"
SHAPES = [
    ("one entity by ref, full", "query($ref: String!) { entity(ref: $ref) { " + FULL + " } }", "ref"),
    (
        "a page of 380 full entities",
        "query { entities(first: 380) { edges { node { " + FULL + " } } pageInfo { endCursor hasNextPage } } }",
        None,
    ),
    ("a page of 1000 names", "query { entities(first: 1000) { edges { node { name } } } }", None),
    (
        "relations with their targets",
        "query($ref: String!) { entity(ref: $ref) { relations { type targetRef target { ref kind namespace name "
        "title description tags labels annotations spec } } } }",
        "ref",
    ),
    (
        "dependencies depth 6",
        "query($ref: String!) { entity(ref: $ref) { dependencies(depth: 6, first: 1000) { ref } } }",
        "ref",
    ),
]  # fmt: skip


@contextmanager
def standard_execution() -> Iterator[None]:
    """Planning switched off: every root field completed by graphql-core."""
    original = fast_execution.PlannedExecutionContext._plan

    def give_up(*_: Any) -> Any:
        raise fast_execution.GiveUp()

    fast_execution.PlannedExecutionContext._plan = give_up  # type: ignore[method-assign]
    try:
        yield
    finally:
        fast_execution.PlannedExecutionContext._plan = original  # type: ignore[method-assign]


def executor(service: CatalogService, query: str, variables: dict[str, Any]) -> Callable[[], None]:
    def run() -> None:
        result = asyncio.run(schema.execute(query, variables, context_value=Context(service=service)))
        if result.errors:
            raise SystemExit(f"{query}: {result.errors}")

    return run


def timed(run: Callable[[], None], requests: int, warmup: int) -> float:
    for _ in range(warmup):
        run()
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--ref", default="component:default/component-1", help="the entity of the point shapes")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    settings = Settings(store_dir=args.store, refresh_interval_s=0, query_max_cost=10**9)
    service = CatalogService(open_reader(settings), settings)
    print("| shape | standard, p50 | planned, p50 | |\n|---|---:|---:|---:|")
    for label, query, variable in SHAPES:
        run = executor(service, query, {variable: args.ref} if variable else {})
        planned = timed(run, args.requests, args.warmup)
        with standard_execution():
            standard = timed(run, args.requests, args.warmup)
        print(f"| {label} | {standard:,.2f} ms | {planned:,.2f} ms | {standard / planned:.1f}x |")


if __name__ == "__main__":
    main()
