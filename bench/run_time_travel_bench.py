"""Benchmark history: what keeping every version costs on disk, and whether reading the past is as fast as now.

    python bench/run_time_travel_bench.py --entities 100000 --versions 10 [--requests 300] [--json OUT] \
        [--store DIR] [--http] [--backend sqlite] [--backend neo4j [--neo4j-data DIR] [--neo4j-pid PID]]

The store never overwrites: each sync closes the changed entities' versions and relation edges and opens new
ones, and an `asOf` read must pick, among all of them, the one valid at an instant. This measures both sides
on a synthetic catalog (`bench/generate_catalog.py`) in which every entity changes at every version:

1. History. The catalog's YAML is parsed once (not measured as part of the syncs). Version 1 is synced at
   2026-01-01 00:00 UTC, versions 2..V one day apart; before each, every entity's description is rewritten
   and 10 % of the components change owner and one `dependsOn` target, so relation edges close and open too.
   The syncs run in process through `graphsvc.sync.sync_source`: this measures the store, not YAML parsing
   or the CLI. Reported: wall time of the first sync and the mean of the others, the store's size on disk
   after version 1 and after version V (after a checkpoint, so the WAL is folded in), the growth per
   version, and the bytes each entity version costs.
2. Time travel. The five queries of `bench/run_bench.py`, each as the present query and as its `asOf` twin
   at noon of the middle version's day (the same query text; only the `$at` variable differs). Requests
   of the two alternate, so both see the same machine noise. p50 / p99 / mean of each, and the ratio
   asOf / present (acceptance bound 1.5x). In process through the real GraphQL schema (parse, validation,
   resolvers, loaders; a fresh request context per query, as the HTTP app makes), and with `--http` also
   over HTTP against `catalog serve`.
3. The change feed: `changes(since, until, first: 100)` over one day that holds a sync, over the whole
   catalog and with `filter: {kind: "component"}`.

Every answer is checked (no GraphQL errors, not empty), and the store must hold exactly V versions per
entity; any failure stops the run and prints the rows measured so far.

`--backend neo4j` measures the same on Neo4j (the database at NEO4J_URI, emptied first; its size is the
server's data directory); `--backend` repeated measures the engines one after the other in one run, and the
table gets a column per engine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as `python bench/run_time_travel_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate_catalog import ROOT_FILE, CatalogSummary, generate, load_documents, location_targets  # noqa: E402
from bench.run_bench import (  # noqa: E402
    HOST,
    BenchError,
    Engine,
    Measure,
    QuerySpec,
    add_engine_arguments,
    disk_usage_mib,
    empty_neo4j,
    engine_report,
    free_port,
    make_engines,
    markdown_table,
    neo4j_baseline,
    neo4j_size,
    percentile,
    post_query,
    remove_store,
    running_server,
)
from graphsvc.api.context import Context  # noqa: E402
from graphsvc.api.schema import schema  # noqa: E402
from graphsvc.service import CatalogService  # noqa: E402
from graphsvc.store import GraphStore, open_store  # noqa: E402
from graphsvc.store.sqlite_backend import DATABASE_FILE  # noqa: E402
from graphsvc.sync import sync_source  # noqa: E402
from graphsvc.timestamps import from_datetime  # noqa: E402
from ingestors.documents import CatalogDocument, ReadResult  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "out"
DEFAULT_CLI = REPO / ".venv" / "bin" / "catalog"
SOURCE = "bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
"""Instant of version 1; version k is synced k-1 days later."""
REWIRED_SHARE = 0.10
"""Share of the components that change owner and one dependsOn target at each version."""
RATIO_BOUND = 1.5
WARMUP = 30
MAX_PICKS = 20
"""Attempts at drawing a new dependsOn target that the component does not list yet."""

Execute = Callable[[QuerySpec, dict[str, Any]], tuple[float, int]]
"""Run one query with these variables: (milliseconds, number of results); raises BenchError on a bad answer."""


@dataclass
class Config:
    entities: int
    versions: int
    requests: int
    warmup: int
    seed: int
    out: Path
    store: Path
    http: bool
    cli: Path
    ready_timeout: float = 300.0
    request_timeout: float = 120.0
    json_path: Path | None = None
    reuse_store: bool = False
    backends: list[str] = field(default_factory=lambda: ["sqlite"])
    neo4j_data: Path | None = None
    neo4j_pid: int | None = None
    engines: list[Engine] = field(default_factory=list)
    """Made from `backends` when the run starts (`make_engines`)."""
    results: list[Measure] = field(default_factory=list)
    sync_seconds: dict[str, list[float]] = field(default_factory=dict)
    """Wall seconds of each version's sync, per engine."""


