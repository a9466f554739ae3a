"""Reading a catalog from its root files: every document, with Location entities followed to their targets.

A `kind: Location` document is returned like any other, and its `spec.target` / `spec.targets` are read
too: paths relative to the Location's own file, globs (`./apis/*.yaml`, `**`), absolute `http(s)` URLs.
This is what Backstage's LocationEntityProcessor and FileReaderProcessor do together, done here in one
walk so that the result says which files were reached and what went wrong where.

What counts as incomplete (the sync keeps the entities last seen in such files instead of closing them):
a file that could not be parsed in full, a required target that is missing, a target that could not be
read. An *optional* target (`spec.presence: optional`) that is missing is simply absent: its entities go.

Each file is read once. A file reached again through a chain of Locations that leads back to itself is a
cycle, reported once with the whole path; a file reached twice along different paths is not an error, and
neither is a glob matching the file it is written in (`./**/*.yaml`). A file's documents come first, then
the files its Locations point at, depth first.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ingestors.documents import CatalogDocument, DocumentStream, ReadError, ReadResult
from ingestors.fetch import DEFAULT_TIMEOUT
from ingestors.filesystems import (
    CatalogFiles,
    SourceUnavailableError,
    TargetNotFound,
    TargetRefused,
    TargetUnreadable,
    is_undecodable,
    shown,
)
from ingestors.placeholders import PlaceholderResolver
from ingestors.yaml_documents import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_NODES,
    YamlLimits,
    parse_yaml_documents,
)

DEFAULT_MAX_FILES = 100_000
ReadProgress = Callable[[int, int, int], None]
"""Told after each catalog file is read: (files read, files known so far, documents read). Files known grows
as Locations point at more files, so it is a total only once the walk has found everything."""
FOLLOWED_LOCATION_TYPES = (None, "url", "file")


@dataclass(frozen=True)
class ReadLimits:
    """Everything that bounds one read of a source."""

    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_nodes: int = DEFAULT_MAX_NODES
    max_files: int = DEFAULT_MAX_FILES
    """Catalog files per read (files pulled in by placeholders do not count)."""
    fetch_timeout: float = DEFAULT_TIMEOUT
    """Seconds for each HTTP(S) request."""

    def yaml(self) -> YamlLimits:
        return YamlLimits(self.max_document_bytes, self.max_depth, self.max_nodes)


DEFAULT_LIMITS = ReadLimits()


def read_catalog(
    roots: Sequence[str],
    files: CatalogFiles,
    *,
    source: str,
    limits: ReadLimits = DEFAULT_LIMITS,
    strict_roots: bool = False,
    commit_sha: str | None = None,
    known_digests: Mapping[str, str] | None = None,
    progress: ReadProgress | None = None,
) -> ReadResult:
    """Read `roots` (locations) and everything their Locations reach, all of it at once (`documents` a list).

    With `strict_roots`, a root that cannot be read raises `SourceUnavailableError` instead of being
    reported: right for a source that *is* one file or URL, where nothing read must not look like an
    empty catalog. `known_digests` (location -> digest, from the last sync's `file_digests`) lets the read
    skip parsing files whose content has not changed: a no-op re-sync of a large catalog is mostly YAML
    parsing otherwise. `progress` is told after each file (a display's business; the read does not wait).
    """
    result = stream_catalog(
        roots,
        files,
        source=source,
        limits=limits,
        strict_roots=strict_roots,
        commit_sha=commit_sha,
        known_digests=known_digests,
        progress=progress,
    )
    return read_whole(result)


def stream_catalog(
    roots: Sequence[str],
    files: CatalogFiles,
    *,
    source: str,
    limits: ReadLimits = DEFAULT_LIMITS,
    strict_roots: bool = False,
    commit_sha: str | None = None,
    known_digests: Mapping[str, str] | None = None,
    progress: ReadProgress | None = None,
) -> ReadResult:
    """`read_catalog` as a stream: each file is read when the documents before it have been consumed, so a
    read holds one file's documents at a time, whatever the size of the catalog. The read has begun when
    this returns (up to its first document): a strict root that cannot be read raises here, before anything
    is synced."""
    if is_undecodable(source):  # it would be stored with every entity: it must be text
        raise SourceUnavailableError(f"{shown(source)} is not valid UTF-8")
    result = ReadResult(source=source, commit_sha=commit_sha)
    walk = _CatalogWalk(files, limits, result, strict_roots)
    walk.known_digests = known_digests or {}
    walk.progress = progress
    files_read = walk.run(roots)
    documents = itertools.chain.from_iterable(files_read)
    first = next(documents, None)  # reads up to the first document: a strict root's failure raises now
    result.documents = DocumentStream(itertools.chain([] if first is None else [first], documents), files_read.close)
    return result


def read_whole(result: ReadResult) -> ReadResult:
    """A streamed read consumed to its end: `documents` a list (what tests and small reads want)."""
    try:
        with _cycle_collection_paused():
            result.documents = list(result.documents)
    finally:
        result.close()
    return result


def file_digest(text: str) -> str:
    """A short content digest: equal digests mean the file need not be parsed again."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Documents are trees of dicts and lists, so they never form reference cycles; but while a whole
    read accumulates them, Python's cycle collector keeps re-scanning every one of them, which costs about
    a fifth of the read. Collection resumes afterwards (and is left alone if someone else paused it)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def entity_ref_of(data: object) -> str | None:
    """`kind:namespace/name` in lower case, when the document says which entity it is."""
    if not isinstance(data, dict):
        return None
    kind, metadata = data.get("kind"), data.get("metadata")
    if not isinstance(kind, str) or not kind or not isinstance(metadata, dict):
        return None
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not isinstance(name, str) or not name:
        return None
    if not isinstance(namespace, str) or not namespace:
        namespace = "default"
    return f"{kind}:{namespace}/{name}".lower()


def is_location(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("kind"), str) and data["kind"].lower() == "location"


@dataclass(frozen=True)
class _Referrer:
    """The Location entry that asked for a file: where to report problems with it."""

    document: CatalogDocument
    entity_ref: str | None
    field: str
    written: str
    optional: bool

    def error(self, message: str) -> ReadError:
        return ReadError(
            location=self.document.location,
            message=f"{self.field}: {shown(self.written)}: {message}",
            document_index=self.document.document_index,
            line=self.document.line,
            entity_ref=self.entity_ref,
        )


@dataclass(frozen=True)
class _Visit:
    location: str
    chain: tuple[str, ...]
    """The files through which this one was reached, root first."""
    referrer: _Referrer | None


class _CatalogWalk:
    def __init__(self, files: CatalogFiles, limits: ReadLimits, result: ReadResult, strict_roots: bool) -> None:
        self.files = files
        self.limits = limits
        self.result = result
        self.strict_roots = strict_roots
        self.yaml_limits = limits.yaml()
        self.placeholders = PlaceholderResolver(files, self.yaml_limits)
        self.visited: set[str] = set()
        self.known_digests: Mapping[str, str] = {}
        self.progress: ReadProgress | None = None
        self.documents_read = 0

    def run(self, roots: Sequence[str]) -> Iterator[list[CatalogDocument]]:
        """Depth first: a file's targets are read right after it, and `chain` is the path that led here.
        Yields the documents of each file read (none for a file skipped as unchanged), as it is read."""
        pending = [_Visit(root, (), None) for root in reversed(roots)]
        while pending:
            visit = pending.pop()
            if visit.location in self.visited:
                continue
            if self.result.files_read >= self.limits.max_files:
                self._stop(visit, pending)
                return
            self.visited.add(visit.location)
            if is_undecodable(visit.location):
                self._refuse_path(visit)
                continue
            text = self._read(visit)
            if text is None:
                continue
            self.result.files_read += 1
            self.result.read_order.append(visit.location)
            digest = file_digest(text)
            documents: list[CatalogDocument] = []
            if self.known_digests.get(visit.location) == digest:
                self.result.unchanged_locations.add(visit.location)
                self.result.file_digests[visit.location] = digest
            else:
                documents, targets = self._read_documents(visit, text, digest)
                pending.extend(reversed(targets))
            self.documents_read += len(documents)
            if self.progress:
                self.progress(self.result.files_read, len(self.visited) + len(pending), self.documents_read)
            yield documents

    def _stop(self, first_unread: _Visit, pending: list[_Visit]) -> None:
        unread = ({first_unread.location} | {visit.location for visit in pending}) - self.visited
        self.result.incomplete_locations.update(unread)
        self.result.errors.append(
            ReadError(
                location=first_unread.location,
                message=f"not read: this read reached its limit of {self.limits.max_files} files; "
                f"{len(unread)} known files were left unread",
            )
        )

    def _refuse_path(self, visit: _Visit) -> None:
        """A file whose path is not valid UTF-8 (listed from disk or git) cannot be named in the catalog."""
        message = f"{self.files.name(visit.location)} is not read: its path is not valid UTF-8"
        if visit.referrer is None and self.strict_roots:
            raise SourceUnavailableError(message)
        referrer = visit.referrer
        self.result.errors.append(referrer.error(message) if referrer else ReadError(shown(visit.location), message))

    def _read(self, visit: _Visit) -> str | None:
        try:
            return self.files.read_text(visit.location)
        except (TargetNotFound, TargetUnreadable) as error:
            referrer = visit.referrer
            if referrer is None and self.strict_roots:
                if isinstance(error, TargetRefused):
                    raise error.refusal from None
                raise SourceUnavailableError(self.files.describe_failure(visit.location, error)) from None
            if isinstance(error, TargetNotFound) and referrer is not None and referrer.optional:
                return None
            self.result.incomplete_locations.add(visit.location)
            message = self.files.describe_failure(visit.location, error)
            self.result.errors.append(referrer.error(message) if referrer else ReadError(visit.location, message))
            return None

    def _read_documents(self, visit: _Visit, text: str, digest: str) -> tuple[list[CatalogDocument], list[_Visit]]:
        """The file's documents, and the files its Locations point at."""
        location = visit.location
        parsed = parse_yaml_documents(text, self.yaml_limits)
        if not parsed.complete:
            self.result.incomplete_locations.add(location)
        for problem in parsed.problems:
            self.result.errors.append(ReadError(location, problem.message, problem.document_index, problem.line))
        may_have_placeholders = "$" in text
        targets: list[_Visit] = []
        documents: list[CatalogDocument] = []
        for parsed_document in parsed.documents:
            data = parsed_document.data
            entity_ref = entity_ref_of(data)
            if may_have_placeholders:
                data, problems = self.placeholders.resolve(data, location)
                for message in problems:
                    self.result.errors.append(
                        ReadError(location, message, parsed_document.index, parsed_document.line, entity_ref)
                    )
            document = CatalogDocument(data, location, parsed_document.index, parsed_document.line)
            documents.append(document)
            if is_location(data):
                targets.extend(self._targets(visit, document, entity_ref))
        if (
            parsed.complete
            and not parsed.problems
            and not may_have_placeholders
            and not any(is_location(d.data) for d in parsed.documents)
        ):
            self.result.file_digests[location] = digest
        return documents, targets

    def _targets(self, visit: _Visit, document: CatalogDocument, entity_ref: str | None) -> list[_Visit]:
        spec = document.data.get("spec")  # type: ignore[union-attr]
        if not isinstance(spec, dict):
            return []
        location_type = spec.get("type")
        optional = spec.get("presence") == "optional"
        chain = (*visit.chain, visit.location)
        visits: list[_Visit] = []
        for field, written in _target_entries(spec):
            referrer = _Referrer(document, entity_ref, field, written, optional)
            if location_type not in FOLLOWED_LOCATION_TYPES:
                self.result.errors.append(
                    referrer.error(
                        f"Location type {location_type!r} is not read by this catalog (only url and file are)"
                    )
                )
                continue
            visits.extend(self._expand(referrer, chain))
        return visits

    def _expand(self, referrer: _Referrer, chain: tuple[str, ...]) -> list[_Visit]:
        try:
            locations = self.files.expand(referrer.document.location, referrer.written)
        except TargetUnreadable as error:
            self.result.errors.append(referrer.error(error.reason))
            return []
        if not locations and not referrer.optional:
            self.result.errors.append(referrer.error("no file matches this pattern"))
        visits = []
        is_glob = self.files.is_glob(referrer.document.location, referrer.written)
        for location in locations:
            if location in chain and is_glob:
                continue  # `./**/*.yaml` matching the Location's own file (or an ancestor) is no cycle
            if location in chain:
                cycle = " -> ".join(self.files.name(link) for link in (*chain[chain.index(location) :], location))
                again = self.files.name(location)
                self.result.errors.append(referrer.error(f"Location cycle {cycle}; {again} is read only once"))
                continue
            visits.append(_Visit(location, chain, referrer))
        return visits


def _target_entries(spec: dict) -> list[tuple[str, str]]:
    """(field, target) pairs, in order. Non-string targets are the model's to report."""
    entries = []
    target = spec.get("target")
    if isinstance(target, str) and target:
        entries.append(("spec.target", target))
    targets = spec.get("targets")
    if isinstance(targets, list):
        entries.extend((f"spec.targets[{i}]", item) for i, item in enumerate(targets) if isinstance(item, str) and item)
    return entries
