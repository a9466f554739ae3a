"""The embedded default: SQLite (Python's standard library) in one file of the store directory.

Why SQLite: WAL mode gives every reader one consistent snapshot while the single writer commits, and a
committed transaction survives `kill -9` of the process (../shared/docs/sqlite-store.md). The rules kept here:

- One writer connection, behind a lock; a write transaction starts with `BEGIN IMMEDIATE` and holds the
  whole of what it writes (a sync: versions, edges, events, errors, digests, its run record), so a reader
  sees the catalog before it or after it, never between. Reads made on the writing thread while its
  transaction is open go to the writer connection, so the sync reads what it has written so far.
- Readers use connections of their own (one per thread, or one per `snapshot()`), in autocommit mode: a
  plain `read` is one statement and so one snapshot; `snapshot()` holds one read transaction open, so every
  read of a GraphQL request sees the same state. A snapshot begun inside `stop_reads_at(deadline)` stops
  reading then: its running statement is interrupted (`_Interrupter`), later reads are refused.
- Foreign keys on (deferred to commit), a busy timeout, `synchronous=NORMAL` (durable against a process
  crash; a power loss may lose the last commits but never corrupts the file).
- One process owns the store directory (an exclusive `flock`), so that a sync run still `running` when the
  store is opened can only be one whose process died: `GraphStore` marks it `interrupted`.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

from graphsvc.store.backend import Insert, Operation
from graphsvc.store.errors import StoreError, StoreLockedError, StoreUnavailableError
from graphsvc.store.sql import (
    COUNT_COMMIT,
    READ_COMMIT,
    SqlStatements,
    insert_columns,
    insert_statement,
    schema_statements,
    tag_rows,
)

DATABASE_FILE = "catalog.sqlite"
LOCK_FILE = "store.lock"
OWNER_FILE = "owner.json"
LADYBUG_FILE = "catalog.lbdb"
BUSY_TIMEOUT_MS = 30_000
PAGE_SIZE = 8192
"""Twice SQLite's default: shallower B-trees; measured 15% less store time in a first 10k-entity sync."""
CACHE_KIB = 256 * 1024
"""Page cache per connection (SQLite shares nothing between connections); 256 MiB holds a 100k-entity store."""
WRITER_CACHE_KIB = 1024 * 1024
"""The writer's page cache. A sync is one transaction, and a first sync of a large catalog inserts into every
index of a store larger than any cache: each insertion into a page the cache no longer holds reads it again
(and writes it to the log again). Bounded, whatever the catalog's size: SQLite spills beyond it."""


