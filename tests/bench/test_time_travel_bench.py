"""The time-travel benchmark, end to end at a tiny size: every row measured, and the history it built is real.

These check the harness (it runs, it checks its answers, the history has V versions per entity), not the
numbers: 600 entities on a shared test machine say nothing about 100k.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from bench.generate_catalog import MANIFEST_FILE, generate
from bench.run_bench import neo4j_engine
from bench.run_time_travel_bench import REWIRED_SHARE, load_catalog, main, rewrite
from graphsvc.config import Settings
from graphsvc.store import open_store
from tests.suite_settings import suite_settings

ENTITIES, VERSIONS = 600, 3
TWINS = ["a", "b", "c", "d", "e"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One whole run; its printed table, JSON report and paths."""
    tmp = tmp_path_factory.mktemp("time-travel")
    store, report = tmp / "store", tmp / "report.json"
    argv = [
        *("--entities", str(ENTITIES), "--versions", str(VERSIONS), "--requests", "20", "--warmup", "3"),
        *("--out", str(tmp / "out"), "--store", str(store), "--json", str(report)),
    ]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(argv)
    assert code == 0, printed.getvalue()
    return {
        "table": printed.getvalue(),
        "report": json.loads(report.read_text()),
        "store": store,
        "manifest": json.loads((tmp / "out" / f"time-travel-catalog-{ENTITIES}" / MANIFEST_FILE).read_text()),
    }


def rows(bench: dict) -> dict[str, dict]:
    return {row["measure"]: row for row in bench["report"]["results"]}


def test_every_row_is_measured_and_printed(bench: dict) -> None:
    expected = [
        "sync version 1 (all added)",
        f"sync versions 2..{VERSIONS}, each",
        "store size after version 1",
        f"store size after version {VERSIONS}",
        "storage growth per version",
        "storage per entity version",
        *(f"in-process {key}: asOf / present" for key in TWINS),
        "in-process f: changes over one day, first 100",
        "in-process g: changes over one day, components, first 100",
    ]
    found = rows(bench)
    assert [name for name in expected if name not in found] == []
    assert [len(s) for s in bench["report"]["sync_seconds"].values()] == [VERSIONS]
    for row in bench["report"]["results"]:
        assert row["value"] > 0, row
        assert f"| {row['measure']} |" in bench["table"]


def test_sizes_grow_with_history(bench: dict) -> None:
    found = rows(bench)
    first, last = found["store size after version 1"]["value"], found[f"store size after version {VERSIONS}"]["value"]
    assert 0 < first < last
    assert found["storage growth per version"]["value"] == pytest.approx((last - first) / (VERSIONS - 1))
    assert 100 < found["storage per entity version"]["value"] < 1_000_000  # bytes


def test_each_query_has_present_and_as_of_twins_with_a_ratio(bench: dict) -> None:
    found = rows(bench)
    for key in TWINS:
        mine = {name.rsplit(", ", 1)[-1]: r for name, r in found.items() if name.startswith(f"in-process {key}: ")}
        present, past = mine["present"], mine["asOf"]
        ratio = found[f"in-process {key}: asOf / present"]
        assert present["p99"] >= present["value"] > 0 and past["p99"] >= past["value"] > 0
        assert ratio["unit"] == "x" and ratio["value"] == pytest.approx(past["value"] / present["value"])
        assert "results per answer" in past["note"] and "results per answer: 0" not in past["note"]


def test_every_entity_has_one_version_per_sync(bench: dict) -> None:
    store = open_store(suite_settings(store_dir=bench["store"]))
    try:
        refs = bench["manifest"]["sample_refs"][::3] + bench["manifest"]["hub_refs"][:2]
        versions = store.rows("versions")
        for ref in refs:
            mine = [v for v in versions if v["ref"] == ref]
            open_versions = sum(1 for v in mine if v["valid_to"] is None)
            assert (ref, len(mine), open_versions) == (ref, VERSIONS, 1)
    finally:
        store.close()


def test_rewrite_changes_every_description_and_rewires_a_tenth_of_components(tmp_path: Path) -> None:
    summary = generate(ENTITIES, tmp_path / "catalog", seed=3)
    catalog = load_catalog(Path(summary.root).parent)
    before = [json.dumps(d.data, sort_keys=True) for d in catalog.documents]
    owners = {i: catalog.documents[i].data["spec"]["owner"] for i in catalog.components}
    deps = {i: list(catalog.documents[i].data["spec"]["dependsOn"]) for i in catalog.components}
    rewired = rewrite(catalog, 2, seed=3)
    assert rewired == round(REWIRED_SHARE * len(catalog.components))
    assert all(json.dumps(d.data, sort_keys=True) != b for d, b in zip(catalog.documents, before, strict=True))
    assert all(d.data["metadata"]["description"].endswith("(version 2)") for d in catalog.documents)
    new_owner = [i for i in catalog.components if catalog.documents[i].data["spec"]["owner"] != owners[i]]
    new_deps = [i for i in catalog.components if catalog.documents[i].data["spec"]["dependsOn"] != deps[i]]
    assert len(new_owner) == rewired and 0.9 * rewired <= len(new_deps) <= rewired
    names = [catalog.documents[i].data["metadata"]["name"] for i in catalog.components]
    for position, index in enumerate(catalog.components):  # still a DAG: only later components, no repeats
        targets = catalog.documents[index].data["spec"]["dependsOn"]
        later = {f"component:{n}" for n in names[position + 1 :]}
        assert len(set(targets)) == len(targets)
        assert all(t in later or t.removeprefix("resource:") in catalog.resources for t in targets)
    again = load_catalog(Path(summary.root).parent)
    rewrite(again, 2, seed=3)
    assert [d.data for d in again.documents] == [d.data for d in catalog.documents]


