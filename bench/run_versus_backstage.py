"""This catalog and the real Backstage catalog backend, side by side: one generated catalog, the same questions,
the same client, in one run.

    .venv/bin/python bench/run_versus_backstage.py --entities 10000 [--backend sqlite] [--backend neo4j]
        [--requests 200] [--warmup 20] [--full-requests 10] [--json bench/out/versus.json]
        [--peer-dir ../shared/tools/backstage-peer] [--keep-backstage] [--no-backstage-again]

Backstage's catalog backend (installed, started and fed by the peer harness in `--peer-dir`, on PostgreSQL)
ingests the catalog the peer's generator writes and answers its REST API; `catalog ingest` takes the very same
YAML bytes, and `catalog serve` answers GraphQL, and its own Backstage REST API as a third column. Each question
(QUESTIONS) is asked the way its client would ask it, over one keep-alive connection per server, sequentially,
with the same seeded choices for every side. Every answer must be HTTP 200 without GraphQL errors, and the sizes
of every side's answers must be Backstage's (a benchmark whose answers differ is worthless): else the run stops.
Backstage answers first and again after ours (restarted on the database it ingested): this machine's speed
drifts within a run, and its second column, with its ratio to the first, shows by how much; each engine's reads
are judged against both measures.
Prints, per size, a markdown table of the p50s with ratios, then one PASS/FAIL line per acceptance threshold.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):  # run as `python bench/run_versus_backstage.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_bench import (  # noqa: E402
    DEFAULT_CLI,
    DEFAULT_OUT,
    HOST,
    REPO,
    BenchError,
    Engine,
    _git_commit,
    add_engine_arguments,
    engine_report,
    free_port,
    fresh_store,
    make_engines,
    percentile,
    rss_mib,
    run_child,
    running_server,
    timed_requests,
)

PEER_DIR = REPO.parent / "shared" / "tools" / "backstage-peer"
PEER_MODULE = "backstage_peer_bench"
"""The name the peer's bench.py is loaded under: not `bench`, which is this repository's package."""
PEER_PACKAGES = (
    "@backstage/backend-defaults",
    "@backstage/plugin-catalog-backend",
    "@backstage/backend-plugin-api",
    "pg",
)
PROCESSING_INTERVAL_S = 3600
"""Backstage's catalog.processingInterval during the run: by default it reprocesses every entity every
100-150 s, which would take CPU from the reads being timed."""
SEED = 7

TARGET = "ref kind namespace name title description tags labels annotations spec"
FULL = f"{TARGET} relations {{ type targetRef }}"
"""A whole entity, as Backstage's REST API answers it."""
FULL_PAGE = 384
"""Full entities per GraphQL page: the largest page the default cost limit accepts (query_max_cost 20,000;
384 full entities cost 19,973, 385 are refused with QUERY_TOO_COSTLY)."""
NAMES_PAGE = 9997
"""Names per GraphQL page: the largest the default cost limit accepts (a page of leaf fields may hold up to
MAX_BULK_FIRST; 9,997 names cost 19,999): every service in one request."""
REST_LIMIT = 1000
"""`limit` of a by-query page."""
DEPTH = 6
EVEN = 1.05
"""Two timings within 5% of each other read as "even"."""

THRESHOLDS: dict[str, float] = {
    "by_ref": 0.67,
    "team_components": 0.67,
    "service_names": 0.5,
    "relations_with_targets": 0.5,
    "all_full": 1.0,
    "dependencies_depth6": 1 / 3,
    "ingest": 1 / 20,
}
"""The acceptance: our p50 (our ingest's wall time) over Backstage's, at most this. And less memory."""


def log(message: str) -> None:
    print(f"[versus] {message}", file=sys.stderr, flush=True)


def load_peer(directory: Path) -> ModuleType:
    """The peer's bench.py as a module of its own name (this repository has a package named `bench` too)."""
    path = directory / "bench.py"
    spec = importlib.util.spec_from_file_location(PEER_MODULE, path)
    if not path.is_file() or spec is None or spec.loader is None:
        raise BenchError(f"no bench.py in {directory}: pass the Backstage peer harness with --peer-dir")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------------------
# The client: the same for every side


class Client:
    """One keep-alive HTTP connection to one server. A request is sent, its whole body read and parsed as JSON;
    anything but a 200 with a JSON body stops the run."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 600.0) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, body: Any = None) -> Any:
        headers, data = self.headers, None
        if body is not None:
            data = json.dumps(body).encode()
            headers = self.headers | {"Content-Type": "application/json"}
        try:
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            raise BenchError(f"{method} {path}: {exc!r}") from exc
        if response.status != 200:
            raise BenchError(f"{method} {path}: HTTP {response.status}: {raw[:300]!r}")
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise BenchError(f"{method} {path}: not JSON: {raw[:300]!r}") from exc

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        answer = self.request("POST", "/graphql", {"query": query, "variables": variables})
        if answer.get("errors") or not answer.get("data"):
            raise BenchError(f"GraphQL {query[:100]!r} with {variables}: {json.dumps(answer)[:500]}")
        data: dict[str, Any] = answer["data"]
        return data

    def close(self) -> None:
        self.connection.close()


def query_string(**params: Any) -> str:
    """As Backstage's clients write them: `=`, `,`, `:` and `/` unescaped."""
    return urllib.parse.urlencode(params, doseq=True, safe="=,:/")


