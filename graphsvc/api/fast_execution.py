"""Compiled execution of a query's selections: the same answer as graphql-core's, without its per-field cost.

Why: graphql-core executes every field of every object the same generic way (a resolve-info object, a path,
argument coercion, Strawberry's argument conversion, awaitable checks), about 14 µs per resolved field. A page
of 1,000 entities with a dozen fields and their relation rows resolves some 40,000 fields: over half a second,
where the store read took 20 ms. Most of that work gives the same result for every object of a list, so here
it is done once per selection instead:

- for each object type and selection a *plan* is made once per execution: per response key, how to get the
  value (an attribute read, or the resolver function called directly with arguments coerced and converted
  once) and how to complete it (a leaf's serializer, a list, a nested plan);
- the plan then completes whole lists of objects with plain function calls; resolvers that are coroutines
  (those reading the store through DataLoaders) are collected per level and awaited together, so the loaders
  batch exactly as they do in the standard execution.

It applies to the root fields of queries. Whenever the plan cannot give exactly what the standard execution
gives (a field error, a null for a non-null field, a resolver with field extensions, @defer, a type it does
not know how to complete), it gives up on that root field, the query's budget is set back to what it was,
and the standard execution completes the field from the start: errors, their paths and their messages are
always graphql-core's own.

With `CATALOG_VERIFY_EXECUTION=1` every root field completed by a plan is completed by the standard execution
too, and the two answers (their JSON, byte for byte, and what each spent of the budget) must be the same: the
test suite runs so, so every query it sends is checked both ways.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    GraphQLAbstractType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationType,
    Undefined,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.arguments import convert_arguments

from graphsvc.api.budget import tallying
from graphsvc.api.document_nodes import nodes_below

logger = logging.getLogger(__name__)

VERIFY_VARIABLE = "CATALOG_VERIFY_EXECUTION"
"""Set to 1: complete every planned root field both ways and compare (the test suite sets it)."""
BACKREF = "strawberry-definition"
"""Where Strawberry keeps, in a graphql-core field's extensions, the Strawberry field it was made from."""


class GiveUp(Exception):
    """The plan cannot answer exactly as the standard execution would: let the standard execution answer."""


@dataclass(frozen=True)
class ResolverSlot:
    """What a resolver field needs from each execution: its resolve info and converted arguments (they hold
    the request's context and variables, so a plan kept for later executions cannot hold them)."""

    field_def: Any
    definition: Any
    details: Any
    parent: GraphQLObjectType
    path: Path


@dataclass
class Plans:
    """The plans made for one root field of one operation, kept for its later executions."""

    objects: dict[tuple[str, int], Completer] = field(default_factory=dict)
    slots: list[ResolverSlot] = field(default_factory=list)
    keep: list[Any] = field(default_factory=list)
    """What `objects` is keyed by (by identity), alive as long as the plans."""


@dataclass
class Run:
    """One completion of one root field by its plan: the execution's values of the resolvers' slots, and the
    resolver results still to be awaited."""

    executor: PlannedExecutionContext
    plans: Plans
    info: Any
    """The root field's resolve info, for type resolution (which reads no more of it than the schema)."""
    arguments: dict[int, dict[str, Any]] = field(default_factory=dict)
    pending: list[tuple[dict[str, Any], str, Awaitable[Any], Completer]] = field(default_factory=list)

    def kwargs(self, slot: int) -> dict[str, Any]:
        """The keyword arguments of the resolver in `slot` in this execution: made at its first call."""
        found = self.arguments.get(slot)
        if found is None:
            found = self.arguments[slot] = self.executor.resolver_kwargs(self.plans.slots[slot])
        return found


Completer = Callable[[Any, Run], Any]
Getter = Callable[[Any, Run], Any]
PLANS_KEPT = 1000
"""Operations whose plans are kept (their documents come from the parser's cache, which keeps as many)."""
_kept: OrderedDict[tuple[int, str, str], tuple[Any, Plans, Completer]] = OrderedDict()
_kept_lock = threading.Lock()


@dataclass(frozen=True)
class Counts:
    """How often plans answered, gave up, and (verifying) agreed with the standard execution."""

    planned: int = 0
    gave_up: int = 0
    verified: int = 0


