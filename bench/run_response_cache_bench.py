"""The Backstage REST API's reads and GraphQL queries with the response cache and without it
(`graphsvc.api.response_cache`, `graphsvc.api.kept_answers`).

Serves a copy of one SQLite store twice, `response_cache_mib` at its default and at 0, one after the other,
and asks each the same requests with one keep-alive client: each read asked again (a Backstage front end asks
the same listing, entity page and facets again and again, a dashboard the same queries), and entities by name
or ref over many different refs (each asked once: the cache cannot help; what it costs). Prints p50 per read
and server.

    .venv/bin/python bench/run_response_cache_bench.py --store bench/out/stores/versus-10000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_bench import Engine, free_port, running_server  # noqa: E402
from bench.run_versus_backstage import BY_REF_QUERY, DEPENDENCIES_QUERY, HOST, TEAM_QUERY, Client  # noqa: E402

CLI = Path(sys.executable).parent / "catalog"


@dataclass(frozen=True)
class Read:
    """One request, the `i`-th of its series: a REST GET of `path(i)`, or a GraphQL query with `variables(i)`."""

    path: Callable[[int], str] | None = None
    query: str | None = None
    variables: Callable[[int], dict[str, Any]] = lambda _: {}

    def ask(self, client: Client, i: int) -> None:
        if self.path is not None:
            client.request("GET", self.path(i))
        else:
            client.graphql(self.query or "", **self.variables(i))


def different(i: int) -> str:
    return f"component-{i % 2000 + 1}"


READS: dict[str, Read] = {
    "every entity, full (GET /entities)": Read(lambda _: "/api/catalog/entities"),
    "names of every service component": Read(
        lambda _: "/api/catalog/entities?filter=kind=component,spec.type=service&fields=metadata.name"
    ),
    "a first page of 100 components, by name": Read(
        lambda _: "/api/catalog/entities/by-query?filter=kind=component&orderField=metadata.name,asc&limit=100"
    ),
    "kind facets": Read(lambda _: "/api/catalog/entity-facets?facet=kind"),
    "one entity by name, asked again": Read(lambda _: "/api/catalog/entities/by-name/component/default/component-17"),
    "one entity by name, a different one each time": Read(
        lambda i: f"/api/catalog/entities/by-name/component/default/{different(i)}"
    ),
    "GraphQL: one entity by ref, full, asked again": Read(
        query=BY_REF_QUERY, variables=lambda _: {"r": "component:default/component-17"}
    ),
    "GraphQL: one entity by ref, full, a different one each time": Read(
        query=BY_REF_QUERY, variables=lambda i: {"r": f"component:default/{different(i)}"}
    ),
    "GraphQL: a team's components, full, asked again": Read(
        query=TEAM_QUERY, variables=lambda _: {"owner": "group:default/team-1", "after": None}
    ),
    "GraphQL: dependencies depth 6, asked again": Read(
        query=DEPENDENCIES_QUERY, variables=lambda _: {"r": "component:default/component-17"}
    ),
}


def p50(client: Client, read: Read, requests: int, warmup: int) -> float:
    times = []
    for i in range(warmup + requests):
        started = time.perf_counter()
        read.ask(client, i)
        if i >= warmup:
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True, help="a SQLite store directory (copied, not changed)")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cache-bench-") as tmp:
        results: dict[str, dict[str, float]] = {}
        for label, mib in (("cache on", None), ("cache off", "0")):
            store = Path(tmp) / label.replace(" ", "-")
            shutil.copytree(args.store, store, ignore=shutil.ignore_patterns("store.lock", "owner.json"))
            port = free_port()
            env = Engine("sqlite").env() | ({"CATALOG_RESPONSE_CACHE_MIB": mib} if mib is not None else {})
            command = [str(CLI), "serve", "--store", str(store), "--host", HOST, "--port", str(port)]
            with running_server(command, f"http://{HOST}:{port}", Path(tmp) / f"{label}.log", 120, env):
                client = Client(port)
                for name, read in READS.items():
                    results.setdefault(name, {})[label] = p50(client, read, args.requests, args.warmup)
                client.close()
    print("| read | cache on, p50 | cache off, p50 |\n|---|---:|---:|")
    for read, row in results.items():
        print(f"| {read} | {row['cache on']:,.2f} ms | {row['cache off']:,.2f} ms |")


if __name__ == "__main__":
    main()
