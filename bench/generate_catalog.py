"""Generate a synthetic but realistic Backstage catalog for benchmarks.

    python bench/generate_catalog.py --entities 10000 --out bench/out/catalog-10000 [--seed 1] \
        [--per-file 100]
    python bench/generate_catalog.py --out bench/out/catalog-10000 --mutate 0.01 [--seed 2]

The catalog is a directory of multi-document YAML files (about `--per-file` documents each) plus a root
`catalog-info.yaml` of kind Location whose `spec.targets` lists every file. The mix of kinds follows
`KIND_SHARES`; groups form an org -> departments -> teams tree; component `dependsOn` edges form a DAG
with long chains, so that a depth-6 dependency traversal from a hub reaches a few hundred entities.
The same entity count and seed always give the same bytes.

Files are written as their documents are made, so a catalog of a million entities is generated in bounded
memory: what is kept is names (what later kinds refer to) and the dependsOn lists (the hubs are chosen from
them), never the documents, except the groups' (a team is added to its department's children as it is made).

`generate()` returns a `CatalogSummary` naming the refs a benchmark should query (also written to
`bench-manifest.json` next to the root Location, which the Location does not list).
"""

from __future__ import annotations

import argparse
import bisect
import functools
import itertools
import json
import random
import re
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

API_VERSION = "backstage.io/v1alpha1"
ROOT_FILE = "catalog-info.yaml"
MANIFEST_FILE = "bench-manifest.json"
ENTITY_DIR = "entities"
MIN_ENTITIES = 100
HUB_DEPTH = 6

KIND_SHARES: dict[str, float] = {
    "Group": 0.02,
    "User": 0.10,
    "Domain": 0.01,
    "System": 0.03,
    "API": 0.20,
    "Resource": 0.09,
}
"""Share of each kind; Component takes the rest (about 55 %)."""

KIND_ORDER = ["Group", "User", "Domain", "System", "Resource", "API", "Component"]

AREAS = """
    payments commerce platform data identity growth mobile search ads security logistics finance
    media support marketing infra
""".split()
NOUNS = """
    ledger checkout cart catalog inventory shipping billing invoice pricing promo loyalty auth
    session profile notify email sms push image video upload report metrics audit fraud risk tax
    order refund wallet review rating recommend feed chat ticket booking geo consent export
""".split()
ROLES = """
    gateway worker sync store engine indexer processor router scheduler exporter adapter core hub
    bridge tracker manager planner resolver
""".split()
RESOURCE_TYPES = {
    "database": "db",
    "s3-bucket": "bucket",
    "queue": "queue",
    "cache": "cache",
    "topic": "topic",
}
FIRST_NAMES = """
    ada alan grace linus margaret ken barbara dennis frances john radia tim hedy edsger karen donald
    sophie guido anita bjarne lynn niklaus
""".split()
LAST_NAMES = """
    lovelace turing hopper torvalds hamilton thompson liskov ritchie allen backus perlman berners
    lamarr dijkstra jones knuth wilson rossum borg stroustrup conway wirth
""".split()
TAGS = """
    python java go typescript kotlin rust grpc rest graphql kafka postgres redis pci gdpr sox tier-1
    tier-2 tier-3 public internal batch streaming ml frontend backend legacy k8s serverless
""".split()
LIFECYCLES = ["production", "experimental", "deprecated"]
LIFECYCLE_WEIGHTS = [60, 25, 15]
REGIONS = ["emea", "amer", "apac"]
PURPOSES = [
    "Handles {a} requests for the {area} department.",
    "Keeps {a} data consistent across regions, with retries and an audit trail.",
    "Owns the {a} workflow end to end; see the runbook before paging.",
    "Serves {a} reads at low latency for customer-facing pages.",
    "Batch jobs that reconcile {a} records every night.",
]


@dataclass
class CatalogSummary:
    """What a benchmark needs to know about a generated catalog."""

    root: str
    entities: int
    seed: int
    counts: dict[str, int]
    files: list[str]
    sample_refs: list[str] = field(default_factory=list)
    """Refs of assorted kinds, for point lookups."""
    owner_refs: list[str] = field(default_factory=list)
    """Teams that own at least one entity."""
    relation_refs: list[str] = field(default_factory=list)
    """Components with owner, system, dependency and API relations."""
    hub_refs: list[str] = field(default_factory=list)
    """Components with the largest depth-6 dependency closure, largest first."""
    hub_reach: dict[str, int] = field(default_factory=dict)


