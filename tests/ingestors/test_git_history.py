"""Which commits a history replay reads: the branch's first-parent commits, oldest first, after the last one
replayed, with the committer date and the author; and what happens when the history was rewritten."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from graphsvc.demo.history import ScriptedRepository
from ingestors.filesystems import SourceUnavailableError
from ingestors.git_history import CatalogCommit, HistoryUnavailableError, list_commits, open_branch
from ingestors.reading_policy import ReadingPolicy

ALICE = "Alice Example <alice@example.com>"
BOB = "Bob Example <bob@example.com>"


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


@pytest.fixture
def repo(tmp_path: Path) -> ScriptedRepository:
    return ScriptedRepository(tmp_path / "repo")


def commit(repo: ScriptedRepository, day: int, author: str = ALICE, **files: str | None) -> str:
    return repo.commit(
        {name.replace("__", "/"): text for name, text in files.items()}, when=at(day), author=author, message=f"{day}"
    )


def test_the_whole_branch_is_listed_oldest_first_with_dates_and_authors(
    repo: ScriptedRepository, policy: ReadingPolicy
) -> None:
    first = commit(repo, 2, catalog="a")
    second = commit(repo, 3, BOB, catalog="b")
    third = commit(repo, 4, readme="not a catalog file, listed all the same")

    history = open_branch(str(repo.path), policy=policy)

    assert (history.branch, history.head) == ("main", third)
    assert history.commits_after(None).commits == (
        CatalogCommit(first, micros(at(2)), ALICE),
        CatalogCommit(second, micros(at(3)), BOB),
        CatalogCommit(third, micros(at(4)), ALICE),
    )


def test_a_later_replay_lists_only_the_commits_after_the_last_one(
    repo: ScriptedRepository, policy: ReadingPolicy
) -> None:
    commit(repo, 2, catalog="a")
    last = commit(repo, 3, catalog="b")
    history = open_branch(str(repo.path), policy=policy)
    assert history.commits_after(last).commits == ()

    newer = commit(repo, 4, catalog="c")

    span = open_branch(str(repo.path), policy=policy).commits_after(last)
    assert [c.sha for c in span.commits] == [newer]
    assert span.rewritten_from is None


def test_the_date_is_the_committer_date_not_the_author_date(repo: ScriptedRepository, policy: ReadingPolicy) -> None:
    repo.git("commit", "--quiet", "--allow-empty", "-m", "rebased", "--date", "1600000000 +0000", when=1780000000)

    (only,) = open_branch(str(repo.path), policy=policy).commits_after(None).commits

    assert only.committed_at_micros == 1780000000 * 1_000_000


def test_a_merged_branch_counts_once_at_its_merge_commit(repo: ScriptedRepository) -> None:
    base = commit(repo, 2, catalog="a")
    repo.git("switch", "--quiet", "--create", "feature")
    commit(repo, 3, BOB, other="on the feature branch")
    repo.git("switch", "--quiet", "main")
    commit(repo, 4, catalog="b")
    repo.git("merge", "--quiet", "--no-ff", "--message", "merge feature", "feature", when=1780000000, author=BOB)
    merge = repo.git("rev-parse", "HEAD")

    commits = list_commits(repo.path / ".git", merge)

    assert [c.sha for c in commits][0] == base
    assert [c.sha for c in commits][-1] == merge
    assert len(commits) == 3
    assert commits[-1].author == BOB


def test_after_a_force_push_the_replay_resumes_after_the_shared_commit_and_says_so(
    repo: ScriptedRepository, policy: ReadingPolicy
) -> None:
    commit(repo, 2, catalog="a")
    shared = commit(repo, 3, catalog="b")
    abandoned = commit(repo, 4, catalog="c")
    repo.git("reset", "--quiet", "--hard", shared)
    rewritten = commit(repo, 5, catalog="c, rewritten")

    span = open_branch(str(repo.path), policy=policy).commits_after(abandoned)

    assert [c.sha for c in span.commits] == [rewritten]
    assert (span.rewritten_from, span.resumed_after) == (abandoned, shared)
    message = span.describe_rewrite("main")
    assert message is not None
    assert message == (
        f"history rewritten: the last replayed commit {abandoned[:10]} is no longer on main (force push?); "
        f"replaying the 1 commit(s) after {shared[:10]}, the newest one both share"
    )


def test_a_branch_reset_to_an_older_commit_replays_that_commit(repo: ScriptedRepository, policy: ReadingPolicy) -> None:
    older = commit(repo, 2, catalog="a")
    newest = commit(repo, 3, catalog="b")
    repo.git("reset", "--quiet", "--hard", older)

    span = open_branch(str(repo.path), policy=policy).commits_after(newest)

    assert [c.sha for c in span.commits] == [older]
    assert span.rewritten_from == newest
    assert f"reading {older[:10]}, where main now points, again" in (span.describe_rewrite("main") or "")


def test_a_last_commit_the_repository_never_had_replays_everything(
    repo: ScriptedRepository, policy: ReadingPolicy
) -> None:
    first = commit(repo, 2, catalog="a")

    span = open_branch(str(repo.path), policy=policy).commits_after("0" * 40)

    assert [c.sha for c in span.commits] == [first]
    assert (span.rewritten_from, span.resumed_after) == ("0" * 40, None)
    assert "replaying all 1 commit(s): the two histories share none" in (span.describe_rewrite("main") or "")


def test_a_named_branch_is_followed(repo: ScriptedRepository, policy: ReadingPolicy) -> None:
    commit(repo, 2, catalog="a")
    repo.git("switch", "--quiet", "--create", "release")
    on_release = commit(repo, 3, catalog="b")
    repo.git("switch", "--quiet", "main")

    history = open_branch(str(repo.path), "release", policy=policy)

    assert (history.branch, history.head) == ("release", on_release)


def test_a_detached_head_needs_a_branch(repo: ScriptedRepository, policy: ReadingPolicy) -> None:
    first = commit(repo, 2, catalog="a")
    commit(repo, 3, catalog="b")
    repo.git("checkout", "--quiet", "--detach", first)

    with pytest.raises(HistoryUnavailableError, match=r"HEAD of .* is detached.*--branch"):
        open_branch(str(repo.path), policy=policy)


@pytest.mark.parametrize(
    ("make", "branch", "message"),
    [
        (lambda path: path.mkdir(), None, "is not a git repository"),
        (lambda path: None, None, "no such git repository"),
        (
            lambda path: ScriptedRepository(path).commit({"a": "1"}, when=1780000000, author=ALICE, message="m"),
            "nope",
            "has no branch 'nope'",
        ),
    ],
    ids=["plain-directory", "missing", "unknown-branch"],
)
def test_what_cannot_be_replayed_is_a_clear_message(
    tmp_path: Path, make: Callable[[Path], object], branch: str | None, message: str, policy: ReadingPolicy
) -> None:
    path = tmp_path / "target"
    make(path)

    with pytest.raises(SourceUnavailableError, match=message):
        open_branch(str(path), branch, policy=policy)