_counts = {"planned": 0, "gave_up": 0, "verified": 0}


def counts() -> Counts:
    """What the plans did so far in this process (for tests and the log)."""
    return Counts(**_counts)


def forget_plans() -> None:
    """Drop the plans kept for later executions (tests that change how plans are made)."""
    with _kept_lock:
        _kept.clear()


class ExecutionDiffers(AssertionError):
    """A plan answered differently from the standard execution: a bug in this module."""


class PlannedExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, completing the root fields of queries with plans (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._standard_path: Path | None = None
        """The root field the standard execution is completing: graphql-core completes a non-null type by
        completing its inner type at the same path, which must not be planned again."""

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        standard = (return_type, field_details_list, info, path, result, position_context)
        if (
            path.prev is not None
            or path is self._standard_path
            or self.operation.operation != OperationType.QUERY
            or isinstance(result, Exception)
        ):
            return super().complete_value(*standard)
        try:
            plans, completer = self._plan(return_type, field_details_list, path)
        except GiveUp:
            return super().complete_value(*standard)
        return self._complete_planned(Run(self, plans, info), completer, standard)

    def _plan(self, return_type: GraphQLOutputType, details: Any, path: Path) -> tuple[Plans, Completer]:
        """The root field's plans: those an earlier execution of the same operation made, or new ones (kept
        when no directive's variable can change the selections: @skip and @include)."""
        key = (id(self.operation), str(path.key), str(return_type))
        with _kept_lock:
            kept = _kept.get(key)
            if kept is not None and kept[0] is self.operation:
                _kept.move_to_end(key)
                return kept[1], kept[2]
        plans = Plans()
        completer = self._completer(return_type, details, path, plans)
        if _fixed_selections(self.operation, self.fragment_definitions):
            with _kept_lock:
                _kept[key] = (self.operation, plans, completer)
                while len(_kept) > PLANS_KEPT:
                    _kept.popitem(last=False)
        return plans, completer

    def _complete_planned(self, run: Run, completer: Completer, standard: tuple[Any, ...]) -> Any:
        tally = [0]
        try:
            with tallying(tally):
                value = completer(standard[4], run)
        except Exception:  # any failure: the standard execution answers, with its own errors
            return self._give_up(tally, standard)
        if run.pending:
            return self._finish(value, run, tally, standard)
        return self._verified(value, tally, standard) if _verifying() else self._planned(value)

    async def _finish(self, value: Any, run: Run, tally: list[int], standard: tuple[Any, ...]) -> Any:
        """Await the resolvers the plan called, a level at a time (so their loaders batch), and complete what
        they answered, which may call more."""
        try:
            with tallying(tally):
                while run.pending:
                    level, run.pending = run.pending, []
                    results = await asyncio.gather(*(item[2] for item in level), return_exceptions=True)
                    for (target, key, _, complete), resolved in zip(level, results, strict=True):
                        if isinstance(resolved, BaseException):
                            raise GiveUp() from resolved
                        target[key] = complete(resolved, run)
        except Exception:
            return await _awaited(self._give_up(tally, standard))
        if _verifying():
            return await _awaited(self._verified(value, tally, standard))
        return self._planned(value)

    def _planned(self, value: Any) -> Any:
        _counts["planned"] += 1
        return value

    def _give_up(self, tally: list[int], standard: tuple[Any, ...]) -> Any:
        _counts["gave_up"] += 1
        self._refund(tally)
        return self._standard(standard)

    def _standard(self, standard: tuple[Any, ...]) -> Any:
        """graphql-core's completion (its synchronous part runs now, the rest when awaited)."""
        self._standard_path = standard[3]
        try:
            return super().complete_value(*standard)
        finally:
            self._standard_path = None

    def _refund(self, tally: list[int]) -> None:
        """Take what a planned completion spent off the query's budget: the standard one spends it again.
        (A budget the plan stopped stays stopped: the query was past its limit either way.)"""
        budget = getattr(self.context_value, "budget", None)
        if budget is not None:
            budget.spent_bytes -= tally[0]

    def _verified(self, value: Any, tally: list[int], standard: tuple[Any, ...]) -> Any:
        """Complete the field the standard way as well, and compare the answers and what each spent."""
        self._refund(tally)
        expected_tally = [0]
        with tallying(expected_tally):
            expected = self._standard(standard)

        def compare(expected: Any) -> Any:
            _counts["verified"] += 1
            if _json(value) != _json(expected) or tally[0] != expected_tally[0]:
                path = standard[3].as_list()
                message = f"planned execution of {path} differs from the standard one"
                logger.error(
                    "%s: planned %s (%d bytes spent), standard %s (%d bytes)",
                    message, _json(value)[:2000], tally[0], _json(expected)[:2000], expected_tally[0],
                )  # fmt: skip
                raise ExecutionDiffers(message)
            return expected

        if not self.is_awaitable(expected):
            return compare(expected)

        async def compare_later() -> Any:
            with tallying(expected_tally):
                completed = await expected
            return compare(completed)

        return compare_later()

    # -----------------------------------------------------------------------------------------------------
    # Making plans

    def _completer(self, return_type: GraphQLOutputType, details: Any, path: Path, plans: Plans) -> Completer:
        """How to complete a value of `return_type` selected by `details` (the nodes of the field that answered
        it). Plans hold nothing of this execution: what differs between executions comes from the `Run`."""
        if is_non_null_type(return_type):
            return _non_null(self._completer(return_type.of_type, details, path, plans))  # type: ignore[union-attr]
        if is_list_type(return_type):
            return _list_of(self._completer(return_type.of_type, details, path, plans))  # type: ignore[union-attr]
        if is_leaf_type(return_type):
            return _leaf(return_type)  # type: ignore[arg-type]
        if is_abstract_type(return_type):
            return _abstract(return_type, details, path)  # type: ignore[arg-type]
        if is_object_type(return_type):
            return self.object_plan(return_type, details, path, plans)  # type: ignore[arg-type]
        raise GiveUp()

    def object_plan(self, object_type: GraphQLObjectType, details: Any, path: Path, plans: Plans) -> Completer:
        key = (object_type.name, id(details))
        plan = plans.objects.get(key)
        if plan is not None:
            return plan
        plans.keep.append(details)
        grouped, defer_usages, _ = self.collect_subfields(object_type, details)
        if defer_usages:
            raise GiveUp()
        fields = [
            self._field(object_type, name, sub, Path(path, name, object_type.name), plans)
            for name, sub in grouped.items()
        ]
        is_type_of = object_type.is_type_of
        is_awaitable = self.is_awaitable

        def complete(value: Any, run: Run) -> Any:
            if value is None:
                return None
            if is_type_of is not None and not is_type_of(value, run.info):
                raise GiveUp()
            answer: dict[str, Any] = {}
            for name, get, complete_field, awaits in fields:
                raw = get(value, run)
                if awaits and is_awaitable(raw):
                    answer[name] = None
                    run.pending.append((answer, name, raw, complete_field))
                else:
                    answer[name] = complete_field(raw, run)
            return answer

        plans.objects[key] = complete
        return complete

    def _field(
        self, parent: GraphQLObjectType, name: str, details: Any, path: Path, plans: Plans
    ) -> tuple[str, Getter, Completer, bool]:
        """(response key, getter, completer, whether the getter may answer an awaitable) of one field."""
        node = details[0].node
        field_name = node.name.value
        if field_name == "__typename":
            type_name = parent.name
            return name, lambda _, __: type_name, _leaf_string, False
        field_def = self.schema.get_field(parent, field_name)
        if field_def is None:
            raise GiveUp()
        definition = field_def.extensions.get(BACKREF)
        if definition is None or definition.extensions:
            raise GiveUp()  # introspection, or a field with extensions (permissions, ...): the standard way
        complete = self._completer(field_def.type, details, path, plans)
        if getattr(field_def.resolve, "_is_default", False):
            return name, _attribute(definition.python_name), complete, False
        resolver = definition.base_resolver
        if resolver is None or details[0].fragment_variable_values is not None:
            raise GiveUp()
        plans.slots.append(ResolverSlot(field_def, definition, details, parent, path))
        return name, _call(resolver, len(plans.slots) - 1), complete, True

    def resolver_kwargs(self, slot: ResolverSlot) -> dict[str, Any]:
        """A resolver's keyword arguments in this execution, as Strawberry makes them
        (`strawberry.schema.schema_converter.get_arguments`): arguments coerced and converted, the info object
        where the resolver asks for it."""
        field_def, definition, node = slot.field_def, slot.definition, slot.details[0].node
        info = self.build_resolve_info(field_def, [d.node for d in slot.details], slot.parent, slot.path)
        strawberry_info = self._strawberry_schema.config.info_class(_raw_info=info, _field=definition)
        arguments = (
            get_argument_values(field_def, node, self.variable_values, None, self.hide_suggestions)
            if (field_def.args or node.arguments)
            else {}
        )
        kwargs = convert_arguments(
            arguments,
            definition.arguments,
            scalar_registry=self._strawberry_schema.schema_converter.scalar_registry,
            config=self._strawberry_schema.config,
            info=strawberry_info,
        )
        info_parameter = definition.base_resolver.info_parameter
        if info_parameter:
            kwargs[info_parameter.name] = strawberry_info
        return kwargs

    @property
    def _strawberry_schema(self) -> Any:
        return self.schema._strawberry_schema  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------------------
# Completers and getters


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any, run: Run) -> Any:
        completed = inner(value, run)
        if completed is None:
            raise GiveUp()  # the standard execution raises "Cannot return null for non-nullable field"
        return completed

    return complete


