"""Backstage's REST catalog API under /api/catalog: the read endpoints Backstage's `CatalogClient` and front end
use, and location registration, refresh and entity validation.

Every read answers one store state (`GraphStore.in_one_state`) on a worker thread, off the event loop; writes go
through the service's single writer, as the GraphQL mutations do. Authentication and rate limits are the app's
middleware; writes (locations, refresh) need the `write` scope, checked here. Refusals are Backstage's error body
(`errors.BackstageError`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote_plus

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from graphsvc.api.backstage.catalog import BackstageCatalog, Shaped
from graphsvc.api.backstage.cursor import QueryCursor, decode_cursor
from graphsvc.api.backstage.errors import MOUNT, BackstageError, error_response, input_error, not_found
from graphsvc.api.backstage.fields import Projection, parse_fields
from graphsvc.api.backstage.filters import matches, parse_filter
from graphsvc.api.backstage.listing import (
    DEFAULT_QUERY_LIMIT,
    facet_counts,
    full_text,
    order_entities,
    query_order,
    query_page,
    sort_key,
)
from graphsvc.api.backstage.locations import BackstageLocation, backstage_location, location_type
from graphsvc.api.backstage.params import (
    check_known,
    encode_after,
    integer,
    non_empty,
    parse_after,
    parse_order,
    parse_order_fields,
    strings,
)
from graphsvc.api.backstage.validation import validate_entity_request
from graphsvc.api.response_cache import Answer, ResponseCache, entry_size
from graphsvc.auth.principal import NOBODY, Principal
from graphsvc.service import CatalogService, normalize_target
from graphsvc.store import GraphStore
from ingestors.read import SourceUnavailableError

Handler = Callable[[Request], Awaitable[Response]]


def backstage_routes(service: CatalogService, cache: ResponseCache) -> list[BaseRoute]:
    """The routes, mounted at /api/catalog; reads kept in `cache`."""
    api = BackstageApi(service, cache)
    routes = [
        Route("/entities", api.entities, methods=["GET"]),
        Route("/entities/by-query", api.by_query, methods=["GET"]),
        Route("/entities/by-refs", api.by_refs, methods=["POST"]),
        Route("/entities/by-uid/{uid}", api.by_uid, methods=["GET"]),
        Route("/entities/by-name/{kind}/{namespace}/{name}", api.by_name, methods=["GET"]),
        Route("/entities/by-name/{kind}/{namespace}/{name}/ancestry", api.ancestry, methods=["GET"]),
        Route("/entity-facets", api.facets, methods=["GET"]),
        Route("/locations", api.list_locations, methods=["GET"]),
        Route("/locations", api.create_location, methods=["POST"]),
        Route("/locations/{id}", api.get_location, methods=["GET"]),
        Route("/locations/{id}", api.delete_location, methods=["DELETE"]),
        Route("/refresh", api.refresh, methods=["POST"]),
        Route("/validate-entity", api.validate_entity, methods=["POST"]),
        Route("/{rest:path}", _unknown_route, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    return [Mount(MOUNT, routes=[Route(r.path, _answering_errors(r.endpoint), methods=r.methods) for r in routes])]


def _answering_errors(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except BackstageError as error:
            return error_response(request.scope, error)

    return run


async def _unknown_route(_: Request) -> Response:
    """Backstage answers a path its router does not know with an empty 404."""
    return Response(b"", status_code=404)


class BackstageApi:
    def __init__(self, service: CatalogService, cache: ResponseCache) -> None:
        self.service = service
        self.cache = cache

    async def read(self, work: Callable[[BackstageCatalog], Any]) -> Any:
        """`work` over one store state, on a worker thread."""
        store: GraphStore = self.service.store
        return await asyncio.to_thread(store.in_one_state, lambda snapshot: work(BackstageCatalog(snapshot)))

    async def answer(
        self, request: Request, build: Callable[[BackstageCatalog], Answer], body: bytes = b""
    ) -> Response:
        """The answer `build` makes over one store state, on a worker thread, encoding included (a listing of
        thousands of entities must not hold the event loop); or the one kept for this request at the commit the
        snapshot reads (`graphsvc.api.response_cache`). The request is its method, path, query and `body`."""
        store: GraphStore = self.service.store
        key = (request.method, request.url.path, request.url.query, body)

        def work(snapshot: GraphStore) -> tuple[int | None, Answer, bool]:
            commit = snapshot.commit_number()
            kept = self.cache.get(commit, key)
            if kept is not None:
                return commit, kept, True
            return commit, build(BackstageCatalog(snapshot)), False

        commit, answer, kept = await asyncio.to_thread(store.in_one_state, work)
        if not kept:  # after in_one_state: a disturbed snapshot's reading was done again, under its own number
            self.cache.put(commit, key, answer, entry_size(answer.body, request.url.path, request.url.query, body))
        return answer.response()

    # --- entities -------------------------------------------------------------------------------------------

    async def entities(self, request: Request) -> Response:
        params = request.query_params
        check_known(params, "entities")
        where = parse_filter(strings(params, "filter"))
        projection = parse_fields(strings(params, "fields"))
        orders = parse_order(strings(params, "order"))
        limit, offset = integer(params, "limit"), integer(params, "offset")
        after = non_empty(params, "after")
        paged = limit is not None or offset is not None or after is not None
        if limit == 0:
            raise input_error("Invalid limit, must be greater than zero")
        if after is not None:
            after_limit, after_offset = parse_after(after)
            limit = after_limit if after_limit is not None else limit
            offset = after_offset if after_offset is not None else offset

        def listing(catalog: BackstageCatalog) -> Answer:
            matched = catalog.matching(where)
            if not paged:  # Backstage streams these through its by-query reader: the first order only
                field = orders[0].field.lower() if orders else None
                descending = bool(orders and orders[0].descending)
                return _entities_answer(query_order(matched, field, descending), projection)
            ordered = order_entities(matched, orders)
            start = offset or 0
            page = ordered[start : start + limit] if limit is not None else ordered[start:]
            headers = {}
            if limit is not None and len(ordered) > start + limit:
                headers["link"] = f'<{_next_link(request, encode_after(limit, start + limit))}>; rel="next"'
            return _entities_answer(page, projection, headers)

        return await self.answer(request, listing)

    async def by_query(self, request: Request) -> Response:
        params = request.query_params
        check_known(params, "by-query")
        projection = parse_fields(strings(params, "fields"))
        limit = integer(params, "limit")
        limit = DEFAULT_QUERY_LIMIT if limit is None else limit
        cursor_text = non_empty(params, "cursor")
        cursor = decode_cursor(cursor_text) if cursor_text else None
        query = cursor or _initial_query(params)
        orders = parse_order_fields(query.order_field)
        where = parse_filter(query.filter)
        field = orders[0].field.lower() if orders else None
        descending = bool(orders and orders[0].descending)
        text_fields = query.term_fields or [field or "metadata.uid"]
        offset = 0 if cursor else (integer(params, "offset") or 0)

        def page_of(catalog: BackstageCatalog) -> Answer:
            ordered = query_order(full_text(catalog.matching(where), query.term, text_fields), field, descending)
            asked = query
            if cursor is None:
                asked = _with(asked, total=0 if params.get("totalItems") == "exclude" else len(ordered))
            page, more = query_page(
                ordered,
                field,
                descending,
                limit=limit,
                offset=offset,
                after=_row(asked.after),
                before=_row(asked.before),
            )
            if cursor is None and page:
                asked = _with(asked, first=list(sort_key(page[0], field)))
            page_info: dict[str, str] = {}
            if more and page:
                page_info["nextCursor"] = _with(asked, after=list(sort_key(page[-1], field)), before=None).encode()
            if cursor is not None and page and list(sort_key(page[0], field)) != asked.first:
                page_info["prevCursor"] = _with(asked, before=list(sort_key(page[0], field)), after=None).encode()
            items = [_project(item, projection) for item in page]
            return Answer(json_bytes({"items": items, "totalItems": asked.total, "pageInfo": page_info}))

        return await self.answer(request, page_of)

    async def by_refs(self, request: Request) -> Response:
        params = request.query_params
        check_known(params, "by-refs")
        where = parse_filter(strings(params, "filter"))
        body = await _json_body(request)
        refs = body.get("entityRefs") if isinstance(body, dict) else None
        if not isinstance(body, dict) or "entityRefs" not in body:
            raise input_error("request/body must have required property 'entityRefs'")
        if not isinstance(refs, list) or not all(isinstance(ref, str) for ref in refs):
            raise input_error("request/body/entityRefs must be array")
        body_fields = body.get("fields")
        if body_fields is not None and (
            not isinstance(body_fields, list) or not all(isinstance(f, str) for f in body_fields)
        ):
            raise input_error("request/body/fields must be array")
        if body.get("query") is not None:
            raise input_error("predicate queries (query) are not supported by this catalog; use the filter parameter")
        projection = parse_fields(body_fields or [])

        def items_of(catalog: BackstageCatalog) -> Answer:
            found = catalog.by_refs(refs)
            items = [
                _project(found[ref], projection) if ref in found and matches(found[ref].rows, where) else None
                for ref in refs
            ]
            return Answer(json_bytes({"items": items}))

        return await self.answer(request, items_of, json_bytes(body))

    async def by_uid(self, request: Request) -> Response:
        uid = request.path_params["uid"]

        def entity_of(catalog: BackstageCatalog) -> Answer:
            found = catalog.by_uid(uid)
            if found is None:
                raise not_found(f"No entity with uid {uid}")
            return Answer(json_bytes(found.entity))

        return await self.answer(request, entity_of)

    async def by_name(self, request: Request) -> Response:
        kind, namespace, name = (request.path_params[k] for k in ("kind", "namespace", "name"))
        ref = f"{kind}:{namespace}/{name}".lower()

        def entity_of(catalog: BackstageCatalog) -> Answer:
            found = catalog.by_refs([ref]).get(ref)
            if found is None:
                raise not_found(f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'")
            return Answer(json_bytes(found.entity))

        return await self.answer(request, entity_of)

    async def ancestry(self, request: Request) -> Response:
        kind, namespace, name = (request.path_params[k] for k in ("kind", "namespace", "name"))
        ref = f"{kind}:{namespace}/{name}".lower()

        def ancestry(catalog: BackstageCatalog) -> Answer:
            found = catalog.by_refs([ref]).get(ref)
            if found is None:
                raise not_found(f"No such entity {ref}")
            chain = catalog.ancestry(found)
            items = [{"entity": shaped.entity, "parentEntityRefs": parents} for shaped, parents in chain]
            return Answer(json_bytes({"rootEntityRef": ref, "items": items}))

        return await self.answer(request, ancestry)

    async def facets(self, request: Request) -> Response:
        params = request.query_params
        check_known(params, "facets")
        facets = [f for f in strings(params, "facet") if f]
        if not params.getlist("facet"):
            raise input_error("request/query must have required property 'facet'")
        if not facets:
            raise input_error("Missing facet parameter")
        where = parse_filter(strings(params, "filter"))
        return await self.answer(
            request, lambda catalog: Answer(json_bytes({"facets": facet_counts(catalog.matching(where), facets)}))
        )

    # --- locations, refresh, validation ----------------------------------------------------------------------

    async def list_locations(self, request: Request) -> Response:
        check_known(request.query_params, "none")
        locations = await self.read(lambda catalog: catalog.locations)
        return JSONResponse([{"data": location.data()} for location in locations])

    async def get_location(self, request: Request) -> Response:
        location = await self._location(request.path_params["id"])
        return JSONResponse(location.data())

    async def create_location(self, request: Request) -> Response:
        principal = _writer(request)
        check_known(request.query_params, "locations")
        if request.query_params.get("dryRun") not in (None, "false", "0", "no"):
            raise input_error("dryRun is not supported by this catalog: POST without it to register the location")
        body = await _json_body(request)
        if not isinstance(body, dict) or not body:
            raise input_error(
                "Expected body to be a JSON object" if not isinstance(body, dict) else "Empty request body"
            )
        for required in ("type", "target"):
            if required not in body:
                raise input_error(f"request/body must have required property '{required}'")
        unknown = sorted(set(body) - {"type", "target", "presence"})
        if unknown:
            raise input_error(f"request/body must NOT have additional properties: '{unknown[0]}'")
        kind, target = body["type"], body["target"]
        if not isinstance(kind, str) or not isinstance(target, str):
            raise input_error("request/body/type and request/body/target must be strings")
        if kind not in ("url", "file") or location_type(target) != kind:
            raise input_error(f'Registered locations must be of an allowed type ["url","file"]; {kind}:{target} is not')
        location = await self.service.run_write(lambda: self._register(target, principal))
        return JSONResponse({"location": location.data(), "entities": []}, status_code=201)

    def _register(self, target: str, principal: Principal) -> BackstageLocation:
        """On the writer thread: refuse a location registered already (Backstage's 409), else register and
        sync it (a location that cannot be read is not registered: 400)."""
        try:
            normalized = normalize_target(target)
            registered = {record.target: record for record in self.service.store.registered_locations()}
            if normalized in registered:
                raise BackstageError(409, "ConflictError", f"Location {location_type(target)}:{target} already exists")
            self.service.register(target, principal=principal.name)
        except SourceUnavailableError as error:
            raise input_error(str(error)) from None
        record = next(r for r in self.service.store.registered_locations() if r.target == normalized)
        return backstage_location(record)

    async def delete_location(self, request: Request) -> Response:
        principal = _writer(request)
        location = await self._location(request.path_params["id"])
        await self.service.run_write(
            lambda: self.service.unregister(location.registered_target, principal=principal.name)
        )
        return Response(status_code=204)

    async def _location(self, location_id: str) -> BackstageLocation:
        locations = await self.read(lambda catalog: catalog.locations)
        for location in locations:
            if location.id == location_id:
                return location
        raise not_found(f"Found no location with ID {location_id}")

    async def refresh(self, request: Request) -> Response:
        principal = _writer(request)
        body = await _json_body(request)
        ref = body.get("entityRef") if isinstance(body, dict) else None
        if not isinstance(ref, str):
            raise input_error("request/body must have required property 'entityRef'")

        def source_of(catalog: BackstageCatalog) -> str | None:
            for location in catalog.locations:
                if location.entity_ref == ref:
                    return location.registered_target
            record = catalog.store.entity(ref)
            return record.source if record is not None else None

        source = await self.read(source_of)
        if source is None:
            raise not_found(f"Entity {ref} not found")
        try:
            await self.service.run_write(lambda: self.service.refresh(source, principal=principal.name))
        except SourceUnavailableError as error:
            raise input_error(str(error)) from None
        return Response(status_code=200)

    async def validate_entity(self, request: Request) -> Response:
        body = await _json_body(request)
        errors = validate_entity_request(body, self.service.settings.custom_kinds)
        if errors:
            return JSONResponse({"errors": errors}, status_code=400)
        return Response(status_code=200)


def _writer(request: Request) -> Principal:
    principal: Principal = request.scope.get("state", {}).get("principal") or NOBODY
    if not principal.allows("write"):
        raise BackstageError(403, "NotAllowedError", "your credentials do not allow changing the catalog (scope write)")
    return principal


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if not content_type:
        raise input_error("Content-Type missing")
    if not content_type.split(";")[0].strip() == "application/json":
        raise input_error("Illegal Content-Type")
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        raise input_error("the request body is not valid JSON") from None


def _project(item: Shaped, projection: Projection | None) -> dict[str, Any]:
    return projection(item.entity) if projection else item.entity


def _entities_answer(
    items: list[Shaped], projection: Projection | None, headers: dict[str, str] | None = None
) -> Answer:
    return Answer(json_bytes([_project(item, projection) for item in items]), headers=headers or {})


def json_bytes(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON, as Starlette's `JSONResponse` writes it, by orjson (a listing of 10,000
    full entities: 37 ms against 151 ms); what orjson cannot encode (an integer past 64 bits, from a YAML
    document) the standard encoder does."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _initial_query(params: QueryParams) -> QueryCursor:
    """The query of a first by-query request (the one its cursors carry on)."""
    total_mode = params.get("totalItems")
    if total_mode is not None and total_mode not in ("include", "exclude"):
        raise input_error("request/query/totalItems must be equal to one of the allowed values: include, exclude")
    return QueryCursor(
        filter=strings(params, "filter"),
        order_field=strings(params, "orderField"),
        term=params.get("fullTextFilterTerm", ""),
        term_fields=strings(params, "fullTextFilterFields", comma_separated=True) or None,
        total=0,
        first=None,
    )


def _row(value: list[str] | None) -> tuple[str, str] | None:
    return (value[0], value[1]) if value else None


def _with(cursor: QueryCursor, **changes: Any) -> QueryCursor:
    return replace(cursor, **changes)


def _next_link(request: Request, after: str) -> str:
    """Backstage's `link` of the next page: the request without `offset`, with `after` (in place if it was
    there), encoded as a browser's URLSearchParams encodes."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
    if any(k == "after" for k, _ in pairs):
        first = next(i for i, (k, _) in enumerate(pairs) if k == "after")
        pairs = [p for i, p in enumerate(pairs) if p[0] != "after" or i == first]
        pairs[first] = ("after", after)
    else:
        pairs.append(("after", after))
    query = "&".join(f"{_form(k)}={_form(v)}" for k, v in pairs)
    return f"{request.url.path[len(MOUNT) :]}?{query}"


def _form(text: str) -> str:
    return quote_plus(text, safe="*").replace("~", "%7E")
