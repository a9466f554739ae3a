"""Reference stores: what clean, uninterrupted ingests of the two catalog versions leave.

All three are made with the real command (`catalog ingest ROOT --store DIR`) from one catalog directory
(`root`), which holds version B afterwards:

- `store_a`: A ingested into a new store;
- `store_ab`: a copy of `store_a`, then B ingested (the state a sync of B over A must reach); its wall time
  is the duration the crash trials draw their kill delays from;
- `store_abb`: a copy of `store_ab`, then B ingested again (a no-op for entities; it records the invalid
  document's error once more, because a file that failed is read again on every sync).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from graphsvc.store import GraphStore
from tests.torture.catalogs import CatalogVersions, build_versions, catalog_root, install
from tests.torture.processes import ingest
from tests.torture.states import State, full_state, open_dir, present_state, sync_runs

DEFAULT_SEED = 20261121
"""The seed of every random choice when `TORTURE_SEED` (or `run_torture.py --seed`) gives none."""


@dataclass(frozen=True)
class References:
    versions: CatalogVersions
    root: Path
    store_a: Path
    store_ab: Path
    store_abb: Path
    state_a: State
    state_ab: State
    state_abb: State
    present: dict[str, State]
    """"A" / "B" -> the present state of a store whose last sync read that version."""
    runs_a: frozenset[str]
    """The sync run ids in `store_a`: a trial's new runs are the others."""
    status_b: str
    """The status B's sync ends with (`completed_with_errors`: B holds one invalid entity)."""
    ingest_a_s: float
    ingest_b_s: float


@contextmanager
def reference_stores(refs: References) -> Iterator[dict[str, GraphStore]]:
    """The clean stores of A and of B (over A), open for reading, by version name."""
    stores = {"A": open_dir(refs.store_a), "B": open_dir(refs.store_ab)}
    try:
        yield stores
    finally:
        for store in stores.values():
            store.close()


def copy_store(source: Path, target: Path) -> None:
    """A copy of a store directory no process holds (its database file, and the WAL if one was left)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)


def build_references(workdir: Path, entities: int, seed: int) -> References:
    versions = build_versions(workdir / "versions", entities, seed)
    root = catalog_root(workdir / "catalog")
    install(versions.a, root)
    store_a, store_ab, store_abb = workdir / "store-a", workdir / "store-ab", workdir / "store-abb"
    ingest_a = ingest(root, store_a)
    copy_store(store_a, store_ab)
    install(versions.b, root)
    ingest_b = ingest(root, store_ab)
    copy_store(store_ab, store_abb)
    ingest(root, store_abb)

    states, presents, runs = {}, {}, {}
    for name, path in (("a", store_a), ("ab", store_ab), ("abb", store_abb)):
        store = open_dir(path)
        try:
            violations = store.check()
            assert not violations, f"a clean ingest left a store whose invariants fail: {violations}"
            states[name], presents[name], runs[name] = (
                full_state(store, root),
                present_state(store, root),
                sync_runs(store),
            )
        finally:
            store.close()
    assert states["a"] != states["ab"], "versions A and B must leave different states"
    (b_run,) = runs["ab"].keys() - runs["a"].keys()
    return References(
        versions=versions,
        root=root,
        store_a=store_a,
        store_ab=store_ab,
        store_abb=store_abb,
        state_a=states["a"],
        state_ab=states["ab"],
        state_abb=states["abb"],
        present={"A": presents["a"], "B": presents["ab"]},
        runs_a=frozenset(runs["a"]),
        status_b=runs["ab"][b_run]["status"],
        ingest_a_s=ingest_a,
        ingest_b_s=ingest_b,
    )
