"""Neo4j over Bolt, for installations that outgrow one machine (clusters, Aura).

A write transaction is an explicit Bolt transaction held for the block (`transaction()`): every statement
of a sync runs in it, and reads made on the writing thread meanwhile run in it too, so they see the writes so
far. Its first statement takes the writer lock (`Statements.take_writer_lock`): the write transactions of
every service sharing the database run one at a time. Other reads use `execute_read` (retried, routable to
followers).

What differs from SQLite, and what is done about it:
- **Consistent reads.** Neo4j's transactions are read-committed, and a commit does not become visible at
  once: a reader can see part of a transaction while it is being applied (measured: an entity's new
  relations without its new version, an owner's page with half its entities moved; even an as-of read was
  caught, through an index of a property the commit was changing). So every write transaction opens a
  *commit gate* just before it commits and closes it once the commit is applied (`StoreMeta {id: 'commit'}`,
  a generation counter and the write applying, each change its own small transaction). A reader waits while
  the gate is open, notes the generation, reads, and checks the gate again: a changed generation means a
  commit was applied meanwhile, and the read is done again. Plain reads do this here (`read`); a
  `snapshot()` says so (`disturbed`), and its reader does it again (`GraphStore.in_one_state`, and the API
  for a whole request). A gate left open by a process that died is closed by the next reader that finds
  its write in no open transaction.
- **Interrupted syncs.** Several services share the database, so a run left `running` is only taken for
  interrupted when no open transaction in the DBMS carries its id (`live_sync_runs`, run in a write session:
  on a cluster, on the leader, where every write transaction runs).
- **Several services, one database.** Every write transaction takes the writer lock first and each sync reads
  what it compares against only after that, so two services' syncs (of one source or of two) run one after
  the other and the second sees the first's result: history is never written twice.
- **Clusters and Aura.** `neo4j://` and `neo4j+s://` URIs route: write sessions go to the leader, read
  transactions to followers. One bookmark manager for every session of the process makes a read wait until
  its server has applied what this process committed (a mutation's answer shows its write).
- **Transient errors** (a deadlock, a leader moving, a lost connection) come out of `transaction()` as
  `StoreTransientError`; the sync runs again, whole (`graphsvc.sync.sync_source`). Plain reads are retried
  by the driver (`execute_read`).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from graphsvc.store.backend import READ_ATTEMPTS, Insert, Operation, kept_changing
from graphsvc.store.cypher import Statements, schema_statements
from graphsvc.store.errors import StoreError, StoreTransientError, StoreUnavailableError
from graphsvc.store.schema import EdgeTable

FIRST_SYNC_100K_MEMORY = "more than 6.2 GiB of transaction memory, which an 18 GiB heap gave"
"""What a first sync of the 100k-entity benchmark catalog needed (README, Performance)."""
GATE_TIMEOUT_S = 30.0
"""How long opening the commit gate may wait for its node's lock (only a reader closing an abandoned gate
takes it otherwise) before the write gives up instead of hanging."""
STALE_GATE_S = 2.0
"""How long a reader waits at an open commit gate before it looks whether the gate's writer is alive."""
MIN_TIMEOUT_S = 0.001
"""The shortest transaction timeout sent (the driver sends milliseconds; 0 would mean none)."""


class Neo4jBackend:
    statements = Statements()
    batched_key_lookups = True
    """Neo4j's planner uses the key index for `UNWIND $refs AS ref MATCH (a {ref: ref})`."""
    exclusive = False
    """Several services may share one Neo4j database: a `running` sync may be another's."""
    name = "neo4j"

    def __init__(self, uri: str, user: str, password: str, database: str = "neo4j") -> None:
        import neo4j  # imported here: the embedded default must not pay for the driver

        self._neo4j = neo4j
        self._local = threading.local()
        self.database = database
        # The server's notifications (an unknown property key in an optional column, say) are not errors here.
        self._driver = neo4j.GraphDatabase.driver(uri, auth=(user, password), notifications_min_severity="OFF")
        self._bookmarks = neo4j.GraphDatabase.bookmark_manager()
        try:
            self._driver.verify_connectivity()
        except Exception as error:  # the driver raises several unrelated types here
            self._driver.close()
            raise StoreUnavailableError(f"could not reach Neo4j at {uri} (database {database}): {error}") from error

    def _session(self, **config: Any) -> Any:
        """A session that knows every transaction this process committed (one bookmark manager for all): on a
        cluster, a read routed to a follower waits until that follower has applied them, so a mutation's
        answer and the next request see what this service wrote."""
        return self._driver.session(database=self.database, bookmark_manager=self._bookmarks, **config)

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        """One statement's rows; outside a write transaction, read while no commit was applied (the commit
        gate, see the module docstring), done again when one was."""

        def work(tx: Any) -> list[list[Any]]:
            return [list(record.values()) for record in tx.run(query, parameters or {})]

        open_tx = getattr(self._local, "transaction", None)
        if open_tx is not None:
            return work(open_tx)
        with self._session(default_access_mode="READ") as session:
            for _ in range(READ_ATTEMPTS):
                generation = self._quiet_generation(session)
                rows = session.execute_read(work)
                if self._gate(session) == (generation, None):
                    return rows
        raise kept_changing()

    def _gate(self, runner: Any) -> tuple[int, str | None]:
        """(generation, the write being applied or None) of the commit gate."""
        generation, applying = runner.run(self.statements.commit_gate).single()
        return int(generation), applying

    def _quiet_generation(self, runner: Any) -> int:
        """The gate's generation once no commit is being applied. A gate open for long is looked into: if its
        write is in no open transaction (its process died), it is closed."""
        waited = 0.0
        while True:
            generation, applying = self._gate(runner)
            if applying is None:
                return generation
            if waited >= STALE_GATE_S:
                self._close_abandoned_gate(applying)
                waited = 0.0
            time.sleep(0.002)
            waited += 0.002

    def _close_abandoned_gate(self, write: str) -> None:
        with self._session() as session:
            live = {record[0] for record in session.run(self.statements.live_writes)}
            if write not in live:
                session.run(self.statements.close_commit_gate, {"write": write}).consume()

    def disturbed(self) -> bool:
        return False  # not a snapshot: each plain read checks the gate itself

    def commit_number(self) -> int | None:
        """None: outside a snapshot no one state is read."""
        return None

    @contextmanager
    def transaction(self, label: str | None = None) -> Iterator[None]:
        """One write transaction for the block, holding the writer lock; `label` (a sync run's id) is put in
        its metadata, where `live_sync_runs` finds it."""
        if getattr(self._local, "transaction", None) is not None:
            yield
            return
        write = uuid.uuid4().hex
        metadata = {"catalog_write": write} | ({"catalog_sync_run": label} if label else {})
        try:
            with self._session() as session:
                with session.begin_transaction(metadata=metadata) as tx:
                    tx.run(self.statements.take_writer_lock, {"label": label or "write"}).consume()
                    self._local.transaction = tx
                    try:
                        yield
                        self._commit_through_gate(tx, write)
                    finally:
                        self._local.transaction = None
        except (self._neo4j.exceptions.Neo4jError, self._neo4j.exceptions.DriverError) as error:
            if "MemoryPoolOutOfMemoryError" in str(getattr(error, "code", "")):  # "transient", but it would recur
                raise StoreError(
                    "the sync needs more transaction memory than this Neo4j server allows (a sync is one "
                    "transaction): raise the server's dbms.memory.transaction.total.max and its heap (measured: a "
                    f"first sync of 100k entities needs {FIRST_SYNC_100K_MEMORY}); Neo4j said: {error}"
                ) from error
            if error.is_retryable():
                raise StoreTransientError(f"Neo4j aborted the transaction: {error}") from error
            raise

    def _commit_through_gate(self, tx: Any, write: str) -> None:
        """Commit with the commit gate open (see the module docstring): opened in a transaction of its own,
        committed (so visible) before this commit is applied, closed once it is."""
        open_gate = self._neo4j.Query(self.statements.open_commit_gate, timeout=GATE_TIMEOUT_S)
        with self._session() as gate:
            try:
                gate.run(open_gate, {"write": write}).consume()
            except self._neo4j.exceptions.ClientError as error:  # e.g. this very transaction locked the gate
                raise StoreError(f"could not open the commit gate within {GATE_TIMEOUT_S} s: {error}") from error
            try:
                tx.commit()
            finally:
                gate.run(self.statements.close_commit_gate, {"write": write}).consume()

    @contextmanager
    def stop_reads_at(self, deadline: float) -> Iterator[None]:
        """Snapshots begun on this thread inside the block stop reading at `deadline` (`time.monotonic()`):
        their read transaction has the time left as its timeout, so the server ends it then (within its
        `db.transaction.monitor.check.interval`), and later reads are refused. How a GraphQL query's time
        limit stops its work in the store."""
        self._local.deadline = deadline
        try:
            yield
        finally:
            self._local.deadline = None

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        if getattr(self._local, "transaction", None) is not None:
            yield self  # this thread's write transaction reads its own writes
            return
        deadline = getattr(self._local, "deadline", None) or math.inf
        timeout = max(deadline - time.monotonic(), MIN_TIMEOUT_S) if deadline < math.inf else None
        with self._session(default_access_mode="READ") as session:
            with session.begin_transaction(timeout=timeout) as tx:
                try:
                    yield _Neo4jSnapshot(self, tx, self._quiet_generation(tx), deadline)
                finally:
                    if time.monotonic() > deadline:
                        tx.close()  # past its timeout the server may have ended it: closed, not committed

    def interrupt_abandoned_syncs(self, at: int) -> list[str]:
        """Mark `interrupted` the runs marked `running` whose transaction is open nowhere, and name them. A
        run's record is committed just before its transaction begins, so a run seen in between is looked at
        again a moment later before it counts. Without the writer lock: another service's long sync must not
        hold up opening the store, and a dead run's record is no sync's to write."""
        running = {row[0] for row in self.read(self.statements.running_sync_runs)}
        with self._session() as session:
            for pause in (0.0, 1.0):
                if not running:
                    return []
                time.sleep(pause)
                running -= {record[0] for record in session.run(self.statements.live_sync_runs)}
            session.run(self.statements.interrupt_sync_runs, {"ids": sorted(running), "at": at}).consume()
        return sorted(running)

    def write(self, operations: Sequence[Operation]) -> None:
        with self.transaction():
            tx = self._local.transaction
            for operation in operations:
                if isinstance(operation, Insert):
                    self._insert(tx, operation)
                else:
                    tx.run(*operation).consume()

    def checkpoint(self) -> None:
        """Neo4j checkpoints by itself."""

    def schema_statements(self) -> list[str]:
        return schema_statements()

    def _insert(self, tx: Any, insert: Insert) -> None:
        if not isinstance(insert.table, EdgeTable):
            tx.run(self.statements.insert_nodes(insert.table), {"rows": insert.rows}).consume()
            return
        created = tx.run(self.statements.insert_edges(insert.table), {"rows": insert.rows}).single()[0]
        if created != len(insert.rows):  # MATCH drops rows whose endpoint is missing: refuse the batch
            raise StoreError(f"{len(insert.rows) - created} {insert.table.label} edges have a missing endpoint")

    def write_schema(self, statements: Sequence[str]) -> None:
        with self._session() as session:
            for statement in statements:
                session.run(statement).consume()

    def close(self) -> None:
        self._driver.close()


class _Neo4jSnapshot:
    """The backend as one read transaction sees it."""

    def __init__(self, parent: Neo4jBackend, tx: Any, generation: int, deadline: float = math.inf) -> None:
        self._parent = parent
        self._tx = tx
        self._generation = generation
        """The commit gate's generation when this snapshot began reading, with no commit being applied."""
        self._deadline = deadline
        self._lock = threading.Lock()  # a Bolt transaction serves one statement at a time

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        if time.monotonic() > self._deadline:
            raise StoreError("store read refused: the snapshot's deadline has passed")
        with self._lock:
            return [list(record.values()) for record in self._tx.run(query, parameters or {})]

    def commit_number(self) -> int | None:
        """The commit gate's generation this snapshot reads at: every commit moves it on (by two, opened and
        closed), so it names the committed state, valid as long as the snapshot is not `disturbed`."""
        return self._generation

    def disturbed(self) -> bool:
        """Whether a commit was applied since this snapshot began reading (its reads may mix two states)."""
        with self._lock:
            return self._parent._gate(self._tx) != (self._generation, None)

    @contextmanager
    def snapshot(self) -> Iterator[_Neo4jSnapshot]:
        yield self  # already one

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parent, name)