@dataclass
class _Catalog:
    """Entities being built, and the names later kinds refer to. Documents go to `files` as they are made."""

    rng: random.Random
    files: _CatalogFiles
    names: dict[str, list[str]] = field(default_factory=dict)
    """Kind -> the names of its entities, in order."""
    owners: set[str] = field(default_factory=set)
    """The teams owning at least one component, API or resource."""
    departments: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    systems: list[tuple[str, str]] = field(default_factory=list)
    """(system name, owning team)."""
    resources: list[str] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)
    depends_on: dict[str, list[str]] = field(default_factory=dict)
    """Component name -> its dependsOn refs, as written."""


# ---------------------------------------------------------------------------------------------------------
# YAML output


_PLAIN = re.compile(r"(?:[A-Za-z]|\./)(?:[A-Za-z0-9._/,;()'@-]|:(?=[^\s:])| (?=[^\s#:]))*")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


@functools.lru_cache(maxsize=1 << 16)
def yaml_scalar(value: str | int) -> str:
    """A YAML scalar for `value`: plain when unambiguous, else double-quoted (JSON strings are valid YAML)."""
    if isinstance(value, int):
        return str(value)
    if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value)


def _is_block_text(value: str) -> bool:
    """True when `value` can be written as a `|` literal block and read back unchanged."""
    lines = value.split("\n")
    return (
        len(lines) > 2
        and value.endswith("\n")
        and not value.endswith("\n\n")
        and lines[0] != ""
        and not value.startswith(" ")
        and all(line.isprintable() and line == line.rstrip() for line in lines)
    )


