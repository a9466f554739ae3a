"""Benchmark the catalog service end to end, as a user runs it: CLI ingest, then GraphQL over HTTP.

    python bench/run_bench.py --entities 10000 [--entities 100000] [--store DIR] [--requests 500] [--json OUT]
        [--reuse-store] [--backend sqlite] [--backend neo4j [--neo4j-data DIR] [--neo4j-pid PID]]

For each size and each engine (`--backend`, repeatable: the engines one after the other, per size):
generate a synthetic catalog (`bench/generate_catalog.py`) under `bench/out/`, then measure a full ingest
into a fresh store, a no-op re-ingest, the store's size on disk (the SQLite store directory after a WAL
checkpoint; the Neo4j server's data directory), five GraphQL queries against `catalog serve` on 127.0.0.1
(p50 / p99 / mean over keep-alive requests, every response checked), the server's peak RSS (and the Neo4j
JVM's), and a re-ingest after changing a small fraction of the entities. With `--reuse-store`, only the size
and the queries, against the store an earlier run left. Prints a Markdown table, one value column per engine;
`--json` also writes the numbers. Any failed command, GraphQL error or empty result stops the run: a
benchmark that measures errors is worthless.

On Neo4j the `catalog` children get the engine through their environment (CATALOG_BACKEND=neo4j and the
NEO4J_* variables of this process, as `eval "$(scripts/neo4j start)"` sets them), and a fresh store is the
database emptied first.
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

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
BACKENDS = ("sqlite", "neo4j")
"""The engines, in the order of the table's columns: the first is what the others are compared with."""
NEO4J_START = 'eval "$(scripts/neo4j start)"; export NEO4J_URI NEO4J_USER NEO4J_PASSWORD'
WIPE_SLICE = 20_000
"""Nodes deleted per transaction when emptying the Neo4j database."""


BENCH_ACCESS = {"CATALOG_ANONYMOUS": "read", "CATALOG_RATE_LIMIT": "1000000", "CATALOG_RATE_BURST": "1000000"}
"""How the benchmark's `catalog serve` is opened (it reads a catalog generated under the repository, inside the
default local root)."""


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
    backend: str = ""
    """The engine measured ("sqlite", "neo4j"); empty for a measure that has none."""


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


@dataclass(frozen=True)
class Engine:
    """The store engine under measurement, and what the harness knows of its server (Neo4j)."""

    name: str
    neo4j: Settings | None = None
    """Connection settings, for Neo4j."""
    data_dir: Path | None = None
    """The Neo4j server's data directory, when known: its size is the store's size."""
    pid: int | None = None
    """The Neo4j server's (JVM's) pid, when known: its memory is part of the cost."""

    def env(self) -> dict[str, str]:
        """The environment of the `catalog` children: ours, this engine, no periodic re-sync (it would skew
        the timings), anonymous reading and no rate limit to speak of (the benchmark is one client measuring
        the engine; `bench/run_load_test.py` measures the service as deployed, with tokens and limits)."""
        env = os.environ | {"CATALOG_REFRESH_INTERVAL": "0", "CATALOG_BACKEND": self.name} | BENCH_ACCESS
        if self.neo4j is not None:
            env |= {
                "NEO4J_URI": self.neo4j.neo4j_uri,
                "NEO4J_USER": self.neo4j.neo4j_user,
                "NEO4J_PASSWORD": self.neo4j.neo4j_password,
                "NEO4J_DATABASE": self.neo4j.neo4j_database,
            }
        return env

    def store_args(self, store: Path) -> list[str]:
        """The CLI's store arguments: the directory for SQLite; nothing for Neo4j (it is in the environment)."""
        return [] if self.neo4j is not None else ["--store", str(store)]

    def settings(self, store: Path) -> Settings:
        """Settings to open this engine's store in this process."""
        if self.neo4j is not None:
            return self.neo4j.model_copy(update={"store_dir": store, "refresh_interval_s": 0})
        return Settings(store_dir=store, refresh_interval_s=0)


