"""Reader threads in the service's own process ask the store while syncs commit.

The store holds A; `CatalogService` then syncs B, A, B, ... (the catalog directory's files swapped between
the versions), while the readers call `GraphStore.entity`, `relations`, `find_entities`, `count_entities`
and ask one whole request inside `store.snapshot()`. Every answer must be A's or B's (as read from the clean
reference stores); at the end `check()` finds nothing and the present is the last version synced.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.torture.concurrency import readers_in_process
from tests.torture.engines import Engine
from tests.torture.references import References

READERS = int(os.environ.get("TORTURE_READERS", 4))
SYNCS = int(os.environ.get("TORTURE_SYNCS", 6))


def test_readers_in_process_see_each_sync_whole_or_not_at_all(
    references: References,
    store_expectations: dict,
    tmp_path: Path,
    torture_seed: int,
    torture_report: Callable[[str], None],
    torture_engine: Engine,
) -> None:
    run = readers_in_process(
        references, store_expectations, tmp_path, readers=READERS, syncs=SYNCS, engine=torture_engine
    )
    torture_report(run.line())
    assert not run.problems, f"TORTURE_SEED={torture_seed}\n{run.report()}"
