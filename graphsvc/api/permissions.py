"""Scopes on GraphQL fields: a mutation runs only for a principal holding its scope.

The HTTP layer lets a request in once it may read (`graphsvc.api.authentication`); what it may change is
decided here, by each field that changes or reveals more than catalog data calling `require` first. (Not
Strawberry's permission classes: their extension takes a `source` argument, which clashes with the
`refresh(source:)` argument of our contract.) A refusal is a GraphQL error with code `FORBIDDEN` and HTTP
status 403; it names the scope missing, nothing about the data.
"""

from __future__ import annotations

from graphql import GraphQLError
from strawberry.types import Info


def require(info: Info, scope: str) -> None:
    """Refuse the field unless the request's principal holds `scope`."""
    if info.context.principal.allows(scope):
        return
    if info.context.response is not None:
        info.context.response.status_code = 403
    raise GraphQLError(
        f"this operation needs the {scope} scope, which your credentials do not hold",
        extensions={"code": "FORBIDDEN"},
    )
