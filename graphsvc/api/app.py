"""The ASGI application: GraphQL (with GraphiQL) at /graphql, and a health check.

Each GraphQL operation executes on a worker thread with an event loop of its own, not on the server's loop:
store reads are blocking calls (`sqlite3` releases the GIL while SQLite works), so one slow query occupies
one worker while the server keeps accepting and answering other requests on the others.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from graphsvc.api.context import Context
from graphsvc.api.schema import schema
from graphsvc.service import CatalogService

T = TypeVar("T")
EXECUTION_WORKERS = 8
"""Operations executing at once; more wait for a free worker (a 2-core machine gains nothing from more)."""


class ExecutionThreads:
    """Worker threads, each running coroutines on an event loop of its own."""

    def __init__(self, workers: int = EXECUTION_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="graphql")
        self._local = threading.local()

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run, work)

    def _run(self, work: Callable[[], Awaitable[T]]) -> T:
        loop = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
        return loop.run_until_complete(work())

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class CatalogGraphQL(GraphQL):
    def __init__(self, service: CatalogService, threads: ExecutionThreads) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.service = service
        self.threads = threads

    async def get_context(self, request: Any, response: Any = None) -> Context:
        return Context(service=self.service)

    async def execute_single(self, **kwargs: Any) -> Any:
        """Execute on a worker thread (see the module's docstring); parsing the request stays here."""
        execute = super().execute_single
        return await self.threads.run(lambda: execute(**kwargs))


def create_app(service: CatalogService, *, on_shutdown: list[Any] | None = None) -> Starlette:
    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def root(_: Request) -> RedirectResponse:
        return RedirectResponse("/graphql")

    threads = ExecutionThreads()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        threads.close()
        for callback in on_shutdown or []:
            callback()

    graphql = CatalogGraphQL(service, threads)
    return Starlette(
        routes=[
            Route("/", root),
            Route("/health", health),
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
