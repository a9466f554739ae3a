"""The estimated cost of a GraphQL operation, computed before it executes; costlier ones than
`query_max_cost` are refused.

Why: a query of a few lines can ask for millions of objects. `relations { target { relations { ... } } }`
five deep on a hub entity (query depth 11, inside the depth limit) took 39 s and answered 23.6 MB; six deep
ran the service out of memory. Depth does not see this; the cost does, because nested lists multiply.

The model: one deterministic number per query text and variables, the number of objects and fields the
answer may hold.
- Every field costs 1. A field with a selection costs 1 + size x the cost of its selection, its size being
  how many objects it answers:
  - a list with a `first` argument: its page (`first`, DEFAULT_FIRST when absent);
  - a connection (`entities`, `history`, `changes`): one object, and its page is the size of its `edges`;
  - any other list: its connection's page inside one; else CHANGES_SIZE for the changes of one version or
    event (`FieldChange`, `RelationChange`), FAN_OUT for the rest.
- Below an entity a page holds at most what an entity has: FAN_OUT related entities or relation rows;
  `dependencies(depth: d)` d x FAN_OUT; the walks of the group tree (`descendants`, `ownedEntities(transitive:
  true)`) fill their page.
- A traversal also costs what it walks, whatever its page: `dependencies(depth: d)` d x FAN_OUT more (the
  store reads every entity it reaches, then pages them); so do `dependents(depth: d)` past depth 1 and
  `walk(relations, direction, depth: d)` (d x FAN_OUT per relation type, twice with BOTH). At the top,
  `paths(maxDepth: d)` costs d x FAN_OUT per relation type (every type by default) and `dependencyCycles`
  EDGE_SCAN: each reads what it walks before it answers.
- Fragments and inline fragments count as if each applied (an upper bound where type conditions differ).

The same number routes the operation to a worker pool (`graphsvc.api.app.ExecutionThreads`), so it is cached
per query text, operation and the values of the variables it can depend on (those inside the arguments the
model reads, `COST_ARGUMENTS`): a point query asked for another ref pays a dictionary lookup, not a walk.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    ArgumentNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    parse,
)
from graphql.utilities import value_from_ast_untyped
from strawberry.types import ExecutionContext

from graphsvc.api.document_nodes import nodes_below
from graphsvc.api.entities import MAX_DEPTH
from graphsvc.api.limits import DEFAULT_FIRST, MAX_BULK_FIRST, MAX_QUERY_DEPTH, MAX_TOKENS
from graphsvc.api.traversals import DEFAULT_MAX_DEPTH
from graphsvc.store.traversal import RELATION_TYPES

FAN_OUT = 20
"""How many related entities (or relation rows) one entity is estimated to have, per list and per hop. From
the catalogs we have: relation rows per entity in the 10k-entity benchmark catalog mean 8.6, p90 12, p99 48,
max 169 (a team owning 159 entities); in the demo catalog mean 6.1, p90 14, max 34."""
CHANGES_SIZE = 3
"""How many fields (or relation rows) one version or change event is estimated to change: an update by a
sync typically changes one to three (a description; an owner, and with it its relation row)."""
CHANGE_TYPES = frozenset({"FieldChange", "RelationChange"})
COSTLY_SHARE = 10
"""An operation estimated at more than 1/COSTLY_SHARE of `query_max_cost` is a costly one: it executes on the
small pool of workers, never on the ones point queries use."""
WALKS = frozenset({"descendants"})
"""Fields below an entity that walk the whole group tree: their page fills (so does transitive ownership)."""
EDGE_SCAN = 2_500
"""The estimated reach of `dependencyCycles`, which reads every dependsOn edge of the catalog: above the
costly share of the default limit, so that it executes on the costly workers' pool."""


def too_costly(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"the query's estimated cost {cost:,} is over the limit of {limit:,} (query_max_cost): ask for smaller "
        "pages (first) or fewer nested lists",
        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limit},
    )


def is_costly(cost: int | None, limit: int) -> bool:
    """Whether an operation of this estimated cost (None: not parsable) belongs on the costly workers' pool."""
    return cost is not None and cost * COSTLY_SHARE > limit