def _list_of(inner: Completer) -> Completer:
    def complete(value: Any, run: Run) -> Any:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise GiveUp()  # other iterables, and awaitable items, take the standard way
        return [inner(item, run) for item in value]

    return complete


def _leaf(leaf: GraphQLLeafType) -> Completer:
    coerce = leaf.coerce_output_value
    strings = leaf.name in ("String", "ID")

    def complete(value: Any, run: Run) -> Any:
        if value is None:
            return None
        if strings and type(value) is str:
            return value
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise GiveUp()
        return coerced

    return complete


def _leaf_string(value: Any, run: Run) -> Any:
    return value


def _abstract(abstract: GraphQLAbstractType, details: Any, path: Path) -> Completer:
    resolve_type = abstract.resolve_type
    if resolve_type is None:
        raise GiveUp()
    by_type: dict[str, Completer] = {}

    def complete(value: Any, run: Run) -> Any:
        if value is None:
            return None
        name = resolve_type(value, run.info, abstract)
        plan = by_type.get(name)
        if plan is None:
            schema = run.executor.schema
            runtime = schema.get_type(name) if isinstance(name, str) else None
            if not is_object_type(runtime) or not schema.is_sub_type(abstract, runtime):  # type: ignore[arg-type]
                raise GiveUp()
            plan = by_type[name] = run.executor.object_plan(runtime, details, path, run.plans)  # type: ignore[arg-type]
        return plan(value, run)

    return complete


