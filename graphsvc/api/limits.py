"""Bounds on what one request may ask: validation rules checked before anything is executed, and the page size
of every list argument `first`."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, Node, SelectionSetNode, ValidationContext, ValidationRule
from strawberry.extensions import max_aliases, query_depth_limiter

from graphsvc.api.errors import bad_input

MAX_QUERY_DEPTH = 15
MAX_ALIASES = 50
MAX_TOKENS = 5000
MAX_FIRST = 1000
DEFAULT_FIRST = 100
"""The page size of a list whose `first` is not given: top-level lists and the lists below an entity alike."""


def page_size(first: int | None) -> int:
    """The page a `first` argument asks for: its default when absent, refused outside 0..MAX_FIRST."""
    if first is None:
        return DEFAULT_FIRST
    if not 0 <= first <= MAX_FIRST:
        raise bad_input(f"first must be between 0 and {MAX_FIRST}, got {first}")
    return first


_DepthLimit = query_depth_limiter.create_validator(MAX_QUERY_DEPTH, None, None)


class DepthLimit(_DepthLimit):  # type: ignore[misc, valid-type]
    """The depth limit, after a check for empty selection sets: graphql-core 3.3 parses `{}` (and
    `entity { }`), on which the depth rule fails with Python's own `max()` error; the client gets a
    message that says what is wrong instead."""

    def __init__(self, context: ValidationContext) -> None:
        empty = next(_empty_selection_sets(context.document), None)
        if empty is None:
            super().__init__(context)
            return
        ValidationRule.__init__(self, context)
        context.report_error(GraphQLError("a selection set is empty: select at least one field", empty))


def _empty_selection_sets(node: Node) -> Iterator[SelectionSetNode]:
    if isinstance(node, SelectionSetNode) and not node.selections:
        yield node
    for key in node.keys:
        value = getattr(node, key, None)
        children = value if isinstance(value, list | tuple) else [value]
        for child in children:
            if isinstance(child, Node):
                yield from _empty_selection_sets(child)


LIMIT_RULES = [DepthLimit, max_aliases.create_validator(MAX_ALIASES)]
"""Built once: the validation cache is keyed by the rule classes, and the stock QueryDepthLimiter and
MaxAliasesLimiter extensions build new classes per request, so nothing was ever cached (measured: 2.3 ms per
point query, most of it re-validation)."""
