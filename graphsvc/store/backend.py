"""What a graph engine must do for the store: run a read, run a batch of writes atomically."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from graphsvc.store.dialect import Dialect
from graphsvc.store.schema import EdgeTable, NodeTable

Statement = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Insert:
    """Rows that are known to be new: nodes of a table, or edges (rows with `src` and `dst` keys).

    Each engine inserts them its fastest safe way (LadybugDB: `COPY` from an Arrow table; Neo4j: `UNWIND`
    and `CREATE`). Both refuse an edge whose endpoint does not exist, rather than dropping it silently.
    """

    table: NodeTable | EdgeTable
    rows: list[dict[str, Any]]


Operation = Statement | Insert


class Backend(Protocol):
    dialect: Dialect

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        """Run one read statement; rows as lists, in RETURN order."""

    def write(self, operations: Sequence[Operation]) -> None:
        """Run the operations in ONE write transaction: all or nothing."""

    def close(self) -> None: ...
