"""`read_source`: one entry point that reads a catalog from whatever the user pointed at.

| source                                                          | read as                                  |
|-----------------------------------------------------------------|------------------------------------------|
| `git+<url>`, `ssh://`, `user@host:path`, a URL ending in `.git` | a git repository, cloned into the cache  |
| a local path, with `branch` or `commit`                         | a local git repository, from git objects |
| an existing local directory (a git work tree included)          | the files matching `glob`, as on disk    |
| an existing local file (or `file:/path`)                        | that file                                |
| an `http(s)://` URL                                             | that one YAML file                       |

A source that does not exist or cannot be reached raises `SourceUnavailableError`; one the reading policy
does not allow (`ingestors.reading_policy`) raises `ReadingRefused`, a `SourceUnavailableError` too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from ingestors.documents import ReadResult
from ingestors.fetch import Fetch, policy_fetch
from ingestors.filesystems import (
    DEFAULT_DISCOVERY_GLOB,
    URL_PREFIX,
    CatalogFiles,
    ReadingRefused,
    SourceUnavailableError,
    is_url,
)
from ingestors.git import is_clone_url, stream_git
from ingestors.local import stream_local
from ingestors.locations import (
    DEFAULT_LIMITS,
    ReadLimits,
    ReadProgress,
    read_whole,
    stream_catalog,
)
from ingestors.reading_policy import ReadingPolicy

__all__ = ["ReadLimits", "ReadingPolicy", "ReadingRefused", "SourceUnavailableError", "read_source", "stream_source"]


def read_source(
    source: str,
    *,
    glob: str = DEFAULT_DISCOVERY_GLOB,
    branch: str | None = None,
    commit: str | None = None,
    fetch: Fetch | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    known_digests: Mapping[str, str] | None = None,
    policy: ReadingPolicy | None = None,
    progress: ReadProgress | None = None,
) -> ReadResult:
    """Read the catalog at `source` (see the module's table for what a source can be), and only what
    `policy` allows (default: `ReadingPolicy.default()`, the configured one); all of it at once.

    `timeout` (seconds per HTTP request) is a shorthand for `limits.fetch_timeout`; `cache_dir` is where
    remote git repositories are cloned (default `~/.cache/catalog-graph/git`); `known_digests` are the last
    sync's file digests, so that unchanged files are not parsed again. `fetch` replaces the policy's own
    fetch (tests); the policy's host check still comes first. `progress` is told after each file read.
    """
    return read_whole(
        stream_source(
            source,
            glob=glob,
            branch=branch,
            commit=commit,
            fetch=fetch,
            limits=limits,
            cache_dir=cache_dir,
            timeout=timeout,
            known_digests=known_digests,
            policy=policy,
            progress=progress,
        )
    )


def stream_source(
    source: str,
    *,
    glob: str = DEFAULT_DISCOVERY_GLOB,
    branch: str | None = None,
    commit: str | None = None,
    fetch: Fetch | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    known_digests: Mapping[str, str] | None = None,
    policy: ReadingPolicy | None = None,
    progress: ReadProgress | None = None,
) -> ReadResult:
    """`read_source` as a stream (`ReadResult.documents` a `DocumentStream`): each file is read when the
    documents before it have been consumed, so that a read of any size holds one file's documents at a time.
    A source that cannot be read at all raises here, before the first document is handed out; close the
    result (`ReadResult.close`) if it is not consumed to its end."""
    policy = policy if policy is not None else ReadingPolicy.default()
    fetch = fetch if fetch is not None else policy_fetch(policy)
    if timeout is not None:
        limits = replace(limits, fetch_timeout=timeout)
    repository = _git_repository(source, branch, commit)
    if repository is not None:
        result = stream_git(
            repository,
            branch,
            commit,
            policy=policy,
            glob=glob,
            fetch=fetch,
            limits=limits,
            cache_dir=cache_dir,
            known_digests=known_digests,
            progress=progress,
        )
        result.source = source
        return result
    if is_url(source):
        _check_url(source, policy)
        files = CatalogFiles(None, fetch, policy, limits.fetch_timeout)
        return stream_catalog(
            [URL_PREFIX + source],
            files,
            source=source,
            limits=limits,
            strict_roots=True,
            known_digests=known_digests,
            progress=progress,
        )
    return stream_local(
        _local_path(source),
        policy=policy,
        glob=glob,
        fetch=fetch,
        limits=limits,
        source=source,
        known_digests=known_digests,
        progress=progress,
    )


def _check_url(url: str, policy: ReadingPolicy) -> None:
    """A URL source the policy refuses is refused before anything is read (`ReadingRefused`)."""
    try:
        policy.check_url(url)
    except ValueError as error:
        raise SourceUnavailableError(f"not a valid URL: {error}") from None


def _git_repository(source: str, branch: str | None, commit: str | None) -> str | None:
    """The repository to read, if `source` names one."""
    if source.startswith("git+"):
        return source.removeprefix("git+")
    if is_clone_url(source):
        return source
    if is_url(source) or (branch is None and commit is None):
        return None
    return _local_path(source)


def _local_path(source: str) -> str:
    return source.removeprefix("file://") if source.startswith("file://") else source.removeprefix("file:")
