"""A streamed read (`stream_source`) reads each file only when the documents before it have been taken, so a
read holds one file's documents at a time; it says what cannot be read at all before handing out anything,
and means exactly what a whole read (`read_source`) means. The same holds when the reading is done in a
process of its own (`ReadingProcess`, what `catalog serve` uses)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestors.documents import CatalogDocument, ReadResult
from ingestors.filesystems import SourceUnavailableError
from ingestors.read import read_source, stream_source
from ingestors.reading_policy import ReadingPolicy
from ingestors.reading_process import CHUNK_DOCUMENTS, ReadingProcess
from tests.ingestors.catalog_files import Git, entity, location, offline_fetch, write


def catalog(root: Path, files: int, per_file: int, prefix: str = "c") -> Path:
    """`files` files of `per_file` components each, and a root Location listing them in order."""
    write(
        root,
        {
            f"f{f:03d}.yaml": "---\n".join(entity("Component", f"{prefix}{f}-{d}") for d in range(per_file))
            for f in range(files)
        },
    )
    write(root, {"catalog-info.yaml": location("root", *(f"./f{f:03d}.yaml" for f in range(files)))})
    return root / "catalog-info.yaml"


def fields(result: ReadResult) -> tuple[object, ...]:
    """Everything a read says besides its documents."""
    return (
        result.source,
        result.errors,
        result.incomplete_locations,
        result.commit_sha,
        result.files_read,
        result.file_digests,
        result.unchanged_locations,
        result.read_order,
    )


def plain(documents: list[CatalogDocument]) -> list[tuple[object, ...]]:
    return [(d.data, d.location, d.document_index, d.line) for d in documents]


def test_each_file_is_read_when_the_documents_before_it_are_taken(tmp_path: Path, policy: ReadingPolicy) -> None:
    root = catalog(tmp_path, files=4, per_file=3)
    result = stream_source(str(root), policy=policy)
    documents = iter(result.documents)
    assert result.files_read == 1  # the root Location, read to hand out its own document
    taken = [next(documents)]
    assert (taken[0].data["kind"], result.files_read) == ("Location", 1)
    files_read = []
    for document in documents:
        taken.append(document)
        files_read.append(result.files_read)
    assert files_read == [2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]
    assert [d.data["metadata"]["name"] for d in taken[1:4]] == ["c0-0", "c0-1", "c0-2"]


def test_a_stream_means_what_a_whole_read_means(tmp_path: Path, policy: ReadingPolicy) -> None:
    root = catalog(tmp_path, files=3, per_file=2)
    write(tmp_path, {"f001.yaml": "a: [unclosed\n"})  # a read error, and an incomplete file
    whole = read_source(str(root), policy=policy)
    known = dict(whole.file_digests)
    streamed = stream_source(str(root), policy=policy)
    assert plain(list(streamed.documents)) == plain(whole.documents)
    assert fields(streamed) == fields(whole)
    again = stream_source(str(root), policy=policy, known_digests=known)  # unchanged files are skipped
    assert [d.location for d in again.documents] == [f"file:{root}"]
    assert again.unchanged_locations == {f"file:{tmp_path}/f000.yaml", f"file:{tmp_path}/f002.yaml"}


def test_a_source_that_cannot_be_read_at_all_raises_before_any_document(tmp_path: Path, policy: ReadingPolicy) -> None:
    with pytest.raises(SourceUnavailableError, match="^no such file or directory: "):
        stream_source(str(tmp_path / "missing.yaml"), policy=policy)
    with pytest.raises(SourceUnavailableError, match="name resolution"):  # its one file is read before this returns
        stream_source("https://catalog.example.com/all.yaml", policy=policy, fetch=offline_fetch)


def test_a_stream_closed_early_reads_no_further(tmp_path: Path, policy: ReadingPolicy) -> None:
    result = stream_source(str(catalog(tmp_path, files=5, per_file=2)), policy=policy)
    documents = iter(result.documents)
    next(documents)
    next(documents)
    result.close()
    assert (list(documents), result.files_read) == ([], 2)


def test_a_git_stream_holds_its_git_process_until_it_is_closed(tmp_path: Path, policy: ReadingPolicy) -> None:
    repo = Git(tmp_path / "repo")
    repo.commit({"catalog-info.yaml": entity("Component", "a") + "---\n" + entity("Component", "b")})
    result = stream_source(str(repo.path), branch="main", policy=policy)
    assert next(iter(result.documents)).data["metadata"]["name"] == "a"
    assert len(cat_file_processes(repo.path)) == 1
    result.close()
    assert cat_file_processes(repo.path) == []


def cat_file_processes(repo: Path) -> list[str]:
    """The `git cat-file --batch` processes running on `repo`'s objects."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile
            continue
        if b"cat-file" in words and f"--git-dir={repo}/.git".encode() in words:
            found.append(cmdline.parent.name)
    return found