def _entity(data: dict[str, Any], ref: str) -> dict[str, Any]:
    entity: dict[str, Any] | None = data.get("entity")
    if entity is None:
        raise BenchError(f"no entity {ref}")
    return entity


def entities_query(page: int, node: str, filters: str = "", variables: str = "") -> str:
    """A page of `page` entities (each `node`) of the `entities` connection after `$after`, with the cursor to
    go on from; `filters` the EntityFilter's fields, `variables` the declarations of those they use."""
    where = f"filter: {{{filters}}}, " if filters else ""
    return (
        f"query($after: String{variables and ', ' + variables}) {{ entities({where}first: {page}, after: $after) "
        f"{{ edges {{ node {{ {node} }} }} pageInfo {{ endCursor hasNextPage }} }} }}"
    )


def _pages(c: Client, query: str, **variables: Any) -> int:
    """How many edges all pages of an `entities` connection hold, following `endCursor`."""
    count, after = 0, None
    while True:
        page = c.graphql(query, after=after, **variables)["entities"]
        count += len(page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return count
        after = page["pageInfo"]["endCursor"]


# ---------------------------------------------------------------------------------------------------------
# The questions: Backstage's REST requests and our GraphQL, each answering the size of its answer

Choice = dict[str, str]
Ask = Callable[[Client, Choice], int]

BY_REF_QUERY = f"query($r: String!) {{ entity(ref: $r) {{ {FULL} }} }}"
TEAM_QUERY = entities_query(FULL_PAGE, FULL, 'kind: "Component", owner: $owner', "$owner: String!")
NAMES_QUERY = entities_query(NAMES_PAGE, "name", 'kind: "Component", type: "service"')
RELATIONS_QUERY = f"query($r: String!) {{ entity(ref: $r) {{ relations {{ type targetRef target {{ {TARGET} }} }} }} }}"
DEPENDENTS_QUERY = "query($r: String!) { entity(ref: $r) { dependents { kind name } } }"
DEPENDENCIES_QUERY = (
    f"query($r: String!) {{ entity(ref: $r) {{ dependencies(depth: {DEPTH}, first: 1000) {{ ref }} }} }}"
)
ALL_FULL_QUERY = entities_query(FULL_PAGE, FULL)


def by_name_path(name: str) -> str:
    return f"/api/catalog/entities/by-name/component/default/{name}"


def rest_by_ref(c: Client, choice: Choice) -> int:
    return len(c.request("GET", by_name_path(choice["name"]))["relations"])


def gql_by_ref(c: Client, choice: Choice) -> int:
    ref = f"component:default/{choice['name']}"
    return len(_entity(c.graphql(BY_REF_QUERY, r=ref), ref)["relations"])


def rest_team_components(c: Client, choice: Choice) -> int:
    filters = f"kind=component,spec.owner=group:default/{choice['team']}"
    page = c.request("GET", "/api/catalog/entities/by-query?" + query_string(filter=filters, limit=REST_LIMIT))
    count = len(page["items"])
    while cursor := page["pageInfo"].get("nextCursor"):
        page = c.request("GET", "/api/catalog/entities/by-query?" + query_string(cursor=cursor, limit=REST_LIMIT))
        count += len(page["items"])
    return count


def gql_team_components(c: Client, choice: Choice) -> int:
    return _pages(c, TEAM_QUERY, owner=f"group:default/{choice['team']}")


def rest_service_names(c: Client, choice: Choice) -> int:
    filters = "kind=component,spec.type=service"
    return len(c.request("GET", "/api/catalog/entities?" + query_string(filter=filters, fields="metadata.name")))


def gql_service_names(c: Client, choice: Choice) -> int:
    return _pages(c, NAMES_QUERY)


def rest_relations_with_targets(c: Client, choice: Choice) -> int:
    """Backstage answers an entity's relations as refs: a second request fetches their targets."""
    refs = [r["targetRef"] for r in c.request("GET", by_name_path(choice["name"]))["relations"]]
    items = c.request("POST", "/api/catalog/entities/by-refs", {"entityRefs": refs})["items"]
    return len([item for item in items if item])


def gql_relations_with_targets(c: Client, choice: Choice) -> int:
    ref = f"component:default/{choice['name']}"
    return len([r for r in _entity(c.graphql(RELATIONS_QUERY, r=ref), ref)["relations"] if r["target"]])


def rest_direct_dependents(c: Client, choice: Choice) -> int:
    filters = f"relations.dependsOn={choice['ref']}"
    return len(c.request("GET", "/api/catalog/entities?" + query_string(filter=filters, fields="kind,metadata.name")))


def gql_direct_dependents(c: Client, choice: Choice) -> int:
    return len(_entity(c.graphql(DEPENDENTS_QUERY, r=choice["ref"]), choice["ref"])["dependents"])


def rest_dependencies_depth6(c: Client, choice: Choice) -> int:
    """Backstage has no traversal: its client walks, one by-refs request per hop for the new targets."""
    start = f"component:default/{choice['name']}"
    entity = c.request("GET", by_name_path(choice["name"]))
    reached = {r["targetRef"] for r in entity["relations"] if r["type"] == "dependsOn"}
    frontier = sorted(reached - {start})
    fields = ["kind", "metadata.name", "metadata.namespace", "relations"]
    for _ in range(DEPTH - 1):
        if not frontier:
            break
        items = c.request("POST", "/api/catalog/entities/by-refs", {"entityRefs": frontier, "fields": fields})["items"]
        found = {r["targetRef"] for item in items if item for r in item["relations"] if r["type"] == "dependsOn"}
        frontier = sorted(found - reached - {start})
        reached |= found
    return len(reached - {start})


def gql_dependencies_depth6(c: Client, choice: Choice) -> int:
    ref = f"component:default/{choice['name']}"
    return len(_entity(c.graphql(DEPENDENCIES_QUERY, r=ref), ref)["dependencies"])


def rest_all_full(c: Client, choice: Choice) -> int:
    """Backstage also lists the Location entity its configuration makes of the catalog's glob: not counted."""
    return len([e for e in c.request("GET", "/api/catalog/entities") if e["kind"] != "Location"])


def gql_all_full(c: Client, choice: Choice) -> int:
    return _pages(c, ALL_FULL_QUERY)


@dataclass(frozen=True)
class Question:
    key: str
    label: str
    rest: Ask
    graphql: Ask
    choices: str
    """Which seeded choices it cycles through (a key of `choices_of`)."""


QUESTIONS = (
    Question("by_ref", "one component, full", rest_by_ref, gql_by_ref, "components"),
    Question("team_components", "a team's components, full", rest_team_components, gql_team_components, "teams"),
    Question("service_names", "names of every service", rest_service_names, gql_service_names, "none"),
    Question(
        "relations_with_targets", "a component's relations and their targets (REST: 2 requests)",
        rest_relations_with_targets, gql_relations_with_targets, "components",
    ),
    Question(
        "direct_dependents", "what depends on a component",
        rest_direct_dependents, gql_direct_dependents, "targets",
    ),
    Question(
        "dependencies_depth6", "dependencies to depth 6 (REST: a request per hop)",
        rest_dependencies_depth6, gql_dependencies_depth6, "components",
    ),
    Question(
        "all_full", f"every entity, full (GraphQL: pages of {FULL_PAGE})", rest_all_full, gql_all_full, "none",
    ),
)  # fmt: skip


def choices_of(entities: list[dict[str, Any]], count: int, seed: int = SEED) -> dict[str, list[Choice]]:
    """The seeded choices every side asks with, in the same order: components, teams, and components that
    others depend on; `none` for the questions that take none."""
    rnd = random.Random(seed)
    components = [e for e in entities if e["kind"] == "Component"]
    names = [e["metadata"]["name"] for e in components]
    teams = [e["metadata"]["name"] for e in entities if e["kind"] == "Group"]
    targets = sorted({d for e in components for d in e["spec"].get("dependsOn", []) if d.startswith("component:")})
    if not names or not teams or not targets:
        raise BenchError("the catalog needs components, groups and dependencies between components")
    return {
        "components": [{"name": rnd.choice(names)} for _ in range(count)],
        "teams": [{"team": rnd.choice(teams)} for _ in range(count)],
        "targets": [{"ref": rnd.choice(targets)} for _ in range(count)],
        "none": [{}],
    }


# ---------------------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True)
class Stat:
    """The timed requests of one question on one side: milliseconds, and the size of each answer in order."""

    p50_ms: float
    p99_ms: float
    mean_ms: float
    n: int
    sizes: tuple[int, ...]


def stat_of(timings: list[float], sizes: list[int]) -> Stat:
    ordered = sorted(timings)
    return Stat(
        percentile(ordered, 0.5), percentile(ordered, 0.99), statistics.fmean(ordered), len(ordered), tuple(sizes)
    )


@dataclass
class Side:
    """One column of the table: a server and the API it was asked through."""

    name: str
    reads: dict[str, Stat] = field(default_factory=dict)
    ingest_s: float | None = None
    rss_mib: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """What else the JSON records: the ingest's phases and memory, the processes' memory."""


@dataclass(frozen=True)
class Counts:
    """How many requests each question gets: every entity in full is slow, so it has its own counts."""

    requests: int
    warmup: int
    full_requests: int
    full_warmup: int

    def of(self, question: Question) -> tuple[int, int]:
        if question.key == "all_full":
            return self.full_requests, self.full_warmup
        return self.requests, self.warmup


def ask_all(side: Side, client: Client, rest: bool, choices: dict[str, list[Choice]], counts: Counts) -> None:
    """Every question, timed from sending the first request to the last answer read and parsed."""
    for question in QUESTIONS:
        ask = question.rest if rest else question.graphql

        def one(choice: Choice, ask: Ask = ask) -> tuple[float, int]:
            started = time.perf_counter()
            size = ask(client, choice)
            return (time.perf_counter() - started) * 1000, size

        requests, warmup = counts.of(question)
        side.reads[question.key] = stat = stat_of(*timed_requests(one, choices[question.choices], requests, warmup))
        log(f"{side.name}: {question.key} p50 {stat.p50_ms:.2f} ms, p99 {stat.p99_ms:.2f} ms")


def check_sizes(reference: Side, other: Side) -> None:
    """Stop the run unless `other` answered every question with answers of the sizes `reference` answered."""
    for key, theirs in reference.reads.items():
        mine = other.reads.get(key)
        if mine is None:
            raise BenchError(f"{key}: {other.name} has no answers, {reference.name} answered {sum(theirs.sizes)} items")
        for i, (a, b) in enumerate(zip(theirs.sizes, mine.sizes, strict=False)):
            if a != b:
                raise BenchError(
                    f"{key}: answers differ: timed request {i + 1} answered {a} items on {reference.name}, "
                    f"{b} on {other.name}"
                )
        if len(theirs.sizes) != len(mine.sizes):
            raise BenchError(
                f"{key}: {len(theirs.sizes)} answers on {reference.name}, {len(mine.sizes)} on {other.name}"
            )


def check_complete(side: Side, entities: int) -> None:
    """Stop the run unless every entity was listed: answers that agree on a partial catalog prove nothing."""
    listed = set(side.reads["all_full"].sizes)
    if listed != {entities}:
        raise BenchError(f"all_full: {side.name} listed {sorted(listed)} entities, the catalog has {entities}")


# ---------------------------------------------------------------------------------------------------------
# Backstage


def peer_env(peer: ModuleType, n: int, catalog: Path) -> dict[str, str]:
    """setup.sh's settings: PostgreSQL, a database of this benchmark's own per size, the catalog's files,
    no reprocessing during the reads."""
    return os.environ | {
        "BS_DB": "pg",
        "BS_DB_PREFIX": f"versus_n{n}_",
        "BS_FRESH_DB": "0",
        "BS_CATALOG_TARGET": str(catalog / "*.yaml"),
        "BS_PROCESSING_INTERVAL_S": str(PROCESSING_INTERVAL_S),
        "BS_PORT": str(peer.PORT),
        "BS_TOKEN": peer.TOKEN,
    }


def setup_sh(peer_dir: Path, command: str, env: dict[str, str]) -> None:
    """Run the peer's setup.sh (its output to stderr: stdout is the table)."""
    try:
        subprocess.run(["bash", str(peer_dir / "setup.sh"), command], env=env, check=True, stdout=sys.stderr)
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"{peer_dir / 'setup.sh'} {command} exited {exc.returncode}") from exc