def request_cost(
    schema: GraphQLSchema, query: str | None, variables: Any = None, operation_name: str | None = None
) -> int | None:
    """The estimated cost of one request; None when it has no query that parses (the request is refused for
    that, saying why)."""
    if not isinstance(query, str):
        return None
    values = variables if isinstance(variables, dict) else {}
    read = _cost_variables(query)
    if read is not None:
        values = {name: value for name, value in values.items() if name in read}
    return _request_cost(schema, query, operation_name, canonical_variables(values))


def canonical_variables(variables: dict[str, Any]) -> bytes | str:
    """A request's variables as one key (of the cost cache, of kept answers): JSON with sorted keys; what
    orjson cannot encode (an integer past 64 bits), `json.dumps` does."""
    try:
        return orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(variables, sort_keys=True, default=str)


@lru_cache(maxsize=1000)
def _request_cost(schema: GraphQLSchema, query: str, operation_name: str | None, variables: bytes | str) -> int | None:
    document = _parsed(query)
    if document is None:
        return None
    return estimate(schema, document, json.loads(variables), operation_name)


COST_ARGUMENTS = frozenset({"first", "depth", "maxDepth", "relations", "direction", "transitive"})
"""The arguments whose values the estimate reads (`_page`, `_reach`, `_root_reach`, `_entity_bound`); a
variable used nowhere inside one cannot change the cost."""


@lru_cache(maxsize=1000)
def _cost_variables(query: str) -> frozenset[str] | None:
    """The names of the variables used inside a `COST_ARGUMENTS` argument anywhere in the document (every
    operation and fragment); None when it does not parse."""
    document = _parsed(query)
    if document is None:
        return None
    return frozenset(
        variable.name.value
        for argument in nodes_below(document)
        if isinstance(argument, ArgumentNode) and argument.name.value in COST_ARGUMENTS
        for variable in nodes_below(argument.value)
        if isinstance(variable, VariableNode)
    )


@lru_cache(maxsize=1000)
def _parsed(query: str) -> DocumentNode | None:
    """The query parsed, once per query text: the cost is kept per set of variables, and a point query's
    variables differ from request to request (the parse was most of its estimate)."""
    try:
        return parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None


def estimate(
    schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any], operation_name: str | None = None
) -> int:
    """The cost of the operation `operation_name` of `document` (see the module's docstring); 0 when there
    is no such operation (validation refuses it)."""
    operation = get_operation_ast(document, operation_name)
    root = operation and schema.get_root_type(operation.operation)
    if operation is None or root is None:
        return 0
    values = {
        definition.variable.name.value: value_from_ast_untyped(definition.default_value)
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _Estimate(schema, fragments, values | variables).selections(operation.selection_set, root, None, 0)


class _Estimate:
    """One walk over an operation's selections. A fragment's cost is computed once per page it is spread
    with, so that fragments spreading fragments cost linear time; one spread inside itself (a cycle, which
    validation refuses) counts 0, and so does what lies past the depth limit (validation refuses it too): the
    walk also serves requests not validated yet."""

    def __init__(
        self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.fragment_costs: dict[tuple[str, int | None], int] = {}

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, page: int | None, depth: int
    ) -> int:
        """The cost of `selection_set` on objects of type `parent`; `page`: the page of the connection
        `parent` is, which sizes its lists."""
        if depth > MAX_QUERY_DEPTH:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page, depth)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, on or parent, page, depth)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, page, depth)
        return total

    def fragment(self, name: str, page: int | None, depth: int) -> int:
        key = (name, page)
        if key not in self.fragment_costs:
            definition = self.fragments.get(name)
            on = definition and self.schema.get_type(definition.type_condition.name.value)
            self.fragment_costs[key] = 0  # a spread of it inside itself counts nothing
            if definition is not None and on is not None:
                self.fragment_costs[key] = self.selections(definition.selection_set, on, page, depth)
        return self.fragment_costs[key]

    def field(self, node: FieldNode, parent: GraphQLNamedType, page: int | None, depth: int) -> int:
        definition: GraphQLField | None = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None or node.selection_set is None:
            return 1  # a leaf, a meta field (__typename, __schema) or an unknown field (validation refuses it)
        arguments = {a.name.value: value_from_ast_untyped(a.value, self.variables) for a in node.arguments or ()}
        own = _page(definition, arguments)
        reach = 0
        if own is not None and _is_entity(parent):
            reach = _reach(node.name.value, arguments)
            own = _within(own, _entity_bound(node.name.value, arguments))
        elif parent is self.schema.query_type:
            reach = _root_reach(node.name.value, arguments)
        inner = get_named_type(definition.type)
        size, inner_page = 1, own  # an object; if it is a connection, its page sizes its edges
        if isinstance(get_nullable_type(definition.type), GraphQLList):  # type: ignore[arg-type]
            size, inner_page = _first_of(own, page, CHANGES_SIZE if inner.name in CHANGE_TYPES else FAN_OUT), None
        return 1 + reach + size * self.selections(node.selection_set, inner, inner_page, depth + 1)


