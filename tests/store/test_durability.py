"""Durability and consistency: a sync is one snapshot, a request reads one snapshot, interrupted work is
recovered, and `check` finds what is wrong.

Runs on both engines (the `store` and `store_settings` fixtures), except the tests that reopen an embedded
store directory or corrupt its file, and the Neo4j-only ones about services sharing one database.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from graphsvc.config import Settings
from graphsvc.store import GraphStore, StoreError, open_store
from graphsvc.store.cypher import EntityFilter
from graphsvc.store.sqlite_backend import DATABASE_FILE
from graphsvc.sync import sync_source
from tests.conftest import wipe_neo4j
from tests.store.catalog_builder import component, entity, group, source
from tests.suite_settings import suite_settings

A = "file:/catalog/a.yaml"
T0, T1, T2 = 1_000_000, 2_000_000, 3_000_000


def web(owner: str, description: str) -> dict:
    spec = {"type": "service", "lifecycle": "production", "owner": owner}
    return entity("Component", "web", spec, description=description)


BEFORE = source((A, [group("team-a"), group("team-b"), web("team-a", "v1"), component("old")]))
AFTER = source((A, [group("team-a"), group("team-b"), web("team-b", "v2")]))


def state(store: GraphStore) -> tuple[str | None, list[tuple[str, str]], bool]:
    """What a reader sees of the change between BEFORE and AFTER: web's description, web's relations, and
    whether `old` is there."""
    web = store.entity("component:default/web")
    rows = [(r.type, r.target) for r in store.relations(["component:default/web"])["component:default/web"]]
    return (web.description if web else None, rows, store.entity("component:default/old") is not None)


SEEN_BEFORE = ("v1", [("ownedBy", "group:default/team-a")], True)
SEEN_AFTER = ("v2", [("ownedBy", "group:default/team-b")], False)


def test_a_snapshot_keeps_reading_the_state_it_began_with_or_says_it_was_disturbed(store: GraphStore) -> None:
    """SQLite: a snapshot is a read transaction, and reads the state it began with to its end. Neo4j's read
    transactions are read-committed: a snapshot sees a commit that lands meanwhile, and says so (`disturbed`),
    so that its reader reads again (`in_one_state`)."""
    sync_source(store, BEFORE, source="s1", at=T0)
    with store.snapshot() as snapshot:
        assert state(snapshot) == SEEN_BEFORE and not snapshot.disturbed()
        sync_source(store, AFTER, source="s1", at=T1)
        if store.backend.name == "sqlite":
            assert state(snapshot) == SEEN_BEFORE  # the sync committed meanwhile: this reader still sees before
            assert not snapshot.disturbed()
        else:
            assert snapshot.disturbed()
        assert state(store) == SEEN_AFTER
    with store.snapshot() as snapshot:
        assert state(snapshot) == SEEN_AFTER and not snapshot.disturbed()
    assert store.in_one_state(state) == SEEN_AFTER


def test_readers_see_a_sync_whole_or_not_at_all(store: GraphStore) -> None:
    """A reader thread polls while the sync runs; every answer is the state before or after, never a mix."""
    sync_source(store, BEFORE, source="s1", at=T0)
    seen: set[tuple] = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            description, rows, old = store.in_one_state(state)
            seen.add((description, tuple(rows), old))

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for at in range(T1, T1 + 20):
            sync_source(store, AFTER if at % 2 else BEFORE, source="s1", at=at)
    finally:
        stop.set()
        reader.join()
    allowed = {(d, tuple(r), o) for d, r, o in (SEEN_BEFORE, SEEN_AFTER)}
    assert seen and seen <= allowed, seen - allowed
    assert store.check() == []


def test_a_sync_that_fails_halfway_leaves_nothing_of_itself(store: GraphStore) -> None:
    sync_source(store, BEFORE, source="s1", at=T0)
    before = {name: store.rows(name) for name in ("entities", "versions", "edges", "change_events")}

    def fail(done: int, total: int, phase: str) -> None:
        if phase == "writing" and done:
            raise RuntimeError("the process dies after the first batch")

    with pytest.raises(RuntimeError, match="dies"):
        sync_source(store, AFTER, source="s1", at=T1, progress=fail)
    assert {name: store.rows(name) for name in before} == before
    assert state(store) == SEEN_BEFORE
    (run,) = [r for r in store.sync_runs() if r.started_at == T1]
    assert run.status == "failed"
    assert store.check() == []


def embedded(tmp_path: Path) -> Settings:
    return suite_settings(store_dir=tmp_path / "store")


def test_a_sync_left_running_by_a_dead_process_is_marked_interrupted_on_open(store_settings: Settings) -> None:
    store = open_store(store_settings)
    sync_source(store, BEFORE, source="s1", at=T0)
    store.start_sync_run("dead-run", "s1", T1, None)  # its process is killed before the sync commits
    store.close()
    store = open_store(store_settings)
    try:
        runs = {r.id: r for r in store.sync_runs()}
        assert runs["dead-run"].status == "interrupted" and runs["dead-run"].finished_at is not None
        assert state(store) == SEEN_BEFORE
        assert store.check() == []
    finally:
        store.close()


@pytest.mark.neo4j
def test_on_a_shared_neo4j_a_sync_still_writing_elsewhere_is_not_taken_for_interrupted(
    neo4j_settings: Settings,
) -> None:
    """Another service's sync is `running` while its transaction is open: opening the store meanwhile must
    leave it running, and still mark the dead one."""
    wipe_neo4j(neo4j_settings)
    settings = neo4j_settings
    writer = open_store(settings)
    writer.start_sync_run("dead-run", "s1", T0, None)
    writer.start_sync_run("live-run", "s2", T1, None)
    opened, release = threading.Event(), threading.Event()

    def other_service() -> None:
        with writer.transaction(label="live-run"):
            opened.set()
            release.wait(30)

    thread = threading.Thread(target=other_service)
    thread.start()
    try:
        assert opened.wait(10)
        second = open_store(settings)
        statuses = {r.id: r.status for r in second.sync_runs()}
        second.close()
    finally:
        release.set()
        thread.join()
        writer.close()
    assert statuses == {"dead-run": "interrupted", "live-run": "running"}


def test_a_replay_resumes_after_the_last_commit_that_committed(store_settings: Settings) -> None:
    """A run record with a commit whose sync never committed must not count as replayed."""
    store = open_store(store_settings)
    sync_source(store, replace(BEFORE, commit_sha="c1"), source="repo", at=T0)
    store.start_sync_run("killed-replay", "repo", T1, "c2")  # the next commit's sync: killed before it commits
    store.close()
    store = open_store(store_settings)
    try:
        assert store.latest_commit("repo") == ("c1", T0)
    finally:
        store.close()


def test_a_second_process_cannot_open_a_held_store(tmp_path: Path) -> None:
    store = open_store(embedded(tmp_path))
    try:
        with pytest.raises(StoreError, match="in use by"):
            open_store(embedded(tmp_path))
    finally:
        store.close()


def test_a_ladybug_store_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "catalog.lbdb").write_bytes(b"\x00" * 64)
    with pytest.raises(StoreError, match="written by LadybugDB.*Ingest your sources again"):
        open_store(embedded(tmp_path))


# --- check: each invariant, broken on purpose --------------------------------------------------------------

CORRUPTIONS = {
    "each present entity has exactly one open version": [
        "UPDATE entity_version SET valid_to = NULL WHERE ref = 'component:default/web'"
    ],
    "no entity that is not present has an open version": [
        "UPDATE entity_version SET valid_to = NULL WHERE ref = 'component:default/old'"
    ],
    "a present entity's columns are those of its open version": [
        "UPDATE entity SET owner = 'group:default/nobody' WHERE ref = 'component:default/web'"
    ],
    "no two open edges have the same source, type, target and origin": [
        "INSERT INTO edge(type, src, dst, origin, valid_from) SELECT type, src, dst, origin, valid_from FROM edge "
        "WHERE valid_to IS NULL LIMIT 1"
    ],
    "an open edge's origin is a present entity": [
        "UPDATE edge SET valid_to = NULL WHERE origin = 'component:default/old'"
    ],
    "every change event points at existing versions": [
        "PRAGMA foreign_keys = OFF",
        "UPDATE change_event SET version = 'component:default/web@42' WHERE version IS NOT NULL",
    ],
    "every foreign key points at an existing row": [
        "PRAGMA foreign_keys = OFF",
        "INSERT INTO entity_version(id, ref, kind, valid_from) "
        "VALUES ('ghost@1', 'component:default/ghost', 'component', 1)",
    ],
    "an entity's versions follow one another without overlapping, and only the last is open": [
        "UPDATE entity_version SET valid_to = valid_to + 10 WHERE ref = 'component:default/web' "
        "AND valid_to IS NOT NULL"
    ],
    "an entity's version starts list the starts of its versions": [
        "UPDATE entity SET version_starts = '[1]' WHERE ref = 'component:default/web'"
    ],
    "each change batch holds as many events as its size says": ["UPDATE change_batch SET size = size + 1"],
    "the version counts add up to the open versions of each kind and type": [
        "UPDATE version_count SET delta = delta + 1 WHERE kind = 'component'"
    ],
}


@pytest.mark.parametrize("rule", sorted(CORRUPTIONS))
def test_check_finds_each_broken_invariant(tmp_path: Path, rule: str) -> None:
    store = open_store(embedded(tmp_path))
    sync_source(store, BEFORE, source="s1", at=T0)
    sync_source(store, AFTER, source="s1", at=T1)
    assert store.check() == []
    store.close()
    with sqlite3.connect(tmp_path / "store" / DATABASE_FILE, isolation_level=None) as raw:
        for statement in CORRUPTIONS[rule]:
            raw.execute(statement)
    store = open_store(embedded(tmp_path))
    try:
        assert rule in [v.rule for v in store.check()]
    finally:
        store.close()


def test_every_invariant_has_a_corruption_that_breaks_it(tmp_path: Path) -> None:
    store = open_store(embedded(tmp_path))
    try:
        rules = {rule for rule, _ in store.statements.invariants}
    finally:
        store.close()
    assert rules - set(CORRUPTIONS) == {"the database file is intact"}  # torn pages: the crash torture's part


def test_filters_read_one_snapshot_too(store: GraphStore) -> None:
    sync_source(store, BEFORE, source="s1", at=T0)
    with store.snapshot() as snapshot:
        sync_source(store, AFTER, source="s1", at=T2)
        if store.backend.name == "sqlite":
            assert snapshot.count_entities(EntityFilter(kind="component")) == 2
            page = snapshot.find_entities(EntityFilter(kind="component"), first=10, after=None)
            assert [e.ref for e in page] == ["component:default/old", "component:default/web"]
        else:  # read-committed (see the first test): the filters see the commit, and the snapshot says so
            assert snapshot.count_entities(EntityFilter(kind="component")) == 1
            assert snapshot.disturbed()
    assert store.count_entities(EntityFilter(kind="component")) == 1


@pytest.mark.neo4j
def test_on_neo4j_a_sync_aborted_by_a_deadlock_is_run_again_whole(neo4j_settings: Settings) -> None:
    """A transient abort is real on Neo4j: here a deadlock. Another client holds the sync's run record and
    waits for the writer lock the sync holds; the sync then needs its run record: Neo4j aborts one of the
    two, the one holding fewer locks (the other client holds 2,000 more), and the sync runs again, whole,
    once the other client is gone."""
    wipe_neo4j(neo4j_settings)
    store = open_store(neo4j_settings)
    other = store.backend._driver  # a client of its own: plain Cypher, not the store
    try:
        sync_source(store, BEFORE, source="s1", at=T0)
        with other.session(database=neo4j_settings.neo4j_database) as session:
            session.run("UNWIND range(1, 2000) AS i CREATE (:Scratch {i: i})").consume()
        paused, resume = threading.Event(), threading.Event()

        def pause_once(done: int, total: int, phase: str) -> None:  # after a write: it holds the writer lock
            if phase == "writing" and done and not paused.is_set():
                paused.set()
                assert resume.wait(30)

        result: list = []
        sync = threading.Thread(
            target=lambda: result.append(sync_source(store, AFTER, source="s1", at=T1, progress=pause_once))
        )
        sync.start()
        assert paused.wait(30)
        with other.session(database=neo4j_settings.neo4j_database) as session:
            tx = session.begin_transaction()
            tx.run("MATCH (s:SyncRun {status: 'running'}) SET s.touched = true").consume()
            tx.run("MATCH (n:Scratch) SET n.touched = true").consume()
            waiting = threading.Thread(
                target=lambda: _swallow(
                    lambda: tx.run("MATCH (w:StoreMeta {id: 'writer'}) SET w.held_by = 'x'").consume()
                )
            )
            waiting.start()
            _wait_until_blocked(other, neo4j_settings)
            resume.set()  # the sync goes on to finish its run record: a cycle
            waiting.join(30)
            _swallow(tx.rollback)
        sync.join(60)
        (summary,) = result
        assert len(summary.retries) == 1 and "deadlock" in summary.retries[0].lower()
        assert state(store) == SEEN_AFTER
        assert [r.status for r in store.sync_runs()] == ["completed", "completed"]
        assert store.check() == []
    finally:
        store.close()


def _swallow(action: object) -> None:
    try:
        action()  # type: ignore[operator]
    except Exception:  # the other client's transaction may be the one Neo4j aborts, or be gone
        pass


def _wait_until_blocked(driver: object, settings: Settings) -> None:
    import time

    for _ in range(200):
        with driver.session(database=settings.neo4j_database) as session:  # type: ignore[attr-defined]
            statuses = [r[0] for r in session.run("SHOW TRANSACTIONS YIELD status RETURN status")]
        if any(status.startswith("Blocked") for status in statuses):
            return
        time.sleep(0.05)
    raise AssertionError("the other client never waited for the writer lock")


def test_a_sync_overtaken_by_a_later_sync_of_its_source_is_refused_whole(store: GraphStore) -> None:
    """Two services syncing one source: the one that began first may commit second (it waited for the writer
    lock). Its versions would then begin before the versions they close, so it is refused, whole; a sync of
    another source may still be dated earlier."""
    sync_source(store, BEFORE, source="s1", at=T2)
    with pytest.raises(StoreError, match="began after this one and committed first"):
        sync_source(store, AFTER, source="s1", at=T1)
    assert state(store) == SEEN_BEFORE
    assert {r.started_at: r.status for r in store.sync_runs()} == {T2: "completed", T1: "failed"}
    sync_source(store, source(("file:/catalog/b.yaml", [group("team-c")])), source="s2", at=T0)
    assert store.check() == []
