"""Load test: the service as deployed (tokens, rate limits, cost limits), many clients at once, during syncs.

    python bench/run_load_test.py [--entities 10000] [--clients 50] [--costly-clients 5] [--seconds 60]
        [--rate 5] [--backend sqlite|neo4j] [--json OUT]

Generates a catalog (`bench/generate_catalog.py`), ingests it, and serves it with the defaults a deployment
has: no anonymous access, per-token rate limits, the query cost limit. Each client gets a token of its own.
For `--seconds`:
- `--clients` well-behaved clients, each at `--rate` requests a second (under its token's rate limit), mix
  point queries (an entity with its owner) and list pages (twenty components of one owner, with systems);
- `--costly-clients` clients send, back to back, the most expensive queries the cost limit allows (each
  query's `first` chosen as large as `query_max_cost` lets it be);
- a writer changes 1% of the catalog and refreshes it, again and again, so syncs commit throughout.
Prints, per kind of client, requests, errors, and latency p50 / p99 / max. A well-behaved client's error is
any answer but a 200 without GraphQL errors; the run fails if there is one (a measurement with errors is
worthless as a latency figure, and is the finding).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as `python bench/run_load_test.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate_catalog import CatalogSummary, generate, mutate  # noqa: E402
from bench.run_bench import (  # noqa: E402
    BENCH_ACCESS,
    DEFAULT_CLI,
    DEFAULT_OUT,
    HOST,
    BenchError,
    empty_neo4j,
    free_port,
    make_engines,
    run_child,
    running_server,
)
from graphsvc.api.cost import request_cost  # noqa: E402
from graphsvc.api.schema import schema  # noqa: E402
from graphsvc.config import Settings  # noqa: E402

POINT = "query Point($r: String!) { entity(ref: $r) { ref kind name owner { ref } } }"
LIST = (
    'query Page($o: String!) { entities(filter: {kind: "component", owner: $o}, first: 20) '
    "{ totalCount edges { node { ref title system { ref } } } } }"
)
COSTLY_SHAPES = {
    "dependencies": "{{ entities(first: {n}) {{ edges {{ node {{ ref "
    "dependencies(depth: 10) {{ ref owner {{ ref }} }} }} }} }} }}",
    "relations": "query($r: String!) {{ entity(ref: $r) {{ relations(first: {n}) {{ target {{ relations(first: {n}) "
    "{{ target {{ relations(first: {n}) {{ targetRef }} }} }} }} }} }} }}",
    "list": "{{ entities(first: {n}) {{ edges {{ node {{ ref title owner {{ ref }} system {{ ref }} tags }} }} }} }}",
}
"""The costly queries, with `{n}` the page size: the largest for which the cost stays within the limit."""


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def record(self, seconds: float, response: httpx.Response) -> None:
        self.latencies.append(seconds)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        if response.status_code != 200 or "errors" in response.json():
            self.errors.append(f"{response.status_code}: {response.text[:200]}")

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def at(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) if ordered else 0.0

        return {
            "requests": len(ordered),
            "errors": len(self.errors),
            "statuses": self.statuses,
            "p50_ms": at(0.50),
            "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else 0.0,
            "mean_ms": round(statistics.fmean(ordered) * 1000, 1) if ordered else 0.0,
        }


def largest_page(shape: str, limit: int, variables: dict[str, str]) -> int:
    """The largest `first` for which `shape` costs at most `limit` (the estimate is the server's own)."""
    low, high = 1, 1000
    while low < high:
        middle = (low + high + 1) // 2
        cost = request_cost(schema._schema, shape.format(n=middle), variables)
        low, high = (middle, high) if cost is not None and cost <= limit else (low, middle - 1)
    return low


async def paced_client(
    url: str, token: str, rate: float, until: float, pick: Callable[[], tuple[str, str, dict]], tallies: dict
) -> None:
    """One well-behaved client: a request every 1/rate seconds (from a random start), waiting its answers."""
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, trust_env=False) as client:
        next_at = time.monotonic() + random.random() / rate
        while next_at < until:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            kind, query, variables = pick()
            started = time.perf_counter()
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            tallies[kind].record(time.perf_counter() - started, response)
            next_at += 1 / rate


async def costly_client(url: str, token: str, until: float, queries: list[tuple[str, dict]], tally: Tally) -> None:
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, trust_env=False) as client:
        turn = 0
        while time.monotonic() < until:
            query, variables = queries[turn % len(queries)]
            turn += 1
            started = time.perf_counter()
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            tally.latencies.append(time.perf_counter() - started)
            code = response.status_code
            tally.statuses[code] = tally.statuses.get(code, 0) + 1


def prepare_variants(root: Path) -> list[Path]:
    """Two copies of the catalog, as it is and with 1% of it changed, made before the measured window: the
    writer then switches the served catalog between them by copying files (cheap I/O), so the client
    process spends no CPU generating changes while it measures latencies."""
    variants = [root.parent / "variant-a", root.parent / "variant-b"]
    for variant in variants:
        shutil.rmtree(variant, ignore_errors=True)
        shutil.copytree(root, variant)
    mutate(variants[1], 0.01, 1)
    return variants


def switch_to(variant: Path, root: Path) -> None:
    for source in variant.rglob("*.yaml"):
        shutil.copyfile(source, root / source.relative_to(variant))


