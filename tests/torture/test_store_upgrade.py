"""A store written by the previous version of the code, synced by this one.

Found by the long mode (`bench/run_torture.py`): its reference stores were written before commit 43d52a3
("tag rows written with their entity or version rows") landed in the checkout, and from then on every
ingest of B into a copy of them failed. Commit 43d52a3 stopped creating the insert triggers that fill
`entity_tag` / `version_tag` and writes the tag rows itself, but a store created earlier still has the
triggers, and `SCHEMA_VERSION` stayed 4, so the store is accepted and each tag row is then written twice.

The store here is made by this code, then given the trigger the earlier schema created (its DDL as of commit
c0fab63), which is exactly what a store written by that version holds.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from graphsvc.store.sqlite_backend import DATABASE_FILE
from tests.torture.catalogs import catalog_root, install
from tests.torture.processes import check_here, ingest
from tests.torture.references import References

EARLIER_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS version_tag_insert AFTER INSERT ON entity_version WHEN new.tags IS NOT NULL "
    "BEGIN INSERT INTO version_tag(tag, key) SELECT DISTINCT value, new.id FROM json_each(new.tags); END"
)
"""What `schema_statements()` created for `entity_version` up to commit c0fab63 (graphsvc/store/sql.py)."""


def test_a_store_written_by_the_previous_schema_syncs_or_is_refused_clearly(
    references: References, tmp_path: Path
) -> None:
    root = catalog_root(tmp_path / "catalog")
    install(references.versions.a, root)
    store = tmp_path / "store"
    ingest(root, store)
    with contextlib.closing(sqlite3.connect(store / DATABASE_FILE)) as db:
        db.execute(EARLIER_TRIGGER)
        db.commit()
    assert check_here(store).returncode == 0  # nothing `catalog check` looks at is wrong with it
    install(references.versions.b, root)
    try:
        ingest(root, store)  # syncs: the fix that migrates the store
    except AssertionError as error:  # or refuses the store, naming its schema version: the fix that bumps it
        assert "schema version" in str(error), f"the ingest of B neither syncs nor refuses the store:\n{error}"