def neo4j_settings_from_env() -> Settings:
    """Neo4j's connection from NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE; NEO4J_URI is required."""
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        raise BenchError(
            f"--backend neo4j needs a Neo4j server, and NEO4J_URI is not set: run `{NEO4J_START}` first "
            "(it starts one and sets NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD; the export makes this process "
            "see them), or export those of your server"
        )
    defaults = Settings()
    return Settings(
        backend="neo4j",
        neo4j_uri=uri,
        neo4j_user=os.environ.get("NEO4J_USER") or defaults.neo4j_user,
        neo4j_password=os.environ.get("NEO4J_PASSWORD") or defaults.neo4j_password,
        neo4j_database=os.environ.get("NEO4J_DATABASE") or defaults.neo4j_database,
        refresh_interval_s=0,
    )


@contextmanager
def neo4j_session(settings: Settings) -> Iterator[Any]:
    """A session on the bench's Neo4j database, with a message naming the server when it cannot be reached."""
    import neo4j

    driver = neo4j.GraphDatabase.driver(
        settings.neo4j_uri, auth=(settings.neo4j_user, settings.neo4j_password), notifications_min_severity="OFF"
    )
    try:
        try:
            driver.verify_connectivity()
        except Exception as exc:  # the driver raises several unrelated types here
            raise BenchError(
                f"cannot reach Neo4j at {settings.neo4j_uri} (user {settings.neo4j_user}): {exc}; is it running? "
                f"`{NEO4J_START}` starts one and prints the variables"
            ) from exc
        with driver.session(database=settings.neo4j_database) as session:
            yield session
    finally:
        driver.close()


def empty_neo4j(settings: Settings) -> int:
    """Delete every node and relationship of the database, a slice per transaction; how many nodes went.
    Constraints and indexes stay (the store creates them idempotently)."""
    deleted = 0
    with neo4j_session(settings) as session:
        query = f"MATCH (n) WITH n LIMIT {WIPE_SLICE} DETACH DELETE n RETURN count(*)"
        while count := session.run(query).single()[0]:
            deleted += count
    return deleted


def neo4j_test_home() -> Path:
    """Where `scripts/neo4j` keeps its server: $NEO4J_TEST_HOME, default var/neo4j (relative to the repo)."""
    return REPO / os.environ.get("NEO4J_TEST_HOME", "var/neo4j")


def _serves(home: Path, uri: str) -> bool:
    """Whether the `scripts/neo4j` server kept in `home` is the one at `uri` (its env file names it)."""
    try:
        return f"NEO4J_URI={uri}" in (home / "env").read_text().splitlines()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}/status").is_file()


def neo4j_engine(settings: Settings, data_dir: Path | None, pid: int | None) -> tuple[Engine, list[str]]:
    """The Neo4j engine: the server's data directory and pid as given, else those of the `scripts/neo4j`
    server if it is the one at NEO4J_URI; notes on what stays unknown (those rows are left out)."""
    home, notes = neo4j_test_home(), []
    ours = _serves(home, settings.neo4j_uri)
    if data_dir is None and ours and (home / "data").is_dir():
        data_dir = home / "data"
    if data_dir is None:
        notes.append(
            f"the Neo4j server's data directory is unknown ({home} does not serve {settings.neo4j_uri}): the "
            "store size rows are left out; pass --neo4j-data DIR (scripts/neo4j keeps it in $NEO4J_TEST_HOME/data)"
        )
    if pid is None and ours:
        try:
            pid = int((home / "pid").read_text().strip())
        except (OSError, ValueError):
            pid = None
    if pid is not None and not _alive(pid):
        notes.append(f"no process {pid} (the Neo4j server's pid): its memory is not reported")
        pid = None
    elif pid is None:
        notes.append(
            "the Neo4j server's pid is unknown: its JVM's memory is not reported; pass --neo4j-pid PID "
            "(scripts/neo4j keeps it in $NEO4J_TEST_HOME/pid)"
        )
    return Engine("neo4j", neo4j=settings, data_dir=data_dir, pid=pid), notes