def backstage_ingest(peer: ModuleType, peer_dir: Path, env: dict[str, str], relations: tuple[set[str], int],
                     entities: int, timeout: float) -> dict[str, Any]:  # fmt: skip
    """As the peer measures it: from starting the backend until all entities are visible and every expected
    relation row is stitched (polled through its REST API)."""
    names, expected = relations
    started = time.monotonic()
    setup_sh(peer_dir, "start", env)
    ready = time.monotonic()
    poll = peer.Client()
    try:
        while (seen := peer.count_visible(poll)) < entities:
            if time.monotonic() - started > timeout:
                raise BenchError(f"Backstage shows {seen} of {entities} entities after {timeout:.0f} s")
            time.sleep(0.25)
        visible = time.monotonic()
        while (stitched := peer.count_relations(poll, names)) < expected:
            if time.monotonic() - started > timeout:
                raise BenchError(f"Backstage stitched {stitched} of {expected} relation rows after {timeout:.0f} s")
            time.sleep(1.0)
        done = time.monotonic()
    except BenchError:
        raise
    except RuntimeError as exc:  # the peer's client: a request that did not answer 200
        raise BenchError(f"Backstage, while its ingest was polled: {exc}") from exc
    finally:
        poll.close()
    return {
        "startup_until_ready_s": ready - started,
        "all_entities_visible_s": visible - started,
        "all_relations_stitched_s": done - started,
        "entities_visible": seen,
        "relations_expected": expected,
        "relations_seen": stitched,
    }


