"""One log line per HTTP request, with an id the client and the operator can both quote.

The middleware is outermost, so it logs every request, those refused before the API saw them (400, 401, 408,
413, 429) included. Each request gets an id: the client's `X-Request-Id` when it is short and safe to log
(`REQUEST_ID`), else a new one; the response carries it back, and `scope["state"]["request_id"]` holds it for
the layers inside. A request whose handler raises before answering is answered 500 here, with its id, and the
traceback is logged with the id. The line (logger `graphsvc.request`, INFO, 5xx at ERROR) holds the fields in
`FIELDS`; `graphsvc.log_format` writes them as one JSON object. Request bodies and headers are never logged:
a body holds the client's data, an `Authorization` header its credentials.
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphsvc.api.http_limits import header, refuse
from graphsvc.api.operation_name import STATE_KEY

logger = logging.getLogger("graphsvc.request")
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
"""The id of the request being served, for every log line written while serving it (`graphsvc.log_format`
adds it); the execution threads run each operation in the request's context."""
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
HEADER = b"x-request-id"
FIELDS = ("request_id", "method", "path", "status", "duration_ms", "principal", "operation", "bytes_sent", "client")
NO_RESPONSE = 499
"""The status logged when the client went away before an answer (nginx's "client closed request")."""


class RequestLog:
    """ASGI middleware: a request id on each request and response, one log line when the response is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        current = current_request_id.set(request_id)
        sent: dict[str, int] = {"status": NO_RESPONSE, "bytes": 0}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if sent["status"] != NO_RESPONSE:
                raise  # the response has begun: nothing else can be sent
            logger.exception("request %s failed", request_id, extra={"fields": {"request_id": request_id}})
            message = f"internal error: the service's log has it under request id {request_id}"
            await refuse(sending, 500, message, scope=scope)
        finally:
            _log(request_line(scope, state, sent["status"], sent["bytes"], time.perf_counter() - started))
            current_request_id.reset(current)


def request_line(scope: Scope, state: dict[str, Any], status: int, bytes_sent: int, seconds: float) -> dict[str, Any]:
    """The fields of one request's log line (see `FIELDS`)."""
    principal = state.get("principal")
    client = scope.get("client")
    return {
        "request_id": state["request_id"],
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "principal": getattr(principal, "name", "anonymous"),
        "operation": state.get(STATE_KEY),
        "bytes_sent": bytes_sent,
        "client": client[0] if client else None,
    }


def _log(line: dict[str, Any]) -> None:
    level = logging.ERROR if line["status"] >= 500 else logging.INFO
    text = f"{line['method']} {line['path']} {line['status']} {line['duration_ms']:.1f} ms"
    details = " ".join(f"{name}={line[name]}" for name in ("request_id", "principal", "operation") if line[name])
    logger.log(level, "%s %s", text, details, extra={"fields": line})


def _request_id(scope: Scope) -> str:
    given = header(scope, HEADER)
    return given if given is not None and REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
