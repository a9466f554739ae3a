"""The `catalog` command as a user runs it: a real subprocess, real files, a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.store.catalog_builder import component, group

ROOT = Path(__file__).resolve().parents[1]


def catalog(*args: str, store: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CATALOG_STORE": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "graphsvc.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=check,
        timeout=120,
    )


def test_ingest_then_query_with_variables(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_text(yaml.safe_dump_all([component("web"), group("team-a")]))
    store = tmp_path / "store"
    ingested = catalog("ingest", str(tmp_path / "catalog-info.yaml"), store=store, check=True)
    assert "2 added" in ingested.stdout
    result = catalog(
        "query",
        "query($r: String!) { entity(ref: $r) { name owner { ref } } }",
        "--var",
        "r=component:web",
        store=store,
        check=True,
    )
    assert json.loads(result.stdout)["data"] == {"entity": {"name": "web", "owner": {"ref": "group:default/team-a"}}}


def test_query_errors_exit_non_zero(tmp_path: Path) -> None:
    result = catalog("query", "{ nope }", store=tmp_path / "store")
    assert result.returncode == 1
    assert "Cannot query field 'nope'" in json.loads(result.stdout)["errors"][0]["message"]


def test_ingest_errors_are_printed_with_their_location(tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: ok}\n"
        "spec: {type: service, lifecycle: x, owner: y}\n---\nkind: [unclosed\n"
    )
    result = catalog("ingest", str(path), store=tmp_path / "store")
    assert result.returncode == 0
    assert "1 added" in result.stdout
    assert f"{path}" in result.stderr and "error [read]" in result.stderr


def test_a_missing_source_is_a_clear_message(tmp_path: Path) -> None:
    result = catalog("ingest", str(tmp_path / "missing.yaml"), store=tmp_path / "store")
    assert result.returncode == 2
    assert "no such file or directory" in result.stderr


def test_a_held_store_names_its_owner_instead_of_opening_a_second_writer(tmp_path: Path) -> None:
    store = tmp_path / "store"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom graphsvc.store.sqlite_backend import SqliteBackend\n"
            f"b = SqliteBackend({str(store)!r})\nb.claim_ownership('http://127.0.0.1:8765')\n"
            "print('ready', flush=True)\nsys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = catalog("query", "{ syncRuns { id } }", store=store)
        assert result.returncode == 2
        assert "in use by the catalog service at http://127.0.0.1:8765" in result.stderr
        assert "--url http://127.0.0.1:8765" in result.stderr
    finally:
        holder.communicate("", timeout=30)


def test_export_schema_matches_the_committed_file() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "graphsvc.cli", "export-schema"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    committed = (ROOT / "schema.graphql").read_text()
    assert result.stdout == committed, "schema.graphql is stale: run `catalog export-schema > schema.graphql`"


def test_an_empty_target_is_refused_not_taken_for_the_working_directory(tmp_path: Path) -> None:
    result = catalog("ingest", "  ", store=tmp_path / "store")
    assert result.returncode == 2
    assert "the target is empty: name a file, a directory, a URL or a git repository" in result.stderr
    listed = catalog("query", "{ locations { target } }", store=tmp_path / "store", check=True)
    assert json.loads(listed.stdout)["data"] == {"locations": []}
