"""Bounds on what one request may ask: validation rules checked before anything is executed, and the page size
of every list argument `first`."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions import max_aliases, query_depth_limiter
from strawberry.types import Info

from graphsvc.api.errors import bad_input

MAX_QUERY_DEPTH = 15
MAX_ALIASES = 50
MAX_TOKENS = 5000
MAX_FIRST = 1000
DEFAULT_FIRST = 100
"""The page size of a list whose `first` is not given: top-level lists and the lists below an entity alike."""


MAX_BULK_FIRST = 10_000
"""The largest page of `Query.entities` whose nodes select leaf fields only (`ref`, `name`, `tags`, `spec`:
scalars, enums and lists of them; no relations, no related entities): what an export, a report or a list of
names reads, in a tenth of the requests. Such a page costs 1 per node and 1 per field of it, so the cost
limit (`query_max_cost`) still decides how many fields a page of that size may select."""


def page_size(first: int | None, limit: int = MAX_FIRST, *, bulk: bool = False) -> int:
    """The page a `first` argument asks for: its default when absent, refused outside 0..limit; the refusal
    of a `bulk` page (one that may hold MAX_BULK_FIRST with leaf fields only) says so."""
    if first is None:
        return DEFAULT_FIRST
    if not 0 <= first <= limit:
        hint = bulk and limit < first <= MAX_BULK_FIRST
        more = f" (up to {MAX_BULK_FIRST} when the nodes select leaf fields only)" if hint else ""
        raise bad_input(f"first must be between 0 and {limit}, got {first}{more}")
    return first


def entity_page_limit(info: Info) -> int:
    """The largest `first` of this `entities` connection: MAX_BULK_FIRST when every field selected under
    `edges { node { ... } }` is a leaf (fragments and inline fragments followed), MAX_FIRST otherwise."""
    raw = info._raw_info
    fragments = raw.fragments
    connection = get_named_type(raw.return_type)
    for field in raw.field_nodes:
        for edges in _selected(field.selection_set, "edges", fragments):
            edge_type = get_named_type(connection.fields["edges"].type)  # type: ignore[union-attr]
            node_type = get_named_type(edge_type.fields["node"].type)  # type: ignore[union-attr]
            for node in _selected(edges.selection_set, "node", fragments):
                if not _leaves_only(node.selection_set, node_type, raw.schema, fragments):
                    return MAX_FIRST
    return MAX_BULK_FIRST


def _selected(
    selections: SelectionSetNode | None, name: str, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    """The fields called `name` in a selection set, through its fragments."""
    for selection in selections.selections if selections else ():
        if isinstance(selection, FieldNode) and selection.name.value == name:
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _selected(selection.selection_set, name, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _selected(fragments[selection.name.value].selection_set, name, fragments)


def _leaves_only(
    selections: SelectionSetNode | None,
    parent: object,
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
) -> bool:
    """Whether every field of a selection set on `parent` (an object or interface type; a fragment's type
    condition replaces it) is a leaf: a scalar, an enum, or a list of them."""
    for selection in selections.selections if selections else ():
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                return False
            definition = parent.fields.get(selection.name.value)
            if definition is None or not isinstance(
                get_named_type(definition.type), GraphQLScalarType | GraphQLEnumType
            ):
                return False
            continue
        fragment = selection if isinstance(selection, InlineFragmentNode) else fragments.get(selection.name.value)  # type: ignore[attr-defined]
        if fragment is None:
            return False
        condition = schema.get_type(fragment.type_condition.name.value) if fragment.type_condition else parent
        if not _leaves_only(fragment.selection_set, condition, schema, fragments):
            return False
    return True


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