class SqliteBackend:
    statements = SqlStatements()
    batched_key_lookups = True
    """`json_each(:refs) JOIN entity ON ref = value` is one primary-key probe per ref."""
    exclusive = True
    """One process owns the store, so a sync run left `running` is one whose process died."""
    name = "sqlite"

    def __init__(self, store_dir: str | Path, *, read_only: bool = False) -> None:
        """`read_only`: a reader beside the process that owns the store (a worker process of its service):
        no lock taken, no writer connection, every connection opened read-only."""
        self.store_dir = Path(store_dir)
        self._closed = False
        self._read_only = read_only
        if not read_only:
            self.store_dir.mkdir(parents=True, exist_ok=True)
        if (self.store_dir / LADYBUG_FILE).exists():
            raise StoreError(
                f"the store {self.store_dir} was written by LadybugDB, the embedded engine of earlier versions of "
                "catalog-graph; this version keeps its store in SQLite and cannot read it. Ingest your sources "
                "again into a new store (--store DIR, or remove this directory)."
            )
        self.path = self.store_dir / DATABASE_FILE
        self._lock_file = None if read_only else self._take_lock()
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._idle: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._interrupter = _Interrupter()
        self._counts_commits = False
        """Whether write transactions count themselves in `store_commit` (once the schema holds it)."""
        if read_only:
            return
        self._writer = self._connect()
        self._writer.execute(f"PRAGMA page_size={PAGE_SIZE}")  # only a new database file takes it
        self._writer.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
        self._writer.execute("PRAGMA journal_mode=WAL")

    def _take_lock(self) -> Any:
        handle = open(self.store_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held for the backend's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreLockedError(_locked_message(self.store_dir)) from None
        return handle

    def _connect(self) -> sqlite3.Connection:
        if self._closed:  # its lock is released: another process may own the store now
            raise StoreUnavailableError(f"the store {self.store_dir} is closed")
        try:
            target, uri = (f"file:{self.path}?mode=ro", True) if self._read_only else (str(self.path), False)
            connection = sqlite3.connect(
                target, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000, uri=uri
            )
            for pragma in (
                f"busy_timeout={BUSY_TIMEOUT_MS}",
                "synchronous=NORMAL",
                "foreign_keys=ON",
                f"cache_size=-{CACHE_KIB}",
                "temp_store=MEMORY",
            ):
                connection.execute(f"PRAGMA {pragma}")
        except sqlite3.Error as error:
            raise StoreError(f"could not open the store {self.path}: {error}") from error
        with self._pool_lock:
            self._connections.append(connection)
        return connection

    # --- reads ---------------------------------------------------------------------------------------------

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """One statement on this thread's open write transaction if there is one, else on its reader."""
        connection = getattr(self._local, "transaction", None) or self._reader()
        return _run(connection, query, parameters)

    def _reader(self) -> sqlite3.Connection:
        connection = getattr(self._local, "reader", None)
        if connection is None:
            connection = self._local.reader = self._connect()
        return connection

    @contextmanager
    def stop_reads_at(self, deadline: float) -> Iterator[None]:
        """Snapshots begun on this thread inside the block stop reading at `deadline` (`time.monotonic()`):
        how a GraphQL query's time limit stops its work in the store."""
        self._local.deadline = deadline
        try:
            yield
        finally:
            self._local.deadline = None

    @contextmanager
    def snapshot(self) -> Iterator[SqliteBackend | SnapshotBackend]:
        """A read transaction: every read through the yielded backend sees the same committed state. On a
        thread inside its write transaction, that transaction is the snapshot (it reads its own writes)."""
        if getattr(self._local, "transaction", None) is not None:
            yield self
            return
        with self._pool_lock:
            connection = self._idle.pop() if self._idle else None
        connection = connection or self._connect()
        connection.execute("BEGIN")
        # The snapshot is taken at a first read: of the commit counter when there is one (the number of the
        # commit it reads, for `commit_number`, in the same statement).
        first = READ_COMMIT if self._counts_commits else "SELECT NULL FROM store_meta LIMIT 1"
        rows = connection.execute(first).fetchall()
        commit: int | None | object = rows[0][0] if self._counts_commits and rows else _UNREAD
        deadline = getattr(self._local, "deadline", None) or math.inf
        watch = self._interrupter.watch(connection, deadline) if deadline < math.inf else None
        try:
            yield SnapshotBackend(self, connection, deadline, commit)
        finally:
            if watch is not None:
                self._interrupter.cancel(watch)  # before COMMIT: the connection may serve another snapshot next
            if connection.in_transaction:
                connection.execute("COMMIT")
            with self._pool_lock:
                self._idle.append(connection)

    # --- writes --------------------------------------------------------------------------------------------

    def disturbed(self) -> bool:
        """Never: each statement reads one snapshot, and `snapshot()` one for many."""
        return False

    @contextmanager
    def transaction(self, label: str | None = None) -> Iterator[None]:
        """One write transaction for everything written (and read) on this thread inside the block. Nested
        blocks join the outer one; the outermost commits, or rolls back on any exception. (`label` names the
        transaction for engines shared by several processes; one process owns this one.)"""
        if getattr(self._local, "transaction", None) is not None:
            yield
            return
        with self._write_lock:
            connection = self._writer
            connection.execute("BEGIN IMMEDIATE")
            self._local.transaction = connection
            changes = connection.total_changes
            try:
                yield
                if self._counts_commits and connection.total_changes != changes:
                    connection.execute(COUNT_COMMIT)
                connection.execute("COMMIT")
            except BaseException as error:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise StoreError(f"the write was rolled back: {error}") from error
                raise
            finally:
                self._local.transaction = None

    def write(self, operations: Sequence[Operation]) -> None:
        with self.transaction():
            connection = self._local.transaction
            for operation in operations:
                if isinstance(operation, Insert):
                    _insert(connection, operation)
                else:
                    _execute(connection, *operation)

    def write_schema(self, statements: Sequence[str]) -> None:
        with self.transaction():
            for statement in statements:
                self._writer.execute(statement)
        found = self._writer.execute("SELECT 1 FROM sqlite_master WHERE name = 'store_commit'").fetchall()
        self._counts_commits = bool(found)

    def commit_number(self) -> int | None:
        """None: outside a snapshot (a write transaction's reads, or single statements) no one state is read."""
        return None

    def checkpoint(self) -> None:
        with self._write_lock:
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def schema_statements(self) -> list[str]:
        return schema_statements()

    def close(self) -> None:
        self._interrupter.close()
        with self._pool_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
            self._idle.clear()
        self._local = threading.local()
        self._closed = True
        if self._lock_file is not None:
            self._lock_file.close()

    # --- which process owns the store --------------------------------------------------------------------

    def claim_ownership(self, url: str | None) -> None:
        """Tell other processes who holds the store, so their error can name the service to use instead."""
        owner = {"pid": os.getpid(), "url": url, "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (self.store_dir / OWNER_FILE).write_text(json.dumps(owner))

    def release_ownership(self) -> None:
        (self.store_dir / OWNER_FILE).unlink(missing_ok=True)


_UNREAD = object()


class SnapshotBackend:
    """The backend as one read transaction sees it: reads on its connection, everything else as the store's."""

    def __init__(
        self,
        parent: SqliteBackend,
        connection: sqlite3.Connection,
        deadline: float = math.inf,
        commit: int | None | object = _UNREAD,
    ) -> None:
        self._parent = parent
        self._connection = connection
        self._deadline = deadline
        self._lock = threading.Lock()  # a request's resolvers may read from several threads
        self._commit = commit
        """The commit number, read as the snapshot began; `_UNREAD` until `commit_number` reads it."""

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        if time.monotonic() > self._deadline:
            raise StoreError("store read refused: the snapshot's deadline has passed")
        with self._lock:
            return _run(self._connection, query, parameters)

    def commit_number(self) -> int | None:
        """The number of the commit this snapshot reads (`sql.COMMIT_COUNTER_DDL`), read once, inside it (by
        the statement that began it, on a store that counts its commits); None for a store without the counter."""
        if self._commit is _UNREAD:
            try:
                rows = self.read(READ_COMMIT)
            except StoreError:
                rows = []
            self._commit = rows[0][0] if rows else None
        return self._commit

    @contextmanager
    def snapshot(self) -> Iterator[SnapshotBackend]:
        yield self  # already one

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parent, name)


class _Interrupter:
    """One thread that interrupts the running statement of each snapshot whose deadline has passed
    (`Connection.interrupt`, the one call SQLite allows from another thread). Not a progress handler: that
    calls back into Python every few thousand instructions, and each callback waits for the GIL, so every
    statement slows down whenever other threads run Python (measured: a statement of 0.56 s took 27 s with a
    handler every 10,000 instructions while one other thread ran Python). The thread sleeps until the earliest
    deadline it knows of and is woken only for an earlier one: snapshots of the same timeout begun later
    never wake it, so a point query costs it a dictionary entry, not a thread switch."""

    def __init__(self) -> None:
        self._watched: dict[int, tuple[float, sqlite3.Connection]] = {}
        self._keys = itertools.count()
        self._changed = threading.Condition()
        self._wakes_at = math.inf
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, connection: sqlite3.Connection, deadline: float) -> int:
        """Interrupt `connection` at `deadline`, unless `cancel` is called first; the key for `cancel`."""
        with self._changed:
            key = next(self._keys)
            self._watched[key] = (deadline, connection)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sqlite-interrupter", daemon=True)
                self._thread.start()
            if deadline < self._wakes_at:
                self._changed.notify()
        return key

    def cancel(self, key: int) -> None:
        """After this, the connection is not interrupted for this snapshot (it may serve another one next)."""
        with self._changed:
            self._watched.pop(key, None)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while not self._closed:
                now = time.monotonic()
                for key, (deadline, connection) in list(self._watched.items()):
                    if deadline <= now:
                        del self._watched[key]
                        connection.interrupt()
                self._wakes_at = min((deadline for deadline, _ in self._watched.values()), default=math.inf)
                self._changed.wait(None if self._wakes_at == math.inf else self._wakes_at - now)