def measure_backstage(peer: ModuleType, args: argparse.Namespace, n: int, data_dir: Path,
                      relations: tuple[set[str], int], choices: dict[str, list[Choice]]) -> Side:  # fmt: skip
    """Backstage on a fresh database: its ingest, its answers, its node process's memory. Stopped once it has
    answered (it would hold a core's share during our reads otherwise), unless --keep-backstage."""
    side = Side("Backstage")
    env = peer_env(peer, n, data_dir)
    setup_sh(args.peer_dir, "stop", env)
    setup_sh(args.peer_dir, "reset-db", env)  # this size's old database dropped before the clock starts
    try:
        side.details["ingest"] = phases = backstage_ingest(peer, args.peer_dir, env, relations, n, args.ingest_timeout)
        side.ingest_s = phases["all_relations_stitched_s"]
        side.details["memory_after_ingest"] = peer.rss(peer.backend_pid())
        log(f"Backstage: every entity visible after {phases['all_entities_visible_s']:.1f} s, every relation "
            f"after {side.ingest_s:.1f} s")  # fmt: skip
        ask_backstage(peer, side, choices, args.counts)
    finally:
        if not args.keep_backstage:
            setup_sh(args.peer_dir, "stop", env)
    return side


def ask_backstage(peer: ModuleType, side: Side, choices: dict[str, list[Choice]], counts: Counts) -> None:
    """Every question through Backstage's REST API, then its node process's memory."""
    client = Client(peer.PORT, peer.TOKEN)
    try:
        side.details["loadavg_before_reads"] = os.getloadavg()
        ask_all(side, client, True, choices, counts)
        side.details["loadavg_after_reads"] = os.getloadavg()
    finally:
        client.close()
    pid = peer.backend_pid()
    side.details["memory"] = memory = {"pid": pid, **peer.rss(pid)}
    side.rss_mib = memory.get("VmRSS_MiB")


