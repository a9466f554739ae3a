"""Planned execution (`graphsvc.api.fast_execution`) answers exactly what graphql-core's standard execution does.

The whole suite runs with CATALOG_VERIFY_EXECUTION=1 (`tests/suite_settings.py`): every root field a plan
completes is completed the standard way too, and any difference fails that query. This file checks that the
check works (a planted difference is caught), that plans are what answers the usual shapes (so the check is
not vacuous), and compares whole answers — data and errors — with planning switched off, on the demo catalog,
on both engines, for queries that succeed, fail part-way, travel in time and hit the budget.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from graphsvc.api import fast_execution
from graphsvc.api.context import Context
from graphsvc.api.schema import schema
from graphsvc.service import CatalogService

FULL = "ref kind namespace name title description tags labels annotations links spec apiVersion state removedAt"

PS = '"component:default/payments-service"'
QUERIES = [
    # (name, query, variables): the shapes clients send, and the ones that end in errors
    ("entity, full", f"{{ entity(ref: {PS}) {{ {FULL} relations {{ type targetRef }} }} }}", {}),
    ("entity by variable", "query($r: String!) { entity(ref: $r) { ref name __typename } }", {"r": "group:payments"}),
    ("unknown entity", '{ entity(ref: "component:default/nope") { ref } }', {}),
    (
        "a page of full entities",
        f"{{ entities(first: 50) {{ totalCount edges {{ cursor node {{ {FULL} }} }} "
        "pageInfo { hasNextPage endCursor } } }",
        {},
    ),
    (
        "filtered, with type fields",
        '{ entities(filter: {kind: "Component"}) { edges { node { ref '
        "... on Component { type lifecycle subcomponentOf { ref } } } } } }",
        {},
    ),
    (
        "fragments and aliases",
        "{ a: entities(first: 3) { edges { node { ...F } } } b: entities(first: 2) { edges { node { x: ref ...F } } } }"
        " fragment F on Entity { name kind }",
        {},
    ),
    (
        "skip and include",
        "query($s: Boolean!) { entities(first: 5) { edges { node { ref name @skip(if: $s) "
        "title @include(if: $s) } } } }",
        {"s": True},
    ),
    (
        "nested relations",
        f"{{ entity(ref: {PS}) {{ relations {{ type targetRef target {{ ref owner {{ ref name }} "
        "relations(first: 3) { type target { ref } } } } } }",
        {},
    ),
    (
        "owners, systems, domains",
        "{ entities(first: 100) { edges { node { ref owner { ref } system { ref } domain { ref } } } } }",
        {},
    ),
    (
        "group fields",
        '{ entity(ref: "group:default/payments") { ... on Group { type profile members { ref } children { ref } '
        "parent { ref } descendants { ref } } ownedEntities(transitive: true) { ref } } }",
        {},
    ),
    (
        "traversals",
        f"{{ entity(ref: {PS}) {{ dependencies(depth: 6) {{ ref }} dependents(depth: 3) {{ ref }} "
        'walk(relations: ["dependsOn"], depth: 2) { distance path entity { ref } } } }',
        {},
    ),
    (
        "history",
        f"{{ entity(ref: {PS}) {{ history(first: 2) {{ totalCount edges {{ node {{ validFrom "
        "changes { path before after } } } } } }",
        {},
    ),
    ("as of the beginning", '{ entities(asOf: "2000-01-01T00:00:00Z") { totalCount edges { node { ref } } } }', {}),
    (
        "a bad page size, part-way",
        f"{{ entity(ref: {PS}) {{ ref relations(first: -1) {{ type }} dependsOn {{ ref }} }} }}",
        {},
    ),
    ("a bad depth", f"{{ entity(ref: {PS}) {{ ref dependencies(depth: 99) {{ ref }} }} }}", {}),
    ("facets beside", f'{{ facets(field: "kind") {{ value count }} entity(ref: {PS}) {{ name }} }}', {}),
]


def answer(service: CatalogService, query: str, variables: dict[str, Any]) -> str:
    """The whole answer (data and formatted errors) as JSON text, key order included."""
    result = asyncio.run(schema.execute(query, variable_values=variables, context_value=Context(service=service)))
    errors = [error.formatted for error in result.errors or []]
    return json.dumps({"data": result.data, "errors": errors})


@pytest.fixture
def not_verifying(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fast_execution.VERIFY_VARIABLE, raising=False)


@pytest.mark.parametrize(("name", "query", "variables"), QUERIES, ids=[q[0] for q in QUERIES])
def test_planned_answers_equal_standard_answers(
    demo_service: CatalogService, name: str, query: str, variables: dict[str, Any], not_verifying: None
) -> None:
    planned = answer(demo_service, query, variables)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fast_execution.PlannedExecutionContext, "_plan", _give_up)
        standard = answer(demo_service, query, variables)
    assert planned == standard


def _give_up(*_: Any) -> Any:
    raise fast_execution.GiveUp()


PLANNED = [q for q in QUERIES if not q[0].startswith("a bad")]
"""The queries that answer without errors: plans answer each of them whole."""


@pytest.mark.parametrize(("name", "query", "variables"), PLANNED, ids=[q[0] for q in PLANNED])
def test_plans_answer_queries_without_errors(
    demo_service: CatalogService, name: str, query: str, variables: dict[str, Any], not_verifying: None
) -> None:
    before = fast_execution.counts()
    assert '"errors": []' in answer(demo_service, query, variables)
    after = fast_execution.counts()
    assert after.gave_up == before.gave_up
    assert after.planned > before.planned


def test_a_field_error_is_answered_by_the_standard_execution(demo_service: CatalogService, not_verifying: None) -> None:
    before = fast_execution.counts()
    text = answer(demo_service, QUERIES[-3][1], {})
    assert fast_execution.counts().gave_up == before.gave_up + 1
    assert json.loads(text)["errors"] == [
        {
            "message": "first must be between 0 and 1000, got -1",
            "locations": [{"line": 1, "column": 59}],
            "path": ["entity", "relations"],
            "extensions": {"code": "BAD_USER_INPUT"},
        }
    ]


def test_verifying_catches_a_plan_that_answers_differently(
    demo_service: CatalogService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(fast_execution.VERIFY_VARIABLE, "1")
    original = fast_execution._attribute

    def wrong_names(name: str) -> Any:
        get = original(name)
        return (lambda source, run: get(source, run) + "!") if name == "name" else get

    monkeypatch.setattr(fast_execution, "_attribute", wrong_names)
    fast_execution.forget_plans()
    result = json.loads(answer(demo_service, f"{{ entity(ref: {PS}) {{ ref name }} }}", {}))
    assert result["data"] == {"entity": None}
    assert [e["message"] for e in result["errors"]] == ["planned execution of ['entity'] differs from the standard one"]
    before = fast_execution.counts().verified
    monkeypatch.setattr(fast_execution, "_attribute", original)
    fast_execution.forget_plans()
    assert json.loads(answer(demo_service, f"{{ entity(ref: {PS}) {{ name }} }}", {}))["errors"] == []
    assert fast_execution.counts().verified == before + 1


def test_a_kept_plan_answers_each_execution_with_its_own_variables(
    demo_service: CatalogService, not_verifying: None
) -> None:
    query = "query($r: String!, $n: Int) { entity(ref: $r) { ref relations(first: $n) { type targetRef } } }"
    cases = [{"r": "component:payments-service", "n": 1}, {"r": "group:payments", "n": 3}, {"r": "group:payments"}]
    planned = [answer(demo_service, query, variables) for variables in cases]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fast_execution.PlannedExecutionContext, "_plan", _give_up)
        standard = [answer(demo_service, query, variables) for variables in cases]
    assert planned == standard
    assert [len(json.loads(text)["data"]["entity"]["relations"]) for text in planned[:2]] == [1, 3]


def test_plans_are_kept_only_when_no_directive_can_change_the_selection() -> None:
    from graphql import parse

    def fixed(query: str) -> bool:
        document = parse(query)
        fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
        return fast_execution._fixed_selections(document.definitions[0], fragments)

    assert fixed("{ entity(ref: $r) { ref relations(first: $n) { type } } }")
    assert not fixed("query($s: Boolean!) { entity(ref: $r) { ref @skip(if: $s) } }")
    assert not fixed("{ entity(ref: $r) { ...F } } fragment F on Entity { ref @include(if: true) }")
