"""What a catalog reader hands to the sync: raw documents, errors, and the files it could not read in full.

Readers never validate entities (that is `graphsvc.model`'s job) and never touch the store; they only say
what each source contains right now, and where each document came from, so that an error can point a user
at a file, a document index and a line.

A read is either whole (`documents` a list: tests, history replay) or streamed (`documents` a
`DocumentStream`, read as it is consumed): a catalog of a million entities does not fit in memory as parsed
documents, so the sync takes them a file at a time and keeps only a compact state per entity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CatalogDocument:
    """One YAML document read from a catalog file, placeholders already resolved where possible."""

    data: object
    """The parsed document (normally a mapping; the model rejects anything else)."""
    location: str
    """Where it was read: `file:/abs/path`, `url:https://...`, or `git:<repo>:<path>`.

    Git locations carry no commit, so an entity keeps its location as the repository advances; the commit
    read is `ReadResult.commit_sha`."""
    document_index: int
    """0-based position of the document in its file."""
    line: int | None
    """1-based line where the document starts, when known."""


@dataclass(frozen=True)
class ReadError:
    """A problem found while reading: a file, a document, a placeholder or a Location target."""

    location: str
    message: str
    document_index: int | None = None
    line: int | None = None
    entity_ref: str | None = None
    """Canonical ref of the entity the error belongs to, when the document said which one it is."""


@dataclass
class ReadResult:
    """Everything one read of a source produced."""

    source: str
    """The root that was read, as given by the user (path, URL, or git repository)."""
    documents: Iterable[CatalogDocument] = field(default_factory=list)
    """A list when read whole; a `DocumentStream` when streamed. A stream is read once, as it is consumed,
    and the fields below are complete only once it has been consumed to its end (`read_order` and
    `unchanged_locations` grow as it goes: they name the files read so far)."""
    errors: list[ReadError] = field(default_factory=list)
    incomplete_locations: set[str] = field(default_factory=set)
    """Files that could not be read in full (unreadable, unparsable, a required target missing).
    The sync keeps every entity last seen in them instead of closing it."""
    commit_sha: str | None = None
    """The commit the documents were read at, for git sources."""
    files_read: int = 0
    file_digests: dict[str, str] = field(default_factory=dict)
    """Content digest of each self-contained file read (complete, no Locations, no placeholders): a later
    read may skip such a file while its digest stays the same."""
    unchanged_locations: set[str] = field(default_factory=set)
    """Files skipped because their digest matched the last sync's: their entities are unchanged."""
    read_order: list[str] = field(default_factory=list)
    """Every file read or skipped as unchanged, in the order read: of two definitions of one entity the
    first read wins, also when one of them sits in a skipped file."""

    @property
    def streamed(self) -> bool:
        """Whether the documents are a stream (read once, as consumed) rather than a list."""
        return isinstance(self.documents, DocumentStream)

    def close(self) -> None:
        """Release what a streamed read still holds (a git process, a reading process); nothing for a list."""
        if isinstance(self.documents, DocumentStream):
            self.documents.close()


class DocumentStream(Iterator[CatalogDocument]):
    """Documents read as they are consumed, once. `close()` ends the read early and releases what it holds;
    it is also called when the documents run out."""

    def __init__(self, documents: Iterator[CatalogDocument], release: Callable[[], None] | None = None) -> None:
        self._documents = documents
        self._release = release
        self._closed = False

    def __next__(self) -> CatalogDocument:
        if self._closed:
            raise StopIteration
        try:
            return next(self._documents)
        except StopIteration:
            self.close()
            raise
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._documents, "close", None)
            if close is not None:
                close()
        finally:
            if self._release is not None:
                self._release()
