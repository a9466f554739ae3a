"""HTTP hygiene in front of the API: a request body has a size limit and must arrive in time, and every
response carries the headers that keep a browser from misusing it.

Without it a 50 MB body was accepted and parsed, and a client that sent its headers and then part of a body
held a connection (and its worker) forever. The body is read here, whole, under both limits, before the
application sees it; a request over the limit is answered 413, one too slow 408, in GraphQL's JSON error shape.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphsvc.api.backstage.errors import STATUS_NAMES, is_backstage_path
from graphsvc.api.backstage.errors import refuse as backstage_refuse

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
"""On every response: no content-type sniffing, no framing by other sites (clickjacking of GraphiQL), no
referrer carrying a query's URL elsewhere."""


class HttpLimits:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, read_timeout_s: float, allowed_hosts: Sequence[str] = ("*",)
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.read_timeout_s = read_timeout_s
        self.allowed_hosts = {host.lower() for host in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        host = _host(scope)
        if "*" not in self.allowed_hosts and host not in self.allowed_hosts:
            await self._refuse(scope, send, 400, f"the Host header {host!r} is not a name this service answers to")
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(scope, send, 413, self._too_large(declared))
            return
        body = bytearray()
        deadline = asyncio.get_running_loop().time() + self.read_timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except TimeoutError:
                await self._refuse(
                    scope, send, 408, f"the request body did not arrive within {self.read_timeout_s:g} s"
                )
                return
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await self._refuse(scope, send, 413, self._too_large(len(body)))
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_large(self, size: int) -> str:
        return f"the request body ({size:,} bytes or more) is over the limit of {self.max_body_bytes:,} bytes"

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
        await refuse(send, status, message, headers=[(b"connection", b"close")], scope=scope)


async def refuse(
    send: Send,
    status: int,
    message: str,
    code: str | None = None,
    headers: Sequence[tuple[bytes, bytes]] = (),
    scope: Scope | None = None,
) -> None:
    """Answer a request refused before the application saw it, in GraphQL's JSON error shape (with
    `extensions.code` when given), so a client reads every error the same way; a request of the Backstage REST
    API (`scope`'s path under /api/catalog) in Backstage's error body instead."""
    if scope is not None and is_backstage_path(scope["path"]):
        await backstage_refuse(scope, send, status, STATUS_NAMES[status], message, headers)
        return
    error: dict[str, object] = {"message": message}
    if code:
        error["extensions"] = {"code": code}
    payload = json.dumps({"errors": [error]}).encode()
    fixed = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*fixed, *headers]})
    await send({"type": "http.response.body", "body": payload})


def header(scope: Scope, wanted: bytes) -> str | None:
    """A request header's value (ASGI names them in lower case), or None without one."""
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin-1")
    return None


def _host(scope: Scope) -> str:
    """The Host header's name, without its port (`[::1]:8000` -> `[::1]`)."""
    host = (header(scope, b"host") or "").lower()
    return host.rsplit(":", 1)[0] if host.rfind(":") > host.rfind("]") else host


def _content_length(scope: Scope) -> int | None:
    declared = header(scope, b"content-length")
    try:
        return int(declared) if declared is not None else None
    except ValueError:
        return None


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """The body read already, as the application's first `receive`; after it, the connection's own (which
    tells of a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _with_security_headers(send: Send) -> Callable[[Message], Awaitable[None]]:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending
