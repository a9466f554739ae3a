"""`catalog export FILE` and `catalog import FILE`: the whole temporal graph in one portable file.

A store built by real syncs (a git history replayed commit by commit, a directory registered and refreshed
with changes, removals, errors and conflicts, a location unregistered) goes to a file and back, on each
engine and from one engine to the other, and must come back the same: the same file again, byte for byte,
the same rows, and the same answers to every query at every sync instant. A file that is not intact, not
this format, or meant for a store that is not empty is refused with one line that says why, and nothing is
written. An import stopped or killed leaves a store that says so, or nothing at all.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.generate_catalog import generate, mutate
from graphsvc.config import Settings
from graphsvc.demo.history import ScriptedRepository
from graphsvc.portable import (
    FORMAT,
    TABLES,
    ImportRefusedError,
    encode,
    export_file,
    import_file,
    trailer,
)
from graphsvc.service import CatalogService
from graphsvc.store import GraphStore, PartialImportError, open_store
from graphsvc.store.cypher import EntityFilter
from graphsvc.store.schema import DUMP_TABLES, SCHEMA_VERSION
from graphsvc.store.sqlite_backend import DATABASE_FILE
from graphsvc.store.timeline import Timeline
from tests.conftest import fresh_store_settings
from tests.store.catalog_builder import component, entity, group
from tests.suite_settings import SUITE_ENV, suite_settings

CATALOG = [str(Path(sys.executable).with_name("catalog"))]
"""The `catalog` entry point installed beside this interpreter (`[project.scripts]`)."""
REPO = Path(__file__).resolve().parents[2]


# --- a catalog built by real syncs -------------------------------------------------------------------------

ALICE = "Alice Archer <alice@example.com>"
BOB = "Bob Baker <bob@example.com>"
BROKEN = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments\n   owner: [team-x\n"


def documents(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False, allow_unicode=True)


def tagged(doc: dict[str, Any], *tags: str) -> dict[str, Any]:
    doc["metadata"]["tags"] = list(tags)
    return doc


def payments(owner: str, description: str | None = None) -> str:
    doc = component("payments", owner, providesApis=["payments-api"])
    if description:
        doc["metadata"]["description"] = description
    api = entity(
        "API", "payments-api", {"type": "openapi", "lifecycle": "production", "owner": owner, "definition": "{}"}
    )
    return documents(doc, api)


HISTORY: list[tuple[str, str, dict[str, str | None]]] = [
    (
        "2026-01-05T10:00:00",
        ALICE,
        {
            "catalog-info.yaml": documents(
                entity("Location", "root", {"targets": ["./org.yaml", "./services/*.yaml"]})
            ),
            "org.yaml": documents(group("dept-a", ["team-x"]), group("team-x"), group("team-y")),
            "services/payments.yaml": payments("team-x"),
            "services/web.yaml": documents(component("web", "team-x", dependsOn=["component:payments"])),
        },
    ),
    ("2026-02-02T10:00:00", BOB, {"services/payments.yaml": payments("team-y")}),
    ("2026-03-02T10:00:00", ALICE, {"services/web.yaml": None}),
    (
        "2026-04-06T10:00:00",
        BOB,
        {"services/payments.yaml": BROKEN, "services/web.yaml": documents(tagged(component("web", "team-x"), "ui"))},
    ),
    ("2026-05-04T10:00:00", ALICE, {"services/payments.yaml": payments("team-y", "Pays in € — ☃ 😀")}),
]
T = [int(datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp()) * 1_000_000 for when, _, _ in HISTORY]


def ledger(owner: str) -> dict[str, Any]:
    return tagged(component("ledger", owner, system="books"), "money", "core")


# Directory names outside ASCII, the Basic Multilingual Plane's top and beyond it: their order in the file is
# code point order on both engines.
FIRST_SYNC = {
    "sub-é/catalog-info.yaml": documents(ledger("team-x"), component("ledger", "team-y")),  # a duplicate
    "sub-☃/catalog-info.yaml": documents(group("team-z"), component("payments", "team-z")),  # a conflict
    "sub-😀/catalog-info.yaml": documents(entity("System", "books", {"owner": "team-z"})),
}
SECOND_SYNC = {
    "sub-é/catalog-info.yaml": documents(ledger("team-z")),
    "sub-☃/catalog-info.yaml": documents(entity("AiResource", "helper", {"owner": "team-z"})),  # team-z removed
}


def write_files(root: Path, files: dict[str, str | None]) -> None:
    for relative, text in files.items():
        path = root / relative
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def build_catalog(settings: Settings, workdir: Path) -> None:
    """History replayed from git (with commit SHAs and authors), a directory registered then refreshed after
    changes, and a location registered then unregistered."""
    repository = ScriptedRepository(workdir / "repo")
    for when, author, files in HISTORY:
        repository.commit(files, when=datetime.fromisoformat(when).replace(tzinfo=UTC), author=author, message=when)
    directory, scratch = workdir / "dir", workdir / "scratch"
    write_files(directory, FIRST_SYNC)
    write_files(scratch, {"catalog-info.yaml": documents(component("scratch", "team-x"))})
    service = CatalogService(open_store(settings), settings)
    try:
        service.write_now(lambda: service.backfill_history(str(repository.path)))
        service.write_now(lambda: service.register(str(directory)))
        write_files(directory, SECOND_SYNC)
        service.write_now(lambda: service.refresh(str(directory)))
        service.write_now(lambda: service.register(str(scratch)))
        service.write_now(lambda: service.unregister(str(scratch)))
    finally:
        service.close()


def table_rows(store: GraphStore) -> dict[str, list[dict[str, Any]]]:
    return {name: store.rows(name) for name in TABLES}


def answers(store: GraphStore) -> dict[str, Any]:
    """What the store answers: the present, every entity and its relations at every sync instant (and just
    before it), histories, version starts, the change feed, errors, runs, locations, a graph diff."""
    runs = store.sync_runs(limit=1000)
    instants = sorted({run.started_at for run in runs})
    refs = sorted(row["ref"] for row in store.rows("entities"))
    timeline = Timeline(store)
    everything = EntityFilter()
    out: dict[str, Any] = {
        "present": store.find_entities(everything, first=1000, after=None),
        "kinds": store.facets("kind", everything),
        "components": store.count_entities(EntityFilter(kind="component")),
        "relations": store.relations(refs),
        "version starts": store.version_starts(refs),
        "histories": {ref: timeline.versions(ref) for ref in refs},
        "ownership": {ref: timeline.ownership(ref) for ref in refs},
        "changes": timeline.changes(0, instants[-1] + 1, everything, first=1000),
        "component changes": timeline.changes(0, instants[-1] + 1, EntityFilter(kind="component"), first=1000),
        "errors": store.errors(limit=1000),
        "sync runs": runs,
        "locations": store.registered_locations(),
        "diff": timeline.graph_diff(instants[0], instants[-1]),
    }
    for at in instants:
        for t in (at - 1, at):
            out[f"entities at {t}"] = store.entities(refs, as_of=t)
            out[f"relations at {t}"] = store.relations(refs, as_of=t)
            out[f"owners at {t}"] = store.facets("owner", everything, as_of=t)
            out[f"components at {t}"] = store.count_entities(EntityFilter(kind="component"), as_of=t)
    return out


def empty(settings: Settings, request: pytest.FixtureRequest, directory: Path) -> Settings:
    """Settings of an empty store of the same engine (for Neo4j: the one database, emptied)."""
    return fresh_store_settings(settings.backend, request, directory)


def export(settings: Settings, path: Path) -> bytes:
    store = open_store(settings)
    try:
        export_file(store, path)
    finally:
        store.close()
    return path.read_bytes()


def load(settings: Settings, path: Path) -> None:
    store = open_store(settings, partial_import=True)
    try:
        import_file(store, path)
    finally:
        store.close()


@pytest.fixture
def built(store_settings: Settings, tmp_path: Path) -> Settings:
    build_catalog(store_settings, tmp_path / "sources")
    return store_settings


# --- round trips ---------------------------------------------------------------------------------------------


def test_a_store_goes_to_a_file_and_back_unchanged(
    built: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = open_store(built)
    before, asked = table_rows(store), answers(store)
    store.close()
    first = export(built, tmp_path / "first.jsonl.gz")

    target = empty(built, request, tmp_path / "target")
    load(target, tmp_path / "first.jsonl.gz")

    assert export(target, tmp_path / "second.jsonl.gz") == first
    store = open_store(target)
    try:
        assert store.check() == []
        assert table_rows(store) == before
        assert answers(store) == asked
    finally:
        store.close()


def test_the_imported_catalog_answers_what_the_history_says(
    built: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    export(built, tmp_path / "catalog.jsonl.gz")
    target = empty(built, request, tmp_path / "target")
    load(target, tmp_path / "catalog.jsonl.gz")
    store = open_store(target)
    try:
        history = Timeline(store).versions("component:default/payments")
        assert [(v.valid_from, v.valid_to, v.commit_author) for v in history] == [
            (T[4], None, ALICE),  # the broken commit changed nothing; its fix opened a version
            (T[1], T[4], BOB),
            (T[0], T[1], ALICE),
        ]
        assert history[0].document["metadata"]["description"] == "Pays in € — ☃ 😀"
        owner = {t: store.entity("component:default/payments", as_of=t).document["spec"]["owner"] for t in T[:2]}
        assert owner == {T[0]: "team-x", T[1]: "team-y"}
        assert [store.entity("component:default/web", as_of=t) is not None for t in T] == [
            True, True, False, True, True,  # removed in the third commit, back in the fourth
        ]  # fmt: skip
        assert store.version_starts(["component:default/web"]) == {"component:default/web": [T[0], T[3]]}
        assert [r.target for r in store.relations(["component:default/web"], as_of=T[1])["component:default/web"]] == [
            "component:default/payments",
            "group:default/team-x",
        ]
        assert [e.ref.partition("/")[2] for e in store.find_entities(EntityFilter(), first=100, after=None)] == [
            "payments-api", "ledger", "payments", "web", "dept-a", "team-x", "team-y", "root", "books",
        ]  # fmt: skip
        assert store.entity("group:default/team-z") is None  # removed by the refresh, kept in history
        assert len(Timeline(store).versions("group:default/team-z")) == 1
        assert store.entity("component:default/scratch") is None  # its location was unregistered
        assert sorted(e.category for e in store.errors(limit=100)) == [
            "conflict", "duplicate", "read", "validation",
        ]  # fmt: skip
        assert [loc.target for loc in store.registered_locations()] == sorted(
            str(tmp_path / "sources" / name) for name in ("dir", "repo")
        )
        assert store.check() == []
    finally:
        store.close()


@pytest.mark.neo4j
def test_sqlite_to_neo4j_and_back_gives_the_same_file(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    sqlite = fresh_store_settings("sqlite", request, tmp_path / "sqlite")
    build_catalog(sqlite, tmp_path / "sources")
    first = export(sqlite, tmp_path / "from-sqlite.jsonl.gz")

    neo4j = fresh_store_settings("neo4j", request, tmp_path / "neo4j")
    load(neo4j, tmp_path / "from-sqlite.jsonl.gz")
    assert export(neo4j, tmp_path / "from-neo4j.jsonl.gz") == first

    again = fresh_store_settings("sqlite", request, tmp_path / "again")
    load(again, tmp_path / "from-neo4j.jsonl.gz")
    assert export(again, tmp_path / "from-sqlite-again.jsonl.gz") == first
    for settings in (sqlite, neo4j, again):
        store = open_store(settings)
        try:
            assert store.check() == []
        finally:
            store.close()


# --- the format ----------------------------------------------------------------------------------------------

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
WEB = "component:default/web"
TEAM = "group:default/team-a"
DOCUMENT = json.dumps(
    {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "web", "title": "Web ☃", "tags": ["ui"]},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
)
FILTER_COLUMNS = {
    "kind": "component", "namespace": "default", "name": "web", "title": "Web ☃", "type": "service",
    "lifecycle": "production", "owner": TEAM, "tags": ["ui"], "search": "web\nweb ☃",
}  # fmt: skip
PROVENANCE = {"source": "/catalog", "location": "file:/catalog/web.yaml", "sync_run": "run-1"}
TINY: list[tuple[str, dict[str, Any]]] = [
    (
        "sync_runs",
        {"id": "run-1", "source": "/catalog", "started_at": T0, "finished_at": T0 + 1000,
         "status": "completed_with_errors", "added": 1, "updated": 0, "removed": 0, "unchanged": 0, "errors": 1},
    ),
    ("registered_locations", {"target": "/catalog", "added_at": T0}),
    ("source_files", {"id": "/catalog|file:/catalog/web.yaml", "source": "/catalog",
                      "location": "file:/catalog/web.yaml", "digest": "d1"}),
    (
        "entities",
        {"ref": WEB, **FILTER_COLUMNS, "document": DOCUMENT, "hash": "h1", "source": "/catalog",
         "location": "file:/catalog/web.yaml", "state": "present", "created_at": T0, "updated_at": T0,
         "version_starts": [T0]},
    ),
    ("entities", {"ref": TEAM, "kind": "group", "namespace": "default", "name": "team-a", "state": "dangling",
                  "created_at": T0, "updated_at": T0}),
    ("versions", {"id": f"{WEB}@{T0}", "ref": WEB, "hash": "h1", "document": DOCUMENT, "valid_from": T0,
                  **PROVENANCE, **FILTER_COLUMNS}),
    ("edges", {"src": WEB, "type": "OWNED_BY", "dst": TEAM, "origin": WEB, "valid_from": T0, "source": "/catalog",
               "sync_run": "run-1"}),
    ("change_batches", {"id": "run-1:0001", "at": T0, "sync_run": "run-1", "source": "/catalog", "size": 2}),
    ("change_events", {"id": "run-1:0001:0", "batch": "run-1:0001", "ordinal": 0, "at": T0, "type": "ENTITY_ADDED",
                       "entity_ref": WEB, "version": f"{WEB}@{T0}", **PROVENANCE, "kind": "component",
                       "namespace": "default", "owner": TEAM}),
    ("change_events", {"id": "run-1:0001:1", "batch": "run-1:0001", "ordinal": 1, "at": T0, "type": "RELATION_ADDED",
                       "entity_ref": WEB, "relation_type": "ownedBy", "target_ref": TEAM, "source": "/catalog",
                       "sync_run": "run-1", "kind": "component", "namespace": "default", "owner": TEAM}),
    ("sync_errors", {"id": "run-1:0", "sync_run": "run-1", "source": "/catalog", "location": "file:/catalog/bad.yaml",
                     "document_index": 0, "line": 3, "category": "read", "message": "bad.yaml line 3: no", "at": T0}),
]  # fmt: skip
"""A whole store, as rows: one present entity with its version, a dangling owner, an edge, the change feed's
batch and events, a sync run with its error, a registered location, a file digest."""
TINY_COUNTS = {"sync_runs": 1, "registered_locations": 1, "source_files": 1, "entities": 2, "versions": 1, "edges": 1,
               "change_batches": 1, "change_events": 2, "sync_errors": 1}  # fmt: skip
HEADER = {"format": FORMAT, "version": 1, "schema_version": SCHEMA_VERSION,
          "catalog_as_of": "2026-01-01T00:00:00.001000Z", "tables": TINY_COUNTS}  # fmt: skip


def lines_of(header: dict[str, Any], rows: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    return [encode(header)] + [encode({"table": table, "row": row}) for table, row in rows]


def sealed(lines: list[bytes], counts: dict[str, int] | None = None) -> bytes:
    """Lines and the trailer an exporter writes after them, uncompressed."""
    return b"".join(lines) + encode(trailer(counts or TINY_COUNTS, hashlib.sha256(b"".join(lines)).hexdigest()))


def gzipped(content: bytes) -> bytes:
    return gzip.compress(content, mtime=0)


def test_the_lines_of_a_file_are_compact_ascii_json_in_table_and_key_order(store: GraphStore, tmp_path: Path) -> None:
    (tmp_path / "tiny.jsonl.gz").write_bytes(gzipped(sealed(lines_of(HEADER, TINY))))
    import_file(store, tmp_path / "tiny.jsonl.gz")
    export_file(store, tmp_path / "again.jsonl.gz")

    lines = gzip.decompress((tmp_path / "again.jsonl.gz").read_bytes()).splitlines(keepends=True)
    assert b"".join(lines) == sealed(lines_of(HEADER, TINY))
    assert lines[0] == (
        b'{"format":"catalog-graph-export","version":1,"schema_version":%d,"catalog_as_of":"2026-01-01T00:00:00.001000Z",'
        b'"tables":{"sync_runs":1,"registered_locations":1,"source_files":1,"entities":2,"versions":1,"edges":1,'
        b'"change_batches":1,"change_events":2,"sync_errors":1}}\n' % SCHEMA_VERSION
    )
    assert lines[5] == (
        b'{"table":"entities","row":{"ref":"group:default/team-a","kind":"group","namespace":"default",'
        b'"name":"team-a","state":"dangling","created_at":1767225600000000,"updated_at":1767225600000000}}\n'
    )
    assert b'"title":"Web \\u2603"' in lines[4]
    assert lines[-1].startswith(b'{"end":"catalog-graph-export","tables":{"sync_runs":1,')
    assert store.check() == []


def test_every_table_the_store_dumps_has_its_place_in_the_file() -> None:
    assert sorted(TABLES) == sorted([*DUMP_TABLES, "edges"])
    assert TABLES.index("entities") < TABLES.index("versions") < TABLES.index("change_events")
    assert TABLES.index("entities") < TABLES.index("edges")
    assert TABLES.index("sync_runs") < min(TABLES.index("change_batches"), TABLES.index("sync_errors"))


# --- refusals ----------------------------------------------------------------------------------------------


def edited(table: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """TINY with the first row of `table` changed."""
    done = False
    out = []
    for name, row in TINY:
        if name == table and not done:
            row, done = change(dict(row)), True
        out.append((name, row))
    return out


def flipped(content: bytes, offset: int) -> bytes:
    return content[:offset] + bytes([content[offset] ^ 0x10]) + content[offset + 1 :]


GOOD = gzipped(sealed(lines_of(HEADER, TINY)))
SHA_GOOD = hashlib.sha256(b"".join(lines_of(HEADER, TINY))).hexdigest()
CRC_GOOD = zlib.crc32(sealed(lines_of(HEADER, TINY)))
RETITLED = lines_of(HEADER, edited("entities", lambda row: row | {"title": "Mallory"}))
SHA_RETITLED = hashlib.sha256(b"".join(RETITLED)).hexdigest()

REFUSED: list[tuple[str, bytes, str]] = [
    (
        "a newer version of the format",
        gzipped(sealed(lines_of(HEADER | {"version": 2}, TINY))),
        "it is in version 2 of the catalog-graph-export format, and this catalog-graph reads version 1: "
        "import it with a newer catalog-graph",
    ),
    (
        "a store of another schema version",
        gzipped(sealed(lines_of(HEADER | {"schema_version": SCHEMA_VERSION + 1}, TINY))),
        f"it holds a store of schema version {SCHEMA_VERSION + 1}, and this catalog-graph stores version "
        f"{SCHEMA_VERSION}: import it with the version of catalog-graph that exported it",
    ),
    (
        "JSON Lines of another format",
        gzipped(sealed(lines_of({"format": "backstage-dump", "version": 1}, TINY))),
        "it is not a catalog-graph export (its first line is not a catalog-graph-export header)",
    ),
    (
        "not gzip at all",
        sealed(lines_of(HEADER, TINY)),
        "it is not an intact gzip file (Not a gzipped file (b'{\"')): it is corrupted or not an export",
    ),
    ("cut in the gzip stream", GOOD[: len(GOOD) // 2], "it is truncated (its gzip stream ends before its end)"),
    (
        "cut at a line, without its trailer",
        gzipped(b"".join(lines_of(HEADER, TINY))),
        "it is truncated (it ends after line 12, without its trailer line)",
    ),
    (
        "cut in a line",
        gzipped(b"".join(lines_of(HEADER, TINY))[:-40]),
        "it is truncated (its line 12 is incomplete)",
    ),
    (
        "a byte flipped in the gzip checksum",
        flipped(GOOD, len(GOOD) - 6),
        f"it is not an intact gzip file (CRC check failed {hex(CRC_GOOD ^ 0x10 << 16)} != {hex(CRC_GOOD)}): "
        "it is corrupted or not an export",
    ),
    (
        "a row edited, its checksum not",
        gzipped(b"".join(RETITLED) + encode(trailer(TINY_COUNTS, SHA_GOOD))),
        f"it is corrupted (the sha256 of its lines is {SHA_RETITLED[:12]}..., its trailer says {SHA_GOOD[:12]}...)",
    ),
    (
        "an unknown column",
        gzipped(sealed(lines_of(HEADER, edited("versions", lambda row: row | {"colour": "red"})))),
        "line 7 has an unknown column 'colour' of versions",
    ),
    (
        "a column of the wrong type",
        gzipped(sealed(lines_of(HEADER, edited("versions", lambda row: row | {"valid_from": "yesterday"})))),
        "line 7: versions.valid_from is not of type INT64: 'yesterday'",
    ),
    (
        "an unknown table",
        gzipped(sealed(lines_of(HEADER, [*TINY, ("widgets", {"id": "w"})]))),
        "line 13 is a row of an unknown table 'widgets'",
    ),
    (
        "a row missing, the counts not changed",
        gzipped(sealed(lines_of(HEADER, TINY[:-1]))),
        "it is corrupted (it holds 0 rows of sync_errors, its header says 1)",
    ),
    (
        "tables out of order",
        gzipped(sealed(lines_of(HEADER, [TINY[1], TINY[0], *TINY[2:]]))),
        "it is corrupted (line 3: a row of sync_runs after the rows of registered_locations)",
    ),
    (
        "a version of an entity the file does not hold",
        gzipped(sealed(lines_of(HEADER, [row for row in TINY if row[1].get("ref") != WEB or row[0] != "entities"]))),
        f"line 6: a version of '{WEB}', which is no entity of the file",
    ),
    (
        "a key repeated",
        gzipped(sealed(lines_of(HEADER, [*TINY[:4], *TINY[3:]]))),
        "it is corrupted (line 6: entities not in key order, or a key repeated)",
    ),
    (
        "a line after the trailer",
        GOOD + gzipped(lines_of(HEADER, TINY)[1]),
        "it is corrupted (line 14 follows its trailer line)",
    ),
]


def nothing_in(store: GraphStore) -> dict[str, int]:
    return {name: n for name in TABLES if (n := store.count_rows(name))} | (
        {"marker": 1} if store.import_marker() else {}
    )


@pytest.mark.parametrize(("content", "reason"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_a_file_that_is_not_intact_is_refused_and_nothing_is_written(
    store: GraphStore, tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "backup.jsonl.gz"
    path.write_bytes(content)

    with pytest.raises(ImportRefusedError) as refused:
        import_file(store, path)

    assert str(refused.value) == f"cannot import {path}: {reason}; nothing was written"
    assert nothing_in(store) == {}


CORRUPTED = re.compile(
    r"(it is (corrupted|truncated|not an intact gzip file|not a catalog-graph export) \(|its header names |line \d+).*"
)
GZIP_HEADER_FIELDS = range(4, 10)
"""The bytes of a gzip header that are no part of the content (time, extra flags, OS): a file whose bytes there
differ holds the same lines."""


def test_a_bit_flipped_anywhere_in_the_file_is_refused(store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "backup.jsonl.gz"
    for offset in [o for o in range(0, len(GOOD), 3) if o not in GZIP_HEADER_FIELDS]:
        path.write_bytes(flipped(GOOD, offset))
        with pytest.raises(ImportRefusedError) as refused:
            import_file(store, path)
        reason = str(refused.value).removeprefix(f"cannot import {path}: ").removesuffix("; nothing was written")
        assert CORRUPTED.fullmatch(reason), (offset, reason)
    assert nothing_in(store) == {}


def test_the_good_file_of_those_refusals_imports(store: GraphStore, tmp_path: Path) -> None:
    (tmp_path / "backup.jsonl.gz").write_bytes(GOOD)
    summary = import_file(store, tmp_path / "backup.jsonl.gz")
    assert (summary.tables, summary.sha256, summary.catalog_as_of) == (TINY_COUNTS, SHA_GOOD, HEADER["catalog_as_of"])
    assert nothing_in(store) == TINY_COUNTS


def test_a_store_that_is_not_empty_is_refused_and_kept_as_it_was(store: GraphStore, tmp_path: Path) -> None:
    (tmp_path / "backup.jsonl.gz").write_bytes(GOOD)
    import_file(store, tmp_path / "backup.jsonl.gz")
    before = table_rows(store)

    with pytest.raises(ImportRefusedError) as refused:
        import_file(store, tmp_path / "backup.jsonl.gz", store_name="the store S")

    assert str(refused.value) == (
        f"cannot import {tmp_path / 'backup.jsonl.gz'}: the store S is not empty (it holds 1 sync run, 1 registered "
        "location, 1 source file, 2 entities, 1 version, 1 edge, 1 change batch, 2 change events, 1 sync error); "
        "a file is imported into an empty store only: name a new --store DIR, or an empty Neo4j database; "
        "nothing was written"
    )
    assert table_rows(store) == before


# --- stopped and killed imports ----------------------------------------------------------------------------


class Stop(Exception):
    """What stops an import in the middle here (as Ctrl-C, a lost connection or a full disk would)."""


AFTER_A_STOP = {"sqlite": "nothing: the import is one transaction", "neo4j": "a partial import: each slice commits"}


def test_a_stopped_import_leaves_nothing_or_a_store_that_says_it_is_partial(
    store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "backup.jsonl.gz"
    path.write_bytes(GOOD)
    monkeypatch.setattr("graphsvc.portable.SLICE_ROWS", 2)

    def stop_halfway(done: int, total: int, doing: str) -> None:
        if doing == "importing" and done >= 6:
            raise Stop

    store = open_store(store_settings)
    with pytest.raises(Stop):
        import_file(store, path, stop_halfway)
    store.close()

    if AFTER_A_STOP[store_settings.backend].startswith("nothing"):
        store = open_store(store_settings)
        assert nothing_in(store) == {}
        store.close()
    else:
        with pytest.raises(PartialImportError) as partial:
            open_store(store_settings)
        message = str(partial.value)
        assert message.startswith(f"this store holds a partial import of {path} (begun ")
        assert message.endswith(
            f"sha256 {SHA_GOOD[:12]}...), not a catalog; run `catalog import {path}` again to finish it"
        )
        store = open_store(store_settings, partial_import=True)
        assert 0 < sum(nothing_in(store).values()) < sum(TINY_COUNTS.values())
        other = tmp_path / "other.jsonl.gz"
        other.write_bytes(gzipped(sealed(lines_of(HEADER, edited("entities", lambda row: row | {"title": "T"})))))
        with pytest.raises(ImportRefusedError, match=f"holds a partial import of another file, {path}: import"):
            import_file(store, other)
        store.close()

    load(store_settings, path)  # again: it completes
    store = open_store(store_settings)
    try:
        assert nothing_in(store) == TINY_COUNTS
        assert store.check() == []
    finally:
        store.close()
    assert gzip.decompress(export(store_settings, tmp_path / "again.jsonl.gz")) == gzip.decompress(GOOD)


# --- the command line --------------------------------------------------------------------------------------


def environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CATALOG_", "NEO4J_"))} | SUITE_ENV
    env["CATALOG_STORE"] = str(settings.store_dir)
    if settings.backend == "neo4j":
        env |= {
            "CATALOG_BACKEND": "neo4j",
            "NEO4J_URI": settings.neo4j_uri,
            "NEO4J_USER": settings.neo4j_user,
            "NEO4J_PASSWORD": settings.neo4j_password,
        }
    return env


def catalog(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CATALOG, *args], capture_output=True, text=True, env=environment(settings), cwd=REPO, timeout=300
    )


def describe(settings: Settings) -> str:
    return f"neo4j {settings.neo4j_uri}" if settings.backend == "neo4j" else str(settings.store_dir)


def test_catalog_export_and_import_on_the_command_line(
    store_settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "catalog-info.yaml").write_text(documents(component("web", "team-a"), group("team-a")))
    assert catalog(store_settings, "ingest", str(tmp_path / "catalog-info.yaml")).returncode == 0
    backup = tmp_path / "backup.jsonl.gz"

    exported = catalog(store_settings, "export", str(backup))
    assert exported.returncode == 0, exported.stderr
    holds = (
        "1 sync run, 1 registered location, 1 source file, 2 entities, 2 versions, 1 edge, 1 change batch, "
        "3 change events"
    )
    assert (
        exported.stdout
        == f"exported {describe(store_settings)} to {backup} ({backup.stat().st_size:,} bytes): {holds}\n"
    )
    refused = catalog(store_settings, "import", str(backup))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"catalog: cannot import {backup}: the store {describe(store_settings)} is not empty (it holds {holds}); "
        "a file is imported into an empty store only: name a new --store DIR, or an empty Neo4j database; "
        "nothing was written\n"
    )

    target = empty(store_settings, request, tmp_path / "target")
    imported = catalog(target, "import", str(backup))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == f"imported {backup} into {describe(target)}: {holds}; `catalog check` verifies it\n"
    checked = catalog(target, "check")
    assert checked.returncode == 0 and checked.stdout.endswith("(2 entities with versions, 2 versions)\n")
    owner = catalog(target, "query", '{ entity(ref: "component:web") { owner { ref } } }')
    assert json.loads(owner.stdout)["data"] == {"entity": {"owner": {"ref": "group:default/team-a"}}}
    assert catalog(target, "export", str(tmp_path / "again.jsonl.gz")).returncode == 0
    assert (tmp_path / "again.jsonl.gz").read_bytes() == backup.read_bytes()

    backup.write_bytes(backup.read_bytes()[:-100])
    truncated = catalog(empty(store_settings, request, tmp_path / "third"), "import", str(backup))
    assert (truncated.returncode, truncated.stderr) == (
        1,
        f"catalog: cannot import {backup}: it is truncated (its gzip stream ends before its end); "
        "nothing was written\n",
    )


@pytest.mark.neo4j
def test_the_way_from_the_embedded_store_to_neo4j(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    sqlite = fresh_store_settings("sqlite", request, tmp_path / "sqlite")
    (tmp_path / "catalog-info.yaml").write_text(documents(component("web", "team-a"), group("team-a")))
    assert catalog(sqlite, "ingest", str(tmp_path / "catalog-info.yaml")).returncode == 0
    assert catalog(sqlite, "export", str(tmp_path / "backup.jsonl.gz")).returncode == 0

    neo4j = fresh_store_settings("neo4j", request, tmp_path / "neo4j")
    assert catalog(neo4j, "import", str(tmp_path / "backup.jsonl.gz")).returncode == 0
    assert catalog(neo4j, "check").returncode == 0
    query = '{ entity(ref: "group:team-a") { relations { type targetRef } } }'
    assert catalog(neo4j, "query", query).stdout == catalog(sqlite, "query", query).stdout
    assert catalog(neo4j, "export", str(tmp_path / "again.jsonl.gz")).returncode == 0
    assert (tmp_path / "again.jsonl.gz").read_bytes() == (tmp_path / "backup.jsonl.gz").read_bytes()


@pytest.fixture(scope="session")
def large_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The export of a 5,000-entity catalog from bench/generate_catalog.py, synced twice (the second time
    with 5% of it changed): 59k rows, 2.4 MB, about 2 s of import into SQLite and 5 s into Neo4j."""
    workdir = tmp_path_factory.mktemp("large")
    generate(5000, workdir / "catalog")
    settings = suite_settings(store_dir=workdir / "store")
    service = CatalogService(open_store(settings), settings)
    try:
        service.write_now(lambda: service.register(str(workdir / "catalog" / "catalog-info.yaml")))
        mutate(workdir / "catalog", 0.05, seed=2)
        service.write_now(lambda: service.refresh(str(workdir / "catalog" / "catalog-info.yaml")))
    finally:
        service.close()
    export(settings, workdir / "large.jsonl.gz")
    return workdir / "large.jsonl.gz"