def _attribute(name: str) -> Getter:
    def get(source: Any, run: Run) -> Any:
        return getattr(source, name)

    return get


def _call(resolver: Any, slot: int) -> Getter:
    """The resolver called as Strawberry calls it: the source as `self`, `root` or `parent`, and the slot's
    keyword arguments of this execution."""
    function = resolver.wrapped_func
    as_self = resolver.self_parameter is not None
    as_keyword = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None]
    if as_keyword:

        def get_with_source(source: Any, run: Run) -> Any:
            named = dict(run.kwargs(slot), **dict.fromkeys(as_keyword, source))
            return function(source, **named) if as_self else function(**named)

        return get_with_source
    if as_self:
        return lambda source, run: function(source, **run.kwargs(slot))
    return lambda source, run: function(**run.kwargs(slot))


def _fixed_selections(operation: Any, fragments: dict[str, Any]) -> bool:
    """Whether the operation selects the same fields whatever its variables: no @skip, @include, @defer or
    @stream anywhere in it or its fragments (their conditions may be variables)."""
    return not any(
        isinstance(node, DirectiveNode) and node.name.value in ("skip", "include", "defer", "stream")
        for node in nodes_below(operation, *fragments.values())
    )


def _verifying() -> bool:
    return os.environ.get(VERIFY_VARIABLE) == "1"


def _json(value: Any) -> str:
    return json.dumps(value, default=repr)


async def _awaited(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) or asyncio.isfuture(value) else value


__all__ = ["PlannedExecutionContext", "counts", "ExecutionDiffers", "GraphQLList", "GraphQLNonNull"]
