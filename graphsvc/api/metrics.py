"""`/metrics` in Prometheus' text format: how the service answers, and what the catalog holds.

Two kinds of figures, in a registry of the app's own (not prometheus_client's global one: a process, a test
say, may hold several apps):
- **Requests**, counted by `RequestMetrics` as they are answered. It is outermost, so refusals (400, 401,
  408, 413, 429) count too. `catalog_http_requests_total{route, operation, status}` and
  `catalog_http_request_duration_seconds{route, operation}`; per process, so sum them over instances.
- **The store's**, read when Prometheus scrapes: entities by kind, the newest sync runs, the store's size.
  Read from the store, not counted in the process, they are right after a restart and the same from every
  instance sharing one Neo4j database (aggregate those with `max`, not `sum`). A store that does not answer
  in `STORE_READ_TIMEOUT_S` does not fail the scrape: `catalog_store_up 0`, and its figures are left out.

Every label value is bounded: `route` is one of the app's routes or "other"; `operation` (the name is the
client's to choose) is one of the first `MAX_OPERATION_NAMES` names seen, "other" past them, "anonymous" for
an operation without a name, "-" for a request that is no GraphQL operation; `source` is a registered
location with a sync among the newest `SYNC_RUN_WINDOW`.

Sync durations are `finished_at - started_at` as recorded. A replayed git commit records its commit's date as
`started_at` (its place in the history), so for it the duration is the time since that commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter as Tally
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphsvc.api.operation_name import STATE_KEY
from graphsvc.api.request_log import NO_RESPONSE
from graphsvc.service import CatalogService
from graphsvc.store.cypher import EntityFilter
from graphsvc.store.records import SyncRunRecord
from graphsvc.store.sqlite_backend import DATABASE_FILE

logger = logging.getLogger(__name__)
MAX_OPERATION_NAMES = 100
SYNC_RUN_WINDOW = 1000
"""The sync runs a scrape reads: the newest this many."""
SYNC_STATUSES = ("running", "completed", "completed_with_errors", "failed", "interrupted")
"""Reported even at 0, so that a rate or an alert on each has a series to look at."""
STORE_READ_TIMEOUT_S = 5.0
"""Below Prometheus' default scrape timeout (10 s); a Neo4j that is down makes its driver retry for 30 s."""


class Metrics:
    """The figures of one app, and its `/metrics` endpoint."""

    def __init__(self, service: CatalogService) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "catalog_http_requests",
            "HTTP requests answered, by route, GraphQL operation and status",
            ["route", "operation", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "catalog_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route and GraphQL operation",
            ["route", "operation"],
            registry=self.registry,
        )
        self.operations = OperationLabels()
        self._reading: asyncio.Future[StoreFigures | None] | None = None

    def observe(self, route: str, state: Mapping[str, object], status: int, seconds: float) -> None:
        operation = self.operations.label(state)
        self.requests.labels(route, operation, str(status)).inc()
        self.durations.labels(route, operation).observe(seconds)

    async def endpoint(self, _: Request) -> Response:
        """GET /metrics: the request figures, then the store's, read now."""
        families = store_families(await self._store_figures(), self.service.pending_writes())
        body = generate_latest(self.registry) + generate_latest(_registry_of(families))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def _store_figures(self) -> StoreFigures | None:
        """The store's figures, or None when it does not answer in time. Scrapes that arrive while a read is
        under way share it, so a store that hangs holds one thread, not one per scrape."""
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(asyncio.to_thread(read_store_figures, self.service))
        try:
            return await asyncio.wait_for(asyncio.shield(self._reading), STORE_READ_TIMEOUT_S)
        except TimeoutError:
            logger.warning("/metrics: the store did not answer in %g s", STORE_READ_TIMEOUT_S)
            return None


