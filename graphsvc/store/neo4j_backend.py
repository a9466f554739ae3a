"""Neo4j over Bolt, for installations that outgrow one machine (clusters, Aura).

Writes go through `execute_write`, which retries transient cluster errors and commits all statements of a
batch together; reads use `execute_read` so that they can be routed to followers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphsvc.store.backend import Statement
from graphsvc.store.dialect import Neo4jDialect
from graphsvc.store.errors import StoreUnavailableError


class Neo4jBackend:
    dialect = Neo4jDialect()

    def __init__(self, uri: str, user: str, password: str, database: str = "neo4j") -> None:
        import neo4j  # imported here: the embedded default must not pay for the driver

        self._neo4j = neo4j
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

    def write(self, statements: Sequence[Statement]) -> list[list[list[Any]]]:
        def work(tx: Any) -> list[list[list[Any]]]:
            return [[list(r.values()) for r in tx.run(query, params)] for query, params in statements]

        with self._driver.session(database=self.database) as session:
            return session.execute_write(work)

    def write_schema(self, statements: Sequence[str]) -> None:
        with self._driver.session(database=self.database) as session:
            for statement in statements:
                session.run(statement).consume()

    def close(self) -> None:
        self._driver.close()
