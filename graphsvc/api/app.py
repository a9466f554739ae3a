"""The ASGI application: GraphQL (with GraphiQL) at /graphql, and a health check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from graphsvc.api.context import Context
from graphsvc.api.schema import schema
from graphsvc.service import CatalogService


class CatalogGraphQL(GraphQL):
    def __init__(self, service: CatalogService) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.service = service

    async def get_context(self, request: Any, response: Any = None) -> Context:
        return Context(service=self.service)


def create_app(service: CatalogService, *, on_shutdown: list[Any] | None = None) -> Starlette:
    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def root(_: Request) -> RedirectResponse:
        return RedirectResponse("/graphql")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        for callback in on_shutdown or []:
            callback()

    graphql = CatalogGraphQL(service)
    return Starlette(
        routes=[
            Route("/", root),
            Route("/health", health),
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