def rss_mib(pid: int) -> tuple[float, float]:
    """(resident set size now, its high-water mark) of a running process, MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    try:
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (KeyError, ValueError, IndexError) as exc:
        raise BenchError(f"no VmRSS / VmHWM in /proc/{pid}/status") from exc


def jvm_note(engine: Engine) -> str:
    """What the Neo4j server's JVM holds now, for a note; empty when its pid is unknown."""
    if engine.pid is None:
        return ""
    now, peak = rss_mib(engine.pid)
    return f"Neo4j JVM (pid {engine.pid}) RSS {now:,.0f} MiB now, VmHWM {peak:,.0f} MiB since it started"


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
    backends: list[str] = field(default_factory=lambda: ["sqlite"])
    neo4j_data: Path | None = None
    neo4j_pid: int | None = None
    engines: list[Engine] = field(default_factory=list)
    """Made from `backends` when the run starts (`make_engines`)."""
    results: list[Measure] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# Child processes


def _tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def run_child(cmd: list[str], log: Path, timeout: float, env: dict[str, str] | None = None) -> ChildRun:
    """Run `cmd` to completion; wall time and the peak RSS of that child alone (from wait4). `env` defaults
    to the SQLite engine's (`Engine.env`)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        sink.write(f"$ {' '.join(cmd)}\n".encode())
        sink.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO, env=env or Engine("sqlite").env())
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
    return rss_mib(pid)[1]


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
def running_server(
    cmd: list[str], base_url: str, log: Path, ready_timeout: float, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """Start the server, yield it once /health answers, and always stop it. `env` as for `run_child`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        sink.write(f"$ {' '.join(cmd)}\n".encode())
        sink.flush()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO, env=env or Engine("sqlite").env())
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
    return timed_requests(lambda variables: post_query(client, spec, variables), spec.variables, requests, warmup)


def timed_requests(
    request: Callable[[dict[str, str]], tuple[float, int]], variables: list[dict[str, str]], requests: int, warmup: int
) -> tuple[list[float], list[int]]:
    """`warmup` untimed calls of `request`, then `requests` timed ones, cycling through `variables`; each call
    answers (milliseconds, answer size). The latencies and the sizes."""
    cycle = itertools.cycle(variables)
    for _ in range(warmup):
        request(next(cycle))
    timings, sizes = [], []
    for _ in range(requests):
        ms, size = request(next(cycle))
        timings.append(ms)
        sizes.append(size)
    return timings, sizes


def query_measure(entities: int, spec: QuerySpec, timings: list[float], sizes: list[int], backend: str = "") -> Measure:
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
        backend=backend,
    )


# ---------------------------------------------------------------------------------------------------------
# One catalog size on one engine


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


def neo4j_size(data_dir: Path, database: str, baseline: float | None = None) -> tuple[float, str]:
    """The Neo4j server's data directory, MiB, and a note splitting it: the database's store files and its
    transaction logs (the rest is the system database and the server's logs), and how much it grew since
    `baseline` (its size once the database was emptied). Neo4j Community has no checkpoint procedure: the
    size is what the server has written so far, the transaction logs of its earlier work included. The store
    files are written at checkpoints (by default every 15 minutes, and at shutdown): until the next one they
    hold less than the database (seen on a 150-entity history: 5 MiB before a shutdown's checkpoint, 19 MiB
    after), and the transaction logs hold the rest."""
    total = disk_usage_mib(data_dir)
    parts = []
    for what, folder in (("store files", "databases"), ("transaction logs", "transactions")):
        for candidate in (data_dir / folder / database, data_dir / "data" / folder / database):
            if candidate.is_dir():
                parts.append(f"{what} {disk_usage_mib(candidate):,.1f} MiB")
                break
    grown = "" if baseline is None else f" (+{total - baseline:,.1f} MiB since the database was emptied)"
    split = f"; database {database}: {', '.join(parts)}" if parts else ""
    lag = "not checkpointed (Community cannot be asked to): the store files lag until Neo4j's next checkpoint"
    return total, f"all of {data_dir}{grown}; {lag}{split}"


def neo4j_baseline(engine: Engine) -> float | None:
    """The size of the Neo4j server's data directory now (once the database is emptied), if it is known."""
    return disk_usage_mib(engine.data_dir) if engine.neo4j is not None and engine.data_dir is not None else None


