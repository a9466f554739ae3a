"""Neo4j over Bolt, for installations that outgrow one machine (clusters, Aura).

Writes go through `execute_write`, which retries transient cluster errors and commits all statements of a
batch together; reads use `execute_read` so that they can be routed to followers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphsvc.store.backend import Insert, Operation
from graphsvc.store.cypher import Statements
from graphsvc.store.dialect import Neo4jDialect
from graphsvc.store.errors import StoreError, StoreUnavailableError
from graphsvc.store.schema import EdgeTable


class Neo4jBackend:
    dialect = Neo4jDialect()

    def __init__(self, uri: str, user: str, password: str, database: str = "neo4j") -> None:
        import neo4j  # imported here: the embedded default must not pay for the driver

        self._neo4j = neo4j
        self._statements = Statements(self.dialect)
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

        with self._driver.session(database=self.database) as session:
            return session.execute_read(work)

    def write(self, operations: Sequence[Operation]) -> None:
        def work(tx: Any) -> None:
            for operation in operations:
                if isinstance(operation, Insert):
                    self._insert(tx, operation)
                else:
                    tx.run(*operation).consume()

        with self._driver.session(database=self.database) as session:
            session.execute_write(work)

    def _insert(self, tx: Any, insert: Insert) -> None:
        if not isinstance(insert.table, EdgeTable):
            tx.run(self._statements.insert_nodes(insert.table), {"rows": insert.rows}).consume()
            return
        created = tx.run(self._statements.insert_edges(insert.table), {"rows": insert.rows}).single()[0]
        if created != len(insert.rows):  # MATCH drops rows whose endpoint is missing: refuse the batch
            raise StoreError(f"{len(insert.rows) - created} {insert.table.label} edges have a missing endpoint")

    def write_schema(self, statements: Sequence[str]) -> None:
        with self._driver.session(database=self.database) as session:
            for statement in statements:
                session.run(statement).consume()

    def close(self) -> None:
        self._driver.close()
