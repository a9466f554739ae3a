"""Which commits of a git branch to replay into the catalog, oldest first, with their dates and authors.

Every commit on the branch's *first-parent* history is replayed, not only the commits whose diff touches a
catalog file. What a read of the catalog depends on is not known in advance: a Location glob such as
`./systems/*.yaml` picks up files nobody read before, a `$text` placeholder can name any file, and a target
that was missing may appear later. A path-limited `git log` would silently skip such a commit, and skipping
is the one mistake a history cannot recover from; a commit that changes no catalog file costs one cheap read
(unchanged files are not parsed again) and records a sync that changed nothing. First parent, because that
is what the branch itself said at each point: a merged feature branch's changes appear at the merge commit,
when they became true on the branch.

A later replay continues after the last commit already replayed. When that commit is no longer part of
the branch (a force push rewrote it), the replay resumes after the newest commit both histories share, and
says so (`CommitRange.rewritten_from`); the sync then diffs each new commit against what the store holds,
so nothing of the abandoned commits survives in the present, while the history keeps them.

Pure git plumbing through subprocesses; nothing here reads or writes the store.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ingestors.filesystems import SourceUnavailableError
from ingestors.git import GitCommandError, GitRepository, open_repository, redacted
from ingestors.reading_policy import ReadingPolicy

GIT_TIMEOUT = 120.0
"""Seconds for one git command on local objects."""


class HistoryUnavailableError(SourceUnavailableError):
    """The branch's history could not be listed (no branch to follow, or git failed)."""


@dataclass(frozen=True)
class CatalogCommit:
    """One commit to replay: the instant it stands for, and who made it."""

    sha: str
    committed_at_micros: int
    """The committer date (when the commit became part of the history), UTC microseconds."""
    author: str
    """`Name <email>` of the commit's author."""


@dataclass(frozen=True)
class CommitRange:
    """The commits a replay should read, oldest first, and how they relate to what was replayed before."""

    commits: tuple[CatalogCommit, ...]
    rewritten_from: str | None = None
    """The last replayed commit, when it is no longer part of the branch (history rewritten)."""
    resumed_after: str | None = None
    """After a rewrite: the newest commit both histories share (None when they share none)."""

    def describe_rewrite(self, branch: str) -> str | None:
        """A sentence for the user when the history was rewritten, else None."""
        if self.rewritten_from is None:
            return None
        said = f"history rewritten: the last replayed commit {self.rewritten_from[:10]} is no longer on {branch}"
        base, count = self.resumed_after, len(self.commits)
        if base and self.commits and self.commits[0].sha == base:
            return f"{said} (reset to an older commit?); reading {base[:10]}, where {branch} now points, again"
        if base:
            return f"{said} (force push?); replaying the {count} commit(s) after {base[:10]}, the newest one both share"
        return f"{said} (force push?); replaying all {count} commit(s): the two histories share none"


class BranchHistory:
    """One branch of one repository, its head resolved once, so a whole replay reads one consistent history."""

    def __init__(
        self, repo: str, repository: GitRepository, branch: str, head: str, cache_dir: Path | None = None
    ) -> None:
        self.repo = repo
        """The repository as git reads it: a local path or a clone URL (credentials included)."""
        self.cache_dir = cache_dir
        """Where a remote repository's clone is cached (None: the default cache)."""
        self.repository = repository
        self.branch = branch
        self.head = head

    def commits_after(self, last: str | None) -> CommitRange:
        """The commits to replay after `last` (None: the whole branch), oldest first."""
        git_dir = self.repository.git_dir
        if last is None:
            return CommitRange(tuple(list_commits(git_dir, self.head)))
        if is_ancestor(git_dir, last, self.head):
            return CommitRange(tuple(list_commits(git_dir, self.head, exclude=last)))
        base = merge_base(git_dir, last, self.head)
        commits = list_commits(git_dir, self.head, exclude=base)
        if not commits:  # the branch was reset to an older commit: read that commit, so the store follows
            commits = list_commits(git_dir, self.head)[-1:]
        return CommitRange(tuple(commits), rewritten_from=last, resumed_after=base)


