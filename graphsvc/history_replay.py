"""Replaying a git repository's history into the store: one sync per commit, at the commit's own date.

Each commit of the branch (see `ingestors.git_history` for which, and why every first-parent commit) is read
from git objects and synced at its committer date, with its SHA and author as provenance on every version
and edge it opens or closes. The source key is the repository, not a file, so a file that moves keeps its
entities (same ref, same content: the sync only relocates them), an entity deleted and restored later gets a
gap in its history rather than a second identity, and a commit that breaks a file keeps that file's entities
as they were (the sync's rule for incomplete files), with error records that point at the file and line.

Replays are incremental: a later replay starts after the newest commit already synced for the source
(`GraphStore.latest_commit`). Times never go backwards within a source: a commit dated at or before the
source's previous sync (rebased commits, clock skew, a history older than what the store already holds) is
recorded one microsecond after it, and one dated in the future is recorded now; either way the summary's
`notes` say so, and the commit date itself is kept as `committed_at`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace

from graphsvc.store import GraphStore
from graphsvc.store.records import RegisteredLocationRecord
from graphsvc.sync import SyncSummary, sync_source
from graphsvc.timestamps import now_micros, to_datetime
from ingestors.filesystems import DEFAULT_DISCOVERY_GLOB, SourceUnavailableError, is_url
from ingestors.git import is_clone_url, read_git
from ingestors.git_history import BranchHistory, CatalogCommit, open_branch
from ingestors.locations import DEFAULT_LIMITS, ReadLimits
from ingestors.reading_policy import ReadingPolicy

log = logging.getLogger(__name__)


@dataclass
class CommitSummary(SyncSummary):
    """The sync of one replayed commit: the sync's counts and errors, plus the commit it read."""

    commit_sha: str = ""
    commit_author: str = ""
    committed_at: int = 0
    """The commit's own date; `started_at` is the instant the sync was recorded at (they differ when clamped)."""
    notes: list[str] = field(default_factory=list)
    """What the user should know about this commit's replay (a clamped date, a rewritten history)."""


CommitProgress = Callable[[CommitSummary], None]
"""Called after each replayed commit, so a long replay can report as it goes."""


def backfill_history(
    store: GraphStore,
    target: str,
    *,
    branch: str | None = None,
    glob: str | None = None,
    custom_kinds: Iterable[str] = (),
    fetch_timeout: float | None = None,
    progress: CommitProgress | None = None,
    policy: ReadingPolicy | None = None,
    principal: str | None = None,
) -> list[CommitSummary]:
    """Replay the history of the repository `target` (a normalized source key), then keep it registered with
    the branch that was replayed, so that a refresh continues from the branch head.

    Branch and glob default to the location's registration, then to the branch HEAD names and the default
    discovery glob. The location is registered only after the replay succeeded; a replay that fails halfway
    keeps the commits it synced, and the next one continues after them. Every read is held to `policy`
    (default: `ReadingPolicy.default()`, the configured one); `principal` is who asked (on each sync run).
    """
    policy = policy if policy is not None else ReadingPolicy.default()
    registered = next((loc for loc in store.registered_locations() if loc.target == target), None)
    branch = branch or (registered.branch if registered else None)
    history = open_branch(git_repository_of(target), branch, policy=policy)
    glob = glob or (registered.glob if registered else None)
    summaries = replay_history(
        store,
        history,
        source=target,
        glob=glob,
        custom_kinds=custom_kinds,
        fetch_timeout=fetch_timeout,
        progress=progress,
        policy=policy,
        principal=principal,
    )
    _keep_registered(store, target, registered, history.branch, glob)
    return summaries