def test_refuses_to_empty_a_directory_that_is_not_a_store(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["--entities", "100", "--versions", "2", "--out", str(tmp_path / "out"), "--store", str(precious)])
    assert code == 1
    assert (precious / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------------------------------------------------
# Neo4j beside SQLite, in one run

NEO4J_ENTITIES = 150
HISTORY_ROWS = [
    "generate catalog",
    "parse YAML once",
    "sync version 1 (all added)",
    f"sync versions 2..{VERSIONS}, each",
    "store size after version 1",
    f"store size after version {VERSIONS}",
    "storage growth per version",
    "storage per entity version",
]
TWIN_LABELS = [
    "entity by ref",
    "entities by owner",
    "kind+type filter, first 100",
    "relations of one entity",
    "dependencies depth 6 from a hub",
]


def query_rows(transport: str) -> list[str]:
    """The rows of one transport, in order: each twin's present, asOf and ratio, then the change feed."""
    rows = []
    for key, label in zip(TWINS, TWIN_LABELS, strict=True):
        rows += [f"{transport} {key}: {label}, present", f"{transport} {key}: {label}, asOf"]
        rows.append(f"{transport} {key}: asOf / present")
    changes = ["f: changes over one day, first 100", "g: changes over one day, components, first 100"]
    return rows + [f"{transport} {name}" for name in changes]


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory: pytest.TempPathFactory, neo4j_settings: Settings) -> dict:
    """One run on SQLite then Neo4j, queries in process and over HTTP; its table, report and store."""
    tmp = tmp_path_factory.mktemp("time-travel-engines")
    report = tmp / "report.json"
    argv = [
        *("--entities", str(NEO4J_ENTITIES), "--versions", str(VERSIONS), "--requests", "4", "--warmup", "1"),
        *("--out", str(tmp / "out"), "--store", str(tmp / "store"), "--json", str(report), "--http"),
        *("--backend", "sqlite", "--backend", "neo4j"),
    ]
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NEO4J_URI", neo4j_settings.neo4j_uri)
        env.setenv("NEO4J_USER", neo4j_settings.neo4j_user)
        env.setenv("NEO4J_PASSWORD", neo4j_settings.neo4j_password)
        env.setenv("NEO4J_DATABASE", neo4j_settings.neo4j_database)
        with contextlib.redirect_stdout(printed):
            code = main(argv)
        engine, _ = neo4j_engine(neo4j_settings, None, None)
    assert code == 0, printed.getvalue()
    return {"table": printed.getvalue(), "report": json.loads(report.read_text()), "neo4j": engine}


@pytest.mark.neo4j
def test_both_engines_measure_every_row_and_print_a_column_each(both_engines: dict) -> None:
    report, engine = both_engines["report"], both_engines["neo4j"]
    expected = HISTORY_ROWS + query_rows("in-process") + query_rows("HTTP")
    found = {b: [r["measure"] for r in report["results"] if r["backend"] == b] for b in ("sqlite", "neo4j")}
    neo4j_expected = [r for r in expected if engine.data_dir is not None or not r.startswith("stor")]
    assert found == {"sqlite": expected, "neo4j": neo4j_expected}
    assert all(row["value"] > 0 for row in report["results"]), report["results"]
    assert {b: len(s) for b, s in report["sync_seconds"].items()} == {"sqlite": VERSIONS, "neo4j": VERSIONS}
    lines = both_engines["table"].splitlines()
    assert lines[0].startswith("| entities | measure | unit | sqlite | sqlite p99 | neo4j | neo4j p99 | neo4j/sqlite |")
    for name in neo4j_expected:
        (row,) = [line for line in lines if line.startswith(f"| {NEO4J_ENTITIES} | {name} |")]
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[3] and cells[5] and cells[7].endswith("x"), row


@pytest.mark.neo4j
def test_the_neo4j_history_has_one_version_per_sync(both_engines: dict, neo4j_settings: Settings) -> None:
    store = open_store(neo4j_settings)
    try:
        found, least, most, least_open, most_open, _ = store.version_census()
    finally:
        store.close()
    assert (found, least, most, least_open, most_open) == (NEO4J_ENTITIES + 1, VERSIONS, VERSIONS, 1, 1)


def test_neo4j_without_neo4j_uri_fails_at_once_saying_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    assert main(["--entities", "100", "--out", str(tmp_path / "out"), "--backend", "neo4j"]) == 2
    err = capsys.readouterr().err
    assert "NEO4J_URI is not set" in err and 'run `eval "$(scripts/neo4j start)"; export NEO4J_URI' in err
    assert not (tmp_path / "out").exists()
