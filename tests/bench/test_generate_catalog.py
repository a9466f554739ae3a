"""The synthetic catalog is deterministic, well-formed, and shaped like a real one."""

from __future__ import annotations

import re
from collections import Counter, deque
from pathlib import Path

import pytest
import yaml

from bench.generate_catalog import (
    KIND_SHARES,
    MANIFEST_FILE,
    ROOT_FILE,
    CatalogSummary,
    dump_documents,
    generate,
    load_documents,
    location_targets,
    mutate,
)

N = 2000
NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

# (field in spec, default kind when the value names none) -- as in Backstage's BuiltinKindsEntityProcessor.
RELATION_FIELDS = [
    ("owner", "group"),
    ("system", "system"),
    ("domain", "domain"),
    ("dependsOn", None),
    ("providesApis", "api"),
    ("consumesApis", "api"),
    ("memberOf", "group"),
    ("parent", "group"),
    ("children", "group"),
]


def parse_ref(value: str, default_kind: str | None) -> str:
    kind, sep, rest = value.partition(":")
    if not sep:
        assert default_kind, f"{value!r} needs a kind"
        kind, rest = default_kind, value
    namespace, _, name = rest.rpartition("/")
    return f"{kind.lower()}:{namespace or 'default'}/{name}"


def entity_ref(doc: dict) -> str:
    return f"{doc['kind'].lower()}:default/{doc['metadata']['name']}"


def read_catalog(root: Path) -> list[dict]:
    return [doc for path in location_targets(root) for doc in load_documents(path)]


def relation_targets(doc: dict) -> list[tuple[str, str]]:
    """(spec field, resolved target ref) for every relation the document declares."""
    out = []
    for name, default_kind in RELATION_FIELDS:
        value = doc["spec"].get(name)
        for item in value if isinstance(value, list) else [value] if value else []:
            out.append((name, parse_ref(item, default_kind)))
    return out


def bfs_dependencies(docs: list[dict], start: str, depth: int) -> set[str]:
    edges = {entity_ref(d): [parse_ref(x, None) for x in d["spec"].get("dependsOn", [])] for d in docs}
    seen: set[str] = set()
    frontier = deque([(start, 0)])
    while frontier:
        node, level = frontier.popleft()
        for dep in edges.get(node, []) if level < depth else []:
            if dep not in seen:
                seen.add(dep)
                frontier.append((dep, level + 1))
    return seen


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CatalogSummary, list[dict]]:
    root = tmp_path_factory.mktemp("catalog")
    summary = generate(N, root, seed=3)
    return root, summary, read_catalog(root)


def file_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_catalog(tmp_path: Path, generated) -> None:
    root, _, _ = generated
    generate(N, tmp_path / "again", seed=3)
    generate(N, tmp_path / "other", seed=4)
    assert file_bytes(tmp_path / "again") == file_bytes(root)
    assert file_bytes(tmp_path / "other") != file_bytes(root)


def test_counts_per_kind_follow_the_shares(generated) -> None:
    _, summary, docs = generated
    counts = Counter(d["kind"] for d in docs)
    assert sum(counts.values()) == N
    assert dict(counts) == summary.counts
    for kind, share in KIND_SHARES.items():
        assert abs(counts[kind] / N - share) <= 0.005, kind
    assert abs(counts["Component"] / N - 0.55) <= 0.01


def test_every_entity_is_well_formed(generated) -> None:
    _, _, docs = generated
    refs = [entity_ref(d) for d in docs]
    assert len(set(refs)) == len(refs)
    for doc in docs:
        meta = doc["metadata"]
        assert doc["apiVersion"] == "backstage.io/v1alpha1"
        assert NAME.fullmatch(meta["name"]) and len(meta["name"]) <= 63, meta["name"]
        assert meta["title"] and meta["description"]
        assert 1 <= len(meta["tags"]) <= 3 and len(set(meta["tags"])) == len(meta["tags"])
        assert len(meta["labels"]) == 1 and len(meta["annotations"]) == 1
        assert all(isinstance(v, str) for v in [*meta["labels"].values(), *meta["annotations"].values()])


def test_components_and_apis_carry_the_expected_spec(generated) -> None:
    _, _, docs = generated
    components = [d for d in docs if d["kind"] == "Component"]
    assert {d["spec"]["type"] for d in components} == {"service", "website", "library"}
    assert all(1 <= len(d["spec"]["dependsOn"]) <= 4 for d in components)
    assert all(d["spec"]["owner"].startswith("team-") for d in components)
    assert sum(bool(d["spec"]["providesApis"]) for d in components) > len(components) / 5
    apis = [d for d in docs if d["kind"] == "API"]
    assert all(isinstance(d["spec"]["definition"], str) and 20 < len(d["spec"]["definition"]) < 400 for d in apis)


def test_every_relation_target_exists(generated) -> None:
    _, _, docs = generated
    refs = {entity_ref(d) for d in docs}
    missing = [(entity_ref(d), f, t) for d in docs for f, t in relation_targets(d) if t not in refs]
    assert missing == []


