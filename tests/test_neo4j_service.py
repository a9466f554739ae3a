"""The service on Neo4j as an operator runs it: `catalog ingest`, `query`, `check` and `serve --demo` with
`CATALOG_BACKEND=neo4j` and the `NEO4J_*` settings in the environment, real subprocesses, the test run's
Neo4j server; two services writing to one database at once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from graphsvc.config import Settings
from graphsvc.store import open_store
from tests.conftest import wipe_neo4j
from tests.store.catalog_builder import component, group
from tests.torture import processes
from tests.torture.engines import Engine
from tests.torture.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.neo4j


@pytest.fixture
def neo4j_env(neo4j_settings: Settings) -> dict[str, str]:
    """What a `catalog` process needs in its environment to use the emptied Neo4j database."""
    wipe_neo4j(neo4j_settings)
    return Engine("neo4j", neo4j_settings).env()


def catalog(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`catalog ARGS...` in a subprocess with `env` added (`processes.catalog`); with `check`, it must succeed."""
    done = processes.catalog(*args, env=env)
    assert not check or done.returncode == 0, f"catalog {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done


def test_ingest_query_and_check_on_neo4j(tmp_path: Path, neo4j_env: dict[str, str]) -> None:
    (tmp_path / "catalog-info.yaml").write_text(yaml.safe_dump_all([component("web"), group("team-a")]))
    ingested = catalog(neo4j_env, "ingest", str(tmp_path / "catalog-info.yaml"))
    assert "2 added" in ingested.stdout
    query = "query($r: String!) { entity(ref: $r) { name owner { ref } } }"
    result = catalog(neo4j_env, "query", query, "--var", "r=component:web")
    assert json.loads(result.stdout)["data"] == {"entity": {"name": "web", "owner": {"ref": "group:default/team-a"}}}
    assert catalog(neo4j_env, "check").returncode == 0


@pytest.mark.parametrize("scheme", ["bolt", "neo4j"])
def test_bolt_and_routing_uris_reach_the_server(neo4j_env: dict[str, str], tmp_path: Path, scheme: str) -> None:
    """`neo4j://` is the routing scheme of clusters and Aura (`neo4j+s://`, the same with TLS): reads go to
    readers, writes to the leader; a single server answers it as its own cluster of one."""
    env = neo4j_env | {"NEO4J_URI": neo4j_env["NEO4J_URI"].replace("bolt://", f"{scheme}://")}
    (tmp_path / "catalog-info.yaml").write_text(yaml.safe_dump_all([group("team-a")]))
    assert "1 added" in catalog(env, "ingest", str(tmp_path / "catalog-info.yaml")).stdout
    result = catalog(env, "query", "{ entities { totalCount } }")
    assert json.loads(result.stdout)["data"] == {"entities": {"totalCount": 1}}


def test_an_unreachable_neo4j_is_one_clear_line(neo4j_env: dict[str, str]) -> None:
    env = neo4j_env | {"NEO4J_URI": f"bolt://127.0.0.1:{free_port()}"}
    result = catalog(env, "query", "{ entities { totalCount } }", check=False)
    assert result.returncode == 2
    assert "could not reach Neo4j at bolt://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_wrong_password_is_one_clear_line(neo4j_env: dict[str, str]) -> None:
    result = catalog(neo4j_env | {"NEO4J_PASSWORD": "not-the-password"}, "check", check=False)
    assert result.returncode == 2
    assert "could not reach Neo4j" in result.stderr and "authentication" in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_serve_demo_on_neo4j_answers_time_travel_questions(tmp_path: Path, neo4j_env: dict[str, str]) -> None:
    log = tmp_path / "serve.log"
    work = tmp_path / "work"  # --store: where the demo repository is built (the graph is in Neo4j)
    with processes.serve(work, log, startup_timeout=180, env=neo4j_env, options=["--demo"]) as server:
        query = """{ now: entity(ref: "component:checkout-service") { owner { ref } }
                     then: entity(ref: "component:checkout-service", asOf: "2026-04-01T00:00:00Z") { owner { ref } }
                     entities { totalCount } syncRuns(first: 100) { status } }"""
        body = httpx.post(f"{server.url}/graphql", json={"query": query}, timeout=60).json()
        assert "errors" not in body, body
        data = body["data"]
        assert data["entities"]["totalCount"] > 20
        assert data["now"]["owner"] and data["then"]["owner"]
        assert {run["status"] for run in data["syncRuns"]} <= {"completed", "completed_with_errors"}
    assert server.process.returncode == 0, log.read_text()[-3000:]
    assert "demo catalog loaded" in log.read_text()