def store_size(engine: Engine, store: Path, baseline: float | None = None) -> tuple[float, str] | None:
    """The store's size on disk (MiB) and a note, or None when it cannot be known (said once at the start)."""
    if engine.neo4j is None:
        return checkpointed_size_mib(store), "after a WAL checkpoint"
    if engine.data_dir is None:
        return None
    return neo4j_size(engine.data_dir, engine.neo4j.neo4j_database, baseline)


def fresh_store(engine: Engine, store: Path) -> str:
    """An empty store: the SQLite directory deleted, or the Neo4j database emptied; a note saying which."""
    if engine.neo4j is None:
        remove_store(store)
        store.parent.mkdir(parents=True, exist_ok=True)
        return "fresh store"
    deleted = empty_neo4j(engine.neo4j)
    return f"fresh store: Neo4j database {engine.neo4j.neo4j_database} emptied first ({deleted:,} nodes deleted)"


def remove_store(store: Path) -> None:
    """Delete a store directory (the database, its write-ahead log, the lock and owner files)."""
    if store.is_dir() and not store.is_symlink():
        shutil.rmtree(store)
    elif store.exists() or store.is_symlink():
        store.unlink()


@dataclass(frozen=True)
class Run:
    """One catalog size on one engine: where everything is, and where the measures go."""

    cfg: Config
    n: int
    engine: Engine
    root: Path
    store: Path
    baseline_mib: float | None = None
    """The Neo4j data directory's size once the database was emptied, if known."""

    def log(self, what: str) -> Path:
        return self.cfg.out / "logs" / f"{what}-{self.engine.name}-{self.n}.log"

    def add(self, measure: str, value: float, unit: str, **extra: Any) -> None:
        self.cfg.results.append(Measure(self.n, measure, value, unit, backend=self.engine.name, **extra))

    def ingest(self) -> ChildRun:
        cmd = [str(self.cfg.cli), "ingest", str(self.root), *self.engine.store_args(self.store)]
        return run_child(cmd, self.log("ingest"), self.cfg.ingest_timeout, self.engine.env())

    def add_store_size(self, prefix: str = "") -> None:
        size = store_size(self.engine, self.store, self.baseline_mib)
        if size is not None:
            self.add("store size on disk", size[0], "MiB", note=prefix + size[1])


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def bench_ingest(run: Run, fresh: str) -> None:
    full = run.ingest()
    run.add("full ingest, wall", full.seconds, "s", note=fresh)
    run.add("full ingest, peak RSS", full.peak_rss_mib, "MiB", note=_joined("this process only", jvm_note(run.engine)))
    again = run.ingest()
    run.add("no-op re-ingest, wall", again.seconds, "s", note=f"nothing changed; peak RSS {again.peak_rss_mib:.0f} MiB")
    run.add_store_size()


def bench_queries(run: Run, summary: CatalogSummary) -> None:
    cfg, engine = run.cfg, run.engine
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    cmd = [str(cfg.cli), "serve", *engine.store_args(run.store), "--host", HOST, "--port", str(port)]
    with running_server(cmd, base_url, run.log("serve"), cfg.ready_timeout, engine.env()) as proc:
        # trust_env=False: no proxy settings from the environment; traffic stays on 127.0.0.1.
        with httpx.Client(base_url=base_url, timeout=cfg.request_timeout, trust_env=False) as client:
            check_entity_count(client, run.n)
            for spec in build_queries(summary):
                timings, sizes = measure_query(client, spec, cfg.requests, cfg.warmup)
                cfg.results.append(query_measure(run.n, spec, timings, sizes, engine.name))
        rss = peak_rss_mib(proc.pid)
        jvm = rss_mib(engine.pid) if engine.pid is not None else None
    if jvm is None:
        run.add("server peak RSS", rss, "MiB", note="VmHWM after all queries")
        return
    run.add(
        "server peak RSS",
        rss,
        "MiB",
        note=f"VmHWM of catalog serve after all queries; the Neo4j JVM (pid {engine.pid}) besides: RSS "
        f"{jvm[0]:,.0f} MiB, VmHWM {jvm[1]:,.0f} MiB, {rss + jvm[0]:,.0f} MiB together now",
    )
    run.add(
        "Neo4j server JVM RSS",
        jvm[0],
        "MiB",
        note=f"VmRSS after all queries, pid {engine.pid}; VmHWM {jvm[1]:,.0f} MiB since the server started "
        "(earlier runs included); its heap and page cache are the server's settings",
    )


