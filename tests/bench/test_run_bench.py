"""Self-test of the benchmark harness against a stand-in CLI and canned GraphQL answers (fake_catalog.py).

These check the measuring, not the service: child wall time and peak RSS, server start / health / stop,
and that a GraphQL error or an empty answer stops the run instead of being timed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.generate_catalog import CatalogSummary
from bench.run_bench import (
    HOST,
    BenchError,
    Engine,
    Measure,
    build_queries,
    check_entity_count,
    checkpointed_size_mib,
    disk_usage_mib,
    free_port,
    main,
    markdown_table,
    measure_query,
    neo4j_engine,
    neo4j_size,
    peak_rss_mib,
    percentile,
    remove_store,
    run_child,
    running_server,
)
from graphsvc.config import Settings
from graphsvc.store import open_store
from graphsvc.store.sqlite_backend import DATABASE_FILE
from tests.suite_settings import suite_settings

FAKE = Path(__file__).with_name("fake_catalog.py")

RUN_BENCH_ROWS = [
    "generate catalog",
    "full ingest, wall",
    "full ingest, peak RSS",
    "no-op re-ingest, wall",
    "store size on disk",
    "query a: entity by ref",
    "query b: entities by owner",
    "query c: kind+type filter, first 100",
    "query d: relations of one entity",
    "query e: dependencies depth 6 from a hub",
    "server peak RSS",
    "re-ingest after 1% changed, wall",
]


def write_fake_cli(directory: Path) -> Path:
    """An executable named `catalog` that execs the stand-in (so its pid is the server's pid)."""
    cli = directory / "catalog"
    cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    return cli


@pytest.fixture
def fake_cli(tmp_path: Path) -> Path:
    return write_fake_cli(tmp_path)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("serve")
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    cmd = [str(write_fake_cli(tmp)), "serve", "--store", str(tmp), "--host", HOST, "--port", str(port)]
    with running_server(cmd, base_url, tmp / "serve.log", ready_timeout=30) as proc:
        with httpx.Client(base_url=base_url, timeout=10, trust_env=False) as client:
            yield proc, client


def summary(**refs: list[str]) -> CatalogSummary:
    fields = {
        "sample_refs": ["component:default/a"],
        "owner_refs": ["group:default/t"],
        "relation_refs": ["component:default/a"],
        "hub_refs": ["component:default/hub"],
    }
    return CatalogSummary(root="x", entities=0, seed=0, counts={}, files=[], **(fields | refs))


def test_run_child_measures_wall_time_and_that_childs_peak_rss(tmp_path: Path) -> None:
    # Measured from a small fresh parent: a forked child's peak RSS includes the parent's pages until it
    # execs, and the pytest process running the whole suite is larger than the 96 MiB being measured.
    script = (
        "import json, sys\nfrom pathlib import Path\nfrom bench.run_bench import run_child\n"
        "log = Path(sys.argv[1])\n"
        "hold = \"import time; b = b'x' * (96 << 20); time.sleep(0.3)\"\n"
        "big = run_child([sys.executable, '-c', hold], log, timeout=30)\n"
        "small = run_child([sys.executable, '-c', 'pass'], log, timeout=30)\n"
        "print(json.dumps([big.seconds, big.peak_rss_mib, small.peak_rss_mib]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "log")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    big_seconds, big_rss, small_rss = json.loads(out.stdout)
    assert big_seconds >= 0.3
    assert big_rss >= 96 > small_rss


def test_run_child_fails_loudly_with_the_log_tail(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import sys; print('store is locked'); sys.exit(3)"]
    with pytest.raises(BenchError, match=r"exited 3(.|\n)*store is locked"):
        run_child(cmd, tmp_path / "log", timeout=30)


def test_run_child_kills_a_child_that_overruns(tmp_path: Path) -> None:
    started = time.perf_counter()
    with pytest.raises(BenchError, match="still running after"):
        run_child([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "log", timeout=0.5)
    assert time.perf_counter() - started < 10


def test_all_five_queries_are_measured_and_checked(server) -> None:
    proc, client = server
    for spec in build_queries(summary()):
        timings, sizes = measure_query(client, spec, requests=20, warmup=3)
        assert len(timings) == 20 and all(t > 0 for t in timings)
        assert min(sizes) >= 1
    assert peak_rss_mib(proc.pid) > 10


@pytest.mark.parametrize(
    ("refs", "key", "message"),
    [
        ({"sample_refs": ["component:default/a", "component:default/broken"]}, "a", "GraphQL errors"),
        ({"hub_refs": ["component:default/missing"]}, "e", "entity not found"),
        ({"owner_refs": ["group:default/broken"]}, "b", "GraphQL errors"),
        ({"hub_refs": ["component:default/hub", "component:default/leaf"]}, "e", "empty result"),
        ({"owner_refs": ["group:default/nobody"]}, "b", "empty result"),
    ],
)
def test_an_error_or_empty_answer_stops_the_run(server, refs: dict, key: str, message: str) -> None:
    _, client = server
    (spec,) = [s for s in build_queries(summary(**refs)) if s.key == key]
    with pytest.raises(BenchError, match=message):
        measure_query(client, spec, requests=5, warmup=0)


def test_a_store_with_too_few_entities_stops_the_run(server) -> None:
    _, client = server
    assert check_entity_count(client, 1000) == 1_000_000
    with pytest.raises(BenchError, match="expected at least 2000000 entities"):
        check_entity_count(client, 2_000_000)


def test_a_server_that_dies_or_never_answers_fails_in_bounded_time(tmp_path: Path) -> None:
    url = f"http://{HOST}:{free_port()}"
    with pytest.raises(BenchError, match="exited 4"):
        with running_server([sys.executable, "-c", "exit(4)"], url, tmp_path / "log", ready_timeout=30):
            pass
    started = time.perf_counter()
    with pytest.raises(BenchError, match="not 200 after"):
        with running_server([sys.executable, "-c", "import time; time.sleep(60)"], url, tmp_path / "log", 1):
            pass
    assert time.perf_counter() - started < 20


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99 and percentile([7.0], 0.99) == 7


def test_table_has_one_row_per_measure() -> None:
    rows = [
        Measure(10_000, "full ingest, wall", 12.345, "s"),
        Measure(10_000, "query a", 0.5, "ms", 1.25, 0.6),
    ]
    table = markdown_table(rows).splitlines()
    assert len(table) == 4
    assert table[2] == "| 10,000 | full ingest, wall | 12.35 |  |  | s |  |"
    assert table[3] == "| 10,000 | query a | 0.50 | 1.25 | 0.60 | ms |  |"


def test_a_whole_run_with_the_stand_in_cli(tmp_path: Path, fake_cli: Path, capsys) -> None:
    out = tmp_path / "out"
    args = [
        "--entities",
        "200",
        "--out",
        str(out),
        "--cli",
        str(fake_cli),
        "--requests",
        "10",
        "--warmup",
        "2",
        "--json",
        str(tmp_path / "results.json"),
    ]
    assert main(args) == 0
    report = json.loads((tmp_path / "results.json").read_text())
    measures = [r["measure"] for r in report["results"]]
    assert measures == RUN_BENCH_ROWS
    by_name = {r["measure"]: r for r in report["results"]}
    assert by_name["full ingest, peak RSS"]["value"] >= 64
    assert by_name["store size on disk"]["value"] >= 1
    assert (out / "catalog-200" / "catalog-info.yaml").is_file()
    assert "| 200 | query e: dependencies depth 6 from a hub |" in capsys.readouterr().out


def test_a_missing_cli_is_reported(tmp_path: Path, capsys) -> None:
    assert main(["--entities", "200", "--out", str(tmp_path), "--cli", str(tmp_path / "nope")]) == 2
    assert "no `catalog` executable" in capsys.readouterr().err


def test_reuse_store_measures_only_the_queries_against_the_store_left(tmp_path: Path, fake_cli: Path) -> None:
    out = tmp_path / "out"
    common = ["--entities", "200", "--out", str(out), "--cli", str(fake_cli), "--requests", "5", "--warmup", "1"]
    assert main([*common, "--reuse-store"]) == 1  # nothing to reuse yet
    assert main(common) == 0
    assert main([*common, "--reuse-store", "--json", str(tmp_path / "again.json")]) == 0
    measures = [r["measure"] for r in json.loads((tmp_path / "again.json").read_text())["results"]]
    assert measures[:2] == ["generate catalog", "store size on disk"]
    assert [m for m in measures if "ingest" in m] == []
    assert "query e: dependencies depth 6 from a hub" in measures and measures[-1] == "server peak RSS"


def test_store_size_is_measured_after_a_wal_checkpoint(tmp_path: Path) -> None:
    """A write-ahead log left by a connection that has not checkpointed is folded into the database first."""
    store = tmp_path / "store"
    open_store(suite_settings(store_dir=store)).close()
    database = store / DATABASE_FILE
    writer = sqlite3.connect(database, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("CREATE TABLE ballast(b BLOB)")
        writer.execute("INSERT INTO ballast VALUES (zeroblob(4 << 20))")
        wal = database.with_name(database.name + "-wal")
        assert wal.stat().st_size > 4 << 20
        size = checkpointed_size_mib(store)
        assert wal.stat().st_size == 0
        assert size == pytest.approx(disk_usage_mib(store)) and size >= 4
    finally:
        writer.close()


def test_remove_store_deletes_the_whole_directory(tmp_path: Path) -> None:
    store = tmp_path / "store"
    open_store(suite_settings(store_dir=store)).close()
    (store / "catalog.sqlite-wal").write_bytes(b"x")
    remove_store(store)
    assert not store.exists() and tmp_path.is_dir()


# ---------------------------------------------------------------------------------------------------------
# Engines: Neo4j beside SQLite


def neo4j_env(settings: Settings) -> dict[str, str]:
    """The variables `eval "$(scripts/neo4j start)"` sets, for the server the test run has."""
    return {
        "NEO4J_URI": settings.neo4j_uri,
        "NEO4J_USER": settings.neo4j_user,
        "NEO4J_PASSWORD": settings.neo4j_password,
        "NEO4J_DATABASE": settings.neo4j_database,
    }


def expected_neo4j_rows(settings: Settings, rows: list[str]) -> list[str]:
    """`rows` as the Neo4j column has them: the JVM's memory after the server's when its pid is known, no
    store size when its data directory is not (a server that is not scripts/neo4j's, e.g. a container)."""
    engine, _ = neo4j_engine(settings, None, None)
    found = [r for r in rows if engine.data_dir is not None or not r.startswith("store size")]
    if engine.pid is not None and "server peak RSS" in found:
        found.insert(found.index("server peak RSS") + 1, "Neo4j server JVM RSS")
    return found


@pytest.mark.neo4j
def test_both_engines_in_one_run_with_the_real_cli(
    tmp_path: Path, neo4j_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for name, value in neo4j_env(neo4j_settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CATALOG_BACKEND", "neo4j")  # the SQLite children must not inherit it
    report_path = tmp_path / "results.json"
    args = [
        *("--entities", "200", "--out", str(tmp_path / "out"), "--requests", "5", "--warmup", "1"),
        *("--backend", "sqlite", "--backend", "neo4j", "--json", str(report_path)),
    ]
    assert main(args) == 0, capsys.readouterr()
    printed = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    by_engine = {
        backend: [r["measure"] for r in report["results"] if r["backend"] == backend] for backend in ("sqlite", "neo4j")
    }
    assert by_engine == {"sqlite": RUN_BENCH_ROWS, "neo4j": expected_neo4j_rows(neo4j_settings, RUN_BENCH_ROWS)}
    assert all(r["value"] > 0 for r in report["results"]), report["results"]
    assert [e["backend"] for e in report["config"]["engines"]] == ["sqlite", "neo4j"]
    assert neo4j_settings.neo4j_password not in report_path.read_text()
    assert (tmp_path / "out" / "stores" / "store-200" / DATABASE_FILE).is_file()  # SQLite's went to its directory

    lines = printed.splitlines()
    assert lines[0] == (
        "| entities | measure | unit | sqlite | sqlite p99 | neo4j | neo4j p99 | neo4j/sqlite | notes |"
    )
    for name in RUN_BENCH_ROWS:
        (row,) = [line for line in lines if line.startswith(f"| 200 | {name} |")]
        cells = [c.strip() for c in row.strip("|").split("|")]
        sqlite_value, neo4j_value, ratio = cells[3], cells[5], cells[7]
        if name.startswith("store size") and "store size on disk" not in by_engine["neo4j"]:
            assert neo4j_value == "" and ratio == ""
            continue
        assert sqlite_value and neo4j_value and ratio.endswith("x"), row
        if name.startswith("query"):
            assert cells[4] and cells[6], row  # both p99s
    neo4j_rows = report["results"]
    ingest = next(r for r in neo4j_rows if r["backend"] == "neo4j" and r["measure"] == "full ingest, wall")
    assert "emptied first" in ingest["note"]


@pytest.mark.neo4j
def test_reuse_store_on_neo4j_queries_what_the_database_holds(
    tmp_path: Path, neo4j_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in neo4j_env(neo4j_settings).items():
        monkeypatch.setenv(name, value)
    common = ["--entities", "150", "--out", str(tmp_path / "out"), "--requests", "3", "--warmup", "0"]
    common += ["--backend", "neo4j", "--mutate", "0"]
    assert main(common) == 0
    assert main([*common, "--reuse-store", "--json", str(tmp_path / "again.json")]) == 0
    measures = [r["measure"] for r in json.loads((tmp_path / "again.json").read_text())["results"]]
    assert [m for m in measures if "ingest" in m] == []
    assert "query e: dependencies depth 6 from a hub" in measures and "server peak RSS" in measures


def test_neo4j_without_neo4j_uri_fails_at_once_saying_what_to_run(
    tmp_path: Path, fake_cli: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    out = tmp_path / "out"
    args = ["--entities", "200", "--out", str(out), "--cli", str(fake_cli), "--backend", "sqlite", "--backend", "neo4j"]
    assert main(args) == 2
    printed = capsys.readouterr()
    assert "NEO4J_URI is not set" in printed.err
    assert 'run `eval "$(scripts/neo4j start)"; export NEO4J_URI' in printed.err
    assert printed.out == "" and not out.exists()  # nothing measured, not even the SQLite half


def test_an_unreachable_neo4j_fails_at_once_naming_it(
    tmp_path: Path, fake_cli: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    uri = f"bolt://{HOST}:{free_port()}"
    monkeypatch.setenv("NEO4J_URI", uri)
    args = ["--entities", "200", "--out", str(tmp_path / "out"), "--cli", str(fake_cli), "--backend", "neo4j"]
    assert main(args) == 2
    assert f"cannot reach Neo4j at {uri}" in capsys.readouterr().err


def test_reuse_store_on_neo4j_takes_one_size(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--entities", "200", "--entities", "300", "--backend", "neo4j", "--reuse-store"])
    assert "the database holds one catalog" in capsys.readouterr().err


def test_the_scripts_neo4j_server_is_found_only_when_it_is_the_one_at_neo4j_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "neo4j-home"
    (home / "data").mkdir(parents=True)
    (home / "env").write_text("NEO4J_URI=bolt://127.0.0.1:7001\nNEO4J_USER=neo4j\nNEO4J_PASSWORD=x\n")
    (home / "pid").write_text(f"{os.getpid()}\n")
    monkeypatch.setenv("NEO4J_TEST_HOME", str(home))
    ours = suite_settings(backend="neo4j", neo4j_uri="bolt://127.0.0.1:7001")
    engine, notes = neo4j_engine(ours, None, None)
    assert (engine.data_dir, engine.pid, notes) == (home / "data", os.getpid(), [])
    assert "CATALOG_BACKEND" in engine.env() and engine.env()["NEO4J_URI"] == ours.neo4j_uri
    assert engine.store_args(tmp_path / "store") == []

    other = suite_settings(backend="neo4j", neo4j_uri="bolt://127.0.0.1:7002")
    engine, notes = neo4j_engine(other, None, None)
    assert (engine.data_dir, engine.pid) == (None, None)
    assert any("--neo4j-data DIR" in n for n in notes) and any("--neo4j-pid PID" in n for n in notes)
    engine, notes = neo4j_engine(other, tmp_path, os.getpid())  # as given on the command line
    assert (engine.data_dir, engine.pid, notes) == (tmp_path, os.getpid(), [])


def test_children_run_on_the_engine_measured_whatever_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_BACKEND", "neo4j")
    monkeypatch.setenv("CATALOG_REFRESH_INTERVAL", "60")
    env = Engine("sqlite").env()
    assert (env["CATALOG_BACKEND"], env["CATALOG_REFRESH_INTERVAL"]) == ("sqlite", "0")
    assert Engine("sqlite").store_args(Path("/s")) == ["--store", "/s"]


def test_the_neo4j_store_size_is_its_data_directory_split_by_what_it_holds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for folder, size in (("data/databases/neo4j", 3 << 20), ("data/transactions/neo4j", 1 << 20), ("logs", 1 << 20)):
        (data / folder).mkdir(parents=True)
        (data / folder / "file").write_bytes(b"x" * size)
    size, note = neo4j_size(data, "neo4j")
    assert size == pytest.approx(disk_usage_mib(data)) and size >= 5
    assert "store files 3.0 MiB, transaction logs 1.0 MiB" in note


def test_several_engines_make_one_column_each_and_the_ratio() -> None:
    rows = [
        Measure(1_000, "full ingest, wall", 2.0, "s", note="fresh store", backend="sqlite"),
        Measure(1_000, "query a", 0.5, "ms", 1.25, 0.6, note="10 req", backend="sqlite"),
        Measure(1_000, "server peak RSS", 60.0, "MiB", backend="sqlite"),
        Measure(1_000, "full ingest, wall", 5.0, "s", note="emptied", backend="neo4j"),
        Measure(1_000, "query a", 2.0, "ms", 5.0, 2.5, note="10 req", backend="neo4j"),
        Measure(1_000, "server peak RSS", 90.0, "MiB", backend="neo4j"),
        Measure(1_000, "Neo4j server JVM RSS", 900.0, "MiB", backend="neo4j"),
        Measure(10_000, "full ingest, wall", 20.0, "s", backend="sqlite"),
    ]
    table = markdown_table(rows).splitlines()
    assert table == [
        "| entities | measure | unit | sqlite | sqlite p99 | neo4j | neo4j p99 | neo4j/sqlite | notes |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|",
        "| 1,000 | full ingest, wall | s | 2.00 |  | 5.00 |  | 2.50x | [sqlite] fresh store [neo4j] emptied |",
        "| 1,000 | query a | ms | 0.50 | 1.25 | 2.00 | 5.00 | 4.00x | 10 req |",
        "| 1,000 | server peak RSS | MiB | 60.00 |  | 90.00 |  | 1.50x |  |",
        "| 1,000 | Neo4j server JVM RSS | MiB |  |  | 900 |  |  |  |",
        "| 10,000 | full ingest, wall | s | 20.00 |  |  |  |  |  |",
    ]
    assert markdown_table(rows[3:7]).splitlines()[0] == "| entities | measure | neo4j | p99 | mean | unit | notes |"