@dataclass
class Catalog:
    """The catalog's documents, rewritten in place version after version, and what the rewrites draw from."""

    documents: list[CatalogDocument]
    descriptions: list[str]
    """Each document's description at version 1."""
    components: list[int]
    """Indexes of the Component documents, in generation order: a component only depends on later ones."""
    teams: list[str]
    resources: list[str]

    @cached_property
    def team_position(self) -> dict[str, int]:
        return {team: i for i, team in enumerate(self.teams)}


# ---------------------------------------------------------------------------------------------------------
# The catalog and its versions


def micros_at(version: int) -> int:
    """The instant of version `version`'s sync."""
    return from_datetime(START + timedelta(days=version - 1))


def iso_at(version: int, hour: int = 0) -> str:
    """`hour` hours into the day of version `version`'s sync, as a GraphQL DateTime."""
    return (START + timedelta(days=version - 1, hours=hour)).isoformat()


def load_catalog(root: Path) -> Catalog:
    """Parse the root Location and every file it lists once (CSafeLoader), as a reader would hand them over."""
    documents = [
        CatalogDocument(data, f"file:{path}", index, None)
        for path in [root / ROOT_FILE, *location_targets(root)]
        for index, data in enumerate(load_documents(path.resolve()))
    ]
    data = [d.data for d in documents]
    return Catalog(
        documents=documents,
        descriptions=[d["metadata"].get("description", "") for d in data],
        components=[i for i, d in enumerate(data) if d["kind"] == "Component"],
        teams=[d["metadata"]["name"] for d in data if d["kind"] == "Group" and d["spec"]["type"] == "team"],
        resources=[d["metadata"]["name"] for d in data if d["kind"] == "Resource"],
    )


def rewrite(catalog: Catalog, version: int, seed: int) -> int:
    """Turn the documents into `version` (>= 2) in place; the number of components rewired (deterministic)."""
    for document, description in zip(catalog.documents, catalog.descriptions, strict=True):
        document.data["metadata"]["description"] = f"{description} (version {version})"
    rng = random.Random(seed * 1_000_003 + version)
    count = max(1, round(REWIRED_SHARE * len(catalog.components)))
    chosen = sorted(rng.sample(range(len(catalog.components)), count))
    for position in chosen:
        spec = catalog.documents[catalog.components[position]].data["spec"]
        spec["owner"] = _other_team(rng, catalog, spec["owner"])
        _rotate_dependency(rng, catalog, position, spec["dependsOn"])
    return len(chosen)


def _other_team(rng: random.Random, catalog: Catalog, current: str) -> str:
    """A team other than `current`, drawn uniformly (any team when `current` is none)."""
    teams = catalog.teams
    position = catalog.team_position.get(current)
    if position is None or len(teams) < 2:
        return rng.choice(teams)
    return teams[(position + rng.randrange(1, len(teams))) % len(teams)]


def _rotate_dependency(rng: random.Random, catalog: Catalog, position: int, depends_on: list[str]) -> None:
    """Replace the last dependsOn target by another later component or a resource, keeping the graph a DAG."""
    last = len(catalog.components) - 1
    for _ in range(MAX_PICKS):
        if position < last and rng.random() < 0.8:
            index = catalog.components[rng.randint(position + 1, last)]
            target = f"component:{catalog.documents[index].data['metadata']['name']}"
        else:
            target = f"resource:{rng.choice(catalog.resources)}"
        if target not in depends_on:
            depends_on[-1] = target
            return


def sync_version(store: GraphStore, catalog: Catalog, version: int) -> float:
    """Sync the documents as they are now at `version`'s instant, check what it did; wall seconds."""
    result = ReadResult(source=SOURCE, documents=catalog.documents)
    started = time.perf_counter()
    summary = sync_source(store, result, source=SOURCE, at=micros_at(version))
    seconds = time.perf_counter() - started
    expected = {"added": len(catalog.documents)} if version == 1 else {"updated": len(catalog.documents)}
    counts = summary.counts
    if counts["errors"] or any(counts[k] != v for k, v in expected.items()):
        errors = json.dumps(summary.errors[:3])[:1000]
        raise BenchError(f"sync of version {version}: expected {expected}, got {counts}; first errors: {errors}")
    return seconds


