"""A local file or directory: discovery by glob, `file:` locations, and a missing path."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestors.filesystems import SourceUnavailableError
from ingestors.local import read_local
from ingestors.reading_policy import ReadingPolicy
from tests.ingestors.catalog_files import entity, names, write


def test_a_directory_reads_every_catalog_info_file_under_it(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(
        tmp_path,
        {
            "catalog-info.yaml": entity("System", "root"),
            "services/a/catalog-info.yaml": entity("Component", "a"),
            "services/b/deeper/catalog-info.yaml": entity("Component", "b"),
            "services/b/other.yaml": entity("Component", "not-discovered"),
            ".github/catalog-info.yaml": entity("Component", "hidden"),
            "node_modules/.cache/catalog-info.yaml": entity("Component", "hidden-too"),
        },
    )

    result = read_local(tmp_path, policy=policy)

    assert names(result) == ["root", "a", "b"]
    assert result.documents[1].location == f"file:{tmp_path}/services/a/catalog-info.yaml"
    assert result.files_read == 3
    assert result.source == str(tmp_path)


def test_the_discovery_glob_can_be_changed(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(tmp_path, {"teams/a.yaml": entity("Group", "a"), "teams/b.yml": entity("Group", "b"), "x.yaml": "kind: X\n"})

    assert names(read_local(tmp_path, glob="teams/*.y*ml", policy=policy)) == ["a", "b"]


def test_a_directory_without_catalog_files_is_an_empty_catalog(tmp_path: Path, policy: ReadingPolicy) -> None:
    result = read_local(tmp_path, policy=policy)

    assert (result.documents, result.errors, result.files_read) == ([], [], 0)


def test_a_missing_path_raises(tmp_path: Path, policy: ReadingPolicy) -> None:
    with pytest.raises(SourceUnavailableError, match=f"no such file or directory: {tmp_path}/nope.yaml"):
        read_local(tmp_path / "nope.yaml", policy=policy)


def test_a_file_that_is_not_utf8_is_reported_and_incomplete(tmp_path: Path, policy: ReadingPolicy) -> None:
    write(tmp_path, {"catalog-info.yaml": "x"})
    (tmp_path / "catalog-info.yaml").write_bytes(b"kind: Component\nname: caf\xe9\n")

    result = read_local(tmp_path, policy=policy)

    assert [(e.message, e.document_index, e.line) for e in result.errors] == [
        ("document 0: not valid UTF-8 at byte 25 (line 2, column 10)", 0, 2)
    ]
    assert result.incomplete_locations == {f"file:{tmp_path}/catalog-info.yaml"}
