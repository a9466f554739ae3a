"""The ASGI application: GraphQL (with GraphiQL, its files served from the package) at /graphql, and a health check.

Each GraphQL operation executes on a worker thread with an event loop of its own, not on the server's loop:
store reads are blocking calls (`sqlite3` releases the GIL while SQLite works), so one slow query occupies
one worker while the server keeps accepting and answering other requests on the others.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData

from graphsvc.api.authentication import Authentication
from graphsvc.api.backstage import backstage_routes
from graphsvc.api.budget import too_large
from graphsvc.api.context import Context, execute_in_one_state
from graphsvc.api.cost import is_costly, request_cost
from graphsvc.api.graphiql import GraphiQLAssets, GraphiQLPage
from graphsvc.api.http_limits import HttpLimits
from graphsvc.api.kept_answers import keep_costly, kept_costly, request_key
from graphsvc.api.metrics import Metrics, RequestMetrics
from graphsvc.api.operation_name import OperationName
from graphsvc.api.query_processes import QueryProcesses, is_query
from graphsvc.api.rate_limit import RateLimit
from graphsvc.api.request_log import RequestLog
from graphsvc.api.response_cache import ResponseCache
from graphsvc.api.schema import schema
from graphsvc.auth.oidc import OidcVerifier
from graphsvc.auth.principal import NOBODY, Principal
from graphsvc.service import CatalogService
from graphsvc.store.errors import StoreTransientError

logger = logging.getLogger(__name__)
T = TypeVar("T")
EXECUTION_WORKERS = 8
"""Operations executing at once; more wait for a free worker (a 2-core machine gains nothing from more)."""
COSTLY_WORKERS = 2
"""Of those, how many may be costly mutations (`graphsvc.api.cost.is_costly`); more wait for one of these."""
QUERY_PROCESSES = max(1, (os.cpu_count() or 2) // 2)
"""Worker processes for costly queries (`graphsvc.api.query_processes`): half the cores, the other half for
serving (measured on 2 cores: one process left point queries as fast as with no costly load, two did not)."""


class ExecutionThreads:
    """Worker threads, each running coroutines on an event loop of its own: a pool for most operations, and a
    small one for costly mutations, so that however many of those arrive they never take the workers a point
    query needs (costly queries go to worker processes instead, `graphsvc.api.query_processes`)."""

    def __init__(self, workers: int = EXECUTION_WORKERS - COSTLY_WORKERS, costly_workers: int = COSTLY_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="graphql")
        self._costly_pool = ThreadPoolExecutor(max_workers=costly_workers, thread_name_prefix="graphql-costly")
        self._local = threading.local()

    async def run(self, work: Callable[[], Awaitable[T]], costly: bool = False) -> T:
        pool = self._costly_pool if costly else self._pool
        context = contextvars.copy_context()  # the request's (its id, for the log lines written meanwhile)
        return await asyncio.get_running_loop().run_in_executor(pool, context.run, self._run, work)

    def _run(self, work: Callable[[], Awaitable[T]]) -> T:
        loop = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
        return loop.run_until_complete(work())

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._costly_pool.shutdown(wait=True)


MAX_BODY_DEPTH = 32
"""Nesting a request body may have: our input types nest two levels; a variable nested hundreds deep is an
attack on the coercion code, refused before it runs."""


def _depth(value: Any) -> int:
    """How deeply `value` nests (a scalar 0), without recursion: a body may nest up to the parser's limit."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_BODY_DEPTH:
            pending.extend((child, depth + 1) for child in children)
    return deepest


def _is_plain_post(scope: Scope) -> bool:
    """A POST whose body is JSON (`Content-Type: application/json`, parameters allowed) and whose `Accept`
    asks for no stream (multipart/mixed, text/event-stream): what clients send for a query or mutation."""
    if scope["method"] != "POST":
        return False
    content_type, accept = None, b""
    for name, value in scope["headers"]:
        if name == b"content-type" and content_type is None:  # the first, as Starlette's headers read it
            content_type = value
        elif name == b"accept":
            accept += value.lower()
    return (
        content_type is not None
        and content_type.split(b";", 1)[0].strip() == b"application/json"
        and b"multipart" not in accept
        and b"event-stream" not in accept
    )


