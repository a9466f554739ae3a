"""A catalog on the local disk: one file, or every file under a directory that matches a discovery glob.

A local location is read under its *root*: the allowed root (`reading.local_roots`) its real path is under.
Relative Location targets and placeholders resolve against their file and may point anywhere inside that
root (`../shared/org.yaml`), never outside it, whether by `..`, an absolute path, `file://` or a symbolic
link whose real path is outside (`ingestors.reading_policy`). Messages name files by their path inside the
root, never by the server's absolute path of the root.

Symbolic links to files are followed within the root; links to directories are not walked by globs, which
keeps a link loop from running forever and a walk from leaving the root. Only regular files are read, and
at most `max_file_bytes` of them: a pipe would block the read forever and `/dev/zero` would never end, so a
file is looked at before it is opened, opened without waiting (`O_NONBLOCK`), and looked at again.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from ingestors.documents import ReadResult
from ingestors.fetch import DEFAULT_MAX_BYTES, Fetch, policy_fetch
from ingestors.filesystems import (
    DEFAULT_DISCOVERY_GLOB,
    CatalogFiles,
    GlobPattern,
    ReadingRefused,
    SourceUnavailableError,
    TargetNotFound,
    TargetRefused,
    TargetUnreadable,
    decode_file_text,
    split_glob,
)
from ingestors.locations import DEFAULT_LIMITS, ReadLimits, ReadProgress, read_whole, stream_catalog
from ingestors.reading_policy import ReadingPolicy

FILE_PREFIX = "file:"
MAX_FILE_BYTES = DEFAULT_MAX_BYTES
"""The largest catalog file read from disk by default (`reading.max_file_bytes`): the same bound as a fetched one."""
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC
"""No waiting for a writer (a pipe), no controlling terminal, no link swapped in after the check."""


def file_location(path: str | os.PathLike[str]) -> str:
    """`file:/absolute/normalised/path`."""
    return FILE_PREFIX + os.path.normpath(os.path.abspath(path))


class LocalFilesystem:
    """Files on disk under one allowed root, addressed as `file:/abs/path`."""

    def __init__(self, root: Path, policy: ReadingPolicy) -> None:
        self._root = root
        self._policy = policy

    def owns(self, location: str) -> bool:
        return location.startswith(FILE_PREFIX)

    def join(self, base: str, target: str) -> str:
        return file_location(os.path.join(os.path.dirname(_path(base)), target))

    def glob(self, base: str, pattern: str) -> list[str]:
        directory, rest = split_glob(pattern)
        start = os.path.join(os.path.dirname(_path(base)), directory)
        self._check(file_location(start))
        return [file_location(path) for path in find_files(start, rest)]

    def read_text(self, location: str) -> str:
        real = self._check(location)
        return decode_file_text(read_regular_file(real, self._policy.max_file_bytes))

    def name(self, location: str) -> str:
        """The path inside the root; a path outside it as it is (it is not the root's)."""
        path = Path(_path(location))
        return str(path.relative_to(self._root)) if path.is_relative_to(self._root) else str(path)

    def _check(self, location: str) -> str:
        """The real path of `location`, if the policy lets this root read it; else `TargetRefused`."""
        try:
            return self._policy.resolve_local(_path(location), self._root)
        except ReadingRefused as refusal:
            raise TargetRefused(refusal.about(self.name(location))) from None


def read_regular_file(path: str, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path` (a real path: no link is followed), at most `max_bytes`.
    Raises `TargetNotFound` or `TargetUnreadable`, never waits for a pipe and never reads a device."""
    try:
        _check_regular(os.stat(path).st_mode)  # before opening: opening a device can do things
        descriptor = os.open(path, _OPEN_FLAGS)
        with open(descriptor, "rb") as file:
            _check_regular(os.fstat(descriptor).st_mode)  # the file opened is the file looked at
            data = file.read(max_bytes + 1)  # never more: a huge file is refused, not held in memory
    except (FileNotFoundError, NotADirectoryError):
        raise TargetNotFound(FILE_PREFIX + path) from None
    except OSError as error:  # permissions, a name too long (ENAMETOOLONG), a symbolic link loop
        raise TargetUnreadable(error.strerror or str(error)) from None
    except ValueError as error:  # a NUL in the path
        raise TargetUnreadable(str(error)) from None
    if len(data) > max_bytes:
        raise TargetUnreadable(f"larger than {max_bytes:,} bytes, the most a catalog file may hold")
    return data


def _check_regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise TargetUnreadable("it is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise TargetUnreadable("not a regular file (a device, a pipe or a socket)")


def _path(location: str) -> str:
    return location[len(FILE_PREFIX) :]


def find_files(root: str | os.PathLike[str], pattern: str) -> list[str]:
    """Absolute paths of the files under `root` whose relative path matches the glob `pattern`; sorted.
    Links to directories are not walked; links to files are listed (reading them checks where they lead)."""
    glob = GlobPattern(pattern)
    return sorted(_walk(os.path.abspath(root), glob, glob.start))


def _walk(directory: str, glob: GlobPattern, states: frozenset[int]) -> Iterator[str]:
    try:
        entries = list(os.scandir(directory))
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return
    for entry in entries:
        following = glob.step(states, entry.name)
        if not following:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path, glob, following)
            elif glob.accepts(following) and entry.is_file():
                yield entry.path
        except OSError:  # is_file() follows links: a link loop, a file without permission to look at it
            continue


def read_local(
    path: str | os.PathLike[str],
    *,
    policy: ReadingPolicy,
    glob: str = DEFAULT_DISCOVERY_GLOB,
    fetch: Fetch | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    source: str | None = None,
    known_digests: Mapping[str, str] | None = None,
    progress: ReadProgress | None = None,
) -> ReadResult:
    """Read a catalog file, or every file matching `glob` under a directory, and all they point at, held to
    `policy` (`ReadingRefused` when `path` is not under an allowed root). `fetch` defaults to the policy's."""
    return read_whole(
        stream_local(
            path,
            policy=policy,
            glob=glob,
            fetch=fetch,
            limits=limits,
            source=source,
            known_digests=known_digests,
            progress=progress,
        )
    )


def stream_local(
    path: str | os.PathLike[str],
    *,
    policy: ReadingPolicy,
    glob: str = DEFAULT_DISCOVERY_GLOB,
    fetch: Fetch | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    source: str | None = None,
    known_digests: Mapping[str, str] | None = None,
    progress: ReadProgress | None = None,
) -> ReadResult:
    """`read_local` as a stream (`ingestors.locations.stream_catalog`): files are read as the documents
    before them are consumed."""
    root = policy.check_local(path)
    path = Path(path)
    shown = source if source is not None else str(path)
    files = CatalogFiles(LocalFilesystem(root, policy), fetch or policy_fetch(policy), policy, limits.fetch_timeout)
    if path.is_dir():
        roots = [file_location(found) for found in find_files(path, glob)]
        return stream_catalog(roots, files, source=shown, limits=limits, known_digests=known_digests, progress=progress)
    if not path.exists():
        raise SourceUnavailableError(f"no such file or directory: {path}")
    return stream_catalog(
        [file_location(path)],
        files,
        source=shown,
        limits=limits,
        strict_roots=True,
        known_digests=known_digests,
        progress=progress,
    )
