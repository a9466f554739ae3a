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
from tests.torture.processes import free_port, stop

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.neo4j


@pytest.fixture
def neo4j_env(neo4j_settings: Settings) -> dict[str, str]:
    """The environment of a `catalog` process on the emptied Neo4j database."""
    wipe_neo4j(neo4j_settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CATALOG_", "NEO4J_"))}
    return env | {
        "CATALOG_BACKEND": "neo4j",
        "NEO4J_URI": neo4j_settings.neo4j_uri,
        "NEO4J_USER": neo4j_settings.neo4j_user,
        "NEO4J_PASSWORD": neo4j_settings.neo4j_password,
    }


def catalog(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "graphsvc.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=check,
        timeout=300,
    )


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
    port = free_port()
    log = tmp_path / "serve.log"
    env = neo4j_env | {"CATALOG_STORE": str(tmp_path / "work")}  # where the demo repository is built
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "graphsvc.cli", "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(url, process, log)
        query = """{ now: entity(ref: "component:checkout-service") { owner { ref } }
                     then: entity(ref: "component:checkout-service", asOf: "2026-04-01T00:00:00Z") { owner { ref } }
                     entities { totalCount } syncRuns(first: 100) { status } }"""
        body = httpx.post(f"{url}/graphql", json={"query": query}, timeout=60).json()
        assert "errors" not in body, body
        data = body["data"]
        assert data["entities"]["totalCount"] > 20
        assert data["now"]["owner"] and data["then"]["owner"]
        assert {run["status"] for run in data["syncRuns"]} <= {"completed", "completed_with_errors"}
    finally:
        assert stop(process) == 0, log.read_text()[-3000:]
    assert "demo catalog loaded" in log.read_text()


def _wait_for_health(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 180) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"catalog serve exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"catalog serve did not answer in {timeout_s} s:\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize("same_source", [False, True], ids=["a source each", "one source"])
def test_two_services_writing_at_once_keep_one_history(
    tmp_path: Path, neo4j_env: dict[str, str], neo4j_settings: Settings, same_source: bool
) -> None:
    """Two `catalog ingest` processes started together, each syncing three times (each its own source, or
    both the same one): their write transactions take turns (the writer lock), each sync compares against
    what the other committed, every change is recorded once, and the store's invariants hold."""
    sources = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all([component(f"{name}-{i}", owner=f"team-{name}") for i in range(150)]))
        sources.append(path)
    if same_source:
        sources = [sources[0], sources[0]]
    script = "\n".join(
        [
            "import subprocess, sys",
            "for n in range(3): subprocess.run([sys.executable, '-m', 'graphsvc.cli', 'ingest', sys.argv[1]], "
            "check=True, capture_output=True)",
        ]
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(path)], env=neo4j_env, cwd=ROOT) for path in sources
    ]
    assert [p.wait(timeout=600) for p in processes] == [0, 0]
    store = open_store(neo4j_settings)
    try:
        assert store.check() == []
        runs = store.sync_runs()
        assert sorted(run.source for run in runs) == sorted([str(p) for p in sources] * 3)
        assert {run.status for run in runs} == {"completed"}
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
        yield (
            {k: v for k, v in os.environ.items() if not k.startswith(("CATALOG_", "NEO4J_"))}
            | settings
            | {"CATALOG_BACKEND": "neo4j"}
        )
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