def bench_changed_ingest(run: Run) -> None:
    changed = mutate(run.root.parent, run.cfg.mutate_fraction, run.cfg.seed + 1000)
    again = run.ingest()
    run.add(
        f"re-ingest after {run.cfg.mutate_fraction:.0%} changed, wall",
        again.seconds,
        "s",
        note=f"{changed} entities rewritten; peak RSS {again.peak_rss_mib:.0f} MiB",
    )


def bench_engine(cfg: Config, n: int, engine: Engine) -> None:
    """One size on one engine. The catalog is generated again for each engine (same bytes): the last step
    rewrites part of it."""
    started = time.perf_counter()
    summary = generate(n, cfg.out / f"catalog-{n}", seed=cfg.seed)
    seconds = time.perf_counter() - started
    run = Run(cfg, n, engine, Path(summary.root), cfg.store_root / f"store-{n}")
    run.add("generate catalog", seconds, "s", note=f"{len(summary.files)} files; not part of the service")
    if cfg.reuse_store:
        # The queries only, against what an earlier run left; the server checks that it holds N entities.
        if engine.neo4j is None and (not run.store.is_dir() or not any(run.store.iterdir())):
            raise BenchError(f"--reuse-store: no store at {run.store}; run once without --reuse-store first")
        run.add_store_size("reused store; ")
        bench_queries(run, summary)
        return
    fresh = fresh_store(engine, run.store)
    run = replace(run, baseline_mib=neo4j_baseline(engine))
    bench_ingest(run, fresh)
    bench_queries(run, summary)
    if cfg.mutate_fraction > 0:
        bench_changed_ingest(run)


def bench_size(cfg: Config, n: int) -> None:
    for engine in cfg.engines:
        print(f"== {n:,} entities on {engine.name}", file=sys.stderr)
        bench_engine(cfg, n, engine)


# ---------------------------------------------------------------------------------------------------------
# Output


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def engines_in(results: list[Measure]) -> list[str]:
    """The engines measured, in the order of `BACKENDS`."""
    found = {m.backend for m in results if m.backend}
    return sorted(found, key=lambda b: (BACKENDS.index(b) if b in BACKENDS else len(BACKENDS), b))


def markdown_table(results: list[Measure]) -> str:
    """One row per measure; with several engines, one row per (size, measure) and a column per engine."""
    engines = engines_in(results)
    if len(engines) > 1:
        return comparison_table(results, engines)
    lines = [
        f"| entities | measure | {engines[0] if engines else 'value'} | p99 | mean | unit | notes |",
        "|---:|---|---:|---:|---:|---|---|",
    ]
    for m in results:
        lines.append(
            f"| {m.entities:,} | {m.measure} | {_fmt(m.value)} | {_fmt(m.p99)} | {_fmt(m.mean)} | {m.unit} | {m.note} |"
        )
    return "\n".join(lines)


