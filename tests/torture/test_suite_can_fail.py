"""The torture checks themselves: they pass on equal states and fail on broken ones.

A green torture run means something only if its comparisons are neither vacuous nor blind: two stores that
differ only in their instants and run ids must compare equal, while a store with one row deleted or changed
behind the sync's back, and a sync that commits in pieces (killed in the middle, or read in the middle),
must be caught. The broken stores are made with `sqlite3` directly on copies of the reference stores; the
broken syncs by taking the sync's transaction away (in a subprocess, or on one store object).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from graphsvc.store import GraphStore
from graphsvc.store.sqlite_backend import DATABASE_FILE
from tests.torture.concurrency import readers_in_process
from tests.torture.crash import NEITHER, SPLIT_SYNC_INGEST, run_trial
from tests.torture.engines import Engine
from tests.torture.processes import check_here
from tests.torture.readers import classify
from tests.torture.references import References, copy_store
from tests.torture.states import full_state, open_dir, present_state

HOUR_US = 3_600_000_000


def corrupted_copy(references: References, workdir: Path, *statements: str) -> Path:
    """A copy of the clean B store with `statements` run on it by `sqlite3` itself (no foreign keys)."""
    store = workdir / "corrupted"
    copy_store(references.store_ab, store)
    with contextlib.closing(sqlite3.connect(store / DATABASE_FILE)) as db:
        for statement in statements:
            db.execute(statement)
        db.commit()
    return store


def states_of(store_dir: Path, root: Path) -> tuple:
    store = open_dir(store_dir)
    try:
        return full_state(store, root), present_state(store, root)
    finally:
        store.close()


def test_a_store_whose_instants_and_run_ids_all_differ_compares_equal(references: References, tmp_path: Path) -> None:
    """The normalization is what makes two runs comparable: shift every instant by an hour and rename every
    run, and the state is still B's; the raw rows are not."""
    renames = []
    with contextlib.closing(sqlite3.connect(references.store_ab / DATABASE_FILE)) as db:
        runs = [run for (run,) in db.execute("SELECT id FROM sync_run")]
    text_columns = {
        "entity_version": ("sync_run", "closed_sync_run"),
        "edge": ("sync_run", "closed_sync_run"),
        "change_event": ("id", "batch", "sync_run"),
        "change_batch": ("id", "sync_run"),
        "sync_error": ("id", "sync_run"),
        "sync_run": ("id",),
    }
    for run in runs:
        new = run[::-1]
        for table, columns in text_columns.items():
            sets = ", ".join(f"{c} = replace({c}, '{run}', '{new}')" for c in columns)
            renames.append(f"UPDATE {table} SET {sets}")
    shift = [
        f"UPDATE {table} SET {column} = {column} + {HOUR_US} WHERE {column} IS NOT NULL"
        for table, columns in {
            "entity": ("created_at", "updated_at"),
            "entity_version": ("valid_from", "valid_to"),
            "edge": ("valid_from", "valid_to"),
            "change_event": ("at",),
            "change_batch": ("at",),
            "sync_error": ("at",),
            "sync_run": ("started_at", "finished_at"),
        }.items()
        for column in columns
    ]
    rekey = "ref || '@' || (CAST(substr({c}, instr({c}, '@') + 1) AS INTEGER) + " + str(HOUR_US) + ")"
    shift += [
        f"UPDATE entity_version SET id = {rekey.format(c='id')}",
        f"UPDATE change_event SET version = {rekey.format(c='version').replace('ref', 'entity_ref')} "
        "WHERE version IS NOT NULL",
        f"UPDATE change_event SET previous = {rekey.format(c='previous').replace('ref', 'entity_ref')} "
        "WHERE previous IS NOT NULL",
        f"UPDATE entity SET version_starts = (SELECT json_group_array(value + {HOUR_US}) "
        "FROM json_each(entity.version_starts)) WHERE version_starts IS NOT NULL",
    ]
    store = corrupted_copy(references, tmp_path, *renames, *shift)
    full, present = states_of(store, references.root)
    assert full == references.state_ab, "\n".join(full.diff(references.state_ab))
    assert present == references.present["B"]
    shifted, clean = open_dir(store), open_dir(references.store_ab)
    try:
        assert shifted.rows("versions") != clean.rows("versions")  # the raw rows differ: the ranks made them equal
        assert shifted.check() == []
    finally:
        shifted.close()
        clean.close()


