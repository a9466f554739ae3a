"""Self-test of the benchmark harness against a stand-in CLI and canned GraphQL answers (fake_catalog.py).

These check the measuring, not the service: child wall time and peak RSS, server start / health / stop,
and that a GraphQL error or an empty answer stops the run instead of being timed.
"""

from __future__ import annotations

import json
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
    Measure,
    build_queries,
    check_entity_count,
    checkpointed_size_mib,
    disk_usage_mib,
    free_port,
    main,
    markdown_table,
    measure_query,
    peak_rss_mib,
    percentile,
    remove_store,
    run_child,
    running_server,
)
from graphsvc.config import Settings
from graphsvc.store import open_store
from graphsvc.store.sqlite_backend import DATABASE_FILE

FAKE = Path(__file__).with_name("fake_catalog.py")


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
    assert measures == [
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
    open_store(Settings(store_dir=store)).close()
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
    open_store(Settings(store_dir=store)).close()
    (store / "catalog.sqlite-wal").write_bytes(b"x")
    remove_store(store)
    assert not store.exists() and tmp_path.is_dir()