class OperationLabels:
    """The `operation` label of a request: its name while fewer than `limit` names have been seen, since a
    client chooses the name and each new one would be a new series."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def label(self, state: Mapping[str, object]) -> str:
        if STATE_KEY not in state:
            return "-"
        name = state[STATE_KEY]
        if not isinstance(name, str):
            return "anonymous"
        if name not in self._seen and len(self._seen) < self.limit:
            self._seen.add(name)
        return name if name in self._seen else "other"


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request, labelled with its route and operation."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: Collection[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = frozenset(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        status = NO_RESPONSE

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            status = 500  # Starlette's ServerErrorMiddleware, outside, answers it
            raise
        finally:
            route = scope["path"] if scope["path"] in self.routes else "other"
            self.metrics.observe(route, state, status, time.perf_counter() - started)


@dataclass(frozen=True)
class StoreFigures:
    kinds: list[tuple[str, int]]
    """(kind, entities of that kind now)."""
    sync_runs: list[SyncRunRecord]
    """The newest `SYNC_RUN_WINDOW`, newest first."""
    size_bytes: int | None
    """The embedded store's files; None on Neo4j, whose size no cheap query tells (it lives on the server)."""


def read_store_figures(service: CatalogService) -> StoreFigures | None:
    """The store's figures, or None when it fails to answer (the cause logged): a scrape still answers."""
    store = service.store
    try:
        return StoreFigures(
            kinds=store.facets("kind", EntityFilter()),
            sync_runs=store.sync_runs(limit=SYNC_RUN_WINDOW),
            size_bytes=_store_bytes(service.settings.store_dir) if service.settings.backend == "sqlite" else None,
        )
    except Exception:  # any failure to read means: the store is down for this scrape
        logger.warning("/metrics: the store did not answer", exc_info=True)
        return None


def _store_bytes(store_dir: Path) -> int:
    """The SQLite database with its write-ahead log and shared-memory index."""
    return sum(path.stat().st_size for path in store_dir.glob(f"{DATABASE_FILE}*") if path.is_file())


def store_families(figures: StoreFigures | None, pending_writes: int) -> list[Metric]:
    writes = GaugeMetricFamily(
        "catalog_writes_pending", "Writes (syncs) waiting for the single writer", value=pending_writes
    )
    up = GaugeMetricFamily(
        "catalog_store_up", "1 when the store answered this scrape's reads, else 0", value=int(figures is not None)
    )
    if figures is None:
        return [writes, up]
    entities = GaugeMetricFamily("catalog_entities", "Entities in the catalog now, by kind", labels=["kind"])
    for kind, count in figures.kinds:
        entities.add_metric([kind], count)
    families = [writes, up, entities, *sync_families(figures.sync_runs)]
    if figures.size_bytes is not None:
        families.append(GaugeMetricFamily("catalog_store_bytes", "The store's files", value=figures.size_bytes))
    return families


def sync_families(runs: list[SyncRunRecord]) -> list[Metric]:
    """Runs by status, and each source's newest finished run: its status, end, duration and errors."""
    statuses = Tally(run.status for run in runs)
    by_status = GaugeMetricFamily(
        "catalog_sync_runs", f"Sync runs among the newest {SYNC_RUN_WINDOW} recorded, by status", labels=["status"]
    )
    for status in sorted({*SYNC_STATUSES, *statuses}):
        by_status.add_metric([status], statuses[status])
    labels = ["source"]
    status = GaugeMetricFamily(
        "catalog_last_sync_status", "1 for the status of each source's newest finished sync", labels=[*labels, "status"]
    )
    finished = GaugeMetricFamily(
        "catalog_last_sync_timestamp_seconds", "When each source's newest finished sync ended", labels=labels
    )
    duration = GaugeMetricFamily(
        "catalog_last_sync_duration_seconds", "How long each source's newest finished sync took", labels=labels
    )
    errors = GaugeMetricFamily(
        "catalog_last_sync_errors", "Errors of each source's newest finished sync", labels=labels
    )
    for run in _newest_finished(runs):
        assert run.finished_at is not None
        status.add_metric([run.source, run.status], 1)
        finished.add_metric([run.source], run.finished_at / 1e6)
        duration.add_metric([run.source], (run.finished_at - run.started_at) / 1e6)
        errors.add_metric([run.source], run.errors or 0)
    return [by_status, status, finished, duration, errors]


def _newest_finished(runs: Iterable[SyncRunRecord]) -> list[SyncRunRecord]:
    newest: dict[str, SyncRunRecord] = {}
    for run in runs:  # newest first
        if run.finished_at is not None:
            newest.setdefault(run.source, run)
    return sorted(newest.values(), key=lambda run: run.source)


class _Families(Collector):
    """A collector of families made already (the store's, read for one scrape)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def _registry_of(families: list[Metric]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return registry
