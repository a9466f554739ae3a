"""Benchmark the catalog service end to end, as a user runs it: CLI ingest, then GraphQL over HTTP.

    python bench/run_bench.py --entities 10000 [--entities 100000] [--store DIR] [--requests 500] [--json OUT]
        [--reuse-store]

For each size: generate a synthetic catalog (`bench/generate_catalog.py`) under `bench/out/`, then measure
a full ingest into a fresh store, a no-op re-ingest, the store's size on disk (the SQLite store directory
after a WAL checkpoint), five GraphQL queries against `catalog serve` on 127.0.0.1 (p50 / p99 / mean over
keep-alive requests, every response checked), the server's peak RSS, and a re-ingest after changing a small
fraction of the entities. With `--reuse-store`, only the size and the queries, against the store an earlier
run left. Prints a Markdown table; `--json` also writes the numbers. Any failed command, GraphQL error or
empty result stops the run: a benchmark that measures errors is worthless.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as `python bench/run_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate_catalog import CatalogSummary, generate, mutate  # noqa: E402
from graphsvc.config import Settings  # noqa: E402
from graphsvc.store import open_store  # noqa: E402
from graphsvc.store.sqlite_backend import DATABASE_FILE  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "out"
DEFAULT_CLI = REPO / ".venv" / "bin" / "catalog"
HOST = "127.0.0.1"
WARMUP = 50


class BenchError(RuntimeError):
    """The benchmark cannot produce a trustworthy number; the message says what failed and where to look."""


@dataclass
class Measure:
    """One row of the results table."""

    entities: int
    measure: str
    value: float
    unit: str
    p99: float | None = None
    mean: float | None = None
    note: str = ""


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    peak_rss_mib: float


@dataclass(frozen=True)
class QuerySpec:
    """A GraphQL query, the variables to cycle through, and how to tell a real answer from an empty one."""

    key: str
    label: str
    query: str
    variables: list[dict[str, str]]
    size: Callable[[dict], int]
    """Number of results in `data`; raises KeyError/TypeError/BenchError when the answer is empty."""


@dataclass
class Config:
    sizes: list[int]
    out: Path
    store_root: Path
    cli: Path
    requests: int
    warmup: int = WARMUP
    seed: int = 1
    mutate_fraction: float = 0.01
    ingest_timeout: float = 3600.0
    ready_timeout: float = 120.0
    request_timeout: float = 60.0
    json_path: Path | None = None
    reuse_store: bool = False
    results: list[Measure] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# Child processes


def _tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def child_env() -> dict[str, str]:
    """Our environment, with the service's periodic re-sync off so that it cannot skew timings."""
    return os.environ | {"CATALOG_REFRESH_INTERVAL": "0"}


