"""One crash trial: `kill -9` of a real `catalog ingest` of version B over a store holding A, then what the
store says.

After the kill, the store must open; `catalog check` must pass; its state must be A's (the sync did not
commit) or B's (it did), row by row (`states.full_state`); the killed run's record, if it was committed,
must read `interrupted` when the store was opened again (or be B's finished run, when the state is B's),
never `running`; and ingesting B again must reach B's state.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.torture.catalogs import catalog_root, install
from tests.torture.engines import SQLITE, Engine
from tests.torture.processes import CATALOG, check, check_here, ingest, kill, start_catalog
from tests.torture.references import References, copy_store
from tests.torture.states import State, full_state, sync_runs

BEFORE, AFTER, NEITHER = "before", "after", "neither"


@dataclass
class Trial:
    index: int
    delay_s: float
    killed: bool = False
    """False when the ingest had already exited when the kill came (it finished its sync)."""
    state: str = NEITHER
    run_status: str | None = None
    """The status of the killed ingest's run after reopening; None when its start was never committed."""
    check_exit: int | None = None
    rerun_state: str = NEITHER
    violations: int = 0
    """Invariants `catalog check` reported broken (after the kill, and after the re-run)."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def kill_delays(count: int, longest_s: float, seed: int) -> list[float]:
    """Kill moments drawn uniformly between 0 and the duration of an uninterrupted ingest, stratified: one
    in each of `count` equal slices of that duration (in random order), so that even 20 kills cover the
    whole ingest, its short sync included, instead of clustering by chance."""
    rng = random.Random(seed)
    width = longest_s / count
    delays = [rng.uniform(i * width, (i + 1) * width) for i in range(count)]
    rng.shuffle(delays)
    return delays


def run_trial(
    refs: References,
    index: int,
    delay_s: float,
    workdir: Path,
    *,
    keep: bool = False,
    command: Sequence[str] = CATALOG,
    ready: Path | None = None,
    engine: Engine = SQLITE,
) -> Trial:
    """Kill an ingest of B over a copy of the A store `delay_s` after its start (or, with `ready`, once
    that file exists: for an ingest `command` that signals its moment), then inspect the store."""
    trial = Trial(index, delay_s)
    store = workdir / f"kill-{index:04d}"
    at = _store_holding_a(refs, engine, store, workdir)
    started = time.perf_counter()
    env = engine.env() | ({READY_ENV: str(ready)} if ready else {})
    process = start_catalog("ingest", str(at.root), "--store", str(store), command=command, env=env)
    if ready is None:
        time.sleep(max(0.0, delay_s - (time.perf_counter() - started)))
    else:
        _wait_for(ready, process)
    trial.killed = kill(process)
    if not trial.killed and process.returncode != 0:
        trial.problems.append(f"the ingest exited {process.returncode} before it could be killed")

    state = _inspect(trial, at, refs, "after the kill")
    if state is None:
        return trial
    trial.state = _which(state, refs.state_a, refs.state_ab)
    if trial.state == NEITHER:
        trial.problems.append("the state after the kill is neither A's nor B's:")
        trial.problems += _nearest_diff(state, refs)
    if trial.state == BEFORE and not trial.killed:
        trial.problems.append("the ingest exited on its own, yet its sync is not in the store")

    try:
        ingest(at.root, store, engine.env())
    except AssertionError as error:
        trial.problems.append(f"the re-run failed: {error}")
        return trial
    state = _inspect(trial, at, refs, "after the re-run", rerun=True)
    if state is not None:
        expected = refs.state_ab if trial.state == BEFORE else refs.state_abb
        trial.rerun_state = AFTER if state == expected else NEITHER
        if trial.rerun_state == NEITHER:
            trial.problems.append("the re-run of B does not reach B's state:")
            trial.problems += [f"  {line}" for line in state.diff(expected)]
    if trial.ok and not keep:
        shutil.rmtree(store, ignore_errors=True)
    return trial


def _wait_for(ready: Path, process: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the ingest never signalled {ready}")
        time.sleep(0.005)


READY_ENV = "TORTURE_READY"
SPLIT_SYNC_INGEST = [
    sys.executable,
    "-c",
    """
import contextlib, os, pathlib, sys, time
from graphsvc.cli import main
from graphsvc.store.backend import Insert
from graphsvc.store.graph_store import GraphStore
from graphsvc.store.schema import ENTITY_VERSION

# A broken product, for the suite's own test: every write of a sync commits on its own (no transaction around
# the sync), and the process signals once the first batch of versions is committed, then waits to be killed.
GraphStore.transaction = lambda self, label=None: contextlib.nullcontext()
write = GraphStore.write
def write_and_signal(self, operations):
    write(self, operations)
    if any(isinstance(op, Insert) and op.table is ENTITY_VERSION and op.rows for op in operations):
        pathlib.Path(os.environ["TORTURE_READY"]).touch()
        time.sleep(600)
GraphStore.write = write_and_signal
sys.exit(main(sys.argv[1:]))
""",
]
"""`catalog` with the sync's transaction taken away: what the crash trials must catch."""


@dataclass(frozen=True)
class TrialStore:
    """Where a trial's store holding A is: its engine, its directory, the catalog directory it was read from
    (which holds B once the trial starts), and the sync runs it held before the trial."""

    engine: Engine
    store_dir: Path
    root: Path
    runs_before: frozenset[str]