def test_group_hierarchy_is_a_consistent_tree(generated) -> None:
    _, _, docs = generated
    groups = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Group"}
    roots = [name for name, spec in groups.items() if "parent" not in spec]
    assert roots == ["acme"] and groups["acme"]["type"] == "organization"
    for name, spec in groups.items():
        assert all(groups[child].get("parent") == name for child in spec["children"]), name
        if "parent" in spec:
            assert name in groups[spec["parent"]]["children"], name
    types = {name: spec["type"] for name, spec in groups.items()}
    for name, spec in groups.items():
        expected = {"organization": None, "department": "organization", "team": "department"}[spec["type"]]
        assert types.get(spec.get("parent", "")) == expected, name
    users = [d for d in docs if d["kind"] == "User"]
    assert all(types[t] == "team" for u in users for t in u["spec"]["memberOf"])


def test_location_lists_every_file(generated) -> None:
    root, summary, _ = generated
    (location,) = load_documents(root / ROOT_FILE)
    assert location["kind"] == "Location"
    targets = location["spec"]["targets"]
    assert all(t.startswith("./") for t in targets)
    on_disk = {f"./{p.relative_to(root)}" for p in root.rglob("*.yaml")} - {f"./{ROOT_FILE}"}
    assert sorted(targets) == sorted(on_disk) and targets == summary.files
    assert all(len(load_documents(root / t)) <= 100 for t in targets)
    assert (root / MANIFEST_FILE).is_file()


def test_dependencies_form_a_dag(generated) -> None:
    _, _, docs = generated
    components = [entity_ref(d) for d in docs if d["kind"] == "Component"]
    position = {r: i for i, r in enumerate(components)}
    for doc in docs:
        for dep in doc["spec"].get("dependsOn", []):
            target = parse_ref(dep, None)
            assert target.startswith("resource:") or position[target] > position[entity_ref(doc)]


def test_hub_reaches_at_least_100_entities_at_depth_6(generated) -> None:
    _, summary, docs = generated
    hub = summary.hub_refs[0]
    reached = bfs_dependencies(docs, hub, 6)
    assert len(reached) >= 100
    assert len(reached) == summary.hub_reach[hub]
    assert len(bfs_dependencies(docs, hub, 20)) > len(reached)  # chains go deeper than 6


def test_summary_refs_exist(generated) -> None:
    _, summary, docs = generated
    refs = {entity_ref(d) for d in docs}
    owners = {parse_ref(d["spec"]["owner"], "group") for d in docs if "owner" in d.get("spec", {})}
    assert set(summary.sample_refs) <= refs and len(set(summary.sample_refs)) > 10
    assert set(summary.owner_refs) <= owners and len(summary.owner_refs) == 20
    assert set(summary.relation_refs) <= refs and len(summary.hub_refs) == 5


def test_mutate_changes_the_requested_fraction(tmp_path: Path) -> None:
    root = tmp_path / "cat"
    generate(500, root, seed=5)
    before = {entity_ref(d): d for d in read_catalog(root)}
    assert mutate(root, 0.1, seed=9) == 50
    after = {entity_ref(d): d for d in read_catalog(root)}
    assert after.keys() == before.keys()
    changed = [r for r in before if before[r] != after[r]]
    assert len(changed) == 50
    assert all(after[r]["metadata"]["description"].startswith("Revised") for r in changed)
    assert any(before[r]["spec"].get("owner") != after[r]["spec"].get("owner") for r in changed)
    refs = set(after)
    assert all(t in refs for d in after.values() for _, t in relation_targets(d))


def test_mutate_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        generate(300, tmp_path / name, seed=5)
        mutate(tmp_path / name, 0.2, seed=9)
    assert file_bytes(tmp_path / "a") == file_bytes(tmp_path / "b")


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "has: colon space",
        "component:x",
        "yes",
        "No",
        "null",
        "123",
        "1.5",
        "- dash",
        "# hash",
        "a #b",
        "trailing ",
        " leading",
        "quote's",
        'dq"',
        "tab\there",
        "multi\nline\n",
        "two\n\nblank\n",
        "x\n",
        "\n",
        "",
        "./entities/a.yaml",
        "ünïcode",
        "{braces}",
        "[list]",
        "a: b\nc: d\n",
        "@at",
        "~",
    ],
)
def test_yaml_output_reads_back_unchanged(value: str) -> None:
    doc = {"k": value, "nested": {"list": [value, "ok"], value or "empty": 1}}
    assert list(yaml.safe_load_all(dump_documents([doc, doc]))) == [doc, doc]


def test_small_catalogs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate(10, tmp_path)


def test_the_service_model_accepts_every_entity_and_finds_every_target(generated) -> None:
    """The catalog is valid by the project's own Backstage rules, and its derived relations all resolve."""
    from graphsvc.model import derive_relations, validate_entity

    root, _, docs = generated
    entities = [validate_entity(d) for d in [*docs, *load_documents(root / ROOT_FILE)]]
    refs = {entity_ref(d) for d in docs}
    relations = [r for e in entities for r in derive_relations(e) if r.source in refs]
    assert {r.type for r in relations} >= {"ownedBy", "dependsOn", "partOf", "providesApi", "memberOf", "childOf"}
    assert [r for r in relations if r.target not in refs] == []
