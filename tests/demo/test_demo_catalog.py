"""Self-contained checks of the demo catalog shipped in ``graphsvc/demo/catalog``.

The catalog is read the way a Backstage-style loader would: start at the root Location, follow
``spec.targets`` relative to each Location file, parse every file with ``yaml.safe_load_all``.
The checks apply Backstage's validation rules (names, tags, labels, required spec fields per
kind), resolve every relation ref with Backstage's default kinds, and pin the deliberate
imperfections so that they do not spread or disappear by accident.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict, deque
from pathlib import Path

import pytest
import yaml

from graphsvc.demo import DEMO_CATALOG

CATALOG_DIR = DEMO_CATALOG.parent
DEFAULT_NS = "default"

NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
NAMESPACE_RE = re.compile(r"^[a-z0-9]+(?:-+[a-z0-9]+)*$")
KIND_RE = re.compile(r"^[a-zA-Z][a-z0-9A-Z]*$")
TAG_RE = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
LABEL_PART_RE = re.compile(r"^[a-zA-Z0-9]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?$")
DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
REF_RE = re.compile(r"^(?:(?P<kind>[^:/]+):)?(?:(?P<ns>[^:/]+)/)?(?P<name>[^:/]+)$")

API_VERSIONS = {
    "Component": {"backstage.io/v1alpha1", "backstage.io/v1beta1"},
    "API": {"backstage.io/v1alpha1", "backstage.io/v1beta1"},
    "Resource": {"backstage.io/v1alpha1", "backstage.io/v1beta1"},
    "System": {"backstage.io/v1alpha1", "backstage.io/v1beta1"},
    "Domain": {"backstage.io/v1alpha1", "backstage.io/v1beta1"},
    "Group": {"backstage.io/v1alpha1", "backstage.io/v1beta1"},
    "User": {"backstage.io/v1alpha1", "backstage.io/v1beta1"},
    "Location": {"backstage.io/v1alpha1", "backstage.io/v1beta1"},
    "Template": {"scaffolder.backstage.io/v1beta3"},
}

# kind -> relation field in spec -> default kind of a ref without one (None: the ref must name its kind)
RELATION_FIELDS: dict[str, dict[str, str | None]] = {
    "Component": {
        "owner": "group",
        "system": "system",
        "subcomponentOf": "component",
        "providesApis": "api",
        "consumesApis": "api",
        "dependsOn": None,
    },
    "API": {"owner": "group", "system": "system"},
    "Resource": {"owner": "group", "system": "system", "dependsOn": None},
    "System": {"owner": "group", "domain": "domain"},
    "Domain": {"owner": "group", "subdomainOf": "domain"},
    "Group": {"parent": "group", "children": "group", "members": "user"},
    "User": {"memberOf": "group"},
    "Template": {"owner": "group"},
}

EXPECTED_DANGLING = {
    ("component:default/affiliate-tracker", "owner", "group:default/growth-team"),
    ("component:default/legacy-pnr-sync", "owner", "group:default/partner-integrations"),
}
"""The deliberate imperfection: two components whose owner group does not exist."""

COUNT_RANGES = {
    "Domain": (3, 5),
    "System": (10, 16),
    "Component": (100, 140),
    "API": (40, 60),
    "Resource": (25, 40),
    "Group": (20, 32),
    "User": (70, 90),
    "Template": (2, 4),
    "Location": (1, 5),
}


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


def _load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def _targets(location: dict) -> list[str]:
    spec = location.get("spec") or {}
    targets = list(spec.get("targets") or [])
    if spec.get("target"):
        targets.append(spec["target"])
    return targets


class Catalog:
    """Entities reachable from the root Location, with the file each came from."""

    def __init__(self, root: Path) -> None:
        self.files: dict[Path, list[dict]] = {}
        self.missing_targets: list[tuple[Path, str]] = []
        queue = deque([root.resolve()])
        while queue:
            path = queue.popleft()
            if path in self.files:
                continue
            self.files[path] = _load(path)
            for doc in self.files[path]:
                if doc.get("kind") != "Location":
                    continue
                for target in _targets(doc):
                    resolved = (path.parent / target).resolve()
                    if resolved.is_file():
                        queue.append(resolved)
                    else:
                        self.missing_targets.append((path, target))
        self.entities: list[tuple[Path, dict]] = [(p, d) for p, docs in self.files.items() for d in docs]
        self.by_ref: dict[str, dict] = {}
        for _, entity in self.entities:
            self.by_ref.setdefault(ref_of(entity), entity)

    def of_kind(self, kind: str) -> list[dict]:
        return [e for _, e in self.entities if e["kind"] == kind]

    def get(self, ref: str) -> dict:
        return self.by_ref[ref]


def ref_of(entity: dict) -> str:
    meta = entity.get("metadata") or {}
    return f"{entity['kind']}:{meta.get('namespace', DEFAULT_NS)}/{meta['name']}".lower()


def parse_ref(ref: str, default_kind: str | None) -> str:
    """Backstage ref -> ``kind:namespace/name`` (lowercase); raises ValueError for a bad ref."""
    m = REF_RE.match(ref)
    if not m:
        raise ValueError(f"malformed entity ref {ref!r}")
    kind = m["kind"] or default_kind
    if kind is None:
        raise ValueError(f"entity ref {ref!r} must name its kind")
    return f"{kind}:{m['ns'] or DEFAULT_NS}/{m['name']}".lower()


def relation_refs(entity: dict):
    """Yield (field, target ref) for every relation field of an entity."""
    spec = entity.get("spec") or {}
    for field, default_kind in RELATION_FIELDS.get(entity["kind"], {}).items():
        value = spec.get(field)
        if value is None:
            continue
        for ref in value if isinstance(value, list) else [value]:
            yield field, parse_ref(ref, default_kind)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(DEMO_CATALOG)


def _name(ref: str) -> str:
    return ref.split("/", 1)[1]


# --------------------------------------------------------------------------------------------------
# Files and locations
# --------------------------------------------------------------------------------------------------


def test_demo_catalog_path_is_root_location() -> None:
    assert DEMO_CATALOG.is_file()
    assert DEMO_CATALOG.name == "catalog-info.yaml"
    docs = _load(DEMO_CATALOG)
    assert [d["kind"] for d in docs] == ["Location"]
    targets = _targets(docs[0])
    assert "./org/groups.yaml" in targets and "./org/users.yaml" in targets and "./domains.yaml" in targets
    assert any(t.startswith("./systems/") for t in targets)
    assert any(t.startswith("./templates/") for t in targets)
    assert all(t.startswith("./") for t in targets), "targets are relative to the Location file"


def test_every_location_target_exists(catalog: Catalog) -> None:
    assert catalog.missing_targets == []


def test_every_yaml_file_is_reachable(catalog: Catalog) -> None:
    on_disk = {p.resolve() for p in CATALOG_DIR.rglob("*") if p.suffix in (".yaml", ".yml")}
    assert on_disk == set(catalog.files)


def test_every_file_parses_to_entities(catalog: Catalog) -> None:
    for path, docs in catalog.files.items():
        assert docs, f"{path} holds no entity"
        for doc in docs:
            assert isinstance(doc, dict), path


def test_system_files_hold_one_system_each(catalog: Catalog) -> None:
    for path, docs in catalog.files.items():
        if path.parent.name != "systems":
            continue
        systems = [d for d in docs if d["kind"] == "System"]
        assert [s["metadata"]["name"] for s in systems] == [path.stem]
        for doc in docs:
            if doc["kind"] in ("Component", "API", "Resource"):
                assert doc["spec"]["system"] == path.stem, (path.name, doc["metadata"]["name"])
            else:
                assert doc["kind"] == "System"


def test_generator_output_is_committed(tmp_path: Path) -> None:
    """The committed YAML is exactly what ``python -m graphsvc.demo.generate`` writes."""
    from graphsvc.demo import generate

    generate.write_catalog(tmp_path)
    fresh = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*.yaml")}
    committed = {p.relative_to(CATALOG_DIR).as_posix(): p.read_bytes() for p in CATALOG_DIR.rglob("*.yaml")}
    assert sorted(fresh) == sorted(committed)
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], "rerun `python -m graphsvc.demo.generate`"


# --------------------------------------------------------------------------------------------------
# Entity validity
# --------------------------------------------------------------------------------------------------


def _check_key_value_map(kind: str, name: str, what: str, mapping: dict, check_values: bool) -> None:
    assert isinstance(mapping, dict), (kind, name, what)
    for key, value in mapping.items():
        prefix, _, key_name = key.rpartition("/")
        assert LABEL_PART_RE.match(key_name) and len(key_name) <= 63, (kind, name, what, key)
        if prefix:
            assert DNS_SUBDOMAIN_RE.match(prefix) and len(prefix) <= 253, (kind, name, what, key)
        assert isinstance(value, str), (kind, name, what, key)
        if check_values:
            assert LABEL_PART_RE.match(value) and len(value) <= 63, (kind, name, what, key, value)


def test_envelope_and_metadata_are_valid(catalog: Catalog) -> None:
    for path, entity in catalog.entities:
        kind = entity.get("kind")
        assert isinstance(kind, str) and KIND_RE.match(kind), path
        assert kind in API_VERSIONS, (path, kind)
        assert entity.get("apiVersion") in API_VERSIONS[kind], (path, kind)
        meta = entity.get("metadata")
        assert isinstance(meta, dict), path
        name = meta.get("name")
        assert isinstance(name, str) and NAME_RE.match(name) and len(name) <= 63, (path, name)
        namespace = meta.get("namespace", DEFAULT_NS)
        assert NAMESPACE_RE.match(namespace) and len(namespace) <= 63, (path, name)
        for field in ("title", "description"):
            if field in meta:
                assert isinstance(meta[field], str) and meta[field].strip(), (name, field)
        for tag in meta.get("tags", []):
            assert isinstance(tag, str) and TAG_RE.match(tag) and len(tag) <= 63, (kind, name, tag)
        assert len(set(meta.get("tags", []))) == len(meta.get("tags", [])), (kind, name)
        _check_key_value_map(kind, name, "labels", meta.get("labels", {}), check_values=True)
        _check_key_value_map(kind, name, "annotations", meta.get("annotations", {}), check_values=False)
        for link in meta.get("links", []):
            assert isinstance(link.get("url"), str) and link["url"].startswith("https://"), (kind, name)
        assert isinstance(entity.get("spec"), dict), (kind, name)


def test_names_are_unique_per_kind_and_namespace(catalog: Catalog) -> None:
    counts = Counter(ref_of(e) for _, e in catalog.entities)
    assert [ref for ref, n in counts.items() if n > 1] == []


def _require(entity: dict, field: str, typ: type) -> None:
    value = entity["spec"].get(field)
    assert isinstance(value, typ), (ref_of(entity), field, value)
    if typ is str:
        assert value.strip(), (ref_of(entity), field)


def test_required_spec_fields(catalog: Catalog) -> None:
    for _, e in catalog.entities:
        kind = e["kind"]
        if kind == "Component":
            for f in ("type", "lifecycle", "owner"):
                _require(e, f, str)
        elif kind == "API":
            for f in ("type", "lifecycle", "owner", "definition"):
                _require(e, f, str)
        elif kind == "Resource":
            for f in ("type", "owner"):
                _require(e, f, str)
        elif kind in ("System", "Domain"):
            _require(e, "owner", str)
        elif kind == "Group":
            _require(e, "type", str)
            _require(e, "children", list)
        elif kind == "User":
            _require(e, "memberOf", list)
        elif kind == "Template":
            _require(e, "type", str)
            _require(e, "steps", list)
            assert isinstance(e["spec"].get("parameters"), list | dict), ref_of(e)
        elif kind == "Location":
            assert _targets(e), ref_of(e)


def test_entity_counts_are_in_range(catalog: Catalog) -> None:
    counts = Counter(e["kind"] for _, e in catalog.entities)
    assert set(counts) == set(COUNT_RANGES)
    for kind, (low, high) in COUNT_RANGES.items():
        assert low <= counts[kind] <= high, (kind, counts[kind])


def test_variety_of_types_and_lifecycles(catalog: Catalog) -> None:
    components = catalog.of_kind("Component")
    assert {"service", "website", "library", "data-pipeline"} <= {c["spec"]["type"] for c in components}
    lifecycles = Counter(c["spec"]["lifecycle"] for c in components)
    assert set(lifecycles) == {"production", "experimental", "deprecated"}
    assert lifecycles["production"] > lifecycles["experimental"] + lifecycles["deprecated"]
    assert {a["spec"]["type"] for a in catalog.of_kind("API")} == {"openapi", "grpc", "asyncapi", "graphql"}
    assert {"database", "cache", "s3-bucket", "kafka-topic", "queue"} <= {
        r["spec"]["type"] for r in catalog.of_kind("Resource")
    }


def test_api_definitions_are_short_and_well_formed(catalog: Catalog) -> None:
    for api in catalog.of_kind("API"):
        kind, definition = api["spec"]["type"], api["spec"]["definition"]
        assert 2 <= len(definition.splitlines()) <= 15, api["metadata"]["name"]
        if kind in ("openapi", "asyncapi"):
            doc = yaml.safe_load(definition)
            assert isinstance(doc, dict) and kind in doc and "info" in doc, api["metadata"]["name"]
            assert doc["paths" if kind == "openapi" else "channels"], api["metadata"]["name"]
        elif kind == "grpc":
            assert 'syntax = "proto3";' in definition and "service " in definition and " rpc " in definition
        elif kind == "graphql":
            assert "type Query" in definition


def test_templates_are_usable(catalog: Catalog) -> None:
    for tpl in catalog.of_kind("Template"):
        spec = tpl["spec"]
        assert [s["action"] for s in spec["steps"]] == [
            "fetch:template",
            "publish:github",
            "catalog:register",
        ]
        assert all(isinstance(s.get("id"), str) for s in spec["steps"])
        for page in spec["parameters"]:
            assert set(page.get("required", [])) <= set(page["properties"])


def test_users_have_unique_emails(catalog: Catalog) -> None:
    emails = [u["spec"]["profile"]["email"] for u in catalog.of_kind("User")]
    assert len(emails) == len(set(emails))


# --------------------------------------------------------------------------------------------------
# Relations
# --------------------------------------------------------------------------------------------------


def test_relation_refs_are_well_formed(catalog: Catalog) -> None:
    bad = []
    for _, entity in catalog.entities:
        try:
            list(relation_refs(entity))
        except ValueError as exc:
            bad.append((ref_of(entity), str(exc)))
    assert bad == []


def test_every_relation_resolves_except_the_deliberate_dangling_owners(catalog: Catalog) -> None:
    unresolved = {
        (ref_of(entity), field, target)
        for _, entity in catalog.entities
        for field, target in relation_refs(entity)
        if target not in catalog.by_ref
    }
    assert unresolved == EXPECTED_DANGLING


def test_dangling_owners_match_the_generator() -> None:
    from graphsvc.demo.generate import DANGLING_OWNERS

    assert {(f"component:default/{c}", "owner", f"group:default/{g}") for c, g in DANGLING_OWNERS.items()} == (
        EXPECTED_DANGLING
    )


def test_relation_targets_have_the_right_kind(catalog: Catalog) -> None:
    allowed = {
        "owner": {"group", "user"},
        "system": {"system"},
        "domain": {"domain"},
        "subcomponentOf": {"component"},
        "providesApis": {"api"},
        "consumesApis": {"api"},
        "dependsOn": {"component", "resource"},
        "parent": {"group"},
        "children": {"group"},
        "members": {"user"},
        "memberOf": {"group"},
    }
    for _, entity in catalog.entities:
        for field, target in relation_refs(entity):
            assert target.split(":", 1)[0] in allowed[field], (ref_of(entity), field, target)


def test_owners_are_mostly_groups_with_a_few_users(catalog: Catalog) -> None:
    owners = [parse_ref(c["spec"]["owner"], "group") for c in catalog.of_kind("Component")]
    user_owned = [o for o in owners if o.startswith("user:")]
    assert 1 <= len(user_owned) <= 5
    for owner in user_owned:
        assert owner in catalog.by_ref


def test_no_self_references_and_dependency_graph_is_acyclic(catalog: Catalog) -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for _, entity in catalog.entities:
        me = ref_of(entity)
        for field, target in relation_refs(entity):
            assert target != me, (me, field)
            if field in ("dependsOn", "subcomponentOf"):
                edges[me].add(target)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, f"cycle: {' -> '.join(trail + [node])}"
        state[node] = 1
        for nxt in edges.get(node, ()):
            visit(nxt, trail + [node])
        state[node] = 2

    for node in list(edges):
        visit(node, [])


def test_relations_are_dense(catalog: Catalog) -> None:
    components = catalog.of_kind("Component")
    assert all("system" in c["spec"] for c in components)
    assert all("domain" in s["spec"] for s in catalog.of_kind("System"))
    assert sum(len(c["spec"].get("dependsOn", [])) for c in components) >= 120
    assert sum(len(c["spec"].get("consumesApis", [])) for c in components) >= 120
    assert sum(1 for c in components if "subcomponentOf" in c["spec"]) >= 8
    providers: dict[str, list[str]] = defaultdict(list)
    consumers: dict[str, list[str]] = defaultdict(list)
    for c in components:
        for api in c["spec"].get("providesApis", []):
            providers[parse_ref(api, "api")].append(c["metadata"]["name"])
        for api in c["spec"].get("consumesApis", []):
            consumers[parse_ref(api, "api")].append(c["metadata"]["name"])
    for api in catalog.of_kind("API"):
        ref = ref_of(api)
        assert len(providers[ref]) == 1, (ref, providers[ref])
        assert consumers[ref], f"nobody consumes {ref}"
    resources_used = {parse_ref(d, None) for _, e in catalog.entities for d in (e["spec"].get("dependsOn") or [])}
    for res in catalog.of_kind("Resource"):
        assert ref_of(res) in resources_used, f"nothing depends on {ref_of(res)}"


def test_exactly_one_deprecated_component_is_still_depended_upon(catalog: Catalog) -> None:
    deprecated = {ref_of(c) for c in catalog.of_kind("Component") if c["spec"]["lifecycle"] == "deprecated"}
    assert len(deprecated) >= 3
    dependents: dict[str, set[str]] = defaultdict(set)
    for _, entity in catalog.entities:
        for field, target in relation_refs(entity):
            if field in ("dependsOn", "subcomponentOf") and target in deprecated:
                dependents[target].add(_name(ref_of(entity)))
    assert dict(dependents) == {"component:default/legacy-booking-monolith": {"booking-service", "support-console"}}
    deprecated_apis = {ref_of(a) for a in catalog.of_kind("API") if a["spec"]["lifecycle"] == "deprecated"}
    still_consumed = {
        (c["metadata"]["name"], api)
        for c in catalog.of_kind("Component")
        for api in c["spec"].get("consumesApis", [])
        if parse_ref(api, "api") in deprecated_apis
    }
    assert still_consumed == {("support-console", "legacy-booking-api")}


# --------------------------------------------------------------------------------------------------
# Organisation
# --------------------------------------------------------------------------------------------------


def _groups(catalog: Catalog) -> dict[str, dict]:
    return {ref_of(g): g for g in catalog.of_kind("Group")}


def test_group_parent_and_children_are_consistent(catalog: Catalog) -> None:
    groups = _groups(catalog)
    for ref, group in groups.items():
        spec = group["spec"]
        if "parent" in spec:
            parent = groups[parse_ref(spec["parent"], "group")]
            assert ref in {parse_ref(c, "group") for c in parent["spec"]["children"]}, ref
        for child in spec["children"]:
            child_spec = groups[parse_ref(child, "group")]["spec"]
            assert parse_ref(child_spec.get("parent", ""), "group") == ref, (ref, child)


def test_group_hierarchy_is_one_tree_with_sub_teams(catalog: Catalog) -> None:
    groups = _groups(catalog)
    roots = [ref for ref, g in groups.items() if "parent" not in g["spec"]]
    assert len(roots) == 1
    assert groups[roots[0]]["spec"]["type"] == "organization"
    depth = {roots[0]: 0}
    queue = deque(roots)
    while queue:
        ref = queue.popleft()
        for child in groups[ref]["spec"]["children"]:
            child_ref = parse_ref(child, "group")
            assert child_ref not in depth, f"{child_ref} reached twice"
            depth[child_ref] = depth[ref] + 1
            queue.append(child_ref)
    assert set(depth) == set(groups), "every group hangs off the organization"
    assert {groups[r]["spec"]["type"] for r, d in depth.items() if d == 1} == {"department"}
    assert sum(1 for d in depth.values() if d == 1) == 4
    assert max(depth.values()) == 3
    assert sum(1 for d in depth.values() if d == 3) >= 5


def test_group_members_match_user_memberships(catalog: Catalog) -> None:
    groups = _groups(catalog)
    from_users: dict[str, set[str]] = defaultdict(set)
    for user in catalog.of_kind("User"):
        assert user["spec"]["memberOf"], ref_of(user)
        for group in user["spec"]["memberOf"]:
            from_users[parse_ref(group, "group")].add(ref_of(user))
    for ref, group in groups.items():
        declared = {parse_ref(m, "user") for m in group["spec"].get("members", [])}
        assert declared == from_users[ref], ref
        assert declared, f"{ref} has no members"


def _descendants(groups: dict[str, dict], ref: str) -> set[str]:
    out = {ref}
    for child in groups[ref]["spec"]["children"]:
        out |= _descendants(groups, parse_ref(child, "group"))
    return out


def test_department_ownership_includes_sub_teams(catalog: Catalog) -> None:
    """'What does the Payments department own including sub-teams?' needs two levels of recursion."""
    groups = _groups(catalog)
    owned: dict[str, set[str]] = defaultdict(set)
    for _, e in catalog.entities:
        owner = (e.get("spec") or {}).get("owner")
        if owner and e["kind"] in ("Component", "API", "Resource", "System", "Domain"):
            owned[parse_ref(owner, "group")].add(ref_of(e))
    payments = "group:default/payments"
    direct_children = {parse_ref(c, "group") for c in groups[payments]["spec"]["children"]}
    tree = _descendants(groups, payments)
    assert {"group:default/checkout-team", "group:default/fraud-team"} <= tree - direct_children
    shallow = set().union(*(owned[g] for g in direct_children | {payments}))
    deep = set().union(*(owned[g] for g in tree))
    assert "component:default/fraud-scoring-service" in deep - shallow
    assert "component:default/checkout-service" in deep - shallow
    assert len(deep) >= 40
    for department in ("travel-products", "payments", "customer-experience", "platform-engineering"):
        ref = f"group:default/{department}"
        assert sum(len(owned[g]) for g in _descendants(groups, ref)) >= 20, department
