"""Readers during repeated syncs, in the service's process and over HTTP.

Both scenarios start from a store holding A (its own catalog directory), then sync B, A, B, ... (the
directory's files swapped between the versions, each file replaced atomically with `os.replace`) while
reader threads ask their probes. Each returns a `ReaderRun` listing what went wrong; the tests assert it is
nothing, and `bench/run_torture.py` prints the counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from graphsvc.service import CatalogService
from graphsvc.store import GraphStore
from tests.torture.catalogs import catalog_root, install
from tests.torture.engines import SQLITE, Engine
from tests.torture.processes import check, ingest, serve
from tests.torture.readers import (
    REFRESH,
    Tally,
    classify,
    graphql,
    graphql_probes,
    run_http_reader,
    run_store_reader,
    store_probes,
)
from tests.torture.references import References
from tests.torture.states import State, present_state

TIME_LIMIT_S = 120.0
"""No new sync starts after this long; the readers stop when the last one is done."""


def alternate(syncs: int) -> list[str]:
    """B, A, B, A, ...: the versions read by the syncs that follow the first ingest of A."""
    return ["B" if i % 2 == 0 else "A" for i in range(syncs)]


@dataclass
class ReaderRun:
    readers: int
    tally: Tally = field(default_factory=Tally)
    synced: list[str] = field(default_factory=list)
    violations: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.readers} readers during {len(self.synced)} syncs ({''.join(self.synced) or '-'}, "
            f"{self.seconds:.1f} s): reader requests {self.tally.requests}, inconsistent answers "
            f"{self.tally.inconsistent}, errors {self.tally.errors}; invariant violations {self.violations}"
        )

    def report(self) -> str:
        return "\n".join([self.line(), self.tally.summary(), *self.problems])

    def finish(self, present: State, references: References, time_limit_s: float) -> None:
        """Check what every run must end with, once its store is quiet."""
        if self.tally.inconsistent or self.tally.errors:
            self.problems.append("readers got answers no committed state gives (see the samples above)")
        if not self.tally.both_seen():
            self.problems.append("no probe was seen answering both A and B: the readers did not overlap the syncs")
        if len(self.synced) < 2:
            self.problems.append(f"only {len(self.synced)} syncs ran within {time_limit_s} s")
        last = self.synced[-1] if self.synced else "A"
        if present != references.present[last]:
            self.problems.append(f"the present state is not that of a clean store of {last}:")
            self.problems += [f"  {line}" for line in present.diff(references.present[last])]


def readers_in_process(
    references: References,
    expected: dict,
    workdir: Path,
    *,
    readers: int,
    syncs: int,
    prepare: Callable[[GraphStore], None] | None = None,
    time_limit_s: float = TIME_LIMIT_S,
    engine: Engine = SQLITE,
) -> ReaderRun:
    """Reader threads call `GraphStore` methods of the service's own store while `CatalogService` syncs.
    `prepare` may change the store before the syncs (the suite's own tests break it on purpose)."""
    run = ReaderRun(readers)
    contents = {"A": references.versions.a, "B": references.versions.b}
    root = catalog_root(workdir / "catalog")
    install(contents["A"], root)
    store_dir = workdir / "store"
    engine.empty(store_dir)
    service = CatalogService(engine.open(store_dir), engine.settings(store_dir))
    store = service.store
    try:
        service.write_now(lambda: service.register(str(root)))
        probes = store_probes(references.versions.probes)
        for name, probe in probes.items():  # before any sync: A's answers, or the probes themselves are wrong
            if classify(probe(store, str(root)), expected[name]) != "A":
                raise AssertionError(f"probe {name!r} does not give A's answer on a store holding A")
        if prepare is not None:
            prepare(store)

        def reader(stop: threading.Event) -> None:
            run_store_reader(store, probes, expected, str(root), run.tally, stop)

        def sync(version: str) -> str | None:
            install(contents[version], root)
            summary = service.write_now(lambda: service.refresh(str(root)))
            return f"the sync of {version} changed nothing: {summary.counts}" if summary.updated == 0 else None

        _sync_while_reading(run, reader, readers, sync, syncs, time_limit_s, settle_s=0.2, join_s=60)
        violations = store.check()
        run.violations = sum(v.count for v in violations)
        run.problems += [f"invariant fails: {v.rule} ({v.count} rows, e.g. {v.samples[:3]})" for v in violations]
        run.finish(present_state(store, root), references, time_limit_s)
    finally:
        service.close()
    return run


def _sync_while_reading(
    run: ReaderRun,
    reader: Callable[[threading.Event], None],
    readers: int,
    sync: Callable[[str], str | None],
    syncs: int,
    time_limit_s: float,
    *,
    settle_s: float,
    join_s: float,
) -> None:
    """Start `readers` threads running `reader` until stopped, sync the alternating versions meanwhile (each
    `sync` says what went wrong, if anything), let the readers see the final state for `settle_s`, stop them."""
    stop = threading.Event()
    threads = [threading.Thread(target=reader, args=(stop,)) for _ in range(readers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        for version in alternate(syncs):
            if time.monotonic() - started > time_limit_s:
                break
            problem = sync(version)
            if problem:
                run.problems.append(problem)
            run.synced.append(version)
        time.sleep(settle_s)  # one more round of reads, of the final state
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=join_s)
    run.seconds = time.monotonic() - started


def readers_over_http(
    references: References,
    expected: dict,
    workdir: Path,
    *,
    readers: int,
    syncs: int,
    time_limit_s: float = TIME_LIMIT_S,
    engine: Engine = SQLITE,
) -> ReaderRun:
    """Client threads send GraphQL queries to a real `catalog serve` while `refresh` mutations sync."""
    run = ReaderRun(readers)
    contents = {"A": references.versions.a, "B": references.versions.b}
    root = catalog_root(workdir / "catalog")
    install(contents["A"], root)
    store = workdir / "store"
    engine.empty(store)
    ingest(root, store, engine.env())
    queries = graphql_probes(references.versions.probes)
    config = workdir / "no-rate-limit.yaml"  # the clients share one address, and ask as fast as they can
    config.write_text("rate_limit_burst: 1000000\n")
    with (
        serve(store, workdir / "serve.log", env=engine.env(), options=["--config", str(config)]) as server,
        httpx.Client(base_url=server.url, timeout=300) as client,
    ):
        for name, (document, variables) in queries.items():
            if classify(graphql(client, document, variables), expected[name]) != "A":
                raise AssertionError(f"query {name!r} does not give A's answer on a store holding A")

        def reader(stop: threading.Event) -> None:
            run_http_reader(server.url, queries, expected, run.tally, stop)

        def sync(version: str) -> str | None:
            install(contents[version], root)
            result = graphql(client, REFRESH, {"source": str(root)})["refresh"]["syncRun"]
            if result["updated"] == 0 or not result["status"].startswith("completed"):
                return f"the refresh to {version} did not complete a change: {result}"
            return None

        _sync_while_reading(run, reader, readers, sync, syncs, time_limit_s, settle_s=0.3, join_s=120)
    if server.process.returncode != 0:
        run.problems.append(f"catalog serve exited {server.process.returncode}:\n{server.log.read_text()[-3000:]}")
    checked = check(store, engine.env())
    if checked.returncode != 0:
        run.violations = checked.stderr.count("FAILED ")
        run.problems.append(f"catalog check exited {checked.returncode}:\n{checked.stderr[-3000:]}")
    graph = engine.open(store)
    try:
        run.finish(present_state(graph, root), references, time_limit_s)
    finally:
        graph.close()
    return run