def open_branch(
    repo: str,
    branch: str | None = None,
    *,
    policy: ReadingPolicy,
    cache_dir: str | os.PathLike[str] | None = None,
) -> BranchHistory:
    """Open `repo` (a local repository, or a clone URL fetched into the cache) at the head of `branch`, if
    `policy` allows reading it (else `ReadingRefused`).

    Without a branch, the branch HEAD names is followed, so that a later refresh can read that branch by
    name; a detached HEAD has none, and the caller must name one.
    """
    repository = open_repository(repo, policy=policy, cache_dir=cache_dir, update=True)
    if branch is None:
        branch = current_branch(repository.git_dir)
        if branch is None:
            raise HistoryUnavailableError(
                f"HEAD of {repository.name} is detached, so there is no branch to follow; name one (--branch)"
            )
    cache = Path(cache_dir) if cache_dir is not None else None
    return BranchHistory(repo, repository, branch, repository.resolve(branch=branch), cache)


def list_commits(git_dir: Path, head: str, *, exclude: str | None = None) -> list[CatalogCommit]:
    """The first-parent commits of `head`, oldest first; without those reachable from `exclude`."""
    revisions = [head] if exclude is None else [head, f"^{exclude}"]
    text = _git(git_dir, "rev-list", "--first-parent", "--reverse", "--format=%H%x1f%ct%x1f%an <%ae>", *revisions)
    commits = []
    for line in text.split("\n"):  # not splitlines(): a name may hold \x1c, \x0b or U+2028, which it splits at
        parts = line.split("\x1f", 2)
        if len(parts) != 3 or not _COMMIT_LINE.match(line):  # rev-list's own `commit <sha>` header lines
            continue
        sha, seconds, author = parts
        commits.append(CatalogCommit(sha, int(seconds) * 1_000_000, author))
    return commits


_COMMIT_LINE = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?\x1f-?[0-9]+\x1f")


def is_ancestor(git_dir: Path, ancestor: str, descendant: str) -> bool:
    """Whether `ancestor` is in the history of `descendant` (a commit git does not have is not)."""
    return _run(git_dir, "merge-base", "--is-ancestor", ancestor, descendant).returncode == 0


def merge_base(git_dir: Path, first: str, second: str) -> str | None:
    """The newest commit both histories share, or None (unrelated histories, or an unknown commit)."""
    return _answer(_run(git_dir, "merge-base", first, second))


def current_branch(git_dir: Path) -> str | None:
    """The branch HEAD points at, or None when HEAD is detached."""
    return _answer(_run(git_dir, "symbolic-ref", "--quiet", "--short", "HEAD"))


def _answer(completed: subprocess.CompletedProcess[bytes]) -> str | None:
    """The one line a question to git printed, or None when git said no (or failed)."""
    if completed.returncode != 0:
        return None
    return completed.stdout.decode("utf-8", "replace").strip() or None


def _git(git_dir: Path, *args: str) -> str:
    completed = _run(git_dir, *args)
    if completed.returncode != 0:
        error = GitCommandError(list(args), completed.stderr.decode("utf-8", "replace"))
        raise HistoryUnavailableError(f"could not list the history: {redacted(str(error), git_dir)}")
    return completed.stdout.decode("utf-8", "replace")


def _run(git_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """git in English and without prompts (as `ingestors.git` runs it): messages end up in errors."""
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    command = ["git", f"--git-dir={git_dir}", *args]
    try:
        return subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, env=environment, timeout=GIT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise HistoryUnavailableError(f"git {args[0]} did not finish within {GIT_TIMEOUT:g} s") from None
    except FileNotFoundError:
        raise HistoryUnavailableError("the git command is not installed") from None