def _value(value: Any) -> Any:
    """SQLite binds scalars only: lists and maps travel as JSON text (read back with `json_each`)."""
    if isinstance(value, list):
        return _json_list(value)
    return json.dumps(value) if isinstance(value, tuple | dict) else value


def _json_list(items: list[Any]) -> str:
    """`json.dumps(items)`, the same text, made without the encoder for what list columns hold: strings that
    need no escaping (tags, annotation entries) or integers (version starts). A sync writes a few per entity,
    and the encoder's set-up for each took a tenth of a large first sync's time in this process."""
    try:
        text = "".join(items)
    except TypeError:  # not all strings
        if all(type(item) is int for item in items):
            return "[" + ", ".join(map(str, items)) + "]"
        return json.dumps(items)
    if not items:
        return "[]"
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return '["' + '", "'.join(items) + '"]'
    return json.dumps(items)


def _bind(parameters: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in parameters.items()}


def _run(connection: sqlite3.Connection, query: str, parameters: dict[str, Any] | None) -> list[tuple[Any, ...]]:
    try:
        return connection.execute(query, _bind(parameters or {})).fetchall()
    except sqlite3.Error as error:
        raise StoreError(f"store read failed: {error}") from error


def _execute(connection: sqlite3.Connection, query: str, parameters: dict[str, Any]) -> None:
    """A statement with `rows` runs once per row, the row's keys (and the other parameters) bound by name."""
    rows = parameters.get("rows")
    if rows is None:
        connection.execute(query, _bind(parameters))
        return
    shared = {k: v for k, v in parameters.items() if k != "rows"}
    connection.executemany(query, (_bind({**shared, **row}) for row in rows))