def _page(definition: GraphQLField, arguments: dict[str, Any]) -> int | None:
    """The page of a field with a `first` argument (None for others), as the resolver will read it: an
    absent or null `first` is DEFAULT_FIRST; one out of range is clamped to 0..MAX_BULK_FIRST, the largest page
    any resolver accepts (each refuses past its own limit)."""
    if "first" not in definition.args:
        return None
    first = arguments.get("first")
    if not isinstance(first, int) or isinstance(first, bool):
        return DEFAULT_FIRST
    return min(max(first, 0), MAX_BULK_FIRST)


def _entity_bound(name: str, arguments: dict[str, Any]) -> int | None:
    """How many objects a list below an entity holds at most, as estimated (None: as many as its page)."""
    if name in WALKS or (name == "ownedEntities" and arguments.get("transitive") is True):
        return None
    return _reach(name, arguments) or FAN_OUT


def _reach(name: str, arguments: dict[str, Any]) -> int:
    """How many entities a traversal below an entity reaches, as estimated: depth x FAN_OUT for
    `dependencies` and for `dependents` past depth 1 (at 1 it reads relation rows), times the hops per level
    for `walk` (its depth as the resolver will read it, clamped to 1..MAX_DEPTH); 0 for other fields."""
    depth = _depth(arguments.get("depth"), 1)
    if name == "dependencies" or (name == "dependents" and depth > 1):
        return depth * FAN_OUT
    if name == "walk":
        return depth * FAN_OUT * _hops(arguments.get("relations"), arguments.get("direction"))
    return 0


def _root_reach(name: str, arguments: dict[str, Any]) -> int:
    """How many entities a traversal of the Query type reaches, as estimated: `paths` walks maxDepth levels
    of FAN_OUT per hop (every relation type either way by default); `dependencyCycles` reads every dependsOn
    edge (EDGE_SCAN)."""
    if name == "paths":
        relations = arguments.get("relations")
        hops = _hops(relations, None) if relations is not None else len(RELATION_TYPES)
        return _depth(arguments.get("maxDepth"), DEFAULT_MAX_DEPTH) * FAN_OUT * hops
    return EDGE_SCAN if name == "dependencyCycles" else 0


def _depth(value: Any, default: int) -> int:
    """A depth argument as the resolver will read it, clamped to 1..MAX_DEPTH (it refuses one outside)."""
    hops = value if isinstance(value, int) and not isinstance(value, bool) else default
    return min(max(hops, 1), MAX_DEPTH)


def _hops(relations: Any, direction: Any) -> int:
    """How many edge lists a walk over `relations` reads per entity and level: one per type, two with BOTH.
    The arguments are not validated yet: anything that is not a list of names counts as one type."""
    names = {r for r in relations if isinstance(r, str)} if isinstance(relations, list) else set()
    types = len(names) or 1
    return types * (2 if direction == "BOTH" else 1)


def _first_of(*sizes: int | None) -> int:
    return next(size for size in sizes if size is not None)


def _within(page: int, bound: int | None) -> int:
    return page if bound is None else min(page, bound)


def _is_entity(parent: GraphQLNamedType) -> bool:
    return parent.name == "Entity" or any(i.name == "Entity" for i in getattr(parent, "interfaces", ()))


def refuse_costly(execution: ExecutionContext) -> None:
    """Answers an operation whose estimated cost is over `query_max_cost` with that refusal, before it
    executes (`graphsvc.api.operation_steps`): no snapshot is opened, nothing is read."""
    settings = getattr(getattr(execution.context, "service", None), "settings", None)
    if settings is not None and execution.query is not None:
        cost = request_cost(execution.schema._schema, execution.query, execution.variables, execution.operation_name)
        if cost is not None and cost > settings.query_max_cost:
            execution.result = ExecutionResult(data=None, errors=[too_costly(cost, settings.query_max_cost)])
