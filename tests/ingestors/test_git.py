"""Reading a catalog from git objects at a branch head or an explicit commit, local or cloned."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ingestors.filesystems import SourceUnavailableError
from ingestors.git import display_name, read_git
from ingestors.read import read_source
from ingestors.reading_policy import ReadingPolicy
from tests.ingestors.catalog_files import Git, entity, location, messages, names, write


@pytest.fixture
def repo(tmp_path: Path) -> Git:
    return Git(tmp_path / "repo")


def test_a_repository_is_read_at_its_head_commit(repo: Git, policy: ReadingPolicy) -> None:
    head = repo.commit(
        {
            "catalog-info.yaml": entity("Component", "root"),
            "services/payments/catalog-info.yaml": entity("Component", "payments"),
            "services/payments/other.yaml": entity("Component", "not-discovered"),
        }
    )

    result = read_git(str(repo.path), policy=policy)

    assert names(result) == ["root", "payments"]
    assert result.commit_sha == head
    assert [d.location for d in result.documents] == [
        f"git:{repo.path}:catalog-info.yaml",
        f"git:{repo.path}:services/payments/catalog-info.yaml",
    ]
    assert result.files_read == 2
    assert result.source == str(repo.path)


def test_a_branch_is_read_at_its_head(repo: Git, policy: ReadingPolicy) -> None:
    main = repo.commit({"catalog-info.yaml": entity("Component", "on-main")})
    repo("switch", "--quiet", "--create", "feature")
    feature = repo.commit({"catalog-info.yaml": entity("Component", "on-feature")})
    repo("switch", "--quiet", "main")

    on_feature = read_git(str(repo.path), branch="feature", policy=policy)

    assert (names(on_feature), on_feature.commit_sha) == (["on-feature"], feature)
    assert read_git(str(repo.path), policy=policy).commit_sha == main


def test_an_explicit_older_commit_is_read_as_it_was_and_locations_stay_the_same(
    repo: Git, policy: ReadingPolicy
) -> None:
    first = repo.commit({"catalog-info.yaml": entity("Component", "first-version")})
    repo.commit({"catalog-info.yaml": entity("Component", "second-version")})

    old = read_git(str(repo.path), commit=first, policy=policy)
    new = read_git(str(repo.path), policy=policy)

    assert (names(old), old.commit_sha) == (["first-version"], first)
    assert names(new) == ["second-version"]
    assert old.documents[0].location == new.documents[0].location == f"git:{repo.path}:catalog-info.yaml"


def test_uncommitted_changes_in_the_working_tree_are_not_seen(repo: Git, policy: ReadingPolicy) -> None:
    repo.commit({"catalog-info.yaml": entity("Component", "committed")})
    write(
        repo.path,
        {
            "catalog-info.yaml": entity("Component", "edited-not-committed"),
            "new/catalog-info.yaml": entity("Component", "untracked"),
        },
    )

    assert names(read_git(str(repo.path), policy=policy)) == ["committed"]
    assert names(read_source(str(repo.path), branch="main", policy=policy)) == ["committed"]
    # Without a branch, a work tree directory is an ordinary local directory: what is on disk.
    assert sorted(names(read_source(str(repo.path), policy=policy))) == ["edited-not-committed", "untracked"]


def test_locations_and_placeholders_resolve_inside_the_same_tree(repo: Git, policy: ReadingPolicy) -> None:
    repo.commit(
        {
            "catalog-info.yaml": location(
                "root", "./teams/a.yaml", "./apis/*.yaml", "/shared/org.yaml", "../outside.yaml", "./uncommitted.yaml"
            ),
            "teams/a.yaml": entity("Group", "team-a"),
            "apis/one.yaml": entity("API", "one", definition="{$text: ../specs/one.oas.yaml}"),
            "apis/two.yaml": entity("API", "two", definition="{$text: ../../../etc/passwd}"),
            "specs/one.oas.yaml": "openapi: 3.0.0\n",
            "shared/org.yaml": entity("Group", "org"),
        }
    )
    write(repo.path, {"uncommitted.yaml": entity("Component", "only-on-disk")})
    write(repo.path.parent, {"outside.yaml": entity("Component", "outside")})

    result = read_git(str(repo.path), policy=policy)

    assert names(result) == ["root", "team-a", "one", "two", "org"]
    assert result.documents[2].data["spec"]["definition"] == "openapi: 3.0.0\n"
    assert messages(result) == [
        "spec.targets[3]: ../outside.yaml: points outside the repository",
        "spec.definition: $text ../../../etc/passwd: points outside the repository",
        "spec.targets[4]: ./uncommitted.yaml: uncommitted.yaml does not exist",
    ]
    assert result.incomplete_locations == {f"git:{repo.path}:uncommitted.yaml"}


def test_a_clone_url_is_cloned_into_the_cache_and_fetched_again_on_the_next_read(
    tmp_path: Path, repo: Git, policy: ReadingPolicy
) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin)], check=True)
    repo("remote", "add", "origin", str(origin))
    first = repo.commit({"catalog-info.yaml": entity("Component", "v1")})
    repo("push", "--quiet", "origin", "main")
    url = f"file://{origin}"
    cache = tmp_path / "cache"

    result = read_source(url, cache_dir=cache, policy=policy)

    assert (names(result), result.commit_sha, result.source) == (["v1"], first, url)
    assert result.documents[0].location == f"git:{url}:catalog-info.yaml"
    assert len(list(cache.iterdir())) == 1

    second = repo.commit({"catalog-info.yaml": entity("Component", "v2")})
    repo("push", "--quiet", "origin", "main")

    assert read_git(url, cache_dir=cache, update=False, policy=policy).commit_sha == first
    assert names(read_git(url, commit=second, cache_dir=cache, update=False, policy=policy)) == ["v2"]  # fetched by SHA
    assert read_source(f"git+{url}", cache_dir=cache, policy=policy).commit_sha == second
    assert names(read_git(url, commit=first, cache_dir=cache, policy=policy)) == ["v1"]


@pytest.mark.parametrize(
    ("source", "options", "message"),
    [
        ("{tmp}/nowhere", {"branch": "main"}, "no such git repository: {tmp}/nowhere"),
        ("{tmp}/plain-directory", {"branch": "main"}, "{tmp}/plain-directory is not a git repository: "),
        (
            "{tmp}/repo/sub",
            {"branch": "main"},
            "{tmp}/repo/sub is a subdirectory of a git repository; read the repository's top directory instead, "
            "with a glob such as 'sub/**/catalog-info.yaml'",
        ),
        ("{tmp}/repo", {"branch": "nope"}, "git repository {tmp}/repo has no branch 'nope'"),
        ("{tmp}/repo", {"commit": "0123456789abcdef"}, "git repository {tmp}/repo has no commit '0123456789abcdef'"),
        ("{tmp}/repo", {"commit": "--output=x"}, "git repository {tmp}/repo has no commit '--output=x'"),
        ("file://{tmp}/missing.git", {}, "could not fetch git repository file://{tmp}/missing.git: "),
        ("https://git.example.invalid/org/repo.git", {}, "could not fetch git repository https://git.example.invalid"),
    ],
    ids=[
        "no-path",
        "not-a-repository",
        "subdirectory",
        "unknown-branch",
        "unknown-commit",
        "option-as-commit",
        "missing-remote",
        "unreachable-host",
    ],
)
def test_a_repository_that_cannot_be_read_raises_instead_of_looking_empty(
    tmp_path: Path, repo: Git, source: str, options: dict[str, str], message: str, policy: ReadingPolicy
) -> None:
    repo.commit({"catalog-info.yaml": entity("Component", "x"), "sub/catalog-info.yaml": entity("Component", "y")})
    (tmp_path / "plain-directory").mkdir()

    with pytest.raises(SourceUnavailableError) as raised:
        read_source(source.format(tmp=tmp_path), cache_dir=tmp_path / "cache", **options, policy=policy)

    assert str(raised.value).startswith(message.format(tmp=tmp_path))


def test_an_unreachable_remote_error_includes_what_git_said(tmp_path: Path, policy: ReadingPolicy) -> None:
    with pytest.raises(SourceUnavailableError, match="does not appear to be a git repository"):
        read_git(f"file://{tmp_path}/missing.git", cache_dir=tmp_path / "cache", policy=policy)
    assert list((tmp_path / "cache").iterdir()) == []  # no half-made clone is left behind


def test_passwords_and_tokens_never_appear_in_locations() -> None:
    assert display_name("https://x-access-token:secret@github.com/org/repo.git") == "https://github.com/org/repo.git"
    assert display_name("https://ghp_token@github.com/org/repo.git") == "https://github.com/org/repo.git"
    assert display_name("ssh://git:hunter2@host/org/repo.git") == "ssh://git@host/org/repo.git"
    assert display_name("git@github.com:org/repo.git") == "git@github.com:org/repo.git"
    assert display_name("/srv/repos/catalog") == "/srv/repos/catalog"
