"""The catalog as an application: registered locations, syncs, and the single writer.

Both the CLI and the GraphQL mutations go through `CatalogService`, so a sync means the same thing wherever
it is started. Writes run on one dedicated thread, one sync after another: each sync is one transaction,
and a sync decides what changed from what the store holds, so two at once would each miss the other's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from graphsvc.auth.principal import operator
from graphsvc.auth.tokens import ApiTokens
from graphsvc.config import ConfigError, Settings
from graphsvc.history_replay import CommitProgress, CommitSummary, backfill_history
from graphsvc.store import GraphStore
from graphsvc.sync import Progress, SyncSummary, prepare_document, sync_source
from graphsvc.timestamps import now_micros
from ingestors.documents import ReadResult
from ingestors.locations import ReadProgress
from ingestors.read import SourceUnavailableError, stream_source
from ingestors.reading_policy import ReadingPolicy
from ingestors.reading_process import ReadingProcess

log = logging.getLogger(__name__)
T = TypeVar("T")


SCHEDULER = "service:scheduler"
"""The principal of the syncs the service starts itself (`refresh_interval_s`)."""


class UnknownLocationError(LookupError):
    """A refresh or unregister named a location that is not registered."""


def normalize_target(target: str) -> str:
    """Registered targets are URLs or absolute paths, so one location is not registered twice. An empty one
    is refused: it would resolve to the service's own working directory."""
    target = target.strip()
    if not target:
        raise SourceUnavailableError("the target is empty: name a file, a directory, a URL or a git repository")
    if "\x00" in target:  # no path or URL holds one; Python's path functions raise on it
        raise SourceUnavailableError("the target holds a NUL character: no file, directory or URL is named so")
    if "://" in target or target.startswith(("git+", "git@")):
        return target
    return str(Path(target).expanduser().resolve())