BACKSTAGE_AGAIN = "Backstage, again after ours"
SETTLE_S = 10.0
"""Seconds Backstage is left alone after its restart, before it is asked again: its location provider reads
the catalog's files once more on start."""


def measure_backstage_again(peer: ModuleType, args: argparse.Namespace, n: int, data_dir: Path,
                            relations: tuple[set[str], int], choices: dict[str, list[Choice]]) -> Side:  # fmt: skip
    """Backstage started again on the database it ingested (not emptied), once every entity and relation is
    visible and it has settled, asked every question again after ours: this machine's speed drifts within
    a run (up to 1.5x in an hour), so Backstage measured on both sides of ours shows how far it drifted, and
    the acceptance is checked against both measures."""
    side = Side(BACKSTAGE_AGAIN)
    env = peer_env(peer, n, data_dir)
    try:
        side.details["restart"] = backstage_ingest(peer, args.peer_dir, env, relations, n, args.ingest_timeout)
        time.sleep(SETTLE_S)
        ask_backstage(peer, side, choices, args.counts)
    finally:
        if not args.keep_backstage:
            setup_sh(args.peer_dir, "stop", env)
    return side


def postgres_version(peer: ModuleType) -> str | None:
    command = ["psql", "-h", HOST, "-p", str(peer.PG_PORT), "-U", "postgres", "-d", "postgres", "-Atqc",
               "show server_version"]  # fmt: skip
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def peer_report(peer: ModuleType, peer_dir: Path) -> dict[str, Any]:
    """The peer's versions: Node, the npm packages setup.sh installed, the PostgreSQL server (setup.sh leaves it
    running)."""
    packages = {}
    for name in PEER_PACKAGES:
        manifest = Path(peer.ROOT) / "app" / "node_modules" / name / "package.json"
        if manifest.is_file():
            packages[name] = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        node = None
    return {"dir": str(peer_dir), "root": peer.ROOT, "node": node, "packages": packages, "db": "pg",
            "postgresql": postgres_version(peer), "processing_interval_s": PROCESSING_INTERVAL_S}  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# This catalog


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants now (children of any of their threads: the query workers are)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in children.read_text().split()]
            except OSError:  # the thread ended
                continue
    return found


def service_memory(pid: int) -> dict[str, Any]:
    """`catalog serve` with the worker processes it spawned: their VmRSS summed, and the main one's VmHWM."""
    resident: dict[int, tuple[float, float]] = {}
    for process in process_tree(pid):
        try:
            resident[process] = rss_mib(process)
        except OSError:  # it exited meanwhile
            continue
    return {
        "rss_mib": sum(now for now, _ in resident.values()),
        "processes": len(resident),
        "main_rss_mib": resident[pid][0],
        "main_hwm_mib": resident[pid][1],
    }


