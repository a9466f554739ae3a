"""The GraphQL operation a request asks for, by name, for the request log and the metrics.

The outermost middlewares (`request_log`, `metrics`) report each request with its operation, but they see the
request before its body is read; `OperationName`, just inside `HttpLimits` (which has read the body whole),
finds the name and leaves it in `scope["state"]["graphql_operation"]`, where they read it once the response
is sent. The convention, for whoever else sets it (the GraphQL layer may, with the operation it executed):
- key absent: not a GraphQL operation (another route, the GraphiQL page, a body that is not JSON);
- `None`: an anonymous operation (`{ ... }`, `query { ... }`);
- a string: the operation's name, a GraphQL name of at most `MAX_NAME_LENGTH` characters.

The name is found cheaply: `operationName` when the client gave one, else the name of the document's first
operation, found by the lexer (fragments before it skipped), without parsing the document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

from graphql.error import GraphQLSyntaxError
from graphql.language import Lexer, Source, Token, TokenKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATE_KEY = "graphql_operation"
MAX_NAME_LENGTH = 128
"""A longer "name" is no name we report (log lines and label values stay short)."""
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})
OPENING = {TokenKind.BRACE_L, TokenKind.PAREN_L, TokenKind.BRACKET_L}
CLOSING = {TokenKind.BRACE_R, TokenKind.PAREN_R, TokenKind.BRACKET_R}


class NotAnOperation(ValueError):
    """The request holds no GraphQL operation we can name (no query, a body that is not JSON, ...)."""


class OperationName:
    """ASGI middleware: puts the operation name of each request to `path` in the scope's state."""

    def __init__(self, app: ASGIApp, *, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        first: Message | None = None
        if scope["method"] == "POST":
            first = await receive()  # the whole body: HttpLimits, outside, has read it
            payload = _json(first.get("body", b""))
        else:
            payload = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        try:
            scope.setdefault("state", {})[STATE_KEY] = operation_name(payload)
        except NotAnOperation:
            pass
        await self.app(scope, receive if first is None else _replay(first, receive), send)


def operation_name(payload: Any) -> str | None:
    """The name of the operation a GraphQL request payload (`{"query": ..., "operationName": ...}`) asks
    for; None for an anonymous one. Raises `NotAnOperation` when the payload holds no operation."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        raise NotAnOperation("no query")
    given = payload.get("operationName")
    name = given if isinstance(given, str) and given else first_operation(payload["query"])
    if name is not None and (len(name) > MAX_NAME_LENGTH or not NAME.fullmatch(name)):
        raise NotAnOperation("not a GraphQL name")
    return name


def first_operation(document: str) -> str | None:
    """The name of the document's first operation; None when it is anonymous, or the document has none or
    does not lex (the GraphQL layer reports why)."""
    tokens = _tokens(document)
    try:
        for token in tokens:
            if token.kind is TokenKind.NAME and token.value in OPERATION_TYPES:
                name = next(tokens)
                return name.value if name.kind is TokenKind.NAME else None
            if token.kind is not TokenKind.NAME or token.value != "fragment":
                return None  # `{ ... }` (the shorthand anonymous query), or not an executable document
            _skip_definition(tokens)
    except (GraphQLSyntaxError, StopIteration):
        return None
    return None


def _skip_definition(tokens: Iterator[Token]) -> None:
    """Consume a fragment definition up to the brace that closes its selection set (braces, parentheses and
    brackets in its directives' arguments nest inside)."""
    depth = 0
    for token in tokens:
        if token.kind in OPENING:
            depth += 1
        elif token.kind in CLOSING:
            depth -= 1
            if depth == 0 and token.kind is TokenKind.BRACE_R:
                return


def _tokens(document: str) -> Iterator[Token]:
    lexer = Lexer(Source(document))
    while (token := lexer.advance()).kind is not TokenKind.EOF:
        yield token


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deeply: the GraphQL layer says so
        return None


def _replay(first: Message, receive: Receive) -> Receive:
    """`first` again as the application's first `receive`; after it, the connection's own."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return replayed
