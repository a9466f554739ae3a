"""Neo4j over Bolt, for installations that outgrow one machine (clusters, Aura).

A write transaction is an explicit Bolt transaction held for the block (`transaction()`): every statement
of a sync runs in it, and reads made on the writing thread meanwhile run in it too, so they see the writes so
far. Other reads use `execute_read` (retried, routable to followers); a `snapshot()` is one explicit read
transaction, so a request's reads see one state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from graphsvc.store.backend import Insert, Operation
from graphsvc.store.cypher import Statements, schema_statements
from graphsvc.store.errors import StoreError, StoreUnavailableError
from graphsvc.store.schema import EdgeTable


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
        self._driver = neo4j.GraphDatabase.driver(uri, auth=(user, password))
        try:
            self._driver.verify_connectivity()
        except Exception as error:  # the driver raises several unrelated types here
            self._driver.close()
            raise StoreUnavailableError(f"could not reach Neo4j at {uri} (database {database}): {error}") from error

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        def work(tx: Any) -> list[list[Any]]:
            return [list(record.values()) for record in tx.run(query, parameters or {})]

        open_tx = getattr(self._local, "transaction", None)
        if open_tx is not None:
            return work(open_tx)
        with self._driver.session(database=self.database) as session:
            return session.execute_read(work)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "transaction", None) is not None:
            yield
            return
        with self._driver.session(database=self.database) as session, session.begin_transaction() as tx:
            self._local.transaction = tx
            try:
                yield
                tx.commit()
            finally:
                self._local.transaction = None

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        if getattr(self._local, "transaction", None) is not None:
            yield self  # this thread's write transaction reads its own writes
            return
        with self._driver.session(database=self.database, default_access_mode="READ") as session:
            with session.begin_transaction() as tx:
                yield _Neo4jSnapshot(self, tx)

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
        with self._driver.session(database=self.database) as session:
            for statement in statements:
                session.run(statement).consume()

    def close(self) -> None:
        self._driver.close()


class _Neo4jSnapshot:
    """The backend as one read transaction sees it."""

    def __init__(self, parent: Neo4jBackend, tx: Any) -> None:
        self._parent = parent
        self._tx = tx
        self._lock = threading.Lock()  # a Bolt transaction serves one statement at a time

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        with self._lock:
            return [list(record.values()) for record in self._tx.run(query, parameters or {})]

    @contextmanager
    def snapshot(self) -> Iterator[_Neo4jSnapshot]:
        yield self  # already one

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parent, name)