def measure_ours(engine: Engine, args: argparse.Namespace, n: int, catalog: Path,
                 choices: dict[str, list[Choice]]) -> tuple[Side, Side, Side, Side]:  # fmt: skip
    """`catalog ingest` into an empty store, then `catalog serve` asked through GraphQL, then through its REST
    API, then served again without its response cache (`CATALOG_RESPONSE_CACHE_MIB=0`) and asked both ways
    once more: four columns, one ingest (each GraphQL column's) and one memory reading per serving."""
    graphql, rest = Side(f"this catalog ({engine.name})"), Side(f"this catalog REST ({engine.name})")
    uncached = Side(f"this catalog, no response cache ({engine.name})")
    rest_uncached = Side(f"this catalog REST, no response cache ({engine.name})")
    store = args.out / "stores" / f"versus-{n}"
    emptied = fresh_store(engine, store)
    logs, cli = args.out / "logs", str(DEFAULT_CLI)
    ingest = [cli, "ingest", str(catalog), "--glob", "*.yaml", *engine.store_args(store)]
    child = run_child(ingest, logs / f"versus-ingest-{engine.name}-{n}.log", args.ingest_timeout, engine.env())
    graphql.ingest_s = child.seconds
    graphql.details["ingest"] = {"wall_s": child.seconds, "peak_rss_mib": child.peak_rss_mib, "store": emptied}
    log(f"{graphql.name}: ingest {child.seconds:.1f} s, peak RSS {child.peak_rss_mib:.0f} MiB")
    port = free_port()
    serve = [cli, "serve", *engine.store_args(store), "--host", HOST, "--port", str(port)]
    serve_log = logs / f"versus-serve-{engine.name}-{n}.log"
    with running_server(serve, f"http://{HOST}:{port}", serve_log, args.ready_timeout, engine.env()) as proc:
        client = Client(port)
        try:
            for side, is_rest in ((graphql, False), (rest, True)):
                side.details["loadavg_before_reads"] = os.getloadavg()
                ask_all(side, client, is_rest, choices, args.counts)
                side.details["loadavg_after_reads"] = os.getloadavg()
        finally:
            client.close()
        graphql.details["memory"] = memory = service_memory(proc.pid)
    graphql.rss_mib = memory["rss_mib"]
    if engine.pid is not None:
        now, peak = rss_mib(engine.pid)
        graphql.details["neo4j_jvm"] = {"pid": engine.pid, "rss_mib": now, "hwm_mib": peak}
    uncached_log = logs / f"versus-serve-uncached-{engine.name}-{n}.log"
    uncached_env = engine.env() | {"CATALOG_RESPONSE_CACHE_MIB": "0"}
    uncached.ingest_s = graphql.ingest_s  # the same store, served again
    with running_server(serve, f"http://{HOST}:{port}", uncached_log, args.ready_timeout, uncached_env) as proc:
        client = Client(port)
        try:
            for side, is_rest in ((uncached, False), (rest_uncached, True)):
                ask_all(side, client, is_rest, choices, args.counts)
        finally:
            client.close()
        uncached.details["memory"] = memory = service_memory(proc.pid)
    uncached.rss_mib = memory["rss_mib"]
    return graphql, rest, uncached, rest_uncached


# ---------------------------------------------------------------------------------------------------------
# Reporting


def ratio_words(ours: float | None, theirs: float | None, better: str = "faster", worse: str = "slower") -> str:
    """How our measure reads against Backstage's: "24x faster", "1.15x slower", or "even" within 5%."""
    if not ours or not theirs:
        return ""
    factor = max(ours, theirs) / min(ours, theirs)
    if factor <= EVEN:
        return "even"
    amount = f"{factor:.0f}x" if factor >= 10 else f"{factor:.2f}x"
    return f"{amount} {better if ours < theirs else worse}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"


def fmt_s(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f} s" if value < 10 else f"{value:,.1f} s"


def fmt_mib(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} MiB"


def table(entities: int, backstage: Side, ours: list[Side]) -> str:
    """The p50 of each read per side, each of ours with its ratio to Backstage's; the ingest and memory rows
    (our REST columns share the GraphQL column's ingest and server, so they leave those cells empty)."""
    head = ["read", "Backstage", *(cell for side in ours for cell in (side.name, ""))]
    lines = [_row(head), "|---|---:|" + "---:|---|" * len(ours)]
    ingest = [side.ingest_s for side in ours]
    lines.append(
        _row([f"ingest of {entities:,} entities, until all are visible", *_cells(backstage.ingest_s, ingest, fmt_s)])
    )
    for question in QUESTIONS:
        mine = [side.reads[question.key].p50_ms for side in ours]
        lines.append(_row([f"{question.key}: {question.label}", *_cells(backstage.reads[question.key].p50_ms, mine)]))
    memory = [side.rss_mib for side in ours]
    lines.append(_row(["RSS after the reads", *_cells(backstage.rss_mib, memory, fmt_mib, "smaller", "larger")]))
    return "\n".join(lines)


def _cells(theirs: float | None, ours: list[float | None], show: Callable[[float | None], str] = fmt_ms,
           better: str = "faster", worse: str = "slower") -> list[str]:  # fmt: skip
    """Backstage's value, then each of ours with its ratio."""
    return [show(theirs), *(cell for mine in ours for cell in (show(mine), ratio_words(mine, theirs, better, worse)))]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


