"""A query that parses and validates skips Strawberry's extension runner (`operation_steps.execute_query`) and
answers exactly what Strawberry's own `Schema.execute` answers with `OperationSteps`: data, errors (their
messages, paths and extensions) and extensions, on both engines; whatever is not such a query goes Strawberry's
way. Each query is asked both ways of the same store; the lean way must have been the one taken where it
applies, so the comparison is not between the standard way and itself.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import pytest
import strawberry

from graphsvc.api import operation_steps
from graphsvc.api.context import Context
from graphsvc.api.response_cache import ResponseCache
from graphsvc.api.schema import schema
from graphsvc.service import CatalogService
from tests.api.test_fast_execution import FULL, QUERIES

TOO_COSTLY = f"{{ entities(first: 1000) {{ edges {{ node {{ {FULL} relations {{ type targetRef }} }} }} }} }}"
NOT_LEAN = [
    # (name, query, variables): answered Strawberry's way, errors and all
    ("a syntax error", "{ entity(ref: ", {}),
    ("an unknown field", '{ entity(ref: "x") { nope } }', {}),
    ("a mutation", 'mutation { unregisterLocation(target: "nope") { added } }', {}),
    ("a long query", "{ " + "__typename " * 20_000 + "}", {}),
]
LEAN = [
    *QUERIES,
    ("over the cost limit", TOO_COSTLY, {}),
    ("a missing variable", "query($r: String!) { entity(ref: $r) { ref } }", {}),
]


def answer(result: Any) -> str:
    errors = [error.formatted for error in result.errors or []]
    return orjson.dumps({"data": result.data, "errors": errors, "extensions": result.extensions}).decode()


def both_ways(service: CatalogService, query: str, variables: dict[str, Any], **context: Any) -> tuple[str, str, int]:
    """The answer the lean way (`CatalogSchema.execute`), Strawberry's way, and how often the lean way ran."""
    lean_runs = []
    original = operation_steps.execute_query

    async def counted(*args: Any) -> Any:
        lean_runs.append(1)
        return await original(*args)

    def execute(method: Any) -> str:
        context_value = Context(service=service, **context)
        return answer(asyncio.run(method(schema, query, variable_values=variables, context_value=context_value)))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("graphsvc.api.schema.execute_query", counted)
        lean = execute(type(schema).execute)
    standard = execute(strawberry.Schema.execute)
    return lean, standard, len(lean_runs)


@pytest.mark.parametrize(("name", "query", "variables"), LEAN, ids=[q[0] for q in LEAN])
def test_queries_answer_the_same_without_the_extension_runner(
    demo_service: CatalogService, name: str, query: str, variables: dict[str, Any]
) -> None:
    lean, standard, lean_runs = both_ways(demo_service, query, variables)
    assert lean == standard
    assert lean_runs == 1


@pytest.mark.parametrize(("name", "query", "variables"), NOT_LEAN, ids=[q[0] for q in NOT_LEAN])
def test_what_is_not_a_valid_query_goes_strawberrys_way(
    demo_service: CatalogService, name: str, query: str, variables: dict[str, Any]
) -> None:
    lean, standard, lean_runs = both_ways(demo_service, query, variables)
    assert lean == standard
    assert json.loads(lean)["errors"], "each of these answers with an error"
    assert lean_runs == 0


def test_a_query_stopped_by_its_budget_answers_the_same(demo_service: CatalogService) -> None:
    small = demo_service.settings.model_copy(update={"query_max_response_bytes": 100})
    query = "{ entities(first: 50) { edges { node { ref relations { type target { ref } } } } } }"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo_service, "settings", small)
        lean, standard, lean_runs = both_ways(demo_service, query, {})
    assert lean == standard
    assert json.loads(lean)["errors"][0]["extensions"]["code"] == "RESPONSE_TOO_LARGE"
    assert lean_runs == 1


def test_a_kept_answer_is_answered_the_same(demo_service: CatalogService) -> None:
    """Kept by the lean way, then answered from the cache both ways (the JSON bytes it was kept as)."""
    answers = ResponseCache(1024 * 1024)
    query = '{ entity(ref: "component:default/payments-service") { ref owner { ref } } }'
    first, _, _ = both_ways(demo_service, query, {}, answers=answers)
    assert len(answers) == 1
    lean, standard, lean_runs = both_ways(demo_service, query, {}, answers=answers)
    assert lean == standard == first
    assert lean_runs == 1
