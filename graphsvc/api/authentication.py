"""Who is asking: every HTTP request's credentials checked before the application sees it.

`Authorization: Bearer <token>` carries an API token (`cgt_...`, `graphsvc.auth.tokens`) or, when OIDC is
configured, a JWT from the identity provider (`graphsvc.auth.oidc`). A request without credentials acts as
the anonymous principal, which holds the scopes `auth.anonymous` grants (none by default). Credentials that
do not verify are refused even where anonymous access would do: a client with a broken token should learn
so, not silently read less.

What each route needs (`ROUTE_SCOPES`): `/health` and `/ready` are open (load balancers ask them, and they
tell nothing but up or down), so are the GraphiQL page and its files under /graphql/assets/ (static HTML,
scripts and styles; the queries the page sends are checked like any other); everything else needs `read`.
Mutations need more, checked field by field in the schema (`graphsvc.api.permissions`). Refusals are 401 (no
or bad credentials, with `WWW-Authenticate`) or 403 (not allowed), in GraphQL's error shape with code
`UNAUTHENTICATED` or `FORBIDDEN`, and say nothing of what exists; under /api/catalog (the Backstage REST API) in
Backstage's error body instead, `AuthenticationError` or `NotAllowedError` (`graphsvc.api.backstage.errors`).
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from graphsvc.api.backstage.errors import is_backstage_path
from graphsvc.api.backstage.errors import refuse as backstage_refuse
from graphsvc.api.graphiql import ASSETS_PATH
from graphsvc.api.http_limits import header, refuse
from graphsvc.auth.oidc import InvalidBearerToken, OidcVerifier
from graphsvc.auth.principal import Principal, anonymous
from graphsvc.auth.tokens import ApiTokens, looks_like_api_token

OPEN_ROUTES = frozenset({"/", "/health", "/ready"})


class Authentication:
    def __init__(
        self, app: ASGIApp, *, tokens: ApiTokens, oidc: OidcVerifier | None, anonymous_scopes: list[str]
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.oidc = oidc
        self.anonymous_scopes = anonymous_scopes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        credential = _bearer(scope)
        if credential is None:
            principal = self._anonymous(scope)
        else:
            try:
                principal = await self._authenticate(credential)
            except InvalidBearerToken as error:
                await _unauthenticated(send, str(error), invalid=True, scope=scope)
                return
        scope.setdefault("state", {})["principal"] = principal
        if _is_graphiql_page(scope):
            await self.app(scope, receive, send)
        elif principal is None:
            await _unauthenticated(
                send, "this service needs credentials: send Authorization: Bearer <token>", scope=scope
            )
        elif not principal.allows("read"):
            await _forbidden(scope, send, "your credentials do not allow reading the catalog (scope read)")
        else:
            await self.app(scope, receive, send)

    async def _authenticate(self, credential: str) -> Principal:
        """On the event loop when it is a dictionary lookup (an API token, the token list cached); on a thread
        when it may wait (reading the token list from the store, fetching the issuer's keys)."""
        if looks_like_api_token(credential) and self.tokens.cached():
            return self.authenticate(credential)
        return await asyncio.to_thread(self.authenticate, credential)

    def authenticate(self, credential: str) -> Principal:
        """The principal of a bearer credential; `InvalidBearerToken` when it does not verify."""
        if looks_like_api_token(credential):
            principal = self.tokens.authenticate(credential)
            if principal is None:
                raise InvalidBearerToken("the API token is unknown or revoked")
            return principal
        if self.oidc is None:
            raise InvalidBearerToken("the bearer token is not an API token (and no OIDC issuer is configured)")
        return self.oidc.authenticate(credential)

    def _anonymous(self, scope: Scope) -> Principal | None:
        if not self.anonymous_scopes:
            return None
        client = scope.get("client")
        return anonymous(self.anonymous_scopes, client[0] if client else "unknown")


def _is_open(path: str) -> bool:
    """Open to every request, with credentials or without: the health checks, the GraphiQL page's files."""
    return path in OPEN_ROUTES or path.startswith(ASSETS_PATH)


def _bearer(scope: Scope) -> str | None:
    """The credential of an `Authorization: Bearer` header; "" for any other Authorization (refused)."""
    value = header(scope, b"authorization")
    if value is None:
        return None
    kind, _, credential = value.strip().partition(" ")
    return credential.strip() if kind.lower() == "bearer" else ""


def _is_graphiql_page(scope: Scope) -> bool:
    """A browser asking for the GraphiQL page itself (a GET of /graphql for HTML, with no query in it)."""
    if scope["path"] != "/graphql" or scope["method"] != "GET":
        return False
    accepts_html = "text/html" in (header(scope, b"accept") or "")
    return accepts_html and "query" not in parse_qs(scope.get("query_string", b"").decode("latin-1"))


async def _unauthenticated(send: Send, message: str, *, invalid: bool = False, scope: Scope | None = None) -> None:
    challenge = 'Bearer realm="catalog"' + (', error="invalid_token"' if invalid else "")
    if scope is not None and is_backstage_path(scope["path"]):  # the REST API answers in Backstage's error body
        message = message if invalid else "Missing credentials"
        await backstage_refuse(
            scope, send, 401, "AuthenticationError", message, [(b"www-authenticate", challenge.encode())]
        )
        return
    await refuse(send, 401, message, "UNAUTHENTICATED", headers=[(b"www-authenticate", challenge.encode())])


async def _forbidden(scope: Scope, send: Send, message: str) -> None:
    if is_backstage_path(scope["path"]):
        await backstage_refuse(scope, send, 403, "NotAllowedError", message)
    else:
        await refuse(send, 403, message, "FORBIDDEN")
