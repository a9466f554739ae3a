"""A catalog on the local disk: one file, or every file under a directory that matches a discovery glob.

Relative Location targets and placeholders may point anywhere on the disk (`../shared/org.yaml`): the
files are the user's own. Symbolic links to files are followed; links to directories are not walked by
globs, which keeps a link loop from running forever. Only regular files are read: a pipe would block the
read forever and `/dev/zero` would never end.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from ingestors.documents import ReadResult
from ingestors.fetch import DEFAULT_MAX_BYTES, Fetch, default_fetch
from ingestors.filesystems import (
    DEFAULT_DISCOVERY_GLOB,
    CatalogFiles,
    GlobPattern,
    SourceUnavailableError,
    TargetNotFound,
    TargetUnreadable,
    decode_file_text,
    split_glob,
)
from ingestors.locations import DEFAULT_LIMITS, ReadLimits, read_catalog

FILE_PREFIX = "file:"


def file_location(path: str | os.PathLike[str]) -> str:
    """`file:/absolute/normalised/path`."""
    return FILE_PREFIX + os.path.normpath(os.path.abspath(path))


class LocalFilesystem:
    """Files on disk, addressed as `file:/abs/path`."""

    def owns(self, location: str) -> bool:
        return location.startswith(FILE_PREFIX)

    def join(self, base: str, target: str) -> str:
        return file_location(os.path.join(os.path.dirname(_path(base)), target))

    def glob(self, base: str, pattern: str) -> list[str]:
        directory, rest = split_glob(pattern)
        root = os.path.join(os.path.dirname(_path(base)), directory)
        return [file_location(path) for path in find_files(root, rest)]

    def read_text(self, location: str) -> str:
        path = _path(location)
        try:
            if not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path):
                # a pipe would block the read forever, /dev/zero would never end
                raise TargetUnreadable("not a regular file (a device, a pipe or a socket)")
            with open(path, "rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)  # never more: a huge file is refused, not held in memory
            if len(data) > MAX_FILE_BYTES:
                raise TargetUnreadable(f"larger than {MAX_FILE_BYTES:,} bytes, the most a catalog file may hold")
        except (FileNotFoundError, NotADirectoryError):
            raise TargetNotFound(location) from None
        except IsADirectoryError:
            raise TargetUnreadable("it is a directory, not a file") from None
        except OSError as error:  # permissions, a name too long (ENAMETOOLONG), a symbolic link loop
            raise TargetUnreadable(error.strerror or str(error)) from None
        except ValueError as error:  # a NUL in the path
            raise TargetUnreadable(str(error)) from None
        return decode_file_text(data)


MAX_FILE_BYTES = DEFAULT_MAX_BYTES
"""The largest catalog file read from disk: the same bound as a fetched one."""


def _path(location: str) -> str:
    return location[len(FILE_PREFIX) :]


def find_files(root: str | os.PathLike[str], pattern: str) -> list[str]:
    """Absolute paths of the files under `root` whose relative path matches the glob `pattern`; sorted."""
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
    glob: str = DEFAULT_DISCOVERY_GLOB,
    fetch: Fetch = default_fetch,
    limits: ReadLimits = DEFAULT_LIMITS,
    source: str | None = None,
    known_digests: Mapping[str, str] | None = None,
) -> ReadResult:
    """Read a catalog file, or every file matching `glob` under a directory, and all they point at."""
    path = Path(path)
    shown = source if source is not None else str(path)
    files = CatalogFiles(LocalFilesystem(), fetch, limits.fetch_timeout)
    if path.is_dir():
        roots = [file_location(found) for found in find_files(path, glob)]
        return read_catalog(roots, files, source=shown, limits=limits, known_digests=known_digests)
    if not path.exists():
        raise SourceUnavailableError(f"no such file or directory: {path}")
    return read_catalog(
        [file_location(path)], files, source=shown, limits=limits, strict_roots=True, known_digests=known_digests
    )
