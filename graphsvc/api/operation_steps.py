"""What the catalog adds to each step of a GraphQL operation's life, as one Strawberry extension.

The steps, in order: the parser's token limit and our validation rules (`graphsvc.api.limits`); parsing and
validation, each cached per query text (1,000 documents); then, around the execution, the refusal of a
costly operation (`graphsvc.api.cost`), the query's budget (`graphsvc.api.budget`) and its read snapshot
(`graphsvc.api.read_snapshot`), inside which a query's answer may be one kept for the commit it reads
(`graphsvc.api.kept_answers`).

Why one extension and not one per step: Strawberry looks up and enters every hook of every extension for
every request (a context manager each, built anew), and seven extensions cost a point query about a tenth of
its time; the steps are the same, in the same order, whichever way they are packaged.

Why `execute_query` besides: even one extension costs Strawberry's runner four context managers, a hook
lookup per step and a middleware manager per request, about a fifth of a point query's time. A query whose
document parses and validates (the cached documents, nearly every request) takes the same steps by plain
calls; anything else (a parse or validation error, a mutation, no such operation) goes the standard way,
whose errors are Strawberry's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSchema
from graphql.language.parser import parse
from graphql.validation import ASTValidationRule
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.schema import _coerce_error, validate_document
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe

from graphsvc.api.budget import query_budget
from graphsvc.api.cost import refuse_costly
from graphsvc.api.kept_answers import keep, look_up
from graphsvc.api.limits import LIMIT_RULES, MAX_TOKENS
from graphsvc.api.read_snapshot import read_snapshot

if TYPE_CHECKING:
    from strawberry import Schema

CACHED_DOCUMENTS = 1000
"""Query texts whose parse and validation are kept (least recently used first out): bounded, so that unique
texts sent on purpose cannot grow the service's memory."""

_parse: Callable[..., Any] = lru_cache(maxsize=CACHED_DOCUMENTS)(parse)


@lru_cache(maxsize=CACHED_DOCUMENTS)
def _validate(schema: GraphQLSchema, query: str, rules: tuple[type[ASTValidationRule], ...]) -> list[GraphQLError]:
    """The validation errors of `query`'s document (`_parse`'s, cached), kept per query text and not per
    document: graphql-core's nodes hash by value, so a key holding the document walked its whole tree on every
    request (a tenth of a point query's time)."""
    return validate_document(schema, _parse(query, max_tokens=MAX_TOKENS), rules)


def _apply_limits(execution: ExecutionContext) -> None:
    """The parser's token limit and our validation rules, for both ways an operation is executed."""
    execution.parse_options["max_tokens"] = MAX_TOKENS
    execution.validation_rules = (*execution.validation_rules, *LIMIT_RULES)


class OperationSteps(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        _apply_limits(self.execution_context)
        yield

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        execution.graphql_document = _parse(execution.query, **execution.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        rules = execution.validation_rules
        execution.pre_execution_errors = _validate(execution.schema._schema, execution.query, rules)
        yield

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        refuse_costly(execution)
        with query_budget(execution), read_snapshot(execution):
            lookup = look_up(execution)  # a kept answer becomes the result: nothing is executed
            yield
        keep(execution, lookup)


def prepared_query(schema: Schema, execution: ExecutionContext) -> bool:
    """Parse and validate as `OperationSteps` does (cached); True if the operation is a query that may
    execute, False for anything the standard path must answer (with its own errors)."""
    _apply_limits(execution)
    if not execution.query:
        return False
    try:
        execution.graphql_document = _parse(execution.query, **execution.parse_options)
        operation_type = execution.operation_type
    except (GraphQLError, RuntimeError):  # a syntax error; an operation the document does not hold
        return False
    if operation_type is not OperationType.QUERY or operation_type not in execution.allowed_operations:
        return False
    errors = _validate(schema._schema, execution.query, execution.validation_rules)
    return not errors


async def execute_query(schema: Schema, execution: ExecutionContext) -> ExecutionResult:
    """A prepared query (`prepared_query`) through `OperationSteps.on_execute`'s steps and the schema's
    execution, as Strawberry's `Schema.execute` would give it: the same result, errors processed the same way."""
    document = execution.graphql_document
    try:
        refuse_costly(execution)
        with query_budget(execution), read_snapshot(execution):
            lookup = look_up(execution)
            if not execution.result:
                execution.result = await await_maybe(
                    schema._get_execute_function()(
                        schema._schema,
                        document,
                        root_value=execution.root_value,
                        middleware=schema._get_middleware_manager([]),
                        variable_values=execution.variables,
                        operation_name=execution.operation_name,
                        context_value=execution.context,
                        is_awaitable=optimized_is_awaitable,
                        **execution_context_class_kwargs(schema.execution_context_class),
                        **schema._get_custom_context_kwargs(execution.operation_extensions),
                    )
                )
            result = execution.result
            if isinstance(result, GraphQLExecutionResult) and result.errors:
                execution.pre_execution_errors = result.errors
                schema._process_errors(result.errors, execution)
        keep(execution, lookup)
    except Exception as error:  # noqa: BLE001 - as Strawberry answers an exception raised by a step
        result = ExecutionResult(data=None, errors=[_coerce_error(error)])
        execution.pre_execution_errors = result.errors
        schema._process_errors(result.errors, execution)
    if isinstance(result, GraphQLExecutionResult):
        result = ExecutionResult(data=result.data, errors=result.errors)
    result.extensions = {}  # what `OperationSteps` adds: nothing
    execution.result = result
    return result
