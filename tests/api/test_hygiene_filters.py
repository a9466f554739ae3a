"""Catalog hygiene through the GraphQL API: the `missing`, `dangling`, `annotation`, `label` and `state`
filters of `EntityFilter`, facets' null buckets, and removed entities (Backstage's orphans), now and `asOf`.

The catalog is a directory of YAML files synced three times, at fixed instants:

- T1 (May): the catalog below.
- T2 (June): `legacy.yaml` stops emitting component:legacy (it now holds resource:legacy-db only), carol is
  dropped from `people.yaml`, ledger joins the payments system and gets a TechDocs annotation, checkout loses
  its own, fx gets a real owner.
- T3 (July): carol is back.

Every answer is exact, on both engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from graphsvc.timestamps import from_datetime
from ingestors.local import file_location
from tests.api.catalog_steps import execute, sync_steps
from tests.store.catalog_builder import component, entity, group

T1, T2, T3 = (datetime(2026, month, 1, tzinfo=UTC) for month in (5, 6, 7))
IN_MAY, IN_JUNE = "2026-05-15T00:00:00Z", "2026-06-15T00:00:00Z"
TECHDOCS = "backstage.io/techdocs-ref"
SLUG = "github.com/project-slug"


def files(step: int) -> dict[str, list[dict[str, Any]]]:
    """The catalog's files at sync `step` (1, 2, 3)."""
    people = [entity("User", "alice", {"memberOf": ["team-a"]})]
    if step != 2:
        people.append(entity("User", "carol", {"memberOf": ["team-b"]}))
    checkout_annotations = {SLUG: "acme/checkout"} | ({TECHDOCS: "dir:."} if step == 1 else {})
    ledger_annotations = {SLUG: "acme/ledger"} | ({TECHDOCS: "dir:."} if step > 1 else {})
    legacy = [_with_metadata(component("legacy", owner="team-b", system="payments"), annotations={TECHDOCS: "dir:."})]
    if step > 1:
        legacy = [entity("Resource", "legacy-db", {"type": "database", "owner": "old-team"})]
    return {
        "org.yaml": [
            group("platform"),
            group("team-a", parent="platform"),
            group("team-b", parent="platform"),
            group("team-c", parent="platform", members=["bob"]),  # bob is defined nowhere
        ],
        "people.yaml": people,
        "services.yaml": [
            entity("System", "payments", {"owner": "team-a"}),
            _with_metadata(
                component(
                    "checkout",
                    owner="team-a",
                    system="payments",
                    providesApis=["checkout-api"],
                    dependsOn=["component:legacy"],
                ),
                annotations=checkout_annotations,
                labels={"tier": "1"},
                tags=["java", "web"],
            ),
            _with_metadata(
                component(
                    "ledger",
                    owner="team-b",
                    consumesApis=["checkout-api"],
                    **({"system": "payments"} if step > 1 else {}),
                ),
                annotations=ledger_annotations,
                labels={"tier": "2"},
                tags=["java"],
            ),
            component("fx", owner="ghost-team" if step == 1 else "team-b", consumesApis=["rates-api"]),
            entity(
                "API",
                "checkout-api",
                {
                    "type": "openapi",
                    "lifecycle": "production",
                    "owner": "team-a",
                    "system": "payments",
                    "definition": "x",
                },
            ),
            entity(
                "API",
                "billing-api",
                {"type": "openapi", "lifecycle": "experimental", "owner": "team-b", "definition": "x"},
            ),
        ],
        "legacy.yaml": legacy,
    }


