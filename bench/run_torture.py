"""The torture suite's long mode: the checks of `tests/torture`, with larger counts.

    python bench/run_torture.py --kills 200 [--entities 2000] [--seed N] [--readers 4] [--syncs 20] \
        [--http-clients 6] [--workdir DIR] [--keep]

Runs, with the code of `tests/torture` (imported, not copied):
1. crash: `kill -9` of a real `catalog ingest` of catalog version B over a store holding A, `--kills` times,
   each at a delay drawn over the measured duration of an uninterrupted ingest; after each kill the store must
   open, `catalog check` pass, the state be A's or B's row by row, the killed run not be left `running`, and
   a re-run of the ingest reach B's state;
2. readers in process: `--readers` threads calling `GraphStore` during `--syncs` syncs alternating B and A;
3. readers over HTTP: `--http-clients` GraphQL clients of a real `catalog serve` during `--syncs` refreshes.

Prints a summary table and exits 1 if any check failed (the failures are printed above the table).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/run_torture.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.torture.concurrency import ReaderRun, readers_in_process, readers_over_http  # noqa: E402
from tests.torture.crash import CrashSummary, Trial, crash_trials  # noqa: E402
from tests.torture.readers import (  # noqa: E402
    expected_graphql_answers,
    expected_store_answers,
    graphql_probes,
    store_probes,
)
from tests.torture.references import DEFAULT_SEED, References, build_references, reference_stores  # noqa: E402

LIMIT_S = 900.0
"""No new sync of a reader run starts after this long."""


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200, help="kill -9 trials (default 200)")
    parser.add_argument("--entities", type=int, default=2000, help="entities in catalog version A (default 2000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--readers", type=int, default=4, help="reader threads in process (default 4)")
    parser.add_argument("--http-clients", type=int, default=6, help="GraphQL client threads (default 6)")
    parser.add_argument("--syncs", type=int, default=20, help="syncs during the reader runs (default 20)")
    parser.add_argument("--workdir", type=Path, help="where stores and catalogs go (default: a temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def _progress(trial: Trial, summary: CrashSummary) -> None:
    if not trial.ok:
        print(f"  trial {trial.index} FAILED (kill after {trial.delay_s:.3f} s):", *trial.problems, sep="\n    ")
    if summary.tried % 10 == 0:
        print(f"  {summary.line()}", flush=True)


def table(crash: CrashSummary, runs: dict[str, ReaderRun]) -> str:
    rows = [
        ("crash: kills tried", str(crash.tried)),
        ("crash: states correct (before, after)", f"{crash.before + crash.after} ({crash.before}, {crash.after})"),
        ("crash: states neither A's nor B's", str(crash.neither)),
        ("crash: killed runs marked interrupted", str(crash.interrupted_runs)),
        ("crash: ingest finished before its kill", str(crash.finished_before_kill)),
        ("crash: invariant violations", str(crash.violations)),
        ("crash: re-runs reaching B", f"{crash.rerun_ok} / {crash.tried}"),
        ("crash: kill delays drawn over", f"0 .. {crash.ingest_s:.2f} s"),
    ]
    for name, run in runs.items():
        rows += [
            (f"{name}: syncs during the readers", f"{len(run.synced)} ({run.seconds:.1f} s)"),
            (f"{name}: reader requests", str(run.tally.requests)),
            (f"{name}: inconsistent answers", str(run.tally.inconsistent)),
            (f"{name}: errors", str(run.tally.errors)),
            (f"{name}: invariant violations", str(run.violations)),
        ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{'check':<{width}} | result", f"{'-' * width}-|-{'-' * 16}"]
    return "\n".join([*lines, *(f"{label:<{width}} | {value}" for label, value in rows)])


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    started = time.perf_counter()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="torture-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"torture: seed {args.seed}, {args.entities} entities, work directory {workdir}", flush=True)
    try:
        refs: References = build_references(workdir / "references", args.entities, args.seed)
        print(f"references built ({time.perf_counter() - started:.0f} s): B changes {refs.versions.counts}", flush=True)
        with reference_stores(refs) as stores:
            store_expected = expected_store_answers(store_probes(refs.versions.probes), stores, str(refs.root))
            graphql_expected = expected_graphql_answers(graphql_probes(refs.versions.probes), stores)

        print(f"crash: {args.kills} kills", flush=True)
        crash = crash_trials(refs, workdir / "crash", args.kills, args.seed, progress=_progress)

        print(f"readers in process: {args.readers} threads, {args.syncs} syncs", flush=True)
        runs = {
            "in process": readers_in_process(
                refs, store_expected, workdir / "readers", readers=args.readers, syncs=args.syncs, time_limit_s=LIMIT_S
            )
        }
        print(f"  {runs['in process'].line()}", flush=True)
        print(f"readers over HTTP: {args.http_clients} clients, {args.syncs} refreshes", flush=True)
        runs["HTTP"] = readers_over_http(
            refs, graphql_expected, workdir / "http", readers=args.http_clients, syncs=args.syncs, time_limit_s=LIMIT_S
        )
        print(f"  {runs['HTTP'].line()}", flush=True)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    failed = bool(crash.failed) or any(run.problems for run in runs.values())
    if crash.failed:
        print("\nCRASH TRIALS THAT FAILED\n" + crash.failures())
    for name, run in runs.items():
        if run.problems:
            print(f"\nREADERS {name.upper()} FAILED\n{run.report()}")
    print()
    print(table(crash, runs))
    verdict = "FAILED" if failed else "all passed"
    print(f"\nwall time {time.perf_counter() - started:.0f} s; seed {args.seed}; {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