def _emit(value: dict, indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, item in value.items():
        head = f"{pad}{yaml_scalar(key)}:"
        if isinstance(item, dict):
            out.append(head + (" {}" if not item else ""))
            _emit(item, indent + 2, out)
        elif isinstance(item, list):
            out.append(head + (" []" if not item else ""))
            out.extend(f"{pad}  - {yaml_scalar(x)}" for x in item)
        elif isinstance(item, str) and _is_block_text(item):
            out.append(head + " |")
            out.extend(f"{pad}  {line}" if line else "" for line in item[:-1].split("\n"))
        else:
            out.append(f"{head} {yaml_scalar(item)}")  # type: ignore[arg-type]


def dump_documents(docs: list[dict]) -> str:
    """Block-style multi-document YAML for documents made of dicts, lists of scalars, strings and ints."""
    out: list[str] = []
    for i, doc in enumerate(docs):
        if i:
            out.append("---")
        _emit(doc, 0, out)
    return "\n".join(out) + "\n"


def load_documents(path: Path) -> list[dict]:
    """Parse a multi-document YAML file with the fastest safe loader available."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=loader) if d is not None]


class _CatalogFiles:
    """The catalog's entity files, written a file at a time as documents come: `per_file` documents of one
    kind per file, named after the kind and numbered. A kind `held` is written only when `finish`ed (its
    documents still change after they are made)."""

    def __init__(self, out: Path, per_file: int) -> None:
        self.out = out
        self.per_file = per_file
        self.targets: list[str] = []
        """The Location targets of the files written, in order."""
        self.held: set[str] = set()
        self._pending: dict[str, list[dict]] = {}
        self._written: dict[str, int] = {}

    def add(self, kind: str, doc: dict) -> None:
        pending = self._pending.setdefault(kind, [])
        pending.append(doc)
        if len(pending) == self.per_file and kind not in self.held:
            self._write(kind)

    def finish(self, kind: str) -> None:
        """Write every document of `kind` not written yet: its kind is done."""
        self.held.discard(kind)
        while self._pending.get(kind):
            self._write(kind)

    def _write(self, kind: str) -> None:
        pending = self._pending[kind]
        docs, self._pending[kind] = pending[: self.per_file], pending[self.per_file :]
        n = self._written.get(kind, 0) + 1
        self._written[kind] = n
        rel = f"{ENTITY_DIR}/{kind.lower()}s-{n:04d}.yaml"
        (self.out / rel).write_text(dump_documents(docs), encoding="utf-8")
        self.targets.append(f"./{rel}")


# ---------------------------------------------------------------------------------------------------------
# Entities


def plan_counts(entities: int) -> dict[str, int]:
    """How many entities of each kind make up a catalog of `entities`."""
    if entities < MIN_ENTITIES:
        raise ValueError(f"--entities must be at least {MIN_ENTITIES}, got {entities}")
    counts = {kind: max(1, round(entities * share)) for kind, share in KIND_SHARES.items()}
    counts["Group"] = max(3, counts["Group"])
    counts["Component"] = entities - sum(counts.values())
    return counts


def ref(kind: str, name: str) -> str:
    """Canonical entity ref, e.g. `component:default/checkout-gateway-12`."""
    return f"{kind.lower()}:default/{name}"


def _entity(
    cat: _Catalog,
    kind: str,
    name: str,
    title: str,
    spec: dict,
    label: tuple[str, str],
    annotation: tuple[str, str],
    area: str,
) -> dict:
    rng = cat.rng
    word = next((part for part in name.split("-") if part in NOUNS), name.split("-")[0])
    description = rng.choice(PURPOSES).format(a=word, area=area)
    metadata = {
        "name": name,
        "title": title,
        "description": description,
        "tags": rng.sample(TAGS, rng.randint(1, 3)),
        "labels": {label[0]: label[1]},
        "annotations": {annotation[0]: annotation[1]},
    }
    doc = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
    cat.names.setdefault(kind, []).append(name)
    if kind in ("Component", "API", "Resource"):
        cat.owners.add(spec["owner"])
    cat.files.add(kind, doc)
    return doc


def _title(name: str) -> str:
    return " ".join("API" if part == "api" else part.capitalize() for part in name.split("-"))


def _group(cat: _Catalog, name: str, gtype: str, parent: str | None, area: str) -> dict:
    spec: dict = {"type": gtype, "profile": {"displayName": _title(name), "email": f"{name}@example.com"}}
    if parent:
        spec["parent"] = parent
    spec["children"] = []
    label = ("example.com/region", cat.rng.choice(REGIONS))
    return _entity(cat, "Group", name, _title(name), spec, label, ("github.com/team-slug", f"acme/{name}"), area)


def build_groups(cat: _Catalog, count: int) -> None:
    """One organization, about one department per six teams, teams spread over departments."""
    cat.files.held.add("Group")  # the departments' children grow until the last team
    n_depts = max(1, round((count - 1) / 7))
    org = _group(cat, "acme", "organization", None, "acme")
    depts = []
    for i in range(n_depts):
        area = AREAS[i % len(AREAS)]
        depts.append(_group(cat, f"dept-{area}-{i}", "department", "acme", area))
        org["spec"]["children"].append(depts[-1]["metadata"]["name"])
    cat.departments = [d["metadata"]["name"] for d in depts]
    rng = cat.rng
    for i in range(count - 1 - n_depts):
        dept = depts[i % n_depts] if i < n_depts else rng.choice(depts)
        name = f"team-{rng.choice(NOUNS)}-{rng.choice(ROLES)}-{i}"
        _group(cat, name, "team", dept["metadata"]["name"], dept["metadata"]["name"].split("-")[1])
        dept["spec"]["children"].append(name)
        cat.teams.append(name)


def build_users(cat: _Catalog, count: int) -> None:
    rng = cat.rng
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first}-{last}-{i}"
        teams = rng.sample(cat.teams, min(len(cat.teams), 1 if rng.random() < 0.9 else 2))
        spec = {
            "profile": {
                "displayName": f"{first.capitalize()} {last.capitalize()}",
                "email": f"{first}.{last}.{i}@example.com",
            },
            "memberOf": teams,
        }
        label = ("example.com/region", rng.choice(REGIONS))
        _entity(
            cat,
            "User",
            name,
            f"{first.capitalize()} {last.capitalize()}",
            spec,
            label,
            ("github.com/user-login", f"{first}{last}{i}"),
            teams[0].split("-")[1],
        )


def build_domains(cat: _Catalog, count: int) -> None:
    for i in range(count):
        area = AREAS[i % len(AREAS)]
        name = f"{area}-domain-{i}"
        spec = {"owner": cat.rng.choice(cat.departments)}
        _entity(
            cat,
            "Domain",
            name,
            _title(name),
            spec,
            ("example.com/tier", str(1 + i % 3)),
            ("backstage.io/techdocs-ref", "dir:."),
            area,
        )
        cat.domains.append(name)


def _owned_spec(cat: _Catalog, stype: str) -> tuple[dict, str]:
    """Spec with type, lifecycle, owner and system; the owner is usually the system's team."""
    rng = cat.rng
    system, system_owner = rng.choice(cat.systems)
    owner = system_owner if rng.random() < 0.7 else rng.choice(cat.teams)
    lifecycle = rng.choices(LIFECYCLES, LIFECYCLE_WEIGHTS)[0]
    return {"type": stype, "lifecycle": lifecycle, "owner": owner, "system": system}, owner


def build_systems(cat: _Catalog, count: int) -> None:
    rng = cat.rng
    for i in range(count):
        name = f"{rng.choice(NOUNS)}-platform-{i}"
        owner = rng.choice(cat.teams)
        spec = {"owner": owner, "domain": rng.choice(cat.domains)}
        _entity(
            cat,
            "System",
            name,
            _title(name),
            spec,
            ("example.com/tier", str(1 + i % 3)),
            ("github.com/project-slug", f"acme/{name}"),
            owner.split("-")[1],
        )
        cat.systems.append((name, owner))


def build_resources(cat: _Catalog, count: int) -> None:
    rng = cat.rng
    for i in range(count):
        rtype = rng.choice(list(RESOURCE_TYPES))
        name = f"{rng.choice(NOUNS)}-{RESOURCE_TYPES[rtype]}-{i}"
        spec, owner = _owned_spec(cat, rtype)
        del spec["lifecycle"]
        _entity(
            cat,
            "Resource",
            name,
            _title(name),
            spec,
            ("example.com/tier", str(1 + i % 3)),
            ("example.com/cloud-account", f"acct-{i % 40}"),
            owner.split("-")[1],
        )
        cat.resources.append(name)


def _api_definition(api_type: str, name: str, noun: str, version: int) -> str:
    if api_type == "grpc":
        return f'syntax = "proto3";\nservice {noun.capitalize()} {{\n  rpc Get (Req) returns (Resp);\n}}\n'
    if api_type == "graphql":
        return f"type Query {{\n  {noun}(id: ID!): String\n}}\n"
    return (
        f"openapi: 3.0.3\ninfo:\n  title: {name}\n  version: 1.{version}.0\n"
        f"paths:\n  /{noun}:\n    get:\n      summary: List {noun}\n"
    )


def build_apis(cat: _Catalog, count: int) -> None:
    rng = cat.rng
    for i in range(count):
        noun = rng.choice(NOUNS)
        name = f"{noun}-{rng.choice(ROLES)}-api-{i}"
        api_type = rng.choices(["openapi", "grpc", "graphql"], [70, 20, 10])[0]
        spec, owner = _owned_spec(cat, api_type)
        spec["definition"] = _api_definition(api_type, name, noun, i % 10)
        _entity(
            cat,
            "API",
            name,
            _title(name),
            spec,
            ("example.com/visibility", rng.choice(["public", "internal"])),
            ("github.com/project-slug", f"acme/{name}"),
            owner.split("-")[1],
        )
        cat.apis.append(name)


def _component_deps(rng: random.Random, i: int, names: list[str], resources: list[str]) -> list[str]:
    """1-4 dependsOn refs, all to later components or to resources, so the graph is a DAG.

    The first is a near neighbour (i+1..i+3), which strings components into long chains; the others
    are random later components (so early components are services, late ones shared libraries) or
    resources (one in five).
    """
    last = len(names) - 1
    want = rng.randint(1, 4) if i >= max(3, len(names) // 100) else 4
    deps = [f"component:{names[rng.randint(i + 1, min(last, i + 3))]}"] if i < last else []
    for _ in range(3 * want):
        if len(deps) >= want:
            break
        if i == last or rng.random() < 0.2:
            dep = f"resource:{rng.choice(resources)}"
        else:
            dep = f"component:{names[rng.randint(i + 1, last)]}"
        if dep not in deps:
            deps.append(dep)
    return deps


def _component_type(i: int, count: int) -> str:
    position = i / count
    if position < 0.15:
        return "website"
    return "library" if position > 0.75 else "service"


def build_components(cat: _Catalog, count: int) -> None:
    rng = cat.rng
    names = [f"{rng.choice(NOUNS)}-{rng.choice(ROLES)}-{i}" for i in range(count)]
    provided: dict[str, list[str]] = {}
    for api in cat.apis:
        provided.setdefault(names[rng.randrange(count)], []).append(api)
    for i, name in enumerate(names):
        spec, owner = _owned_spec(cat, _component_type(i, count))
        deps = _component_deps(rng, i, names, cat.resources)
        spec["dependsOn"] = deps
        own_apis = provided.get(name, [])
        spec["providesApis"] = own_apis
        consumed = rng.sample(cat.apis, min(len(cat.apis), rng.randint(0, 3)))
        spec["consumesApis"] = [a for a in consumed if a not in own_apis]
        _entity(
            cat,
            "Component",
            name,
            _title(name),
            spec,
            ("example.com/tier", str(1 + i % 3)),
            ("backstage.io/techdocs-ref", "dir:."),
            owner.split("-")[1],
        )
        cat.depends_on[name] = deps


BUILDERS = {
    "Group": build_groups,
    "User": build_users,
    "Domain": build_domains,
    "System": build_systems,
    "Resource": build_resources,
    "API": build_apis,
    "Component": build_components,
}
"""How each kind is made, in `KIND_ORDER`: each refers to the kinds made before it."""


def build_catalog(entities: int, seed: int, files: _CatalogFiles) -> _Catalog:
    """All entities of a catalog of `entities`, deterministic for `seed`, written to `files` kind by kind."""
    counts = plan_counts(entities)
    cat = _Catalog(rng=random.Random(seed), files=files)
    for kind in KIND_ORDER:
        BUILDERS[kind](cat, counts[kind])
        files.finish(kind)
    return cat


# ---------------------------------------------------------------------------------------------------------
# Benchmark targets


def dependency_reach(depends_on: dict[str, list[str]], start: str, depth: int) -> int:
    """Distinct entities reachable from component `start` over at most `depth` dependsOn hops."""
    seen: set[str] = set()
    frontier = deque([(f"component:{start}", 0)])
    while frontier:
        node, level = frontier.popleft()
        if level == depth:
            continue
        kind, _, name = node.partition(":")
        for dep in depends_on.get(name, []) if kind == "component" else []:
            if dep not in seen:
                seen.add(dep)
                frontier.append((dep, level + 1))
    return len(seen)


def pick_hubs(cat: _Catalog, count: int = 5, candidates: int = 60) -> dict[str, int]:
    """The `count` early components with the largest depth-6 reach, largest first."""
    names = list(cat.depends_on)[:candidates]
    reach = {name: dependency_reach(cat.depends_on, name, HUB_DEPTH) for name in names}
    best = sorted(names, key=lambda n: (-reach[n], n))[:count]
    return {ref("Component", n): reach[n] for n in best}


def _summarize(cat: _Catalog, root: Path, entities: int, seed: int, files: list[str]) -> CatalogSummary:
    rng = random.Random(seed + 1)
    owners = sorted(cat.owners)
    samples = [ref(kind, rng.choice(cat.names[kind])) for kind in KIND_ORDER for _ in range(4)]
    related = [n for n in cat.names["Component"] if len(cat.depends_on[n]) >= 2][:200]
    hubs = pick_hubs(cat)
    return CatalogSummary(
        root=str(root / ROOT_FILE),
        entities=entities,
        seed=seed,
        counts={k: len(cat.names[k]) for k in KIND_ORDER},
        files=files,
        sample_refs=samples,
        owner_refs=[ref("Group", t) for t in rng.sample(owners, min(20, len(owners)))],
        relation_refs=[ref("Component", n) for n in rng.sample(related, min(20, len(related)))],
        hub_refs=list(hubs),
        hub_reach=hubs,
    )


# ---------------------------------------------------------------------------------------------------------
# Files


def write_location(out: Path, targets: list[str]) -> None:
    doc = {
        "apiVersion": API_VERSION,
        "kind": "Location",
        "metadata": {
            "name": "synthetic-catalog",
            "description": "Synthetic catalog generated for benchmarks",
        },
        "spec": {"targets": targets},
    }
    (out / ROOT_FILE).write_text(dump_documents([doc]), encoding="utf-8")


def _clear(out: Path) -> None:
    """Remove what an earlier run wrote (only our own files), so stale targets do not linger."""
    for path in sorted((out / ENTITY_DIR).glob("*.yaml")) if (out / ENTITY_DIR).is_dir() else []:
        path.unlink()
    for name in (ROOT_FILE, MANIFEST_FILE):
        (out / name).unlink(missing_ok=True)


def generate(entities: int, out: Path, seed: int = 1, per_file: int = 100) -> CatalogSummary:
    """Write a catalog of `entities` under `out` and describe it."""
    if per_file < 1:
        raise ValueError(f"--per-file must be at least 1, got {per_file}")
    plan_counts(entities)  # refuses a size too small before anything is removed
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    (out / ENTITY_DIR).mkdir(parents=True, exist_ok=True)
    files = _CatalogFiles(out, per_file)
    cat = build_catalog(entities, seed, files)
    targets = files.targets
    write_location(out, targets)
    summary = _summarize(cat, out, entities, seed, targets)
    manifest = asdict(summary) | {"root": ROOT_FILE}  # relative, so the bytes do not depend on `out`
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return summary


# ---------------------------------------------------------------------------------------------------------
# Mutation, for re-ingest benchmarks


def location_targets(root_dir: Path) -> list[Path]:
    """Files listed by the root Location of a generated catalog."""
    (location,) = load_documents(root_dir / ROOT_FILE)
    return [root_dir / t for t in location["spec"]["targets"]]


def _mutate_doc(doc: dict, rng: random.Random, teams: list[str], seed: int) -> None:
    doc["metadata"]["description"] = f"Revised (seed {seed}): " + rng.choice(PURPOSES).format(
        a=rng.choice(NOUNS), area=rng.choice(AREAS)
    )
    if "owner" in doc.get("spec", {}) and doc["kind"] != "Domain" and teams and rng.random() < 0.5:
        doc["spec"]["owner"] = rng.choice(teams)


def mutate(root_dir: Path, fraction: float, seed: int) -> int:
    """Rewrite `fraction` of the entities in place (descriptions, some owners); return how many changed.
    Two passes over the files, one file in memory at a time: the first counts documents and finds the teams,
    the second rewrites the files holding a chosen document."""
    if not 0 < fraction <= 1:
        raise ValueError(f"--mutate must be in (0, 1], got {fraction}")
    files = location_targets(root_dir)
    sizes: list[int] = []
    teams: list[str] = []
    for path in files:
        docs = load_documents(path)
        sizes.append(len(docs))
        teams += [d["metadata"]["name"] for d in docs if d["kind"] == "Group" and d["spec"].get("type") == "team"]
    starts = list(itertools.accumulate(sizes, initial=0))
    rng = random.Random(seed)
    slots = range(starts[-1])  # document n of the catalog, counted across files in order
    chosen = sorted(rng.sample(slots, max(1, round(fraction * len(slots)))))
    by_file: dict[int, list[int]] = {}
    for n in chosen:
        f = bisect.bisect_right(starts, n) - 1
        by_file.setdefault(f, []).append(n - starts[f])
    for f, indexes in by_file.items():
        docs = load_documents(files[f])
        for i in indexes:
            _mutate_doc(docs[i], rng, teams, seed)
        files[f].write_text(dump_documents(docs), encoding="utf-8")
    return len(chosen)


# ---------------------------------------------------------------------------------------------------------
# CLI


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, help="number of entities to generate")
    parser.add_argument("--out", type=Path, required=True, help="catalog directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-file", type=int, default=100, help="documents per YAML file")
    parser.add_argument(
        "--mutate",
        type=float,
        metavar="FRACTION",
        help="rewrite this fraction of an existing catalog's entities instead of generating",
    )
    args = parser.parse_args(argv)
    if (args.entities is None) == (args.mutate is None):
        parser.error("give exactly one of --entities N (generate) or --mutate FRACTION (change in place)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    started = time.perf_counter()
    try:
        if args.mutate is not None:
            changed = mutate(args.out, args.mutate, args.seed)
            print(f"mutated {changed} entities in {args.out} in {time.perf_counter() - started:.1f} s")
            return 0
        summary = generate(args.entities, args.out, args.seed, args.per_file)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    for kind, n in summary.counts.items():
        print(f"{kind:<10} {n:>8}")
    print(f"{'total':<10} {sum(summary.counts.values()):>8}  in {len(summary.files)} files, {elapsed:.1f} s")
    print(f"hub {summary.hub_refs[0]} reaches {summary.hub_reach[summary.hub_refs[0]]} entities at depth 6")
    return 0


if __name__ == "__main__":
    sys.exit(main())