@contextmanager
def writing(settings: Settings) -> Iterator[Callable[[], bool]]:
    """Whether the import is in the middle of writing, as another process can tell.

    SQLite: its one write transaction is open (a probe cannot begin one, three times running; the import's
    is the only long one). Neo4j: its marker and some versions have committed."""
    if settings.backend == "sqlite":
        path = Path(settings.store_dir) / DATABASE_FILE
        running = [0]

        def locked() -> bool:
            if not path.exists() or path.stat().st_size == 0:
                return False
            with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as db:
                try:
                    db.execute("BEGIN IMMEDIATE")
                    db.execute("ROLLBACK")
                    running[0] = 0
                except sqlite3.OperationalError:  # database is locked
                    running[0] += 1
            return running[0] >= 3

        yield locked
        return
    import neo4j

    with neo4j.GraphDatabase.driver(settings.neo4j_uri, auth=(settings.neo4j_user, settings.neo4j_password)) as driver:

        def committed() -> bool:
            with driver.session() as session:
                marker = session.run("MATCH (m:ImportMarker) RETURN count(m)").single()[0]
                versions = session.run("MATCH (v:EntityVersion) RETURN count(v)").single()[0]
            return bool(marker and versions)

        yield committed


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the import ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within 120 s")
        time.sleep(0.02)