@pytest.fixture(scope="module")
def reading_process() -> ReadingProcess:
    process = ReadingProcess()
    yield process
    process.close()


def test_a_reading_process_streams_what_a_read_here_reads(
    tmp_path: Path, policy: ReadingPolicy, reading_process: ReadingProcess
) -> None:
    root = catalog(tmp_path, files=25, per_file=100)  # five messages and some
    whole = read_source(str(root), policy=policy)
    streamed = reading_process.stream(str(root), {"policy": policy})
    assert plain(list(streamed.documents)) == plain(whole.documents)
    assert len(whole.documents) > 5 * CHUNK_DOCUMENTS
    assert fields(streamed) == fields(whole)


def test_a_read_given_up_is_stopped_and_the_next_read_is_its_own(
    tmp_path: Path, policy: ReadingPolicy, reading_process: ReadingProcess
) -> None:
    first = catalog(tmp_path / "first", files=30, per_file=100, prefix="first")
    second = catalog(tmp_path / "second", files=2, per_file=3, prefix="second")
    given_up = reading_process.stream(str(first), {"policy": policy})
    assert len(list(itertools.islice(given_up.documents, 3))) == 3
    given_up.close()
    with pytest.raises(SourceUnavailableError, match="^no such file or directory: "):
        reading_process.stream(str(tmp_path / "missing"), {"policy": policy})
    result = reading_process.stream(str(second), {"policy": policy})
    assert [d.data["metadata"]["name"] for d in result.documents] == [
        "root",
        "second0-0",
        "second0-1",
        "second0-2",
        "second1-0",
        "second1-1",
        "second1-2",
    ]


SERVICE_THAT_READS = """
import sys, time
from ingestors.reading_policy import ReadingPolicy
from ingestors.reading_process import ReadingProcess
if __name__ == "__main__":
    result = ReadingProcess().stream(sys.argv[1], {"policy": ReadingPolicy.default()})
    next(iter(result.documents))
    print("reading", flush=True)
    time.sleep(300)
"""
REPO = Path(__file__).resolve().parents[2]


def alive(pid: str) -> bool:
    """Whether the process runs (a zombie, ended and not yet waited for, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_reading_process_ends_with_a_service_killed_outright(tmp_path: Path) -> None:
    root = catalog(tmp_path, files=200, per_file=100)  # more than it sends ahead: it would wait for the service
    script = tmp_path / "service.py"
    script.write_text(SERVICE_THAT_READS)
    environment = os.environ | {"PYTHONPATH": str(REPO), "CATALOG_LOCAL_ROOTS": str(tmp_path)}
    service = subprocess.Popen([sys.executable, str(script), str(root)], stdout=subprocess.PIPE, env=environment)
    try:
        assert service.stdout is not None and service.stdout.readline() == b"reading\n"
        children = Path(f"/proc/{service.pid}/task/{service.pid}/children").read_text().split()
        (reader,) = [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        service.kill()  # SIGKILL: it cannot stop its reading process
        service.wait()
        deadline = time.monotonic() + 30
        while alive(reader) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(reader)
    finally:
        service.kill()
        service.wait()