def _with_metadata(document: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {**document, "metadata": {**document["metadata"], **metadata}}


@pytest.fixture(scope="module")
def service(module_store_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogService]:
    root = tmp_path_factory.mktemp("hygiene")
    service = CatalogService(open_store(module_store_settings), module_store_settings)
    counts = sync_steps(service, root, files, (T1, T2, T3))
    assert counts == [
        {"added": 13, "updated": 0, "removed": 0, "unchanged": 0, "errors": 0},
        {"added": 1, "updated": 3, "removed": 2, "unchanged": 8, "errors": 0},  # legacy-db; checkout, ledger, fx
        {"added": 1, "updated": 0, "removed": 0, "unchanged": 12, "errors": 0},  # carol again
    ]
    service.catalog_root = root  # type: ignore[attr-defined]
    yield service
    service.close()


def run(service: CatalogService, query: str, **variables: Any) -> dict[str, Any]:
    result = execute(service, query, **variables)
    assert result.errors is None, result.errors
    return result.data


def errors(service: CatalogService, query: str, **variables: Any) -> list[str]:
    return [error.message for error in execute(service, query, **variables).errors or []]


ENTITIES = """query($filter: EntityFilter, $at: DateTime) {
    entities(filter: $filter, asOf: $at, first: 100) { totalCount edges { node { ref } } } }"""
COUNTED = """query($filter: EntityFilter, $at: DateTime) {
    entities(filter: $filter, asOf: $at, first: 1) { totalCount } }"""


def refs(service: CatalogService, at: str | None = None, **filter: Any) -> list[str]:
    """The refs matching the filter, checked against its totalCount, both from a whole page and counted
    on their own (the count statement, not the page's length)."""
    page = run(service, ENTITIES, filter=filter, at=at)["entities"]
    found = [edge["node"]["ref"] for edge in page["edges"]]
    assert page["totalCount"] == len(found)
    assert run(service, COUNTED, filter=filter, at=at)["entities"]["totalCount"] == len(found)
    return found


CHECKOUT, LEDGER, FX, LEGACY = (f"component:default/{n}" for n in ("checkout", "ledger", "fx", "legacy"))
CHECKOUT_API, BILLING_API = "api:default/checkout-api", "api:default/billing-api"
PLATFORM, TEAM_B, TEAM_C = "group:default/platform", "group:default/team-b", "group:default/team-c"
CAROL, LEGACY_DB = "user:default/carol", "resource:default/legacy-db"


@pytest.mark.parametrize(
    ("filter", "now", "in_may", "in_june"),
    [
        # components with no system
        ({"kind": "component", "missing": ["partOf"]}, [FX], [FX, LEDGER], [FX]),
        # APIs nobody consumes (a reverse type: the consumer's CONSUMES_API edge, read from the API)
        ({"kind": "api", "missing": ["apiConsumedBy"]}, [BILLING_API], [BILLING_API], [BILLING_API]),
        # teams without members: carol's own memberOf went with her in June, and came back in July
        ({"kind": "group", "missing": ["hasMember"]}, [PLATFORM], [PLATFORM], [PLATFORM, TEAM_B]),
        # each listed type must be missing
        ({"missing": ["partOf", "apiConsumedBy"], "kind": "api"}, [BILLING_API], [BILLING_API], [BILLING_API]),
        ({"missing": ["ownedBy"], "kind": "component"}, [], [], []),
        # names in any case; an empty list asks nothing
        ({"kind": "component", "missing": ["PARTOF"]}, [FX], [FX, LEDGER], [FX]),
        (
            {"kind": "api", "missing": []},
            [BILLING_API, CHECKOUT_API],
            [BILLING_API, CHECKOUT_API],
            [BILLING_API, CHECKOUT_API],
        ),
        # an owner filter walks the owner's edges: combined with a relation filter
        ({"owner": "team-b", "missing": ["partOf"]}, [BILLING_API, FX], [BILLING_API, LEDGER], [BILLING_API, FX]),
        # owners no source defines; APIs that do not exist; members defined nowhere
        ({"dangling": ["ownedBy"]}, [LEGACY_DB], [FX], [LEGACY_DB]),
        ({"dangling": ["consumesApi"]}, [FX], [FX], [FX]),
        ({"dangling": ["hasMember"]}, [TEAM_C], [TEAM_C], [TEAM_C]),
        # a dependency that was removed (legacy, in June) dangles from then on
        ({"dangling": ["dependsOn"]}, [CHECKOUT], [], [CHECKOUT]),
        ({"dangling": ["dependsOn", "ownedBy"]}, [], [], []),
        ({"dangling": ["ownedBy"], "missing": ["partOf"], "kind": "component"}, [], [FX], []),
    ],
)
def test_relation_filters_now_and_as_of(
    service: CatalogService, filter: dict[str, Any], now: list[str], in_may: list[str], in_june: list[str]
) -> None:
    assert refs(service, **filter) == now
    assert refs(service, IN_MAY, **filter) == in_may
    assert refs(service, IN_JUNE, **filter) == in_june


@pytest.mark.parametrize(
    ("filter", "now", "in_may"),
    [
        ({"annotation": [{"key": TECHDOCS}]}, [LEDGER], [CHECKOUT, LEGACY]),
        ({"annotation": [{"key": SLUG, "value": "acme/checkout"}]}, [CHECKOUT], [CHECKOUT]),
        ({"annotation": [{"key": SLUG, "value": "acme/nothing"}]}, [], []),
        ({"annotation": [{"key": SLUG}, {"key": TECHDOCS}]}, [LEDGER], [CHECKOUT]),  # all of them
        ({"annotation": [{"key": SLUG}], "kind": "component", "owner": "team-b"}, [LEDGER], [LEDGER]),
        ({"label": [{"key": "tier"}]}, [CHECKOUT, LEDGER], [CHECKOUT, LEDGER]),
        ({"label": [{"key": "tier", "value": "2"}]}, [LEDGER], [LEDGER]),
        ({"label": [{"key": "tier", "value": "2"}], "annotation": [{"key": TECHDOCS}]}, [LEDGER], []),
        ({"label": [{"key": SLUG}]}, [], []),  # an annotation is not a label
    ],
)
def test_annotation_and_label_filters_now_and_as_of(
    service: CatalogService, filter: dict[str, Any], now: list[str], in_may: list[str]
) -> None:
    assert refs(service, **filter) == now
    assert refs(service, IN_MAY, **filter) == in_may


REMOVED = """query($filter: EntityFilter, $at: DateTime) { entities(filter: $filter, asOf: $at) {
    totalCount edges { node { ref state removedAt removedBy { syncRun source location } } } } }"""


def test_removed_entities_are_listed_with_the_sync_that_removed_them(service: CatalogService) -> None:
    """Backstage's orphans: legacy.yaml still exists, but no longer emits component:legacy."""
    root = service.catalog_root  # type: ignore[attr-defined]
    june_run = next(r.id for r in service.store.sync_runs() if r.started_at == from_datetime(T2))
    by_june = {
        "syncRun": june_run,
        "source": str(root),
        "location": file_location(root / "legacy.yaml"),
    }
    legacy = {"ref": LEGACY, "state": "REMOVED", "removedAt": T2.isoformat(), "removedBy": by_june}
    carol = {
        "ref": CAROL,
        "state": "REMOVED",
        "removedAt": T2.isoformat(),
        "removedBy": by_june | {"location": file_location(root / "people.yaml")},
    }
    now = run(service, REMOVED, filter={"state": "REMOVED"})["entities"]
    assert now == {"totalCount": 1, "edges": [{"node": legacy}]}
    in_june = run(service, REMOVED, filter={"state": "REMOVED"}, at=IN_JUNE)["entities"]
    assert in_june == {"totalCount": 2, "edges": [{"node": legacy}, {"node": carol}]}
    assert run(service, REMOVED, filter={"state": "REMOVED"}, at=IN_MAY)["entities"] == {"totalCount": 0, "edges": []}
    assert run(service, REMOVED, filter={"state": "REMOVED"}, at=T2.isoformat())["entities"]["totalCount"] == 2
    assert run(service, REMOVED, filter={"state": "REMOVED"}, at=T3.isoformat())["entities"]["totalCount"] == 1


@pytest.mark.parametrize(
    ("filter", "now", "in_june"),
    [
        ({"state": "REMOVED", "kind": "user"}, [], [CAROL]),
        ({"state": "REMOVED", "owner": "team-b"}, [LEGACY], [LEGACY]),  # as its last version was owned
        ({"state": "REMOVED", "system": "payments", "annotation": [{"key": TECHDOCS}]}, [LEGACY], [LEGACY]),
        ({"state": "REMOVED", "kind": "api"}, [], []),
        ({"state": "PRESENT", "kind": "user"}, ["user:default/alice", CAROL], ["user:default/alice"]),
    ],
)
def test_the_state_filter_combines_with_the_others(
    service: CatalogService, filter: dict[str, Any], now: list[str], in_june: list[str]
) -> None:
    assert refs(service, **filter) == now
    assert refs(service, IN_JUNE, **filter) == in_june


def test_present_entities_say_so_and_removed_ones_stay_out_of_entity(service: CatalogService) -> None:
    query = """query($at: DateTime) { checkout: entity(ref: "component:checkout", asOf: $at) {
        state removedAt removedBy { syncRun } }
        legacy: entity(ref: "component:legacy", asOf: $at) { state } }"""
    assert run(service, query) == {
        "checkout": {"state": "PRESENT", "removedAt": None, "removedBy": None},
        "legacy": None,
    }
    assert run(service, query, at=IN_MAY)["legacy"] == {"state": "PRESENT"}


FACETS = """query($field: String!, $filter: EntityFilter, $at: DateTime) {
    facets(field: $field, filter: $filter, asOf: $at) { value count } }"""


@pytest.mark.parametrize(
    ("field", "filter", "now", "in_may"),
    [
        (
            "system",
            {"kind": "component"},
            [("system:default/payments", 2), (None, 1)],
            [("system:default/payments", 2), (None, 2)],
        ),
        ("tag", {"kind": "component"}, [("java", 2), ("web", 1), (None, 1)], [("java", 2), (None, 2), ("web", 1)]),
        (
            "lifecycle",
            {"kind": "api"},
            [("experimental", 1), ("production", 1)],
            [("experimental", 1), ("production", 1)],
        ),
        ("lifecycle", {"kind": "group"}, [(None, 4)], [(None, 4)]),
        (
            "owner",
            {"missing": ["partOf"], "kind": "component"},
            [(TEAM_B, 1)],
            [("group:default/ghost-team", 1), (TEAM_B, 1)],
        ),
        ("kind", {"state": "REMOVED"}, [("component", 1)], []),
        ("kind", {"dangling": ["hasMember"]}, [("group", 1)], [("group", 1)]),
        ("tag", {"annotation": [{"key": TECHDOCS}]}, [("java", 1)], [("java", 1), ("web", 1), (None, 1)]),
    ],
)
def test_facets_count_entities_without_the_field_in_a_null_bucket(
    service: CatalogService, field: str, filter: dict[str, Any], now: list[tuple], in_may: list[tuple]
) -> None:
    def buckets(at: str | None) -> list[tuple[str | None, int]]:
        return [(f["value"], f["count"]) for f in run(service, FACETS, field=field, filter=filter, at=at)["facets"]]

    assert buckets(None) == now
    assert buckets(IN_MAY) == in_may


@pytest.mark.parametrize(
    ("filter", "message"),
    [
        ({"missing": ["owner"]}, "unknown relation type 'owner'; the relation types are: apiConsumedBy, "),
        ({"dangling": ["ownedBy", "nope"]}, "unknown relation type 'nope'; the relation types are: "),
        ({"annotation": [{"key": "a=b"}]}, "annotation key 'a=b' is not a valid key: [prefix/]name"),
        ({"label": [{"key": ""}]}, "label key '' is not a valid key"),
    ],
)
def test_bad_filters_are_clear_errors(service: CatalogService, filter: dict[str, Any], message: str) -> None:
    for query in (ENTITIES, FACETS.replace("$field: String!", '$field: String! = "kind"')):
        assert [m[: len(message)] for m in errors(service, query, filter=filter)] == [message]


def test_the_unknown_relation_error_lists_every_type(service: CatalogService) -> None:
    [message] = errors(service, ENTITIES, filter={"missing": ["owner"]})
    assert message.endswith(
        "apiConsumedBy, apiProvidedBy, childOf, consumesApi, dependencyOf, dependsOn, hasMember, hasPart, "
        "memberOf, ownedBy, ownerOf, parentOf, partOf, providesApi"
    )


def test_ownership_gaps_refuse_the_filters_that_are_not_about_fields(service: CatalogService) -> None:
    query = """query($filter: EntityFilter) { ownershipGaps(since: "2026-01-01T00:00:00Z", filter: $filter) {
        entityRef reason } }"""
    assert errors(service, query, filter={"missing": ["ownedBy"]}) == [
        "ownershipGaps filters by the entities' fields: missing, dangling and state are not for it"
    ]
    gaps = run(service, query, filter={"kind": "component"})["ownershipGaps"]
    assert gaps == [{"entityRef": FX, "reason": "OWNER_MISSING"}]  # ghost-team, until June
    assert run(service, query, filter={"kind": "component", "annotation": [{"key": SLUG}]})["ownershipGaps"] == []