def comparison_table(results: list[Measure], engines: list[str]) -> str:
    """Rows: the measures of each size, in the order first measured; columns: each engine's value and p99,
    then the ratio of each other engine's value to the first's (neo4j / sqlite). Notes that differ are given
    per engine. The means are in the JSON."""
    base, others = engines[0], engines[1:]
    order: list[tuple[int, str]] = []
    rows: dict[tuple[int, str], dict[str, Measure]] = {}
    last: dict[str, tuple[int, str]] = {}
    for m in results:
        key, engine = (m.entities, m.measure), m.backend or base
        if key not in rows:  # a measure only one engine has goes after that engine's previous one
            after = last.get(engine)
            order.insert(order.index(after) + 1 if after in rows and after[0] == key[0] else len(order), key)
            rows[key] = {}
        rows[key][engine] = m
        last[engine] = key
    rows = {key: rows[key] for key in order}
    header = ["entities", "measure", "unit", *(c for e in engines for c in (e, f"{e} p99"))]
    header += [f"{other}/{base}" for other in others] + ["notes"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---:", "---", "---", *["---:"] * (2 * len(engines) + len(others)), "---"]) + "|",
    ]
    for (n, name), by in rows.items():
        cells = [f"{n:,}", name, next(iter(by.values())).unit]
        for engine in engines:
            m = by.get(engine)
            cells += [_fmt(m.value), _fmt(m.p99)] if m else ["", ""]
        for other in others:
            mine, theirs = by.get(other), by.get(base)
            cells.append(f"{mine.value / theirs.value:.2f}x" if mine and theirs and theirs.value else "")
        notes = {m.note for m in by.values() if m.note}
        if len(notes) > 1:
            cells.append(" ".join(f"[{e}] {by[e].note}" for e in engines if e in by and by[e].note))
        else:
            cells.append(next(iter(notes), ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def engine_report(engine: Engine) -> dict[str, Any]:
    """What the JSON records of an engine (never the password)."""
    report: dict[str, Any] = {"backend": engine.name}
    if engine.neo4j is not None:
        report |= {
            "neo4j_uri": engine.neo4j.neo4j_uri,
            "neo4j_database": engine.neo4j.neo4j_database,
            "neo4j_data": str(engine.data_dir) if engine.data_dir else None,
            "neo4j_pid": engine.pid,
        }
    return report


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
            "engines": [engine_report(e) for e in cfg.engines],
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
    add_engine_arguments(parser)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be >= 1 and --warmup >= 0")
    if not 0 <= args.mutate <= 1:
        parser.error("--mutate must be between 0 and 1")
    backends = list(dict.fromkeys(args.backend or ["sqlite"]))
    if args.reuse_store and "neo4j" in backends and len(args.entities or []) > 1:
        parser.error("--reuse-store on Neo4j: the database holds one catalog, so pass one --entities")
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
        backends=backends,
        neo4j_data=args.neo4j_data,
        neo4j_pid=args.neo4j_pid,
    )
    return cfg


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--backend (repeatable), --neo4j-data, --neo4j-pid: the same in both benchmarks."""
    parser.add_argument(
        "--backend",
        action="append",
        choices=BACKENDS,
        help="engine to measure (default sqlite); repeat to measure several in one run, one after the other",
    )
    parser.add_argument(
        "--neo4j-data",
        type=Path,
        help="the Neo4j server's data directory, measured as the store's size (default: $NEO4J_TEST_HOME/data "
        "of scripts/neo4j, var/neo4j/data, when that server is the one at NEO4J_URI)",
    )
    parser.add_argument(
        "--neo4j-pid",
        type=int,
        help="the Neo4j server's pid, for its JVM's memory (default: the pid file of that scripts/neo4j server)",
    )


def make_engines(backends: list[str], neo4j_data: Path | None, neo4j_pid: int | None) -> list[Engine]:
    """The engines to measure; prints what stays unknown of a Neo4j server. Raises BenchError when Neo4j is
    asked for but not configured (no NEO4J_URI) or not reachable."""
    engines = []
    for name in backends:
        if name == "sqlite":
            engines.append(Engine("sqlite"))
            continue
        settings = neo4j_settings_from_env()
        if neo4j_data is not None and not neo4j_data.is_dir():
            raise BenchError(f"--neo4j-data {neo4j_data}: not a directory")
        with neo4j_session(settings) as session:  # reachable, with these credentials
            session.run("RETURN 1").consume()
        engine, notes = neo4j_engine(settings, neo4j_data and neo4j_data.resolve(), neo4j_pid)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        engines.append(engine)
    return engines


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if not os.access(cfg.cli, os.X_OK):
        print(
            f"error: no `catalog` executable at {cfg.cli}; run `pip install -e .` in the venv or pass --cli",
            file=sys.stderr,
        )
        return 2
    try:
        cfg.engines = make_engines(cfg.backends, cfg.neo4j_data, cfg.neo4j_pid)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        for n in cfg.sizes:
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