async def writer(url: str, token: str, root: Path, variants: list[Path], until: float, syncs: list[float]) -> None:
    """Switch the catalog between its two variants and refresh it, until the end: syncs (each changing 1% of
    the catalog) commit while the readers read."""
    document = "mutation($s: String!) { refresh(source: $s) { syncRun { status updated } } }"
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=600) as client:
        turn = 0
        while time.monotonic() < until:
            turn += 1
            await asyncio.to_thread(switch_to, variants[turn % 2], root)
            started = time.perf_counter()
            response = await client.post("/graphql", json={"query": document, "variables": {"s": str(root.resolve())}})
            if response.status_code != 200 or "errors" in response.json():
                raise BenchError(f"a refresh failed: {response.text[:300]}")
            syncs.append(time.perf_counter() - started)


async def create_tokens(url: str, admin: str, names: list[str], scope: str) -> list[str]:
    document = "mutation($n: String!, $s: [String!]!) { createApiToken(name: $n, scopes: $s) { token } }"
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {admin}"}, timeout=60) as client:
        tokens = []
        for name in names:
            answer = (
                await client.post("/graphql", json={"query": document, "variables": {"n": name, "s": [scope]}})
            ).json()
            if "errors" in answer:
                raise BenchError(f"could not create a token: {answer['errors']}")
            tokens.append(answer["data"]["createApiToken"]["token"])
            await asyncio.sleep(0.05)  # within the admin token's own rate limit
        return tokens


async def load(args: argparse.Namespace, url: str, admin: str, catalog: CatalogSummary) -> dict[str, Any]:
    readers = await create_tokens(
        url, admin, [f"reader-{i}" for i in range(args.clients + args.costly_clients)], "read"
    )
    (writer_token,) = await create_tokens(url, admin, ["writer"], "write")
    limit = Settings().query_max_cost
    hub = {"r": catalog.hub_refs[0]}
    costly = [
        (shape.format(n=largest_page(shape, limit, hub if "$r" in shape else {})), hub if "$r" in shape else {})
        for shape in COSTLY_SHAPES.values()
    ]
    refs, owners = catalog.sample_refs, catalog.owner_refs

    def pick() -> tuple[str, str, dict]:
        if random.random() < 0.6:
            return "point", POINT, {"r": random.choice(refs)}
        return "list", LIST, {"o": random.choice(owners)}

    root = Path(catalog.root).parent
    variants = [] if args.no_sync else prepare_variants(root)
    tallies = {"point": Tally(), "list": Tally()}
    costly_tally, syncs = Tally(), []
    until = time.monotonic() + args.seconds
    work: list[Awaitable[None]] = [
        paced_client(url, t, args.rate, until, pick, tallies) for t in readers[: args.clients]
    ]
    work += [costly_client(url, t, until, costly, costly_tally) for t in readers[args.clients :]]
    if not args.no_sync:
        work.append(writer(url, writer_token, root, variants, until, syncs))
    await asyncio.gather(*work)
    return {
        "point": tallies["point"].summary(),
        "list": tallies["list"].summary(),
        "costly": costly_tally.summary(),
        "costly_queries": [query for query, _ in costly],
        "syncs": {"count": len(syncs), "mean_s": round(statistics.fmean(syncs), 2) if syncs else None},
        "errors_sample": (tallies["point"].errors + tallies["list"].errors)[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--costly-clients", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=5, help="requests a second per well-behaved client")
    parser.add_argument("--backend", choices=["sqlite", "neo4j"], default="sqlite")
    parser.add_argument("--no-sync", action="store_true", help="no writer: the readers alone (for comparison)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    out = DEFAULT_OUT / f"load-{args.entities}"
    catalog = generate(args.entities, out / "catalog")
    (engine,) = make_engines([args.backend], None, None)
    if engine.neo4j is not None:
        empty_neo4j(engine.neo4j)
    store = out / "store"
    shutil.rmtree(store, ignore_errors=True)  # a fresh store: its tokens and syncs are this run's
    env = {k: v for k, v in engine.env().items() if k not in BENCH_ACCESS}  # deployed defaults: closed
    run_child(
        [str(DEFAULT_CLI), "ingest", str(out / "catalog"), *engine.store_args(store)], out / "ingest.log", 1800, env
    )
    created = run_child_output(
        [str(DEFAULT_CLI), "token", "create", "load-admin", "--scope", "admin", *engine.store_args(store)], env
    )
    port = free_port()
    url = f"http://{HOST}:{port}"
    command = [str(DEFAULT_CLI), "serve", "--host", HOST, "--port", str(port), *engine.store_args(store)]
    with running_server(command, url, out / "serve.log", 120, env):
        results = asyncio.run(load(args, url, created, catalog))
    results["setup"] = {k: v for k, v in vars(args).items() if k != "json"} | {
        "json": str(args.json) if args.json else None
    }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    failures = results["point"]["errors"] + results["list"]["errors"]
    if failures:
        print(f"{failures} well-behaved requests failed: {results['errors_sample']}", file=sys.stderr)
        return 1
    return 0


def run_child_output(cmd: list[str], env: dict[str, str]) -> str:
    import subprocess

    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    if done.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` exited {done.returncode}: {done.stderr}")
    return done.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