def replay_history(
    store: GraphStore,
    history: BranchHistory,
    *,
    source: str,
    glob: str | None = None,
    custom_kinds: Iterable[str] = (),
    fetch_timeout: float | None = None,
    progress: CommitProgress | None = None,
    policy: ReadingPolicy,
    principal: str | None = None,
) -> list[CommitSummary]:
    """Sync every commit of `history` after the last one `source` has synced, oldest first, reading only what
    `policy` allows."""
    last = store.latest_commit(source)
    span = history.commits_after(last[0] if last else None)
    rewrite = span.describe_rewrite(history.branch)
    if rewrite:
        log.warning("%s: %s", source, rewrite)
    notes = [rewrite] if rewrite else []  # told once, with the first commit replayed
    limits = replace(DEFAULT_LIMITS, fetch_timeout=fetch_timeout) if fetch_timeout else DEFAULT_LIMITS
    previous = _last_sync_time(store, source)
    summaries: list[CommitSummary] = []
    for commit in span.commits:
        at, clamped = _sync_time(commit, previous, now_micros())
        summary = _replay_commit(
            store, history, commit, at, source, glob, frozenset(custom_kinds), limits, policy, principal
        )
        summary.notes = [*notes, *clamped]
        notes = []
        previous = at
        summaries.append(summary)
        if progress:
            progress(summary)
    return summaries


def git_repository_of(target: str) -> str:
    """The repository git should read for a source key: what `read_source` reads as git when given a branch
    (so that a refresh of the registered location reads the same repository)."""
    if target.startswith("git+"):
        return target.removeprefix("git+")
    if is_url(target) and not is_clone_url(target):
        raise SourceUnavailableError(
            f"{target} is read as one YAML file, not as a git repository; "
            f"write git+{target} (or a URL ending in .git) to replay a repository's history"
        )
    return target


def _keep_registered(
    store: GraphStore, target: str, registered: RegisteredLocationRecord | None, branch: str, glob: str | None
) -> None:
    """Register `target` with the branch replayed. An earlier registration without that branch (a plain
    `ingest` of a work tree reads the files on disk, not the branch) is replaced, keeping when it was added."""
    if registered is not None and (registered.branch, registered.glob) == (branch, glob):
        return
    added_at = registered.added_at if registered else now_micros()
    q = store.statements
    store.write(
        [
            (q.unregister_location, {"target": target}),
            (q.register_location, {"target": target, "at": added_at, "branch": branch, "discovery_glob": glob}),
        ]
    )


def _replay_commit(
    store: GraphStore,
    history: BranchHistory,
    commit: CatalogCommit,
    at: int,
    source: str,
    glob: str | None,
    custom_kinds: frozenset[str],
    limits: ReadLimits,
    policy: ReadingPolicy,
    principal: str | None,
) -> CommitSummary:
    """Read one commit from git objects (unchanged files are not parsed again) and sync it at `at`."""
    result = read_git(
        history.repo,
        commit=commit.sha,
        policy=policy,
        glob=glob or DEFAULT_DISCOVERY_GLOB,
        limits=limits,
        cache_dir=history.cache_dir,
        update=False,  # open_branch fetched once; every commit of the replay is already there
        known_digests=store.file_digests(source),
    )
    result.source = source
    summary = sync_source(
        store,
        result,
        source=source,
        at=at,
        custom_kinds=custom_kinds,
        commit_author=commit.author,
        principal=principal,
    )
    copied = {f.name: getattr(summary, f.name) for f in fields(SyncSummary)}
    return CommitSummary(
        **copied, commit_sha=commit.sha, commit_author=commit.author, committed_at=commit.committed_at_micros
    )


def _sync_time(commit: CatalogCommit, previous: int | None, now: int) -> tuple[int, list[str]]:
    """The instant to record `commit` at: its date, unless that would put the source's history out of order."""
    at = commit.committed_at_micros
    notes = []
    if at > now:
        at = now
        notes.append(f"dated {_instant(commit.committed_at_micros)}, in the future: recorded at {_instant(at)}")
    if previous is not None and at <= previous:
        at = previous + 1
        notes.append(
            f"dated {_instant(commit.committed_at_micros)}, not after the previous sync of this source "
            f"({_instant(previous)}): recorded at {_instant(at)}"
        )
    for note in notes:
        log.warning("commit %s %s", commit.sha[:10], note)
    return at, notes


def _last_sync_time(store: GraphStore, source: str) -> int | None:
    """When `source` was last synced, by any sync (with a commit or not, failed or not: a failed sync may
    have written some of its batches at its time)."""
    moments = [moment for name, moment in store.backend.read(store.statements.latest_runs) if name == source]
    return max(moments) if moments else None


def _instant(micros: int) -> str:
    moment = to_datetime(micros)
    assert moment is not None
    return moment.isoformat(timespec="microseconds" if micros % 1_000_000 else "seconds")
