"""GraphQL query results kept for the store commit they were read at: a query asked again before the next
write is answered without executing it.

The key is the commit number the query's read snapshot reads (`GraphStore.commit_number`, read inside it),
and the request: its principal (what it may see), its document, operation name and variables. An answer is
kept only when it depends on nothing else:
- a query, not a mutation;
- no errors, not stopped by its budget, and (Neo4j) no commit disturbed its snapshot;
- no field read the clock (`Context.clock_read`: `ownershipGaps` without `until` measures gaps up to now).
The results live in the service's response cache (`graphsvc.api.response_cache`), beside the REST API's
answers, as the JSON of their data: bytes, which the garbage collector never walks (kept dictionaries
would make every full collection walk them all). A hit hands Strawberry that JSON as an `orjson.Fragment`,
which the answer's encoder copies in as it is: the same bytes as executing again.

A costly query executes in a worker process (`graphsvc.api.query_processes`): there the same steps run
against a `Recorder` instead of the cache, which catches what would be kept (the commit and the JSON), and
the serving process keeps it (`keep_costly`); asked again, it is answered from here (`kept_costly`) without
a worker.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import ExecutionResult
from strawberry.types import ExecutionContext
from strawberry.types import ExecutionResult as StrawberryResult
from strawberry.types.graphql import OperationType

from graphsvc.api.cost import canonical_variables
from graphsvc.api.response_cache import ResponseCache, entry_size
from graphsvc.auth.principal import Principal
from graphsvc.store import GraphStore


@dataclass(frozen=True)
class Lookup:
    """A query's place in the cache: the commit its snapshot reads, its key, and its variables as in the key."""

    commit: int
    key: Hashable
    variables: bytes | str


def request_key(
    principal: Principal, query: str, operation_name: str | None, variables: dict[str, Any] | None
) -> tuple[Hashable, bytes | str]:
    """The cache key of a request (and its variables as written in it), wherever it executes."""
    text = canonical_variables(variables or {})
    return ("graphql", principal, query, operation_name, text), text


def look_up(execution: ExecutionContext) -> Lookup | None:
    """Inside the query's read snapshot: its place in the cache, the kept answer already put as its result
    on a hit (Strawberry then does not execute it). None when its answer is not to be kept."""
    context = execution.context
    cache = getattr(context, "answers", None)
    if cache is None or not cache.max_bytes or execution.result is not None:
        return None
    if execution.operation_type is not OperationType.QUERY or not isinstance(execution.query, str):
        return None
    commit = context.store.commit_number()
    if commit is None:
        return None
    key, variables = request_key(context.principal, execution.query, execution.operation_name, execution.variables)
    lookup = Lookup(commit, key, variables)
    kept = cache.get(commit, lookup.key)
    if kept is not None:  # the data as encoded when it was kept: the answer's encoder copies it in
        execution.result = ExecutionResult(data=orjson.Fragment(kept))
        return None
    return lookup


def keep(execution: ExecutionContext, lookup: Lookup | None) -> None:
    """After the snapshot closed: keep the query's answer if it depends on its key alone."""
    context = execution.context
    result = execution.result
    if lookup is None or result is None or result.errors or result.data is None:
        return
    if context.clock_read or context.disturbed or context.budget.stopped is not None:
        return
    try:
        encoded = orjson.dumps(result.data)
    except orjson.JSONEncodeError:  # an integer past 64 bits: rare enough not to keep
        return
    size = entry_size(encoded, execution.query, execution.operation_name, lookup.variables)
    context.answers.put(lookup.commit, lookup.key, encoded, size)
    result.data = orjson.Fragment(encoded)  # encoded once: the answer's encoder copies it in


class Recorder:
    """In a worker process, the cache's stand-in: it keeps nothing and catches the answer that would have
    been kept, with the commit it was read at, for the serving process to keep."""

    max_bytes = 1  # "has room": `look_up` goes on to find the query's place

    def __init__(self) -> None:
        self.commit: int | None = None
        self.encoded: bytes | None = None

    def get(self, commit: int | None, key: Hashable) -> None:
        return None

    def put(self, commit: int | None, key: Hashable, answer: bytes, size: int) -> None:
        self.commit, self.encoded = commit, answer


def kept_costly(cache: ResponseCache | None, store: GraphStore, key: Hashable) -> StrawberryResult | None:
    """For a costly query, before it goes to a worker: the answer kept for it at the store's latest commit
    (read in a snapshot of its own: a blocking read, for a worker thread), if any."""
    if cache is None or not cache.max_bytes:
        return None
    kept = cache.get(store.in_one_state(lambda snapshot: snapshot.commit_number()), key)
    return StrawberryResult(data=orjson.Fragment(kept), errors=None) if kept is not None else None


def keep_costly(
    cache: ResponseCache | None, key: Hashable, texts: tuple[str, str | None, bytes | str], recorded: tuple[int, bytes]
) -> None:
    """Keep what a worker recorded (`Recorder`): the commit its snapshot read and the answer's JSON."""
    if cache is not None:
        commit, encoded = recorded
        cache.put(commit, key, encoded, entry_size(encoded, *texts))