def test_one_deleted_version_row_is_caught_by_the_comparison_and_by_check(
    references: References, tmp_path: Path
) -> None:
    pivot = references.versions.probes.pivot
    store = corrupted_copy(
        references, tmp_path, f"DELETE FROM entity_version WHERE ref = '{pivot}' AND valid_to IS NULL"
    )
    full, present = states_of(store, references.root)
    assert full not in (references.state_a, references.state_ab)
    diff = full.diff(references.state_ab)
    assert [line.split(":")[0] for line in diff if not line.startswith(" ")] == ["versions"], diff
    assert "0 only here, 1 only there" in diff[0] and pivot in diff[1]
    assert present != references.present["B"]
    checked = check_here(store)
    assert checked.returncode == 1
    assert "FAILED each present entity has exactly one open version" in checked.stderr
    assert "FAILED every change event points at existing versions" in checked.stderr


def test_an_edge_closed_behind_the_syncs_back_passes_check_but_not_the_comparison(
    references: References, tmp_path: Path
) -> None:
    """`check` knows the invariants; the row comparison knows the whole expected state. (The edge is closed
    at B's own sync instant, so that no new instant shifts the ranks of the others.)"""
    pivot = references.versions.probes.pivot
    store = corrupted_copy(
        references,
        tmp_path,
        "UPDATE edge SET valid_to = (SELECT max(valid_from) FROM entity_version) "
        f"WHERE src = '{pivot}' AND type = 'DEPENDS_ON' "
        "AND valid_to IS NULL AND rowid = (SELECT min(rowid) FROM edge WHERE src = "
        f"'{pivot}' AND type = 'DEPENDS_ON' AND valid_to IS NULL)",
    )
    assert check_here(store).returncode == 0
    full, present = states_of(store, references.root)
    assert full != references.state_ab and present != references.present["B"]
    assert [line.split(":")[0] for line in full.diff(references.state_ab) if not line.startswith(" ")] == ["edges"]


def test_a_kill_in_the_middle_of_a_sync_that_commits_in_pieces_is_caught(
    references: References, tmp_path: Path
) -> None:
    """The crash trial against a broken `catalog`: its sync commits its versions, then is killed before its
    removals, errors and digests. The trial finds a state that is neither A's nor B's."""
    trial = run_trial(references, 0, 0.0, tmp_path, command=SPLIT_SYNC_INGEST, ready=tmp_path / "ready")
    assert trial.killed
    assert trial.state == NEITHER
    assert trial.run_status == "interrupted"
    assert any("neither A's nor B's" in problem for problem in trial.problems)


def test_readers_of_a_sync_that_commits_in_pieces_are_caught(
    references: References, store_expectations: dict, tmp_path: Path, torture_engine: Engine
) -> None:
    """The in-process readers against a store whose syncs commit write by write (with a pause after each
    write, so the readers meet the halfway states): they report inconsistent answers."""

    def commit_each_write(store: GraphStore) -> None:
        store.transaction = lambda label=None: contextlib.nullcontext()  # type: ignore[method-assign]
        write = store.write

        def write_and_pause(operations: list) -> None:
            write(operations)
            time.sleep(0.2)

        store.write = write_and_pause  # type: ignore[method-assign]

    run = readers_in_process(
        references, store_expectations, tmp_path, readers=2, syncs=2, prepare=commit_each_write, engine=torture_engine
    )
    assert run.tally.inconsistent > 0, run.report()
    assert run.tally.seen["snapshot request"].get("neither"), run.report()


def test_a_response_mixing_two_states_is_neither(store_expectations: dict) -> None:
    expected = store_expectations["snapshot request"]
    assert expected["A"] != expected["B"]
    assert classify(expected["A"], expected) == "A" and classify(expected["B"], expected) == "B"
    mixed = (expected["B"][0], *expected["A"][1:])  # the pivot after the sync, everything else before
    assert classify(mixed, expected) == "neither"