class CatalogGraphQL(GraphQL):
    def __init__(
        self,
        service: CatalogService,
        threads: ExecutionThreads,
        processes: QueryProcesses,
        page: GraphiQLPage,
        answers: ResponseCache | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.service = service
        self.answers = answers
        self.threads = threads
        self.processes = processes
        self.page = page

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page (`graphsvc.api.graphiql`), whose files the service serves itself, instead of
        Strawberry's, which loads them from a CDN."""
        return self.page.response()

    async def get_context(self, request: Any, response: Any = None) -> Context:
        """The request's principal, as `Authentication` found it (nobody, for a request that came in without
        one: only the GraphiQL page, which executes nothing)."""
        principal = request.scope.get("state", {}).get("principal") or NOBODY
        return Context(service=self.service, principal=principal, response=response, answers=self.answers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request the GraphQL layer refuses before executing (bad JSON, no query, ...) is answered in
        GraphQL's JSON error shape, not as plain text, so a client reads every error the same way."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self._plain_post(request) if self.plain_posts and _is_plain_post(scope) else None
            if response is None:
                response = await self.run(request)
        except HTTPException as error:
            response = JSONResponse({"errors": [{"message": error.reason}]}, status_code=error.status_code)
        await response(scope, receive, send)

    plain_posts = True
    """Whether plain POSTs take `_plain_post` (switched off by the test that compares it with the view)."""

    async def _plain_post(self, request: Request) -> Response | None:
        """A POST of one operation as JSON, answered by the steps Strawberry's view takes for it, without the
        view's checks for what it is not (a page, an upload, a stream, a subscription, a batch): they were a
        seventh of a point query's CPU (a runtime protocol check, a MIME parse by the email module). The
        same parse, refusals with the same messages, execution and response; None for a batch (a list),
        which the view answers from the body read here."""
        data = self.parse_json(await request.body())
        if not isinstance(data, dict):
            return None
        query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
        if not isinstance(query, str | None):
            raise HTTPException(400, "The GraphQL operation's `query` must be a string or null, if provided.")
        if not isinstance(variables, dict | None):
            raise HTTPException(400, "The GraphQL operation's `variables` must be an object or null, if provided.")
        if not isinstance(extensions, dict | None):
            raise HTTPException(400, "The GraphQL operation's `extensions` must be an object or null, if provided.")
        root_value = await self.get_root_value(request)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        operation = GraphQLRequestData(query, variables, data.get("operationName"), extensions, "http")
        result = await self.execute_single(
            request=request,
            request_adapter=self.request_adapter_class(request),
            sub_response=sub_response,
            context=context,
            root_value=root_value,
            request_data=operation,
        )
        response_data = await self.process_result(request=request, result=result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    def encode_json(self, data: object) -> str | bytes:
        """The answer as JSON (UTF-8 bytes), or in its stead the error that it is larger than
        `query_max_response_bytes` (the query's budget stopped most such answers while they were built, on an
        estimate). orjson, about 10x faster than `json.dumps` on a page of entities; what it cannot encode (an
        integer past 64 bits, from a YAML document) `json.dumps` does."""
        try:
            encoded: str | bytes = orjson.dumps(data)
        except orjson.JSONEncodeError:
            encoded = super().encode_json(data)
        limit = self.service.settings.query_max_response_bytes
        if len(encoded) <= limit:  # json.dumps escapes non-ASCII characters, so its characters are bytes too
            return encoded
        return orjson.dumps({"data": None, "errors": [too_large(limit).formatted]})

    def parse_json(self, data: str | bytes) -> Any:
        """The body as JSON, refusing with a 400 what Python's parser raises besides `JSONDecodeError`
        (bytes that are not UTF-8, nesting past the recursion limit, integers past 4,300 digits), and
        bodies that are not an object (or a list, which the batching check refuses)."""
        try:
            body = self.decode_json(data)
        except UnicodeDecodeError:
            raise HTTPException(400, "the request body is not UTF-8 text") from None
        except RecursionError:
            raise HTTPException(400, "the request body is JSON nested too deeply") from None
        except json.JSONDecodeError as error:
            where = f"line {error.lineno}, column {error.colno}"
            raise HTTPException(400, f"the request body is not valid JSON: {error.msg} at {where}") from None
        except ValueError:  # Python's parser refuses to convert integers this long
            raise HTTPException(400, "the request body holds an integer of more than 4,300 digits") from None
        if not isinstance(body, dict | list):
            raise HTTPException(400, 'the request body must be a JSON object: {"query": "..."}')
        if _depth(body) > MAX_BODY_DEPTH:
            raise HTTPException(
                400, f"the request body is JSON nested more than {MAX_BODY_DEPTH} levels deep (variables included)"
            )
        return body

    async def execute_single(self, **kwargs: Any) -> Any:
        """Execute on a worker thread (see the module's docstring), of the costly pool if the operation's
        estimated cost says so (`graphsvc.api.cost`); parsing the request stays here. A query whose snapshot a
        commit disturbed (Neo4j, see `Context.disturbed`) is executed again, afresh."""
        execute = super().execute_single
        request = kwargs["request_data"]
        cost = request_cost(schema._schema, request.query, request.variables, request.operation_name)
        costly = is_costly(cost, self.service.settings.query_max_cost)
        if costly and is_query(request.query, request.operation_name):
            over_limit = cost is not None and cost > self.service.settings.query_max_cost
            return await self._execute_costly(request, kwargs["context"].principal, look_up=not over_limit)

        def run(context: Context) -> Awaitable[Any]:
            return self.threads.run(lambda: execute(**{**kwargs, "context": context}), costly)

        try:
            return await execute_in_one_state(self.service, run, kwargs["context"])
        except StoreTransientError as error:
            raise HTTPException(503, f"{error}: try again") from None

    async def _execute_costly(self, request: Any, principal: Principal, look_up: bool) -> Any:
        """A costly query, in a worker process (`graphsvc.api.query_processes`), unless its answer is kept for
        the store's latest commit (`graphsvc.api.kept_answers`; not looked up for a query over the cost limit,
        which the worker refuses before anything is read); what the worker says may be kept, is."""
        query, variables, operation_name = request.query, request.variables, request.operation_name
        key, text = request_key(principal, query, operation_name, variables)
        try:
            kept = await asyncio.to_thread(kept_costly, self.answers, self.service.store, key) if look_up else None
            if kept is not None:
                return kept
            result, recorded = await self.processes.execute(query, variables, operation_name, principal)
        except StoreTransientError as error:
            raise HTTPException(503, f"{error}: try again") from None
        if recorded is not None:
            keep_costly(self.answers, key, (query, operation_name, text), recorded)
        return result


def create_app(
    service: CatalogService, *, on_shutdown: list[Any] | None = None, allowed_hosts: list[str] | None = None
) -> Starlette:
    async def health(_: Request) -> JSONResponse:
        """Alive: the process answers."""
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> JSONResponse:
        """Ready: the store answers a read (for a load balancer; a Neo4j that is down makes this 503)."""
        try:
            await asyncio.to_thread(service.store.schema_version)
        except Exception:  # any failure to read means: not ready; what failed is in the service's log
            logger.exception("readiness check: the store did not answer")
            return JSONResponse({"status": "unavailable", "reason": "the store does not answer"}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def root(_: Request) -> RedirectResponse:
        return RedirectResponse("/graphql")

    threads = ExecutionThreads()
    processes = QueryProcesses(service.settings, QUERY_PROCESSES)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        threads.close()
        processes.close()
        for callback in on_shutdown or []:
            callback()

    assets = GraphiQLAssets()
    response_cache = ResponseCache(service.settings.response_cache_mib * 1024 * 1024)
    graphql = CatalogGraphQL(service, threads, processes, GraphiQLPage(assets.url), response_cache)
    metrics = Metrics(service)
    app = Starlette(
        routes=[
            Route("/", root),
            Route("/health", health),
            Route("/ready", ready),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            assets.route(),
            Route("/metrics", metrics.endpoint),
            *backstage_routes(service, response_cache),
        ],
        lifespan=lifespan,
    )
    app.state.response_cache = response_cache
    limits = service.settings
    # Middleware, innermost first (each one added wraps those before it); a request passes, outermost first:
    # request log, metrics (both see every answer, refusals included), HTTP limits (Host, body), CORS (when
    # origins are configured: outside auth, so a browser can read a 401 and a preflight needs no token),
    # operation name (from the body read), authentication, rate limit (per principal), the routes.
    app.add_middleware(RateLimit, per_s=limits.rate_limit_per_s, burst=limits.rate_limit_burst)
    app.add_middleware(
        Authentication,
        tokens=service.tokens,
        oidc=OidcVerifier(limits.auth.oidc) if limits.auth.oidc else None,
        anonymous_scopes=list(limits.auth.anonymous),
    )
    app.add_middleware(OperationName)
    if limits.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=limits.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],  # DELETE: the REST API's DELETE /locations/:id
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Request-Id"],
        )
    app.add_middleware(
        HttpLimits,
        max_body_bytes=limits.http_max_body_bytes,
        read_timeout_s=limits.http_read_timeout_s,
        allowed_hosts=allowed_hosts or limits.allowed_hosts or ["*"],
    )
    app.add_middleware(RequestMetrics, metrics=metrics, routes=[route.path for route in app.routes])
    app.add_middleware(RequestLog)
    return app
