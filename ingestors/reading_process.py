"""Reading sources in a process of their own, the documents sent back a chunk at a time while the sync runs.

Why another process: reading parses YAML, which is Python holding the interpreter; in the serving process it
made every query wait (measured: point queries' p50 went from 8 ms to 180 ms during back-to-back syncs of 1% of
10k entities). Why chunks: a large catalog's parsed documents do not fit in memory at once, in either process.
Each document may be prepared there too (`prepare`: the sync's `graphsvc.sync.prepare_document`, what can be
made of a document alone), so that on two cores reading and preparing run beside the sync's writing.
The reading process streams the read (`stream_source`) into a pipe, CHUNK_DOCUMENTS documents per message, at
most AHEAD_CHUNKS messages ahead of the sync: a reader faster than the sync waits for it. What the sync reads
while the documents come (`ReadResult.read_order`, `unchanged_locations`) travels with each chunk, the rest of
the `ReadResult` with the last message.

One read at a time (the service's single writer asks). A read the sync stops early (it failed) is stopped in
the reading process too, and the messages it left are discarded; a reading process that dies (killed, out of
memory) is replaced by a new one for the next read.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from ingestors.documents import CatalogDocument, DocumentStream, ReadResult
from ingestors.filesystems import SourceUnavailableError
from ingestors.locations import ReadProgress
from ingestors.read import stream_source

Prepare = Callable[[CatalogDocument], CatalogDocument]
"""What the reading process makes of each document before it sends it (the sync's `prepare_document`)."""

CHUNK_DOCUMENTS = 500
"""Documents per message."""
AHEAD_CHUNKS = 64
"""Messages the reading process may have ready before the sync takes them (about 32,000 documents, some
150 MiB pickled): enough to go on reading while the sync writes a batch, bounded so that a reader faster than
the sync waits for it."""
POLL_SECONDS = 0.5
"""How often a wait for the reading process looks whether it is still alive."""
QUIET_POLLS = 20
"""Polls after the reading process finished a read without its last message arriving: then it is lost."""


@dataclass
class _Message:
    """What the reading process sends: the read's start, documents and what the read found as it read them,
    or its end."""

    read: int
    """Which read it belongs to: messages of an earlier read stopped early are discarded."""
    documents: list[CatalogDocument] = field(default_factory=list)
    read_order: list[str] = field(default_factory=list)
    """Files read since the previous message, in order."""
    unchanged: list[str] = field(default_factory=list)
    """Those of them skipped as unchanged."""
    commit_sha: str | None = None
    """With the first message: the commit read (git sources), which the sync records from its start."""
    progress: tuple[int, int, int] | None = None
    """The read's progress when the message was sent: (files read, files known, documents read)."""
    end: ReadResult | None = None
    """The rest of the read, with its last message (its documents empty)."""
    unavailable: str | None = None
    """The source could not be read at all (`SourceUnavailableError`), sent instead of any document."""
    failed: str | None = None
    """The read stopped on another error (a bug): its type and message."""


_channel: tuple[Connection, Any] | None = None
"""In the reading process: (the sending end of the pipe, the stop event), given when the process starts."""


def _start(sender: Connection, stop: Any) -> None:
    global _channel
    _channel = (sender, stop)
    threading.Thread(target=_end_with_the_service, name="reading-watchdog", daemon=True).start()


def _end_with_the_service() -> None:
    """A service killed outright (`kill -9`) cannot stop its reading process: the process ends itself once
    the service's process is gone, rather than read on, or wait, for no one."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)


def _read_into_pipe(read: int, target: str, options: dict[str, Any], prepare: Prepare | None) -> None:
    """In the reading process: stream one read of `target` into the pipe, until its end or the stop event."""
    assert _channel is not None
    sender, stop = _channel
    progress = _LastProgress()
    with _Outbox(sender) as outbox:
        try:
            result = stream_source(target, progress=progress, **options)
        except SourceUnavailableError as error:
            outbox.send(_Message(read, unavailable=str(error)))
            return
        except Exception as error:  # noqa: BLE001 - told to the service, which fails the sync
            outbox.send(_Message(read, failed=f"{type(error).__name__}: {error}"))
            return
        try:
            outbox.send(_Message(read, commit_sha=result.commit_sha, progress=progress.last))
            _send(read, result, outbox, stop, prepare, progress)
        except Exception as error:  # noqa: BLE001
            outbox.send(_Message(read, failed=f"{type(error).__name__}: {error}"))
        finally:
            result.close()


class _Outbox:
    """Messages on their way to the pipe, pickled, at most AHEAD_CHUNKS of them, sent by a thread of their
    own: the read goes on while the sync writes a batch and takes nothing from the pipe. When the pipe breaks
    (the service is gone), sending raises instead of waiting for ever."""

    def __init__(self, sender: Connection) -> None:
        self._sender = sender
        self._queue: queue.Queue[bytes | None] = queue.Queue(AHEAD_CHUNKS)
        self._broken: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="reading-outbox", daemon=True)

    def __enter__(self) -> _Outbox:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self._put(None)
        except OSError:
            return
        self._thread.join()

    def send(self, message: _Message) -> None:
        self._put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def _put(self, data: bytes | None) -> None:
        while True:
            if self._broken is not None:
                raise self._broken
            try:
                self._queue.put(data, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            while (data := self._queue.get()) is not None:
                self._sender.send_bytes(data)
        except OSError as error:  # the other end is closed: the service stopped
            self._broken = error


class _LastProgress:
    """A read's progress as last told (`ReadProgress`), sent with each message."""

    def __init__(self) -> None:
        self.last: tuple[int, int, int] | None = None

    def __call__(self, files_read: int, files_known: int, documents: int) -> None:
        self.last = (files_read, files_known, documents)


def _send(
    read: int, result: ReadResult, outbox: _Outbox, stop: Any, prepare: Prepare | None, progress: _LastProgress
) -> None:
    sent = 0
    documents = iter(result.documents)
    while chunk := list(itertools.islice(documents, CHUNK_DOCUMENTS)):
        if stop.is_set():
            return
        files = result.read_order[sent:]
        sent += len(files)
        unchanged = [location for location in files if location in result.unchanged_locations]
        if prepare is not None:
            chunk = [prepare(document) for document in chunk]
        outbox.send(_Message(read, chunk, files, unchanged, progress=progress.last))
    rest = replace(result, documents=[])
    outbox.send(_Message(read, read_order=result.read_order[sent:], end=rest, progress=progress.last))


class ReadingProcess:
    """A process that reads sources for the service, one read at a time, streaming their documents back."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._reads = itertools.count(1)
        self._open()

    def _open(self) -> None:
        self._receiver, self._sender = self._context.Pipe(duplex=False)
        self._stop = self._context.Event()
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=self._context, initializer=_start, initargs=(self._sender, self._stop)
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._close_pipe()

    def _close_pipe(self) -> None:
        self._receiver.close()
        self._sender.close()  # kept open here until now: the process is started at its first read, with a copy

    def stream(
        self,
        target: str,
        options: dict[str, Any],
        *,
        prepare: Prepare | None = None,
        progress: ReadProgress | None = None,
    ) -> ReadResult:
        """`stream_source(target, **options)` in the reading process: a read that cannot happen at all
        raises `SourceUnavailableError` here, before any document is handed out. `prepare` (picklable) is
        applied to each document there, before it is sent: what can be made of a document alone is made beside
        the sync rather than in its way. `progress` is told as the messages come."""
        read = next(self._reads)
        self._stop.clear()
        future = self._pool.submit(_read_into_pipe, read, target, options, prepare)
        first = self._next(read, future, target, progress)
        if first.unavailable is not None:
            raise SourceUnavailableError(first.unavailable)
        if first.failed is not None:
            raise SourceUnavailableError(f"reading {target} failed: {first.failed}")
        result = ReadResult(source=target, commit_sha=first.commit_sha)
        documents = self._documents(read, future, target, result, progress)
        result.documents = DocumentStream(documents, release=lambda: self._stop_read(future))
        return result

    def _documents(
        self, read: int, future: Future[None], target: str, result: ReadResult, progress: ReadProgress | None
    ) -> Iterator[CatalogDocument]:
        while True:
            message = self._next(read, future, target, progress)
            if message.failed is not None:
                raise SourceUnavailableError(f"reading {target} failed: {message.failed}")
            result.read_order.extend(message.read_order)
            result.unchanged_locations.update(message.unchanged)
            if message.end is not None:
                _finish(result, message.end)
                return
            yield from message.documents

    def _next(self, read: int, future: Future[None], target: str, progress: ReadProgress | None) -> _Message:
        """The next message of this read; those of earlier reads are dropped."""
        quiet = 0
        while True:
            if self._receiver.poll(POLL_SECONDS):
                message: _Message = self._receiver.recv()
                if message.read != read:
                    continue
                if progress is not None and message.progress is not None:
                    progress(*message.progress)
                return message
            if not future.done():
                continue
            quiet += 1
            if future.exception() is not None or quiet > QUIET_POLLS:
                if isinstance(future.exception(), BrokenProcessPool):  # a new process for the next read
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._close_pipe()
                    self._open()
                raise SourceUnavailableError(f"the process reading {target} stopped before it finished")

    def _stop_read(self, future: Future[None]) -> None:
        """End a read (done, or given up by the sync): the reading process stops before its next message,
        and what it still sends is taken off the pipe (it would wait on it otherwise) and discarded."""
        self._stop.set()
        while not future.done():
            if self._receiver.poll(POLL_SECONDS):
                self._receiver.recv()
        while self._receiver.poll(0):
            self._receiver.recv()


def _finish(result: ReadResult, end: ReadResult) -> None:
    """Everything else the read found, from its last message (`read_order` and the unchanged files came
    with the chunks)."""
    result.source = end.source
    result.errors = end.errors
    result.incomplete_locations = end.incomplete_locations
    result.files_read = end.files_read
    result.file_digests = end.file_digests
    result.unchanged_locations = end.unchanged_locations
