"""Costly queries execute in worker processes, so that they cannot slow the point queries of everyone else.

Why processes: GraphQL execution is Python, and one Python process runs one thread of Python at a time. A
costly query on a worker thread of the serving process held the interpreter for a second at a time; every
point query, and the event loop answering them, then waited its turn (measured with 5 clients sending the
costliest queries the limits allow, on 10k entities: a point query's p50 went from 8 ms to 215 ms, with the
costly queries on a thread pool of their own). In a process of its own a costly query uses the other core,
and the serving process stays free.

A worker opens the store for reading only (`graphsvc.store.open_reader`: no lock, no writes; SQLite in WAL
mode serves readers in any process) and executes the query exactly as the service would, with the request's
principal and the same limits (cost, time, response size), then sends the answer back as JSON bytes, with
what the serving process may keep of it (`graphsvc.api.kept_answers`). Only
queries go to workers: a mutation writes, and writes belong to the serving process's single writer.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import orjson
from graphql import GraphQLError, OperationType, SourceLocation, get_operation_ast, parse
from graphql.error import GraphQLSyntaxError
from strawberry.types import ExecutionResult

from graphsvc.auth.principal import Principal
from graphsvc.config import Settings
from graphsvc.store.errors import StoreTransientError

_service: Any = None
"""The worker process's own service over its read-only store, made once per process."""


def is_query(query: str | None, operation_name: str | None) -> bool:
    """Whether the request's operation is a query (not a mutation or subscription)."""
    if not isinstance(query, str):
        return False
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLSyntaxError:
        return False
    return operation is not None and operation.operation == OperationType.QUERY


class QueryProcesses:
    """A pool of worker processes executing costly queries; started at the first one."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self._settings = settings
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def execute(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None, principal: Principal
    ) -> tuple[ExecutionResult, tuple[int, bytes] | None]:
        """The query's result, and what of it may be kept (`graphsvc.api.kept_answers.Recorder`): the commit
        its snapshot read and its JSON, or None. The data comes back as its JSON, which the answer's encoder
        copies in (`orjson.Fragment`): no dictionaries to pickle, unpickle and encode again."""
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self._executor(), _execute, query, variables, operation_name, principal)
        except BrokenProcessPool:  # a worker died (killed, out of memory): a new pool for the next query
            self._pool = None
            raise StoreTransientError("the worker executing this costly query stopped") from None
        if answer.get("transient"):
            raise StoreTransientError(answer["transient"])
        encoded = answer.get("json")
        data = orjson.Fragment(encoded) if encoded is not None else answer.get("data")
        result = ExecutionResult(data=data, errors=[_error(e) for e in answer["errors"]] or None)
        kept = answer.get("commit")
        return result, ((kept, encoded) if kept is not None and encoded is not None else None)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),  # nothing of the server's threads or connections
                initializer=_start_worker,
                initargs=(self._settings.model_dump_json(),),
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(settings_json: str) -> None:
    global _service
    import graphsvc.api.schema  # noqa: F401 - imported now, so that its objects are frozen with the rest
    from graphsvc.api.heap import freeze_startup_objects
    from graphsvc.service import CatalogService
    from graphsvc.store import open_reader

    settings = Settings.model_validate_json(settings_json)
    _service = CatalogService(open_reader(settings), settings)
    freeze_startup_objects()


def _execute(
    query: str, variables: dict[str, Any] | None, operation_name: str | None, principal: Principal
) -> dict[str, Any]:
    """In the worker: execute the query (again while commits disturb its snapshot, as the service does)."""
    from graphsvc.api.context import Context, execute_in_one_state
    from graphsvc.api.kept_answers import Recorder
    from graphsvc.api.schema import schema

    def run(context: Context) -> Any:
        return schema.execute(query, variables, context_value=context, operation_name=operation_name)

    recorder = Recorder()
    context = Context(service=_service, principal=principal, answers=recorder)
    try:
        result = asyncio.run(execute_in_one_state(_service, run, context))
    except StoreTransientError as error:
        return {"transient": str(error)}
    errors = [error.formatted for error in result.errors or []]
    if recorder.encoded is not None and not errors:  # to keep: already encoded, with its commit
        return {"json": recorder.encoded, "commit": recorder.commit, "errors": errors}
    try:
        return {"json": orjson.dumps(result.data) if result.data is not None else None, "errors": errors}
    except orjson.JSONEncodeError:  # an integer past 64 bits: as data, encoded by the serving process
        return {"data": result.data, "errors": errors}


def _error(formatted: dict[str, Any]) -> GraphQLError:
    """A worker's error as the GraphQL error it was (message, path, locations, extensions)."""
    error = GraphQLError(formatted["message"], path=formatted.get("path"), extensions=formatted.get("extensions"))
    error.locations = [SourceLocation(**where) for where in formatted.get("locations") or []] or None
    return error
