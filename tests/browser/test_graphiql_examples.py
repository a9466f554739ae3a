"""The example queries of GraphiQL's first tab (`graphsvc/api/graphiql/examples.graphql`) answer on the demo
catalog: each operation, run by name on a real `catalog serve --demo`, gives the answer its comment promises."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, parse

from graphsvc.api.graphiql.page import EXAMPLES
from tests.torture.processes import Server

DOCUMENT = EXAMPLES.read_text(encoding="utf-8")
COMMIT_SHA = re.compile(r"[0-9a-f]{40}")
EXPECTED: dict[str, dict[str, Any]] = {
    "CheckoutService": {
        "entity": {
            "ref": "component:default/checkout-service",
            "owner": {
                "ref": "group:default/checkout-team",
                "members": [
                    {"name": "ethan.brooks"},
                    {"name": "isabela.costa"},
                    {"name": "pieter.de.vries"},
                    {"name": "zainab.ali"},
                ],
            },
            "dependencies": [
                {"ref": "component:default/kotlin-service-chassis", "kind": "Component"},
                {"ref": "resource:default/checkout-sessions-cache", "kind": "Resource"},
            ],
        }
    },
    "BookingsDbDependents": {
        "entity": {
            "dependents": [
                {"ref": f"component:default/{name}", "owner": {"ref": f"group:default/{owner}"} if owner else None}
                for name, owner in [
                    ("booking-service", "booking-team"),
                    ("cancellation-service", "booking-team"),
                    ("cdc-connectors", "data-ingestion"),
                    ("gdpr-erasure-pipeline", "security-team"),
                    ("legacy-booking-monolith", "booking-team"),
                    ("legacy-pnr-sync", None),
                    ("trip-service", "booking-team"),
                ]
            ]
        }
    },
    "CheckoutServiceOwnerOverTime": {
        "april": {"owner": {"ref": "group:default/payments-core"}},
        "now": {
            "ownershipHistory": [
                {
                    "ownerRef": "group:default/payments-core",
                    "validFrom": "2026-03-02T09:15:00+00:00",
                    "validTo": "2026-04-13T14:02:00+00:00",
                    "provenance": {"commitAuthor": "Tom Fletcher <tom.fletcher@skylark-travel.example>"},
                },
                {
                    "ownerRef": "group:default/checkout-team",
                    "validFrom": "2026-04-13T14:02:00+00:00",
                    "validTo": None,
                    "provenance": {"commitAuthor": "Priya Raman <priya.raman@skylark-travel.example>"},
                },
            ]
        },
    },
    "CheckoutTeamComponents": {
        "entities": {
            "totalCount": 3,
            "edges": [
                {"node": {"ref": "component:default/checkout-service", "title": "Checkout Service"}},
                {"node": {"ref": "component:default/checkout-web", "title": "Checkout Web"}},
                {"node": {"ref": "component:default/payment-methods-service", "title": "Payment Methods Service"}},
            ],
            "pageInfo": {
                "hasNextPage": False,
                "endCursor": "cmVmOmNvbXBvbmVudDpkZWZhdWx0L3BheW1lbnQtbWV0aG9kcy1zZXJ2aWNl",
            },
        }
    },
}
"""Each example's answer (commit SHAs aside: `without_commit_shas`)."""


def operation_names() -> list[str]:
    return [d.name.value for d in parse(DOCUMENT).definitions if isinstance(d, OperationDefinitionNode) and d.name]


def without_commit_shas(data: Any) -> Any:
    """The answer with each `commitSha` checked to be one and left out."""
    if isinstance(data, dict):
        if "commitSha" in data:
            assert COMMIT_SHA.fullmatch(data["commitSha"]), data
        return {key: without_commit_shas(value) for key, value in data.items() if key != "commitSha"}
    if isinstance(data, list):
        return [without_commit_shas(item) for item in data]
    return data


def test_every_example_has_its_expected_answer_here() -> None:
    assert operation_names() == list(EXPECTED)


@pytest.mark.parametrize("operation", list(EXPECTED))
def test_an_example_answers_on_the_demo_catalog(demo_server: Server, operation: str) -> None:
    response = httpx.post(
        f"{demo_server.url}/graphql", json={"query": DOCUMENT, "operationName": operation}, timeout=30
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    assert without_commit_shas(body["data"]) == EXPECTED[operation]
