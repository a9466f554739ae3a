"""What a graph engine must do for the store: run a read, run a batch of writes atomically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from graphsvc.store.dialect import Dialect

Statement = tuple[str, dict[str, Any]]


class Backend(Protocol):
    dialect: Dialect

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        """Run one read statement; rows as lists, in RETURN order."""

    def write(self, statements: Sequence[Statement]) -> list[list[list[Any]]]:
        """Run the statements in ONE write transaction (all or nothing); each statement's rows."""

    def close(self) -> None: ...
