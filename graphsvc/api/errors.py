"""Errors shown to GraphQL clients: a message that says what to change, and a machine-readable code."""

from __future__ import annotations

from graphql import GraphQLError


def bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})
