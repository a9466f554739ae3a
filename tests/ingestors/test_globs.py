"""Discovery and Location globs match the same files on disk and in git, like Backstage's file globs."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphsvc.config import ReadingSettings
from ingestors.git import read_git
from ingestors.local import find_files
from ingestors.reading_policy import ReadingPolicy
from tests.ingestors.catalog_files import Git

FILES = [
    "catalog-info.yaml",
    "a/catalog-info.yaml",
    "a/b/catalog-info.yaml",
    "a/b/x.yml",
    "a/[literal]/catalog-info.yaml",
    ".github/catalog-info.yaml",
    "a/.hidden/catalog-info.yaml",
]

GLOBS = [
    (
        "**/catalog-info.yaml",
        ["catalog-info.yaml", "a/catalog-info.yaml", "a/b/catalog-info.yaml", "a/[literal]/catalog-info.yaml"],
    ),
    ("*/catalog-info.yaml", ["a/catalog-info.yaml"]),
    ("a/**", ["a/catalog-info.yaml", "a/b/catalog-info.yaml", "a/b/x.yml", "a/[literal]/catalog-info.yaml"]),
    ("**/*.yml", ["a/b/x.yml"]),
    ("a/?/*", ["a/b/catalog-info.yaml", "a/b/x.yml"]),
    ("a/[bc]/x.yml", ["a/b/x.yml"]),
    ("a/[[]literal]/*", ["a/[literal]/catalog-info.yaml"]),
    (".github/*.yaml", [".github/catalog-info.yaml"]),  # a dot that is written out matches
    ("**/.hidden/*", ["a/.hidden/catalog-info.yaml"]),
    ("catalog-info.yaml", ["catalog-info.yaml"]),
    ("nothing/**/*.yaml", []),
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Git:
    repo = Git(tmp_path_factory.mktemp("globs") / "repo")
    repo.commit({path: "x: 1\n" for path in FILES})
    return repo


@pytest.mark.parametrize(("pattern", "expected"), GLOBS)
def test_a_glob_finds_the_same_files_on_disk(tree: Git, pattern: str, expected: list[str]) -> None:
    found = [str(Path(path).relative_to(tree.path)) for path in find_files(tree.path, pattern)]

    assert sorted(found) == sorted(expected)


@pytest.mark.parametrize(("pattern", "expected"), GLOBS)
def test_a_glob_finds_the_same_files_in_git(tree: Git, pattern: str, expected: list[str]) -> None:
    policy = ReadingPolicy.from_settings(ReadingSettings(local_roots=[tree.path]))

    result = read_git(str(tree.path), glob=pattern, policy=policy)

    prefix = f"git:{tree.path}:"
    assert sorted(d.location.removeprefix(prefix) for d in result.documents) == sorted(expected)