@pytest.mark.parametrize("same_source", [False, True], ids=["a source each", "one source"])
def test_two_services_writing_at_once_keep_one_history(
    tmp_path: Path, neo4j_env: dict[str, str], neo4j_settings: Settings, same_source: bool
) -> None:
    """Two `catalog ingest` processes started together, each syncing three times (each its own source, or
    both the same one): their write transactions take turns (the writer lock), each sync compares against
    what the other committed, every change is recorded once, and the store's invariants hold. Of one source,
    a sync that a later one overtook while it waited for the lock is refused whole (`sync._refuse_if_overtaken`:
    its versions would begin before those they close), its run marked failed, and done again, as its message
    says; nothing else may fail."""
    sources = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all([component(f"{name}-{i}", owner=f"team-{name}") for i in range(150)]))
        sources.append(path)
    if same_source:
        sources = [sources[0], sources[0]]
    refused = tmp_path / "refused"
    script = "\n".join(
        [
            "import subprocess, sys",
            "n = refusals = 0",
            "while n < 3 and refusals < 10:",
            "    done = subprocess.run([sys.executable, '-m', 'graphsvc.cli', 'ingest', sys.argv[1]], "
            "capture_output=True, text=True)",
            "    if done.returncode and 'began after this one and committed first' in done.stderr:",
            "        open(sys.argv[2], 'a').write('refused\\n')",
            "        refusals += 1",
            "        continue",
            "    done.check_returncode()",
            "    n += 1",
            "sys.exit(n != 3)",
        ]
    )
    command = [sys.executable, "-c", script]
    services = [processes.start_catalog(str(path), str(refused), command=command, env=neo4j_env) for path in sources]
    assert [service.wait(timeout=600) for service in services] == [0, 0]
    overtaken = len(refused.read_text().splitlines()) if refused.exists() else 0
    assert not overtaken or same_source  # a source each: no sync can overtake another's
    store = open_store(neo4j_settings)
    try:
        assert store.check() == []
        runs = store.sync_runs()
        completed = [run.source for run in runs if run.status == "completed"]
        assert sorted(completed) == sorted([str(p) for p in sources] * 3)
        assert [run.status for run in runs if run.status != "completed"] == ["failed"] * overtaken
        versions = store.rows("versions")
        entities = 150 * len(set(sources))
        assert len(versions) == entities and all(v["valid_to"] is None for v in versions)  # no history twice
        events = Counter((e["type"], e["entity_ref"]) for e in store.rows("change_events"))
        assert len(events) == 2 * entities and set(events.values()) == {1}  # added, its ownedBy added: once
    finally:
        store.close()


@pytest.fixture
def small_neo4j(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Neo4j server of its own whose transactions may hold 16 MiB in all (scripts/neo4j)."""
    if not (shutil.which("java") and shutil.which("mvn")):
        pytest.skip("a second Neo4j server needs java and mvn (scripts/neo4j)")
    env = {**os.environ, "NEO4J_TEST_HOME": str(tmp_path / "neo4j-small"), "NEO4J_TRANSACTION_MEMORY_MB": "16"}
    started = subprocess.run(
        [str(ROOT / "scripts" / "neo4j"), "start"], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    settings = dict(line.split("=", 1) for line in started.stdout.split())
    try:
        yield settings | {"CATALOG_BACKEND": "neo4j"}
    finally:
        subprocess.run([str(ROOT / "scripts" / "neo4j"), "stop"], env=env, timeout=120, check=False)


def test_a_sync_too_big_for_the_servers_transaction_memory_is_refused_clearly(
    tmp_path: Path, small_neo4j: dict[str, str]
) -> None:
    """Neo4j calls running out of transaction memory transient; running the sync again would fail the same
    way, so it is refused at once, naming the setting, and nothing of it is written."""
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump_all([component(f"service-{i}", description="x" * 400) for i in range(3000)]))
    result = catalog(small_neo4j, "ingest", str(path), check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "needs more transaction memory than this Neo4j server allows" in result.stderr
    assert "dbms.memory.transaction.total.max" in result.stderr and "Traceback" not in result.stderr
    counted = catalog(small_neo4j, "query", "{ entities { totalCount } syncRuns { status } }")
    assert json.loads(counted.stdout)["data"] == {"entities": {"totalCount": 0}, "syncRuns": [{"status": "failed"}]}