class CatalogService:
    def __init__(self, store: GraphStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        try:
            self.reading_policy = ReadingPolicy.from_settings(settings.reading)
        except ValueError as error:  # a host entry that is none
            raise ConfigError(str(error)) from None
        """What syncs may read (`reading.*` settings); every read of a location is held to it."""
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-writer")
        self.tokens = ApiTokens(lambda: self.store, settings.auth.token_cache_s)
        self._reader: ReadingProcess | None = None

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        if self._reader is not None:
            self._reader.close()
        self.store.close()

    async def run_write(self, work: Callable[[], T]) -> T:
        """Run a write on the writer thread without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, work)

    def write_now(self, work: Callable[[], T]) -> T:
        """Run a write on the writer thread and wait for it (from synchronous code)."""
        return self._writer.submit(work).result()

    # --- operations (call through run_write / write_now) -----------------------------------------------

    def register(
        self,
        target: str,
        *,
        branch: str | None = None,
        glob: str | None = None,
        progress: Progress | None = None,
        read_progress: ReadProgress | None = None,
        principal: str | None = None,
    ) -> SyncSummary:
        """Register a location and sync it. A location that cannot be read at all is not registered (the read
        streams, but has begun when it is registered: what cannot be read at all is known by then).
        `read_progress` is told as files are read (from a reading process, every few hundred documents)."""
        target = normalize_target(target)
        result = self._read(target, branch, glob, read_progress)
        try:
            self.store.register_location(target, now_micros(), branch, glob)
        except BaseException:
            result.close()
            raise
        again = functools.partial(self._read, target, branch, glob, None, result)
        return self._sync(target, result, progress, principal, again)

    def backfill_history(
        self,
        target: str,
        *,
        branch: str | None = None,
        glob: str | None = None,
        progress: CommitProgress | None = None,
        principal: str | None = None,
    ) -> list[CommitSummary]:
        """Replay a git repository's history, one sync per commit at its commit date, and keep the repository
        registered (with the branch replayed) so that `refresh` continues from its head. Incremental: a
        second call replays only the commits made since."""
        return backfill_history(
            self.store,
            normalize_target(target),
            branch=branch,
            glob=glob,
            custom_kinds=self.settings.custom_kinds,
            fetch_timeout=self.settings.fetch_timeout_s,
            progress=progress,
            policy=self.reading_policy,
            principal=principal or operator().name,
        )

    def refresh(self, target: str, progress: Progress | None = None, principal: str | None = None) -> SyncSummary:
        """Re-read a registered location. A git branch whose commits are already in the store is continued
        commit by commit (each at its own date, with its own provenance) rather than jumping to the head,
        so scheduled refreshes keep every commit; the last commit's sync is returned."""
        location = self._registered(normalize_target(target))
        if location.branch and self.store.latest_commit(location.target):
            replayed = self.backfill_history(
                location.target, branch=location.branch, glob=location.glob, principal=principal
            )
            if replayed:
                return replayed[-1]
        result = self._read(location.target, location.branch, location.glob)
        again = functools.partial(self._read, location.target, location.branch, location.glob, None, result)
        return self._sync(location.target, result, progress, principal, again)

    def unregister(self, target: str, principal: str | None = None) -> SyncSummary:
        """Forget a location: its entities are closed (kept in history), the registration is removed."""
        location = self._registered(normalize_target(target))
        summary = self._sync(location.target, ReadResult(source=location.target), principal=principal)
        self.store.unregister_location(location.target)
        return summary

    def refresh_all(self, principal: str = SCHEDULER) -> list[SyncSummary]:
        summaries = []
        for location in self.store.registered_locations():
            try:
                summaries.append(self.refresh(location.target, principal=principal))
            except Exception:  # one broken source must not stop the others; the error is logged
                log.exception("refresh of %s failed", location.target)
        return summaries

    # --- helpers ---------------------------------------------------------------------------------------

    def _registered(self, target: str):  # noqa: ANN202 - RegisteredLocationRecord
        for location in self.store.registered_locations():
            if location.target == target:
                return location
        raise UnknownLocationError(f"no registered location {target!r}; registerLocation it first")

    def _read(
        self,
        target: str,
        branch: str | None,
        glob: str | None,
        progress: ReadProgress | None = None,
        again: ReadResult | None = None,
    ) -> ReadResult:
        """The location's documents as a stream (`stream_source`), read here or in the reading process.
        `again`: a read to do again (a sync run again after a transient abort), at the commit it read."""
        options: dict[str, object] = {
            "branch": branch,
            "timeout": self.settings.fetch_timeout_s,
            "known_digests": self.store.file_digests(target),
            "policy": self.reading_policy,
        }
        if glob:
            options["glob"] = glob
        if again is not None and again.commit_sha is not None:
            options["commit"] = again.commit_sha
        if self._reader is None:
            return stream_source(target, progress=progress, **options)  # type: ignore[arg-type]
        custom_kinds = frozenset(kind.lower() for kind in self.settings.custom_kinds)
        prepare = functools.partial(prepare_document, custom_kinds=custom_kinds)
        return self._reader.stream(target, options, prepare=prepare, progress=progress)

    def read_in_worker_process(self) -> None:
        """Read sources in a process of their own from now on (`catalog serve`; any ingest of a large catalog):
        reading parses YAML, which is Python holding the interpreter, and would make every query wait
        (`ingestors.reading_process`). The documents come back a chunk at a time as the sync takes them, each
        already prepared (`graphsvc.sync.prepare_document`: validated, its row and relations made), so that on
        two cores the reading and preparing runs beside the writing; the sync stays on the writer thread."""
        if self._reader is None:
            self._reader = ReadingProcess()

    def _sync(
        self,
        target: str,
        result: ReadResult,
        progress: Progress | None = None,
        principal: str | None = None,
        reread: Callable[[], ReadResult] | None = None,
    ) -> SyncSummary:
        summary = sync_source(
            self.store,
            result,
            source=target,
            custom_kinds=self.settings.custom_kinds,
            progress=progress,
            principal=principal or operator().name,
            reread=reread,
        )
        log.info("synced %s: %s", target, summary.counts)
        return summary

    def pending_writes(self) -> int:
        """Writes submitted and not started yet (the writer's queue; `/metrics` reports it)."""
        return self._writer._work_queue.qsize()