@dataclass(frozen=True)
class Verdict:
    """One acceptance threshold on one side: our measure over Backstage's, against its limit."""

    side: str
    key: str
    ratio: float
    limit: float
    strict: bool = False
    """Below the limit (memory), rather than at most."""

    @property
    def passed(self) -> bool:
        return self.ratio < self.limit if self.strict else self.ratio <= self.limit

    def line(self) -> str:
        bound = "below" if self.strict else "at most"
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict} {self.key} [{self.side}]: ours/Backstage = {self.ratio:.3f} ({bound} {self.limit:.3g})"


def verdicts(backstage: Side, ours: Side) -> list[Verdict]:
    """Each threshold of THRESHOLDS, then memory below Backstage's."""
    found = []
    for key, limit in THRESHOLDS.items():
        if key == "ingest":
            mine, theirs = ours.ingest_s, backstage.ingest_s
        else:
            mine, theirs = ours.reads[key].p50_ms, backstage.reads[key].p50_ms
        if mine is None or theirs is None:
            raise BenchError(f"{key}: not measured on {ours.name if mine is None else backstage.name}")
        found.append(Verdict(ours.name, key, mine / theirs, limit))
    if ours.rss_mib is None or backstage.rss_mib is None:
        raise BenchError(f"memory: not measured on {backstage.name if ours.rss_mib else ours.name}")
    found.append(Verdict(ours.name, "rss", ours.rss_mib / backstage.rss_mib, 1.0, strict=True))
    return found


def faster_of(graphql: Side, rest: Side) -> Side:
    """An engine's column of best reads: per read, the API whose p50 was lower (the ingest and memory are the
    GraphQL column's: one server answers both)."""
    reads = {}
    for key, stat in graphql.reads.items():
        other = rest.reads.get(key)
        reads[key] = other if other is not None and other.p50_ms < stat.p50_ms else stat
    name = graphql.name.replace("this catalog", "this catalog, either API")
    return Side(name, reads, graphql.ingest_s, graphql.rss_mib, graphql.details)


@dataclass(frozen=True)
class SizeResult:
    entities: int
    backstage: Side
    engines: list[tuple[Side, ...]]
    """Per engine of ours, (GraphQL column, REST column) pairs: served as configured by default, then (when
    measured) without the response cache."""
    backstage_again: Side | None = None
    """Backstage asked again after ours (`measure_backstage_again`), unless --no-backstage-again."""

    @property
    def columns(self) -> list[Side]:
        """Our sides, then Backstage asked again (its ratio to Backstage's first measure is the drift)."""
        again = [self.backstage_again] if self.backstage_again is not None else []
        return [side for sides in self.engines for side in sides] + again

    def pairs(self) -> list[tuple[Side, Side]]:
        return [(sides[i], sides[i + 1]) for sides in self.engines for i in range(0, len(sides), 2)]

    def graphql_sides(self) -> list[Side]:
        return [graphql for graphql, _ in self.pairs()]

    def verdicts(self) -> list[Verdict]:
        """Each GraphQL column, then each engine as a whole: each read through whichever of its APIs answered
        it faster (a client of this catalog may use either); with the response cache and without it, so that
        what the cache does is seen apart."""
        found = [v for side in self.graphql_sides() for v in verdicts(self.backstage, side)]
        found += [v for graphql, rest in self.pairs() for v in verdicts(self.backstage, faster_of(graphql, rest))]
        if self.backstage_again is not None:
            found += [v for graphql, rest in self.pairs() for v in self.again_verdicts(faster_of(graphql, rest))]
        return found

    def again_verdicts(self, ours: Side) -> list[Verdict]:
        """The reads' thresholds against Backstage asked after ours (the ingest and memory are not measured
        again)."""
        assert self.backstage_again is not None
        again = Side(self.backstage_again.name, self.backstage_again.reads, self.backstage.ingest_s,
                     self.backstage.rss_mib)  # fmt: skip
        named = Side(f"{ours.name}, against {BACKSTAGE_AGAIN}", ours.reads, ours.ingest_s, ours.rss_mib)
        return [v for v in verdicts(again, named) if v.key not in ("ingest", "rss")]

    def text(self) -> str:
        lines = [
            f"{self.entities:,} entities, p50 of each read",
            "",
            table(self.entities, self.backstage, self.columns),
            "",
        ]
        lines += [v.line() for v in self.verdicts()]
        for side in self.graphql_sides():
            if "ingest" not in side.details:  # a second serving of the same store
                continue
            lines.append(
                f"note [{side.name}]: the ingest's peak RSS was {side.details['ingest']['peak_rss_mib']:,.0f} MiB"
            )
            if jvm := side.details.get("neo4j_jvm"):
                lines.append(f"note [{side.name}]: the Neo4j server's JVM holds {jvm['rss_mib']:,.0f} MiB besides")
        return "\n".join(lines)


