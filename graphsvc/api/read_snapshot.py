"""Each GraphQL query reads one state of the catalog: every field of one response sees the same snapshot.

Without it every field is a separate read, and a sync committing in between shows a response in which an
entity is updated but its old relations are still there. The snapshot opens when a query's execution
starts (its operation type is known by then) and closes when the execution ends. A mutation gets none: its
result must show what it has just written; nor does a query refused before it executes (`graphsvc.api.cost`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType


@contextmanager
def read_snapshot(execution: ExecutionContext) -> Iterator[None]:
    """The query's execution inside one read snapshot (`graphsvc.api.operation_steps` enters it)."""
    context = execution.context
    begin = getattr(context, "begin_snapshot", None)
    refused = execution.result is not None
    if begin is None or refused or execution.operation_type is not OperationType.QUERY:
        yield
        return
    with begin():
        yield
