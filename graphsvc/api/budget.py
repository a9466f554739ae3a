"""What one query may spend while it executes: time (`query_timeout_s`) and answer size
(`query_max_response_bytes`).

The cost estimate (`graphsvc.api.cost`) refuses what is costly on paper; this stops what turns out costly in
the store: a hub with thousands of relations, a traversal through a dense part of the graph. Both limits stop
the work, not only the answer:
- the store reads of the query's snapshot stop at its deadline (SQLite interrupts the running statement,
  Neo4j's server ends the read transaction), and every resolver that reads or makes a list of objects asks
  the budget first (`Budget.spend`), so a stopped query reads nothing more and builds nothing more;
- the answer's size is estimated while it is built (OBJECT_BYTES per object), so memory stays bounded by
  the limit, not by what the query asks; the exact size is checked once more when it is serialized.

A stopped query answers no data and one error naming the limit (codes QUERY_TIMEOUT, RESPONSE_TOO_LARGE), so
does one that ends past its deadline (on Neo4j its snapshot can no longer be checked for a commit applied
meanwhile). A mutation has no budget: its work is a sync, which must finish or roll back whole.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from graphql import GraphQLError
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from graphsvc.config import Settings

logger = logging.getLogger(__name__)

OBJECT_BYTES = 48
"""The estimated size in the answer of one object a resolver makes (an entity, a relation row, a version):
about the smallest one, `{"ref":"component:default/checkout"},` is 38 bytes. Low on purpose, so that no
answer that fits is stopped; the exact size is checked when the answer is serialized."""


def timed_out(timeout_s: float) -> GraphQLError:
    return GraphQLError(
        f"the query ran past its time limit of {timeout_s:g} s (query_timeout_s) and was stopped: ask for "
        "smaller pages (first), shallower traversals or fewer nested lists",
        extensions={"code": "QUERY_TIMEOUT", "limit": timeout_s},
    )


def too_large(max_bytes: int) -> GraphQLError:
    return GraphQLError(
        f"the answer would be larger than the limit of {max_bytes:,} bytes (query_max_response_bytes) and the "
        "query was stopped: ask for smaller pages (first), fewer fields or fewer nested lists",
        extensions={"code": "RESPONSE_TOO_LARGE", "limit": max_bytes},
    )


_tally: ContextVar[list[int] | None] = ContextVar("budget_tally", default=None)


@contextmanager
def tallying(tally: list[int]) -> Iterator[None]:
    """Add to `tally[0]` the bytes spent meanwhile by this code and the tasks it starts (not by concurrent
    sibling fields): what one completion of a field spent, for `graphsvc.api.fast_execution`."""
    token = _tally.set(tally)
    try:
        yield
    finally:
        _tally.reset(token)


@dataclass
class Budget:
    deadline: float = math.inf
    """`time.monotonic()` at which the query is stopped."""
    timeout_s: float = math.inf
    max_bytes: float = math.inf
    spent_bytes: int = 0
    stopped: GraphQLError | None = None
    """Why the query was stopped, once it is."""

    @classmethod
    def of(cls, settings: Settings) -> Budget:
        """The budget of a query that starts executing now."""
        timeout = settings.query_timeout_s
        return cls(time.monotonic() + timeout, timeout, settings.query_max_response_bytes)

    def spend(self, objects: int = 0) -> bool:
        """Count `objects` more objects into the answer. False once the query is past a limit: it is stopped,
        and whoever asked answers nothing more (no read, no list), so the query ends soon."""
        if self.stopped is None:
            spent = objects * OBJECT_BYTES
            self.spent_bytes += spent
            tally = _tally.get()
            if tally is not None:
                tally[0] += spent
            if self.spent_bytes > self.max_bytes:
                self.stopped = too_large(int(self.max_bytes))
            elif time.monotonic() > self.deadline:
                self.stopped = timed_out(self.timeout_s)
        return self.stopped is None


@contextmanager
def query_budget(execution: ExecutionContext) -> Iterator[None]:
    """Gives a query its budget when it starts executing (`graphsvc.api.operation_steps`), and answers a
    stopped one with the reason alone: what was built before it stopped is partial, not an answer."""
    context = execution.context
    settings = getattr(getattr(context, "service", None), "settings", None)
    is_query = execution.operation_type is OperationType.QUERY
    if settings is None or not is_query or execution.result is not None or not hasattr(context, "budget"):
        yield
        return
    budget = context.budget = Budget.of(settings)
    yield
    budget.spend()  # one that ends past its deadline ran past it (and the store may have stopped a read)
    result = execution.result
    if result is not None and budget.stopped is not None:
        logger.warning("query stopped: %s", budget.stopped.message)
        result.data, result.errors = None, [budget.stopped]
