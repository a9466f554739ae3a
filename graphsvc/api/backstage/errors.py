"""Backstage's error answers: `{error: {name, message}, request: {method, url}, response: {statusCode}}`.

Every refusal of a REST route (bad parameters, unknown entities, missing credentials) is answered in this shape,
with Backstage's error names (`InputError` 400, `AuthenticationError` 401, `NotAllowedError` 403,
`NotFoundError` 404, `ConflictError` 409), so a Backstage client reads our errors as it reads Backstage's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import Scope, Send

MOUNT = "/api/catalog"
"""Where the routes are mounted; Backstage's `request.url` is the path below it."""


class BackstageError(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def input_error(message: str) -> BackstageError:
    return BackstageError(400, "InputError", message)


def not_found(message: str) -> BackstageError:
    return BackstageError(404, "NotFoundError", message)


def error_body(scope: Scope, status: int, name: str, message: str) -> dict[str, Any]:
    path = scope["path"]
    url = path[len(MOUNT) :] if path.startswith(MOUNT) else path
    query = scope.get("query_string", b"").decode("latin-1")
    return {
        "error": {"name": name, "message": message},
        "request": {"method": scope["method"], "url": f"{url}?{query}" if query else url},
        "response": {"statusCode": status},
    }


def error_response(scope: Scope, error: BackstageError) -> JSONResponse:
    return JSONResponse(error_body(scope, error.status, error.name, error.message), status_code=error.status)


STATUS_NAMES = {
    400: "InputError",
    401: "AuthenticationError",
    403: "NotAllowedError",
    404: "NotFoundError",
    408: "RequestTimeoutError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    429: "TooManyRequestsError",
    500: "Error",
}
"""The error name of each status a request may be refused with before any route sees it (`http_limits.refuse`):
Backstage's own names where Backstage has one (its `@backstage/errors`; 413 is what its body parser names), and
for a timeout and the rate limit, which Backstage's catalog does not answer, names in the same style."""


def is_backstage_path(path: str) -> bool:
    """Whether a request is for the REST routes (answered in Backstage's error shape, also when refused)."""
    return path == MOUNT or path.startswith(MOUNT + "/")


async def refuse(
    scope: Scope, send: Send, status: int, name: str, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Answer a REST request refused before any route saw it (authentication), in Backstage's error body."""
    payload = json.dumps(error_body(scope, status, name, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json; charset=utf-8"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": payload})