def side_report(side: Side) -> dict[str, Any]:
    reads = {
        key: {"p50_ms": s.p50_ms, "p99_ms": s.p99_ms, "mean_ms": s.mean_ms, "n": s.n,
              "answer_size": {"min": min(s.sizes), "max": max(s.sizes), "total": sum(s.sizes)}}
        for key, s in side.reads.items()
    }  # fmt: skip
    return {"name": side.name, "ingest_s": side.ingest_s, "rss_mib": side.rss_mib, **side.details, "reads": reads}


def uncommitted_files() -> list[str] | None:
    """The work tree's changes (`git status --porcelain`): what was measured besides the commit."""
    try:
        done = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.splitlines() if done.returncode == 0 else None


def write_json(path: Path, args: argparse.Namespace, engines: list[Engine], peer: dict[str, Any],
               results: list[SizeResult]) -> None:  # fmt: skip
    report = {
        "commit": _git_commit(),
        "uncommitted": uncommitted_files(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "config": {
            "entities": args.entities,
            "requests": args.requests,
            "warmup": args.warmup,
            "full_requests": args.full_requests,
            "full_warmup": args.full_warmup,
            "seed": SEED,
            "full_page": FULL_PAGE,
            "names_page": NAMES_PAGE,
            "client": "python http.client, one keep-alive connection per server, sequential requests",
            "engines": [engine_report(e) for e in engines],
        },
        "peer": peer,
        "thresholds": THRESHOLDS,
        "results": [
            {
                "entities": r.entities,
                "sides": [side_report(s) for s in (r.backstage, *r.columns)],
                "acceptance": [{**vars(v), "passed": v.passed} for v in r.verdicts()],
            }
            for r in results
        ],
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------
# The run


def bench_size(peer: ModuleType, engines: list[Engine], n: int, args: argparse.Namespace) -> SizeResult:
    """One size: the peer writes the catalog, a byte-for-byte copy goes where our reader may read; Backstage
    answers, then each engine of ours; every answer's size is checked against Backstage's."""
    entities, relations = peer.generate(n)
    data_dir = Path(peer.write_catalog(n, entities))
    catalog = args.out / f"backstage-catalog-{n}"
    shutil.rmtree(catalog, ignore_errors=True)
    shutil.copytree(data_dir, catalog)
    names = {f"{e['kind'].lower()}:default/{e['metadata']['name']}" for e in entities}
    expected = sum(1 for source, _, _ in relations if source in names)
    choices = choices_of(entities, args.requests + args.warmup)
    backstage = measure_backstage(peer, args, n, data_dir, (names, expected), choices)
    check_complete(backstage, n)
    ours = []
    for engine in engines:
        sides = measure_ours(engine, args, n, catalog, choices)
        for side in sides:
            check_sizes(backstage, side)
        ours.append(sides)
    again = None
    if args.backstage_again:
        again = measure_backstage_again(peer, args, n, data_dir, (names, expected), choices)
        check_sizes(backstage, again)
    return SizeResult(n, backstage, ours, again)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, action="append", help="catalog size (default 10000); repeatable")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per read")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per read first")
    parser.add_argument("--full-requests", type=int, default=10, help="timed reads of every entity in full")
    parser.add_argument("--full-warmup", type=int, default=2, help="untimed reads of every entity first")
    parser.add_argument("--peer-dir", type=Path, default=PEER_DIR, help="the Backstage peer harness")
    parser.add_argument("--keep-backstage", action="store_true", help="leave Backstage's backend running")
    parser.add_argument(
        "--no-backstage-again",
        dest="backstage_again",
        action="store_false",
        help="do not ask Backstage every question again after ours (the drift check)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="catalog copy, stores, logs (bench/out)")
    parser.add_argument("--ingest-timeout", type=float, default=1800.0)
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds to wait for /health")
    parser.add_argument("--json", type=Path, help="also write every measure here")
    add_engine_arguments(parser)
    args = parser.parse_args(argv)
    args.entities = args.entities or [10_000]
    if min(args.entities) < 100:
        parser.error("--entities must be at least 100 (the peer's generator needs every kind)")
    if min(args.requests, args.full_requests) < 1 or min(args.warmup, args.full_warmup) < 0:
        parser.error("--requests and --full-requests must be >= 1, --warmup and --full-warmup >= 0")
    args.backend = list(dict.fromkeys(args.backend or ["sqlite"]))
    args.out = args.out.resolve()
    args.peer_dir = args.peer_dir.resolve()
    args.counts = Counts(args.requests, args.warmup, args.full_requests, args.full_warmup)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        engines = make_engines(args.backend, args.neo4j_data, args.neo4j_pid)
        peer = load_peer(args.peer_dir)
        results = [bench_size(peer, engines, n, args) for n in args.entities]
    except BenchError as exc:
        print(f"BENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1
    print("\n\n".join(result.text() for result in results))
    if args.json:
        write_json(args.json, args, engines, peer_report(peer, args.peer_dir), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
