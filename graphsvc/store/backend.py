"""What an engine must do for the store: run a read, run writes in one transaction, hold a read snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from graphsvc.store.errors import StoreTransientError
from graphsvc.store.schema import EdgeTable, NodeTable

Statement = tuple[str, dict[str, Any]]

READ_ATTEMPTS = 8
"""How often a read that a commit disturbed (`Backend.disturbed`) is done again before it gives up, wherever
it is done again: a plain read on Neo4j, `GraphStore.in_one_state`, a GraphQL request."""


def kept_changing() -> StoreTransientError:
    """What a read raises when a commit disturbed each of its `READ_ATTEMPTS`."""
    return StoreTransientError(f"the catalog changed during each of {READ_ATTEMPTS} attempts to read it")


@dataclass(frozen=True)
class Insert:
    """Rows that are known to be new: nodes of a table, or edges (rows with `src` and `dst` keys).

    Each engine inserts them its fastest safe way (SQLite: `executemany` of an `INSERT`; Neo4j: `UNWIND`
    and `CREATE`). Both refuse an edge whose endpoint does not exist, rather than dropping it silently.
    """

    table: NodeTable | EdgeTable
    rows: list[dict[str, Any]]


Operation = Statement | Insert


class Backend(Protocol):
    statements: Any
    """The engine's statements (`sql.SqlStatements`, `cypher.Statements`): same names, same rows."""
    batched_key_lookups: bool
    """Whether one statement over a list of start refs uses the key index (else one statement per ref)."""
    exclusive: bool
    """Whether one process owns the store (so a sync run left `running` at open is an interrupted one)."""

    def disturbed(self) -> bool:
        """For the backend a `snapshot()` yields: whether a commit was applied while it read (engines whose
        reads are read-committed); then its reads must be done again. False elsewhere."""

    def commit_number(self) -> int | None:
        """For the backend a `snapshot()` yields: the number of the committed state it reads (equal numbers,
        equal states). None elsewhere, or when the store keeps no such number."""

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        """Run one read statement; rows in column order. Inside this thread's `transaction()`, in it."""

    def write(self, operations: Sequence[Operation]) -> None:
        """Run the operations in ONE write transaction (this thread's open one, if any): all or nothing."""

    def transaction(self, label: str | None = None) -> AbstractContextManager[None]:
        """Everything written and read on this thread inside the block commits together, or not at all.
        `label`: the sync run the transaction is for, if it is one."""

    def snapshot(self) -> AbstractContextManager[Backend]:
        """A backend whose reads all see one committed state, unless it says it was `disturbed`."""

    def schema_statements(self) -> list[str]: ...

    def write_schema(self, statements: Sequence[str]) -> None: ...

    def close(self) -> None: ...
