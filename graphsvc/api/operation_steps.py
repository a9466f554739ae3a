"""What the catalog adds to each step of a GraphQL operation's life, as one Strawberry extension.

The steps, in order: the parser's token limit and our validation rules (`graphsvc.api.limits`); parsing and
validation, each cached per query text (1,000 documents); then, around the execution, the refusal of a
costly operation (`graphsvc.api.cost`), the query's budget (`graphsvc.api.budget`) and its read snapshot
(`graphsvc.api.read_snapshot`), inside which a query's answer may be one kept for the commit it reads
(`graphsvc.api.kept_answers`).

Why one extension and not one per step: Strawberry looks up and enters every hook of every extension for
every request (a context manager each, built anew), and seven extensions cost a point query about a tenth of
its time; the steps are the same, in the same order, whichever way they are packaged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from graphql.language.parser import parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from graphsvc.api.budget import query_budget
from graphsvc.api.cost import refuse_costly
from graphsvc.api.kept_answers import keep, look_up
from graphsvc.api.limits import LIMIT_RULES, MAX_TOKENS
from graphsvc.api.read_snapshot import read_snapshot

CACHED_DOCUMENTS = 1000
"""Query texts whose parse and validation are kept (least recently used first out): bounded, so that unique
texts sent on purpose cannot grow the service's memory."""

_parse: Callable[..., Any] = lru_cache(maxsize=CACHED_DOCUMENTS)(parse)
_validate: Callable[..., Any] = lru_cache(maxsize=CACHED_DOCUMENTS)(validate_document)


class OperationSteps(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        execution.parse_options["max_tokens"] = MAX_TOKENS
        execution.validation_rules = (*execution.validation_rules, *LIMIT_RULES)
        yield

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        execution.graphql_document = _parse(execution.query, **execution.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        rules = execution.validation_rules
        execution.pre_execution_errors = _validate(execution.schema._schema, execution.graphql_document, rules)
        yield

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        refuse_costly(execution)
        with query_budget(execution), read_snapshot(execution):
            lookup = look_up(execution)  # a kept answer becomes the result: nothing is executed
            yield
        keep(execution, lookup)