def store_size_mib(
    engine: Engine, store: GraphStore, directory: Path, baseline: float | None
) -> tuple[float, str] | None:
    """Allocated size of the store (MiB) and a note: SQLite's directory once the WAL is folded into the
    database file, the Neo4j server's data directory (`baseline`: its size once the database was emptied);
    None when that is unknown (said at the start)."""
    if engine.neo4j is None:
        store.checkpoint()
        return disk_usage_mib(directory), "after a WAL checkpoint"
    if engine.data_dir is None:
        return None
    return neo4j_size(engine.data_dir, engine.neo4j.neo4j_database, baseline)


def check_versions(store: GraphStore, entities: int, versions: int) -> int:
    """Fail unless every entity has exactly `versions` versions, one of them open; the total stored."""
    found, least, most, least_open, most_open, total = store.version_census()
    if (found, least, most, least_open, most_open) != (entities, versions, versions, 1, 1):
        raise BenchError(
            f"expected {entities} entities with {versions} versions each, one open; got {found} entities with "
            f"{least}..{most} versions and {least_open}..{most_open} open"
        )
    return total


def build_history(cfg: Config, engine: Engine, store: GraphStore, catalog: Catalog) -> None:
    """Sync versions 1..V and record their times and the store's size after the first and the last."""
    n, count = cfg.entities, len(catalog.documents)
    times = cfg.sync_seconds.setdefault(engine.name, [])
    baseline = neo4j_baseline(engine)
    seconds = sync_version(store, catalog, 1)
    times.append(seconds)
    cfg.results.append(Measure(n, "sync version 1 (all added)", seconds, "s", note=f"{count:,} entities added"))
    first_size = store_size_mib(engine, store, cfg.store, baseline)
    rewired = 0
    for version in range(2, cfg.versions + 1):
        rewired = rewrite(catalog, version, cfg.seed)
        seconds = sync_version(store, catalog, version)
        times.append(seconds)
        print(f"   version {version}/{cfg.versions} synced in {seconds:.1f} s", file=sys.stderr)
    later = times[1:]
    cfg.results.append(
        Measure(
            n,
            f"sync versions 2..{cfg.versions}, each",
            statistics.fmean(later),
            "s",
            note=f"{count:,} updated per sync, {rewired:,} of them with a new owner and dependency; "
            f"min {min(later):.2f}, max {max(later):.2f}",
        )
    )
    last_size = store_size_mib(engine, store, cfg.store, baseline)
    total = check_versions(store, count, cfg.versions)
    if first_size is None or last_size is None:
        return
    growth = (last_size[0] - first_size[0]) / (cfg.versions - 1)
    cfg.results += [
        Measure(n, "store size after version 1", first_size[0], "MiB", note=first_size[1]),
        Measure(
            n,
            f"store size after version {cfg.versions}",
            last_size[0],
            "MiB",
            note=f"{total:,} entity versions; {last_size[1]}",
        ),
        Measure(n, "storage growth per version", growth, "MiB", note=f"every one of {count:,} entities changed"),
        Measure(n, "storage per entity version", growth * 2**20 / count, "bytes", note="incl. its edges"),
    ]


# ---------------------------------------------------------------------------------------------------------
# Queries


def _entity(data: dict) -> dict:
    if not data.get("entity"):
        raise BenchError(f"entity not found: {data!r}")
    return data["entity"]


def _nonempty(items: object, what: str) -> int:
    if not isinstance(items, list) or not items:
        raise BenchError(f"empty result: {what} is {items!r}")
    return len(items)


def _connection_size(data: dict) -> int:
    if not data["entities"]["totalCount"]:
        raise BenchError(f"empty result: totalCount is {data['entities']['totalCount']!r}")
    return _nonempty(data["entities"]["edges"], "entities.edges")


