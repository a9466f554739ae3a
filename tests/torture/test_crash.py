"""`kill -9` of a real `catalog ingest` at random moments: the store holds A's state or B's, never a mix.

The store starts as a copy of the clean A store; `catalog ingest` of version B is killed after a delay drawn
between 0 and the wall time of an uninterrupted ingest of B, measured just before (one draw per slice of
that time, see `crash.kill_delays`). What each trial asserts is listed in `tests/torture/crash.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.torture.crash import crash_trials
from tests.torture.engines import Engine
from tests.torture.references import References

KILLS = int(os.environ.get("TORTURE_KILLS", 20))
NEO4J_KILLS = int(os.environ.get("TORTURE_NEO4J_KILLS", 8))
"""Fewer on Neo4j: each of its trials ingests A first (a shared database cannot be copied)."""


def test_a_killed_ingest_leaves_the_state_before_or_after_its_sync_and_a_rerun_completes_it(
    references: References,
    tmp_path: Path,
    torture_seed: int,
    torture_report: Callable[[str], None],
    torture_engine: Engine,
) -> None:
    kills = NEO4J_KILLS if torture_engine.shared else KILLS
    summary = crash_trials(references, tmp_path, kills, torture_seed, engine=torture_engine)
    torture_report(summary.line())
    assert not summary.failed, f"TORTURE_SEED={torture_seed}: {summary.line()}\n{summary.failures()}"
    assert summary.before + summary.after == summary.tried == kills