def _store_holding_a(refs: References, engine: Engine, store: Path, workdir: Path) -> TrialStore:
    """A copy of the clean A store (SQLite); on a shared engine, where nothing can be copied, A ingested into
    the emptied database from a catalog directory of the trial's own, which then gets B's files."""
    if not engine.shared:
        copy_store(refs.store_a, store)
        return TrialStore(engine, store, refs.root, refs.runs_a)
    root = catalog_root(workdir / f"catalog-{engine.name}")
    install(refs.versions.a, root)
    engine.empty(store)
    ingest(root, store, engine.env())
    graph = engine.open(store)
    try:
        runs = frozenset(sync_runs(graph))
    finally:
        graph.close()
    install(refs.versions.b, root)
    return TrialStore(engine, store, root, runs)


def _inspect(trial: Trial, at: TrialStore, refs: References, when: str, rerun: bool = False) -> State | None:
    """Open the store, read its state and runs, close it, run `catalog check`; record what is wrong."""
    try:
        store = at.engine.open(at.store_dir)
    except Exception as error:
        trial.problems.append(f"the store does not open {when}: {type(error).__name__}: {error}")
        return None
    try:
        state = full_state(store, at.root)
        runs = sync_runs(store)
    finally:
        store.close()
    running = [run for run, row in runs.items() if row["status"] == "running"]
    if running:
        trial.problems.append(f"runs still `running` {when}, after the store was opened again: {running}")
    new = {run: row for run, row in runs.items() if run not in at.runs_before}
    if not rerun:
        if len(new) > 1:
            trial.problems.append(f"one ingest left {len(new)} runs: {sorted(new)}")
        trial.run_status = next(iter(new.values()))["status"] if new else None
        _check_run_status(trial, state, refs)
    # in this process where it can be (no interpreter start-up); the engine's settings come by environment
    checked = check(at.store_dir, at.engine.env()) if at.engine.shared else check_here(at.store_dir)
    trial.check_exit = checked.returncode
    if checked.returncode != 0:
        trial.violations += checked.stderr.count("FAILED ")
        trial.problems.append(f"catalog check {when} exited {checked.returncode}:\n{checked.stderr[-3000:]}")
    return state


def _check_run_status(trial: Trial, state: State, refs: References) -> None:
    """A committed sync has B's finished run; an uncommitted one has no run, or an `interrupted` one."""
    status = trial.run_status
    if state == refs.state_ab and status != refs.status_b:
        trial.problems.append(f"the state is B's but the killed ingest's run is {status!r}, not {refs.status_b!r}")
    if state == refs.state_a and status not in (None, "interrupted"):
        trial.problems.append(f"the state is A's but the killed ingest's run is {status!r}, not 'interrupted'")


def _which(state: State, before: State, after: State) -> str:
    if state == before:
        return BEFORE
    if state == after:
        return AFTER
    return NEITHER


def _nearest_diff(state: State, refs: References) -> list[str]:
    out = []
    for name, reference in (("A", refs.state_a), ("B", refs.state_ab)):
        out.append(f"  against {name}:")
        out += [f"    {line}" for line in state.diff(reference)]
    return out


def measure_ingest(refs: References, workdir: Path, times: int = 2, engine: Engine = SQLITE) -> float:
    """The wall time of an uninterrupted `catalog ingest` of B over A, measured now (the machine's load
    changes; the reference build's own measurement may be minutes old): the longest of `times` runs."""
    durations = []
    for n in range(times):
        store = workdir / f"measure-{n}"
        at = _store_holding_a(refs, engine, store, workdir)
        durations.append(ingest(at.root, store, engine.env()))
        engine.empty(store)
    return max(durations)


def crash_trials(
    refs: References,
    workdir: Path,
    kills: int,
    seed: int,
    progress: Callable[[Trial, CrashSummary], None] | None = None,
    engine: Engine = SQLITE,
) -> CrashSummary:
    """`kills` trials, their kill delays drawn from `seed` over the measured duration of an ingest of B."""
    summary = CrashSummary(ingest_s=measure_ingest(refs, workdir, engine=engine))
    for index, delay in enumerate(kill_delays(kills, summary.ingest_s, seed)):
        trial = run_trial(refs, index, delay, workdir, engine=engine)
        summary.add(trial)
        if progress:
            progress(trial, summary)
    return summary


@dataclass
class CrashSummary:
    ingest_s: float = 0.0
    """The duration the kill delays were drawn from."""
    tried: int = 0
    before: int = 0
    after: int = 0
    neither: int = 0
    interrupted_runs: int = 0
    """Trials killed after the run's start was committed and before its sync was."""
    finished_before_kill: int = 0
    violations: int = 0
    rerun_ok: int = 0
    failed: list[Trial] = field(default_factory=list)

    def add(self, trial: Trial) -> None:
        self.tried += 1
        self.before += trial.state == BEFORE
        self.after += trial.state == AFTER
        self.neither += trial.state == NEITHER
        self.interrupted_runs += trial.run_status == "interrupted"
        self.finished_before_kill += not trial.killed
        self.violations += trial.violations
        self.rerun_ok += trial.rerun_state == AFTER
        if not trial.ok:
            self.failed.append(trial)

    def line(self) -> str:
        return (
            f"kills tried {self.tried}: states correct {self.before + self.after} (before {self.before}, after "
            f"{self.after}), neither {self.neither}; interrupted runs {self.interrupted_runs}; ingest finished "
            f"before the kill {self.finished_before_kill}; invariant violations {self.violations}; re-runs "
            f"reaching B {self.rerun_ok}/{self.tried} (kills drawn over 0..{self.ingest_s:.2f} s)"
        )

    def failures(self) -> str:
        return "\n".join(
            f"trial {t.index} (kill after {t.delay_s:.3f} s):\n  " + "\n  ".join(t.problems) for t in self.failed
        )