def twin_queries(summary: CatalogSummary) -> list[QuerySpec]:
    """The five queries of run_bench.py, each taking `$at` (null: the present; an instant: `asOf`)."""
    return [
        QuerySpec(
            "a",
            "entity by ref",
            "query($ref: String!, $at: DateTime) { entity(ref: $ref, asOf: $at) { ref kind name title } }",
            [{"ref": r} for r in summary.sample_refs],
            lambda d: len([_entity(d)["ref"]]),
        ),
        QuerySpec(
            "b",
            "entities by owner",
            "query($owner: String!, $at: DateTime) { entities(filter: {owner: $owner}, first: 50, asOf: $at) "
            "{ totalCount edges { node { ref name } } } }",
            [{"owner": o} for o in summary.owner_refs],
            _connection_size,
        ),
        QuerySpec(
            "c",
            "kind+type filter, first 100",
            'query($at: DateTime) { entities(filter: {kind: "component", type: "service"}, first: 100, asOf: $at) '
            "{ totalCount edges { node { ref } } } }",
            [{}],
            _connection_size,
        ),
        QuerySpec(
            "d",
            "relations of one entity",
            "query($ref: String!, $at: DateTime) { entity(ref: $ref, asOf: $at) { relations { type targetRef } } }",
            [{"ref": r} for r in summary.relation_refs],
            lambda d: _nonempty(_entity(d)["relations"], "relations"),
        ),
        QuerySpec(
            "e",
            "dependencies depth 6 from a hub",
            "query($ref: String!, $at: DateTime) { entity(ref: $ref, asOf: $at) { dependencies(depth: 6) { ref } } }",
            [{"ref": r} for r in summary.hub_refs],
            lambda d: _nonempty(_entity(d)["dependencies"], "dependencies"),
        ),
    ]


CHANGES_FIELDS = (
    "edges { node { type at entityRef relationType targetRef changes { path before after } } } pageInfo { hasNextPage }"
)


def change_queries(versions: int) -> list[QuerySpec]:
    """The change feed over one day holding a sync (cycling over the days of versions 2..V), first 100."""
    days = [{"since": iso_at(v), "until": iso_at(v + 1)} for v in range(2, versions + 1)]
    size = _nonempty_changes
    return [
        QuerySpec(
            "f",
            "changes over one day, first 100",
            f"query($since: DateTime!, $until: DateTime) {{ changes(since: $since, until: $until, first: 100) "
            f"{{ {CHANGES_FIELDS} }} }}",
            days,
            size,
        ),
        QuerySpec(
            "g",
            "changes over one day, components, first 100",
            "query($since: DateTime!, $until: DateTime) { changes(since: $since, until: $until, first: 100, "
            f'filter: {{kind: "component"}}) {{ {CHANGES_FIELDS} }} }}',
            days,
            size,
        ),
    ]


def _nonempty_changes(data: dict) -> int:
    return _nonempty(data["changes"]["edges"], "changes.edges")