def test_kill_9_during_an_import_leaves_a_store_that_a_rerun_completes(
    store_settings: Settings, large_file: Path, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [*CATALOG, "import", str(large_file)], env=environment(store_settings), cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with writing(store_settings) as in_the_middle:
            wait_until(in_the_middle, process, "it began writing")
        time.sleep(0.3)
        assert process.poll() is None, "the import finished before the kill: use a larger file"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)

    if store_settings.backend == "neo4j":  # slices had committed: every command says the store is partial
        partial = (
            f"catalog: this store holds a partial import of {large_file} (begun ",
            f"not a catalog; run `catalog import {large_file}` again to finish it\n",
        )
        (tmp_path / "catalog-info.yaml").write_text(documents(group("team-a")))
        for command in (
            ["check"],
            ["query", "{ syncRuns { id } }"],
            ["export", str(tmp_path / "out.jsonl.gz")],
            ["ingest", str(tmp_path / "catalog-info.yaml")],
            ["serve", "--port", "0"],
        ):
            said = catalog(store_settings, *command)
            assert said.returncode == 2 and said.stderr.startswith(partial[0]), (command, said.stderr)
            assert said.stderr.endswith(partial[1]), (command, said.stderr)
        assert not (tmp_path / "out.jsonl.gz").exists()
    else:  # the import was one transaction: nothing of it is left, and the store opens
        checked = catalog(store_settings, "check")
        assert checked.returncode == 0 and checked.stdout.endswith("(0 entities with versions, 0 versions)\n")

    rerun = catalog(store_settings, "import", str(large_file))
    assert rerun.returncode == 0, rerun.stderr
    assert catalog(store_settings, "check").returncode == 0
    assert catalog(store_settings, "export", str(tmp_path / "again.jsonl.gz")).returncode == 0
    assert (tmp_path / "again.jsonl.gz").read_bytes() == large_file.read_bytes()