def run_child(cmd: list[str], log: Path, timeout: float) -> ChildRun:
    """Run `cmd` to completion; wall time and the peak RSS of that child alone (from wait4)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        sink.write(f"$ {' '.join(cmd)}\n".encode())
        sink.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO, env=child_env())
        timed_out = threading.Event()
        timer = threading.Timer(timeout, lambda: (timed_out.set(), proc.kill()))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timed_out.is_set() and proc.returncode < 0:
        raise BenchError(f"`{' '.join(cmd)}` still running after {timeout:.0f} s, killed; log: {log}")
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` exited {proc.returncode}; log {log}:\n{_tail(log)}")
    return ChildRun(seconds=seconds, peak_rss_mib=usage.ru_maxrss / 1024)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    """High-water resident set size of a running process (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM in /proc/{pid}/status")


def wait_healthy(proc: subprocess.Popen, base_url: str, log: Path, timeout: float) -> float:
    """Poll GET /health until it answers 200; seconds waited. Fails if the server exits or time runs out."""
    started = time.perf_counter()
    for _ in range(int(timeout / 0.1) + 1):
        if proc.poll() is not None:
            raise BenchError(f"server exited {proc.returncode} before it was ready; log {log}:\n{_tail(log)}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2.0, trust_env=False).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        if time.perf_counter() - started > timeout:
            break
        time.sleep(0.1)
    raise BenchError(f"{base_url}/health not 200 after {timeout:.0f} s; log {log}:\n{_tail(log)}")


def stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """Terminate, wait a bounded time, then kill."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


@contextmanager
def running_server(cmd: list[str], base_url: str, log: Path, ready_timeout: float) -> Iterator[subprocess.Popen]:
    """Start the server, yield it once /health answers, and always stop it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        sink.write(f"$ {' '.join(cmd)}\n".encode())
        sink.flush()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO, env=child_env())
    try:
        wait_healthy(proc, base_url, log, ready_timeout)
        yield proc
    finally:
        stop(proc)


# ---------------------------------------------------------------------------------------------------------
# GraphQL queries


def _nonempty(items: object, what: str) -> int:
    if not isinstance(items, list) or not items:
        raise BenchError(f"empty result: {what} is {items!r}")
    return len(items)


def _entity(data: dict) -> dict:
    if not data.get("entity"):
        raise BenchError(f"entity not found: {data!r}")
    return data["entity"]


def _connection_size(data: dict) -> int:
    conn = data["entities"]
    if not conn["totalCount"]:
        raise BenchError(f"empty result: totalCount is {conn['totalCount']!r}")
    return _nonempty(conn["edges"], "entities.edges")


def build_queries(summary: CatalogSummary) -> list[QuerySpec]:
    """The five benchmark queries, with variables taken from the generated catalog."""
    return [
        QuerySpec(
            "a",
            "entity by ref",
            "query($ref: String!) { entity(ref: $ref) { ref kind name title } }",
            [{"ref": r} for r in summary.sample_refs],
            lambda d: len([_entity(d)["ref"]]),
        ),
        QuerySpec(
            "b",
            "entities by owner",
            "query($owner: String!) { entities(filter: {owner: $owner}, first: 50) "
            "{ totalCount edges { node { ref name } } } }",
            [{"owner": o} for o in summary.owner_refs],
            _connection_size,
        ),
        QuerySpec(
            "c",
            "kind+type filter, first 100",
            'query { entities(filter: {kind: "component", type: "service"}, first: 100) '
            "{ totalCount edges { node { ref } } } }",
            [{}],
            _connection_size,
        ),
        QuerySpec(
            "d",
            "relations of one entity",
            "query($ref: String!) { entity(ref: $ref) { relations { type targetRef } } }",
            [{"ref": r} for r in summary.relation_refs],
            lambda d: _nonempty(_entity(d)["relations"], "relations"),
        ),
        QuerySpec(
            "e",
            "dependencies depth 6 from a hub",
            "query($ref: String!) { entity(ref: $ref) { dependencies(depth: 6) { ref } } }",
            [{"ref": r} for r in summary.hub_refs],
            lambda d: _nonempty(_entity(d)["dependencies"], "dependencies"),
        ),
    ]


def post_query(client: httpx.Client, spec: QuerySpec, variables: dict[str, str]) -> tuple[float, int]:
    """One request: milliseconds until the whole response was read, and the number of results."""
    where = f"query {spec.key} ({spec.label}) with {variables}"
    started = time.perf_counter()
    try:
        response = client.post("/graphql", json={"query": spec.query, "variables": variables})
    except httpx.HTTPError as exc:
        raise BenchError(f"{where}: request failed: {exc!r}") from exc
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise BenchError(f"{where}: HTTP {response.status_code}: {response.text[:500]}")
    try:
        body = response.json()
    except ValueError as exc:
        raise BenchError(f"{where}: not JSON: {response.text[:500]}") from exc
    if body.get("errors"):
        raise BenchError(f"{where}: GraphQL errors: {json.dumps(body['errors'])[:1000]}")
    try:
        return elapsed_ms, spec.size(body.get("data") or {})
    except (KeyError, TypeError, BenchError) as exc:
        raise BenchError(f"{where}: unusable answer ({exc!r}): {response.text[:500]}") from exc


def check_entity_count(client: httpx.Client, expected: int) -> int:
    """Fail unless the service holds at least `expected` entities (an ingest may exit 0 yet reject some)."""
    try:
        body = client.post("/graphql", json={"query": "query { entities(first: 1) { totalCount } }"}).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise BenchError(f"counting entities failed: {exc!r}") from exc
    total = ((body.get("data") or {}).get("entities") or {}).get("totalCount")
    if body.get("errors") or not isinstance(total, int) or total < expected:
        raise BenchError(f"expected at least {expected} entities in the store, got {json.dumps(body)[:500]}")
    return total


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def measure_query(client: httpx.Client, spec: QuerySpec, requests: int, warmup: int) -> tuple[list[float], list[int]]:
    """Warm up, then `requests` timed requests cycling through the variables; latencies (ms) and sizes."""
    cycle = itertools.cycle(spec.variables)
    for _ in range(warmup):
        post_query(client, spec, next(cycle))
    timings, sizes = [], []
    for _ in range(requests):
        ms, size = post_query(client, spec, next(cycle))
        timings.append(ms)
        sizes.append(size)
    return timings, sizes


def query_measure(entities: int, spec: QuerySpec, timings: list[float], sizes: list[int]) -> Measure:
    ordered = sorted(timings)
    lo, hi = min(sizes), max(sizes)
    results = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return Measure(
        entities,
        f"query {spec.key}: {spec.label}",
        statistics.median(ordered),
        "ms",
        p99=percentile(ordered, 0.99),
        mean=statistics.fmean(ordered),
        note=f"{len(timings)} req over {len(spec.variables)} variable sets; results per answer: {results}",
    )


# ---------------------------------------------------------------------------------------------------------
# One catalog size


def disk_usage_mib(store: Path) -> float:
    """Allocated size (like `du`) of the store directory and everything in it, MiB."""
    return sum(p.lstat().st_blocks * 512 for p in [store, *store.rglob("*")] if p.exists()) / 2**20


def checkpointed_size_mib(store: Path) -> float:
    """The store's size once `GraphStore.checkpoint()` has folded SQLite's write-ahead log into the database
    file. Opened here between the CLI's runs (one process owns a store), and closed again. A directory without
    a SQLite database (the harness's stand-in CLI writes none) is measured as it is."""
    if (store / DATABASE_FILE).is_file():
        graph = open_store(Settings(store_dir=store, refresh_interval_s=0))
        try:
            graph.checkpoint()
        finally:
            graph.close()
    return disk_usage_mib(store)


def remove_store(store: Path) -> None:
    """Delete a store directory (the database, its write-ahead log, the lock and owner files)."""
    if store.is_dir() and not store.is_symlink():
        shutil.rmtree(store)
    elif store.exists() or store.is_symlink():
        store.unlink()


def bench_ingest(cfg: Config, n: int, root: Path, store: Path, log: Path) -> None:
    cmd = [str(cfg.cli), "ingest", str(root), "--store", str(store)]
    full = run_child(cmd, log, cfg.ingest_timeout)
    cfg.results.append(Measure(n, "full ingest, wall", full.seconds, "s", note="fresh store"))
    cfg.results.append(Measure(n, "full ingest, peak RSS", full.peak_rss_mib, "MiB"))
    again = run_child(cmd, log, cfg.ingest_timeout)
    cfg.results.append(
        Measure(
            n,
            "no-op re-ingest, wall",
            again.seconds,
            "s",
            note=f"nothing changed; peak RSS {again.peak_rss_mib:.0f} MiB",
        )
    )
    cfg.results.append(
        Measure(n, "store size on disk", checkpointed_size_mib(store), "MiB", note="after a WAL checkpoint")
    )


def bench_queries(cfg: Config, n: int, summary: CatalogSummary, store: Path, log: Path) -> None:
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    cmd = [str(cfg.cli), "serve", "--store", str(store), "--host", HOST, "--port", str(port)]
    with running_server(cmd, base_url, log, cfg.ready_timeout) as proc:
        # trust_env=False: no proxy settings from the environment; traffic stays on 127.0.0.1.
        with httpx.Client(base_url=base_url, timeout=cfg.request_timeout, trust_env=False) as client:
            check_entity_count(client, n)
            for spec in build_queries(summary):
                timings, sizes = measure_query(client, spec, cfg.requests, cfg.warmup)
                cfg.results.append(query_measure(n, spec, timings, sizes))
        rss = peak_rss_mib(proc.pid)
    cfg.results.append(Measure(n, "server peak RSS", rss, "MiB", note="VmHWM after all queries"))


def bench_changed_ingest(cfg: Config, n: int, root: Path, store: Path, log: Path) -> None:
    changed = mutate(root.parent, cfg.mutate_fraction, cfg.seed + 1000)
    cmd = [str(cfg.cli), "ingest", str(root), "--store", str(store)]
    run = run_child(cmd, log, cfg.ingest_timeout)
    cfg.results.append(
        Measure(
            n,
            f"re-ingest after {cfg.mutate_fraction:.0%} changed, wall",
            run.seconds,
            "s",
            note=f"{changed} entities rewritten; peak RSS {run.peak_rss_mib:.0f} MiB",
        )
    )


def bench_size(cfg: Config, n: int) -> None:
    started = time.perf_counter()
    summary = generate(n, cfg.out / f"catalog-{n}", seed=cfg.seed)
    cfg.results.append(
        Measure(
            n,
            "generate catalog",
            time.perf_counter() - started,
            "s",
            note=f"{len(summary.files)} files; not part of the service",
        )
    )
    root = Path(summary.root)
    store = cfg.store_root / f"store-{n}"
    logs = cfg.out / "logs"
    if cfg.reuse_store:
        # The queries only, against what an earlier run left; the server checks that it holds N entities.
        if not store.is_dir() or not any(store.iterdir()):
            raise BenchError(f"--reuse-store: no store at {store}; run once without --reuse-store first")
        cfg.results.append(
            Measure(
                n,
                "store size on disk",
                checkpointed_size_mib(store),
                "MiB",
                note="reused store; after a WAL checkpoint",
            )
        )
        bench_queries(cfg, n, summary, store, logs / f"serve-{n}.log")
        return
    remove_store(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    bench_ingest(cfg, n, root, store, logs / f"ingest-{n}.log")
    bench_queries(cfg, n, summary, store, logs / f"serve-{n}.log")
    if cfg.mutate_fraction > 0:
        bench_changed_ingest(cfg, n, root, store, logs / f"ingest-{n}.log")


# ---------------------------------------------------------------------------------------------------------
# Output


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def markdown_table(results: list[Measure]) -> str:
    lines = [
        "| entities | measure | value | p99 | mean | unit | notes |",
        "|---:|---|---:|---:|---:|---|---|",
    ]
    for m in results:
        lines.append(
            f"| {m.entities:,} | {m.measure} | {_fmt(m.value)} | {_fmt(m.p99)} | {_fmt(m.mean)} | {m.unit} | {m.note} |"
        )
    return "\n".join(lines)


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def write_json(cfg: Config, path: Path) -> None:
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "commit": _git_commit(),
        "config": {
            "sizes": cfg.sizes,
            "requests": cfg.requests,
            "warmup": cfg.warmup,
            "seed": cfg.seed,
            "mutate_fraction": cfg.mutate_fraction,
            "reuse_store": cfg.reuse_store,
        },
        "results": [asdict(m) for m in cfg.results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------
# CLI


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, action="append", help="catalog size; repeat for several")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="catalogs and logs (default bench/out)")
    parser.add_argument("--store", type=Path, help="directory for the stores (default OUT/stores)")
    parser.add_argument(
        "--reuse-store",
        action="store_true",
        help="only the queries, against the stores an earlier run left in --store (no ingest, no re-ingest)",
    )
    parser.add_argument("--requests", type=int, default=500, help="timed requests per query")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="untimed requests per query first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mutate", type=float, default=0.01, help="fraction changed before the last re-ingest")
    parser.add_argument("--cli", type=Path, default=DEFAULT_CLI, help="the `catalog` executable")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds to wait for /health")
    parser.add_argument("--ingest-timeout", type=float, default=3600.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be >= 1 and --warmup >= 0")
    if not 0 <= args.mutate <= 1:
        parser.error("--mutate must be between 0 and 1")
    out = args.out.resolve()
    cfg = Config(
        sizes=args.entities or [10_000],
        out=out,
        store_root=(args.store or out / "stores").resolve(),
        cli=args.cli.resolve(),
        requests=args.requests,
        warmup=args.warmup,
        seed=args.seed,
        mutate_fraction=args.mutate,
        ingest_timeout=args.ingest_timeout,
        ready_timeout=args.ready_timeout,
        json_path=args.json,
        reuse_store=args.reuse_store,
    )
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if not os.access(cfg.cli, os.X_OK):
        print(
            f"error: no `catalog` executable at {cfg.cli}; run `pip install -e .` in the venv or pass --cli",
            file=sys.stderr,
        )
        return 2
    try:
        for n in cfg.sizes:
            print(f"== {n:,} entities", file=sys.stderr)
            bench_size(cfg, n)
    except BenchError as exc:
        print(markdown_table(cfg.results))
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1
    print(markdown_table(cfg.results))
    if cfg.json_path:
        write_json(cfg, cfg.json_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