class InProcess:
    """Queries through the real schema in this process, with a fresh request context each, as the app does."""

    def __init__(self, service: CatalogService) -> None:
        self.service = service
        self.runner = asyncio.Runner()

    def __call__(self, spec: QuerySpec, variables: dict[str, Any]) -> tuple[float, int]:
        where = f"query {spec.key} ({spec.label}) with {variables}"
        started = time.perf_counter()
        result = self.runner.run(
            schema.execute(spec.query, variable_values=variables, context_value=Context(service=self.service))
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        if result.errors:
            raise BenchError(f"{where}: GraphQL errors: {[str(e) for e in result.errors][:3]}")
        try:
            return elapsed_ms, spec.size(result.data or {})
        except (KeyError, TypeError, BenchError) as exc:
            raise BenchError(f"{where}: unusable answer ({exc!r}): {json.dumps(result.data)[:500]}") from exc

    def close(self) -> None:
        self.runner.close()


@dataclass
class Samples:
    timings: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def add(self, ms: float, size: int) -> None:
        self.timings.append(ms)
        self.sizes.append(size)

    def p50(self) -> float:
        return statistics.median(self.timings)

    def p99(self) -> float:
        return percentile(sorted(self.timings), 0.99)

    def measure(self, entities: int, name: str, note: str) -> Measure:
        lo, hi = min(self.sizes), max(self.sizes)
        results = f"{lo}" if lo == hi else f"{lo}-{hi}"
        return Measure(
            entities,
            name,
            self.p50(),
            "ms",
            p99=self.p99(),
            mean=statistics.fmean(self.timings),
            note=f"{note}{len(self.timings)} req; results per answer: {results}",
        )


def measure_twins(execute: Execute, spec: QuerySpec, at: str, requests: int, warmup: int) -> tuple[Samples, Samples]:
    """Present and asOf requests alternating (which goes first alternates too), cycling over the variables."""
    cycle = itertools.cycle(spec.variables)
    for _ in range(warmup):
        variables = next(cycle)
        execute(spec, variables | {"at": None})
        execute(spec, variables | {"at": at})
    present, past = Samples(), Samples()
    for i in range(requests):
        variables = next(cycle)
        pair = [(present, None), (past, at)]
        for samples, instant in pair if i % 2 == 0 else reversed(pair):
            samples.add(*execute(spec, variables | {"at": instant}))
    return present, past


def measure_plain(execute: Execute, spec: QuerySpec, requests: int, warmup: int) -> Samples:
    cycle = itertools.cycle(spec.variables)
    for _ in range(warmup):
        execute(spec, next(cycle))
    samples = Samples()
    for _ in range(requests):
        samples.add(*execute(spec, next(cycle)))
    return samples


def ratio_measure(entities: int, prefix: str, present: Samples, past: Samples) -> Measure:
    ratio = past.p50() / present.p50()
    verdict = "within" if ratio <= RATIO_BOUND else "OVER"
    return Measure(
        entities,
        f"{prefix}: asOf / present",
        ratio,
        "x",
        p99=past.p99() / present.p99(),
        note=f"p50 {verdict} the {RATIO_BOUND}x bound; p99 column: ratio of the p99s",
    )


def bench_queries(cfg: Config, execute: Execute, transport: str, summary: CatalogSummary) -> None:
    """The twins at the middle of the history, then the change feed, over one transport."""
    middle = max(1, cfg.versions // 2)
    at = iso_at(middle, hour=12)
    n = cfg.entities
    for spec in twin_queries(summary):
        present, past = measure_twins(execute, spec, at, cfg.requests, cfg.warmup)
        prefix = f"{transport} {spec.key}: {spec.label}"
        cfg.results.append(present.measure(n, f"{prefix}, present", f"{len(spec.variables)} variable sets; "))
        cfg.results.append(past.measure(n, f"{prefix}, asOf", f"at {at}, between versions {middle} and {middle + 1}; "))
        cfg.results.append(ratio_measure(n, f"{transport} {spec.key}", present, past))
    for spec in change_queries(cfg.versions):
        samples = measure_plain(execute, spec, cfg.requests, cfg.warmup)
        note = f"{len(spec.variables)} days, each holding one sync; "
        cfg.results.append(samples.measure(n, f"{transport} {spec.key}: {spec.label}", note))


def bench_http(cfg: Config, engine: Engine, summary: CatalogSummary) -> None:
    """The same queries against `catalog serve` on 127.0.0.1 (the store must be closed in this process)."""
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    cmd = [str(cfg.cli), "serve", *engine.store_args(cfg.store), "--host", HOST, "--port", str(port)]
    log = cfg.out / "logs" / f"time-travel-serve-{engine.name}-{cfg.entities}.log"
    with running_server(cmd, base_url, log, cfg.ready_timeout, engine.env()):
        with httpx.Client(base_url=base_url, timeout=cfg.request_timeout, trust_env=False) as client:
            bench_queries(cfg, partial(post_query, client), "HTTP", summary)


# ---------------------------------------------------------------------------------------------------------
# The run


def prepare_store(engine: Engine, store: Path) -> None:
    """Start from an empty store: an empty store directory (a non-empty directory that is not a store is
    refused, not deleted), or the Neo4j database emptied."""
    if engine.neo4j is not None:
        deleted = empty_neo4j(engine.neo4j)
        print(f"== emptied the Neo4j database {engine.neo4j.neo4j_database}: {deleted:,} nodes", file=sys.stderr)
        return
    if store.exists() and any(store.iterdir()) and not (store / DATABASE_FILE).exists():
        raise BenchError(f"{store} is not empty and holds no {DATABASE_FILE}; pass an empty or new --store")
    remove_store(store)
    store.parent.mkdir(parents=True, exist_ok=True)


def parse_catalog(cfg: Config, summary: CatalogSummary) -> Catalog:
    started = time.perf_counter()
    catalog = load_catalog(Path(summary.root).parent)
    cfg.results.append(
        Measure(
            cfg.entities,
            "parse YAML once",
            time.perf_counter() - started,
            "s",
            note=f"{len(catalog.documents):,} documents, CSafeLoader; not part of the syncs",
        )
    )
    return catalog


def run(cfg: Config) -> None:
    """Each engine in turn; every measure is tagged with its engine, those of a failed run too."""
    for engine in cfg.engines:
        first = len(cfg.results)
        try:
            run_engine(cfg, engine)
        finally:
            for measure in cfg.results[first:]:
                measure.backend = engine.name


def run_engine(cfg: Config, engine: Engine) -> None:
    n = cfg.entities
    started = time.perf_counter()
    summary = generate(n, cfg.out / f"time-travel-catalog-{n}", seed=cfg.seed)
    cfg.results.append(
        Measure(n, "generate catalog", time.perf_counter() - started, "s", note=f"{len(summary.files)} files; context")
    )
    settings = engine.settings(cfg.store)
    where = cfg.store if engine.neo4j is None else f"the Neo4j database at {settings.neo4j_uri}"
    catalog = None if cfg.reuse_store else parse_catalog(cfg, summary)
    if catalog is not None:
        prepare_store(engine, cfg.store)
    service = CatalogService(open_store(settings), settings)
    try:
        if catalog is None:  # the root Location is an entity too
            total = check_versions(service.store, summary.entities + 1, cfg.versions)
            print(f"== {engine.name}: reusing {where}: {total:,} entity versions", file=sys.stderr)
        else:
            print(f"== {engine.name}: history, {n:,} entities x {cfg.versions} versions", file=sys.stderr)
            build_history(cfg, engine, service.store, catalog)
        print(f"== {engine.name}: queries in process", file=sys.stderr)
        execute = InProcess(service)
        try:
            bench_queries(cfg, execute, "in-process", summary)
        finally:
            execute.close()
    finally:
        service.close()
    if cfg.http:
        print(f"== {engine.name}: queries over HTTP", file=sys.stderr)
        bench_http(cfg, engine, summary)


# ---------------------------------------------------------------------------------------------------------
# Output and CLI


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def write_json(cfg: Config, path: Path) -> None:
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "commit": _git_commit(),
        "config": {
            "entities": cfg.entities,
            "versions": cfg.versions,
            "requests": cfg.requests,
            "warmup": cfg.warmup,
            "seed": cfg.seed,
            "http": cfg.http,
            "engines": [engine_report(e) for e in cfg.engines],
        },
        "sync_seconds": cfg.sync_seconds,
        "results": [asdict(m) for m in cfg.results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=10_000, help="catalog size (at least 100)")
    parser.add_argument("--versions", type=int, default=10, help="syncs, one a day; every entity changes in each")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per query (and per twin)")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="untimed requests per query first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="catalog and logs (default bench/out)")
    parser.add_argument("--store", type=Path, help="store directory, emptied first (default OUT/stores/time-travel-N)")
    parser.add_argument(
        "--reuse-store",
        action="store_true",
        help="measure the queries against the history a previous run left in --store (checked, not rebuilt)",
    )
    parser.add_argument("--http", action="store_true", help="also measure the queries over HTTP (catalog serve)")
    parser.add_argument("--cli", type=Path, default=DEFAULT_CLI, help="the `catalog` executable, for --http")
    parser.add_argument("--json", type=Path, help="also write the results here")
    add_engine_arguments(parser)
    args = parser.parse_args(argv)
    if args.entities < 100 or args.versions < 2:
        parser.error("--entities must be >= 100 and --versions >= 2")
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be >= 1 and --warmup >= 0")
    out = args.out.resolve()
    return Config(
        entities=args.entities,
        versions=args.versions,
        requests=args.requests,
        warmup=args.warmup,
        seed=args.seed,
        out=out,
        store=(args.store or out / "stores" / f"time-travel-{args.entities}").resolve(),
        http=args.http,
        cli=args.cli.resolve(),
        json_path=args.json,
        reuse_store=args.reuse_store,
        backends=list(dict.fromkeys(args.backend or ["sqlite"])),
        neo4j_data=args.neo4j_data,
        neo4j_pid=args.neo4j_pid,
    )


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if cfg.http and not os.access(cfg.cli, os.X_OK):
        print(f"error: no `catalog` executable at {cfg.cli}; run `pip install -e .` or pass --cli", file=sys.stderr)
        return 2
    try:
        cfg.engines = make_engines(cfg.backends, cfg.neo4j_data, cfg.neo4j_pid)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        run(cfg)
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
