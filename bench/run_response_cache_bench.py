"""The Backstage REST API's reads with the response cache and without it (`graphsvc.api.response_cache`).

Serves a copy of one SQLite store twice, `response_cache_mib` at its default and at 0, one after the other,
and asks each the same requests with one keep-alive client: each read asked again (a Backstage front end asks
the same listing, entity page and facets again and again), and entities by name over many different refs (each
asked once: the cache cannot help; what it costs). Prints p50 per read and server.

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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_bench import Engine, free_port, running_server  # noqa: E402
from bench.run_versus_backstage import HOST, Client  # noqa: E402

CLI = Path(sys.executable).parent / "catalog"
READS: dict[str, Callable[[int], str]] = {
    "every entity, full (GET /entities)": lambda _: "/api/catalog/entities",
    "names of every service component": lambda _: (
        "/api/catalog/entities?filter=kind=component,spec.type=service&fields=metadata.name"
    ),
    "a first page of 100 components, by name": lambda _: (
        "/api/catalog/entities/by-query?filter=kind=component&orderField=metadata.name,asc&limit=100"
    ),
    "kind facets": lambda _: "/api/catalog/entity-facets?facet=kind",
    "one entity by name, asked again": lambda _: "/api/catalog/entities/by-name/component/default/component-17",
    "one entity by name, a different one each time": lambda i: (
        f"/api/catalog/entities/by-name/component/default/component-{i % 2000 + 1}"
    ),
}


def p50(client: Client, path_of: Callable[[int], str], requests: int, warmup: int) -> float:
    times = []
    for i in range(warmup + requests):
        started = time.perf_counter()
        client.request("GET", path_of(i))
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
                for read, path_of in READS.items():
                    results.setdefault(read, {})[label] = p50(client, path_of, args.requests, args.warmup)
                client.close()
    print("| read | cache on, p50 | cache off, p50 |\n|---|---:|---:|")
    for read, row in results.items():
        print(f"| {read} | {row['cache on']:,.2f} ms | {row['cache off']:,.2f} ms |")


if __name__ == "__main__":
    main()