def _insert(connection: sqlite3.Connection, insert: Insert) -> None:
    statement = insert_statement(insert.table)
    if statement is None:
        return  # the version edge: in SQL the version's `ref` column is that edge
    columns = insert_columns(insert.table)
    absent = dict.fromkeys(columns)  # a row may leave out the columns that are null
    values = itemgetter(*columns)  # one C call per row instead of a lookup per column
    lists = [c.name for c in insert.table.columns if c.is_list]
    if lists:  # only list columns need encoding: the rest bind as they are
        rows = [values(absent | row | {c: _value(row.get(c)) for c in lists}) for row in insert.rows]
    else:
        rows = [values(absent | row) for row in insert.rows]
    connection.executemany(statement, rows)
    tags = tag_rows(insert.table, insert.rows)
    if tags:
        connection.executemany(*tags)


def _locked_message(store_dir: Path) -> str:
    owner_file = store_dir / OWNER_FILE
    holder = "another process"
    hint = "stop it, or send this command through its API with --url"
    try:
        owner = json.loads(owner_file.read_text())
        holder = f"process {owner.get('pid')}"
        if owner.get("url"):
            holder = f"the catalog service at {owner['url']} (pid {owner.get('pid')})"
            hint = f"rerun with --url {owner['url']} to go through it, or stop it first"
    except (OSError, ValueError):
        pass
    return f"the store {store_dir} is in use by {holder}; only one process may open it: {hint}"
