"""A catalog in a git repository, read at one commit from git objects (never from a working tree).

Reading objects rather than files means a read sees exactly what was committed: uncommitted edits in a
checkout are invisible, and any past commit can be read the same way (replaying a repository's history
is one read per commit). Remote repositories are cloned bare into a cache directory once and fetched on
later reads. Files come from one `git cat-file --batch` process per read, not one process per file.

Locations are `git:<repo>:<path>`, without the commit, so that an entity keeps its location as the
repository moves on; the commit is `ReadResult.commit_sha`. Location targets and placeholders resolve
inside the same tree at the same commit and may not leave it (`../../etc/passwd` is refused); a leading
`/` means the repository root.

A repository that cannot be reached, or a branch or commit it does not have, raises
`SourceUnavailableError`: the read did not happen, which is not the same as an empty catalog.

What may be cloned is the reading policy's to say (`ReadingPolicy.check_git`: https, http, ssh or git on an
allowed host; a local repository under an allowed root). git itself is held to the same transports
(`GIT_ALLOW_PROTOCOL`) and follows no HTTP redirect, so it cannot be led to another host. What git says goes
into messages without the cache's absolute path, the home directory, or credentials written in a URL.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from ingestors.documents import DocumentStream, ReadResult
from ingestors.fetch import Fetch, policy_fetch
from ingestors.filesystems import (
    DEFAULT_DISCOVERY_GLOB,
    CatalogFiles,
    GlobPattern,
    SourceUnavailableError,
    TargetNotFound,
    TargetUnreadable,
    decode_file_text,
    shown,
    split_glob,
)
from ingestors.locations import DEFAULT_LIMITS, ReadLimits, ReadProgress, read_whole, stream_catalog
from ingestors.reading_policy import ReadingPolicy

DEFAULT_CACHE_DIR = Path("~/.cache/catalog-graph/git")
NETWORK_TIMEOUT = 600.0
"""Seconds for a clone or fetch."""
LOCAL_TIMEOUT = 120.0

_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:(?!//)")
_REGULAR_FILE_MODES = (b"100644", b"100755")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_ALLOWED_PROTOCOLS = "https:http:ssh:git:file"
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@\s:]*)(?::[^/@\s]*)?@", re.IGNORECASE)


def read_git(
    repo: str,
    branch: str | None = None,
    commit: str | None = None,
    *,
    policy: ReadingPolicy,
    glob: str = DEFAULT_DISCOVERY_GLOB,
    fetch: Fetch | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    cache_dir: str | os.PathLike[str] | None = None,
    update: bool = True,
    known_digests: Mapping[str, str] | None = None,
    progress: ReadProgress | None = None,
) -> ReadResult:
    """Read the catalog files matching `glob` in `repo` at `commit`, or at the head of `branch`
    (default: the repository's HEAD), and everything their Locations reach.

    `repo` is a local path (a work tree or a bare repository) or a clone URL (https, ssh, file, or
    `git@host:path`). With `update=False` a cached clone is used as it is (for reading many commits of one
    fetch); only a `commit` it does not have is fetched. `policy` says which repositories and URLs may be read;
    `fetch` defaults to the policy's.
    """
    return read_whole(
        stream_git(
            repo,
            branch,
            commit,
            policy=policy,
            glob=glob,
            fetch=fetch,
            limits=limits,
            cache_dir=cache_dir,
            update=update,
            known_digests=known_digests,
            progress=progress,
        )
    )


def stream_git(
    repo: str,
    branch: str | None = None,
    commit: str | None = None,
    *,
    policy: ReadingPolicy,
    glob: str = DEFAULT_DISCOVERY_GLOB,
    fetch: Fetch | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    cache_dir: str | os.PathLike[str] | None = None,
    update: bool = True,
    known_digests: Mapping[str, str] | None = None,
    progress: ReadProgress | None = None,
) -> ReadResult:
    """`read_git` as a stream (`ingestors.locations.stream_catalog`): the tree's `git cat-file` process stays
    open until the documents are consumed or the result is closed (`ReadResult.close`)."""
    repository = open_repository(repo, policy=policy, cache_dir=cache_dir, update=update)
    sha = repository.resolve(branch=branch, commit=commit)
    tree = repository.tree(sha)
    try:
        filesystem = GitFilesystem(tree, repository.name)
        roots = [filesystem.location(path) for path in GlobPattern(glob).filter(tree.paths)]
        files = CatalogFiles(filesystem, fetch or policy_fetch(policy), policy, limits.fetch_timeout)
        result = stream_catalog(
            roots, files, source=repo, limits=limits, commit_sha=sha, known_digests=known_digests, progress=progress
        )
    except BaseException:
        tree.close()
        raise
    assert isinstance(result.documents, DocumentStream)
    result.documents = DocumentStream(result.documents, release=tree.close)
    return result


def is_remote(repo: str) -> bool:
    """A URL or `user@host:path` rather than a local path."""
    return "://" in repo or bool(_SCP_LIKE.match(repo))


def is_clone_url(source: str) -> bool:
    """Unmistakably a git repository: `ssh://`, `git://`, `user@host:path`, or a URL ending in `.git`
    (an `https://` URL without `.git` is more likely a YAML file)."""
    if source.startswith(("ssh://", "git://")) or _SCP_LIKE.match(source):
        return True
    return is_remote(source) and source.rstrip("/").endswith(".git")


def display_name(repo: str) -> str:
    """The repository as shown in locations and messages: a URL without any password or token in it."""
    if "://" not in repo:
        return repo
    parts = urlsplit(repo)
    if "@" not in parts.netloc:
        return repo
    user_info, _, host = parts.netloc.rpartition("@")
    if parts.scheme in ("http", "https"):  # the user part of an https URL is often a token too
        return urlunsplit(parts._replace(netloc=host))
    return urlunsplit(parts._replace(netloc=f"{user_info.partition(':')[0]}@{host}"))


class GitCommandError(Exception):
    """A git command failed; the message is git's own stderr on one line."""

    def __init__(self, args: list[str], stderr: str) -> None:
        said = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
        super().__init__(said or f"git {' '.join(args)} failed")


def _git(args: list[str], *, git_dir: Path | None = None, timeout: float = LOCAL_TIMEOUT) -> str:
    command = ["git", "-c", "http.followRedirects=false", *([f"--git-dir={git_dir}"] if git_dir else []), *args]
    try:
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_git_environment(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitCommandError(args, f"git {args[0]} did not finish within {timeout:g} s") from None
    except FileNotFoundError:
        raise GitCommandError(args, "the git command is not installed") from None
    except ValueError:  # a NUL in a branch name or a path: no git command can take it
        raise GitCommandError(args, "an argument holds a NUL character") from None
    if completed.returncode != 0:
        raise GitCommandError(args, completed.stderr.decode("utf-8", "replace"))
    return completed.stdout.decode("utf-8", "replace")


def _git_environment() -> dict[str, str]:
    """Never wait for a password prompt (an unattended sync would hang instead of failing), have git's
    messages in English, since they end up in error messages, and keep git to the transports the reading
    policy knows (the commands also say `http.followRedirects=false`: the policy checked the host the URL
    names, not another one)."""
    return {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
        "GIT_ALLOW_PROTOCOL": _ALLOWED_PROTOCOLS,
    }


def redacted(message: str, *paths: str | os.PathLike[str]) -> str:
    """What git said, fit for a message anyone may read: `paths` (the cache directory) and the home directory
    named, not spelled out, and no password or token of a URL (`https://user:token@` -> `https://`)."""
    for path in sorted({str(path) for path in paths if str(path)}, key=len, reverse=True):
        message = message.replace(path, "<git cache>")
    home = str(Path.home())
    if len(home) > 1:
        message = message.replace(home, "~")
    return _URL_CREDENTIALS.sub(_without_credentials, message)


def _without_credentials(match: re.Match[str]) -> str:
    scheme = match["scheme"]
    if scheme.lower() in ("http://", "https://") or not match["user"]:  # the user part of https is often a token
        return scheme
    return f"{scheme}{match['user']}@"


class GitRepository:
    """A repository whose objects are available locally: a local repository, or a cached bare clone."""

    def __init__(self, name: str, git_dir: Path, *, url: str | None = None) -> None:
        self.name = name
        """How the repository is shown: in locations, in messages."""
        self.git_dir = git_dir
        self._url = url
        """Where to fetch from, credentials included; None for a local repository."""

    def resolve(self, branch: str | None = None, commit: str | None = None) -> str:
        """The full SHA of `commit`, else of the head of `branch`, else of HEAD."""
        if commit is not None:
            return self._resolve_commit(commit)
        if branch is not None:
            for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}", f"refs/tags/{branch}"):
                sha = self._rev_parse(ref)
                if sha:
                    return sha
            raise SourceUnavailableError(f"git repository {self.name} has no branch {branch!r}")
        sha = self._rev_parse("HEAD")
        if not sha:
            raise SourceUnavailableError(f"git repository {self.name} has no commit at HEAD (is it empty?)")
        return sha

    def tree(self, commit: str) -> GitTree:
        return GitTree(self.git_dir, commit)

    def _resolve_commit(self, commit: str) -> str:
        sha = self._rev_parse(commit)
        if not sha and self._url is not None and _FULL_SHA.match(commit):
            try:  # a commit newer than the cache, or on no branch: ask for it by name
                _git(["fetch", "--quiet", "--", self._url, commit], git_dir=self.git_dir, timeout=NETWORK_TIMEOUT)
            except GitCommandError:
                pass
            sha = self._rev_parse(commit)
        if not sha:
            raise SourceUnavailableError(f"git repository {self.name} has no commit {commit!r}")
        return sha

    def _rev_parse(self, revision: str) -> str | None:
        if revision.startswith("-"):  # a revision, never an option
            return None
        try:
            return _git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], git_dir=self.git_dir).strip()
        except GitCommandError:
            return None


def open_repository(
    repo: str, *, policy: ReadingPolicy, cache_dir: str | os.PathLike[str] | None = None, update: bool = True
) -> GitRepository:
    """Make `repo`'s objects available: use a local repository in place, clone or fetch a remote one.
    Raises `ReadingRefused` for a repository `policy` does not allow."""
    if is_remote(repo):
        _check_clone_url(repo, policy)
        return _open_remote(repo, Path(cache_dir or DEFAULT_CACHE_DIR).expanduser(), update)
    policy.check_local(Path(repo).expanduser())
    path = Path(repo).expanduser().absolute()
    if not path.exists():
        raise SourceUnavailableError(f"no such git repository: {repo}")
    try:
        answer = _git(["-C", str(path), "rev-parse", "--absolute-git-dir", "--show-prefix"])
        git_dir, prefix = answer.split("\n")[:2]
    except GitCommandError as error:
        raise SourceUnavailableError(f"{repo} is not a git repository: {error}") from None
    if prefix:
        raise SourceUnavailableError(
            f"{repo} is a subdirectory of a git repository; read the repository's top directory instead, "
            f"with a glob such as '{prefix}**/catalog-info.yaml'"
        )
    return GitRepository(str(path), Path(git_dir))


def _check_clone_url(url: str, policy: ReadingPolicy) -> None:
    """`ReadingRefused` names the host, never the URL: it may hold a token."""
    try:
        policy.check_git(url)
    except ValueError as error:
        raise SourceUnavailableError(f"not a valid git repository URL: {error}") from None


def _open_remote(url: str, cache_dir: Path, update: bool) -> GitRepository:
    """The cache is keyed by the URL without credentials, and fetched from the URL as given each time,
    so a rotated token neither makes a second clone nor breaks the first (none is stored in it)."""
    try:
        name = display_name(url)
    except ValueError as error:  # e.g. an unclosed `[` of an IPv6 address; the URL may hold a token: not shown
        raise SourceUnavailableError(f"not a valid git repository URL: {error}") from None
    git_dir = cache_dir / _cache_name(name)
    try:
        if not git_dir.exists():
            _clone(url, name, git_dir)
        elif update:
            _git(
                [
                    "fetch",
                    "--quiet",
                    "--prune",
                    "--force",
                    "--",
                    url,
                    "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*",
                ],
                git_dir=git_dir,
                timeout=NETWORK_TIMEOUT,
            )
    except GitCommandError as error:
        stderr = redacted(str(error).replace(url, name), cache_dir)
        raise SourceUnavailableError(f"could not fetch git repository {shown(name)}: {stderr}") from None
    return GitRepository(name, git_dir, url=url)


def _cache_name(name: str) -> str:
    """A readable, collision-free directory name: `repo-<hash of the URL>.git`."""
    stem = re.sub(r"[^\w.-]", "_", name.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    stem = stem.removesuffix(".git") or "repo"
    return f"{stem}-{hashlib.sha256(name.encode()).hexdigest()[:16]}.git"


def _clone(url: str, name: str, git_dir: Path) -> None:
    """Clone into a temporary directory and rename, so a failed or concurrent clone leaves no half cache."""
    git_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=git_dir.name + ".", suffix=".tmp", dir=git_dir.parent))
    try:
        _git(["clone", "--bare", "--quiet", "--", url, str(temporary)], timeout=NETWORK_TIMEOUT)
        _git(["config", "remote.origin.url", name], git_dir=temporary)
        try:
            temporary.rename(git_dir)
        except OSError:
            if not git_dir.exists():
                raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


class GitTree:
    """The files of one commit: their paths, and their content read through `git cat-file --batch`."""

    def __init__(self, git_dir: Path, commit: str) -> None:
        self.git_dir = git_dir
        self.commit = commit
        self._blobs = _list_blobs(git_dir, commit)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def paths(self) -> list[str]:
        return list(self._blobs)

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None if the commit has no such file."""
        blob = self._blobs.get(path)
        if blob is None:
            return None
        process = self._batch()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(blob + b"\n")
        process.stdin.flush()
        header = process.stdout.readline().split()
        if len(header) != 3:
            said = b" ".join(header).decode("utf-8", "replace")
            raise TargetUnreadable(f"git cat-file could not read {shown(path)}: {said}")
        data = process.stdout.read(int(header[2]))
        process.stdout.read(1)
        return data

    def close(self) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait()
            self._process = None

    def __enter__(self) -> GitTree:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _batch(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            self._process = subprocess.Popen(
                ["git", f"--git-dir={self.git_dir}", "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=_git_environment(),
            )
        return self._process


def _list_blobs(git_dir: Path, commit: str) -> dict[str, bytes]:
    """Path -> blob id of every regular file in the commit (symbolic links and submodules are skipped)."""
    command = ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", "--full-tree", commit]
    completed = subprocess.run(command, capture_output=True, env=_git_environment(), check=False)
    if completed.returncode != 0:
        stderr = redacted(completed.stderr.decode("utf-8", "replace").strip(), git_dir)
        raise SourceUnavailableError(f"could not list the files of commit {commit}: {stderr}")
    blobs = {}
    for entry in completed.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, blob = meta.split(b" ")
        if kind == b"blob" and mode in _REGULAR_FILE_MODES:
            blobs[path.decode("utf-8", "surrogateescape")] = blob
    return blobs


class GitFilesystem:
    """The files of a `GitTree`, addressed as `git:<repo>:<path>`."""

    def __init__(self, tree: GitTree, repo_name: str) -> None:
        self._tree = tree
        self._prefix = f"git:{repo_name}:"

    def location(self, path: str) -> str:
        return self._prefix + path

    def owns(self, location: str) -> bool:
        return location.startswith(self._prefix)

    def join(self, base: str, target: str) -> str:
        return self.location(self._join_path(base, target))

    def glob(self, base: str, pattern: str) -> list[str]:
        directory, rest = split_glob(pattern)
        root = self._join_path(base, directory or ".")
        inside = "" if root == "." else root + "/"
        candidates = [path[len(inside) :] for path in self._tree.paths if path.startswith(inside)]
        return [self.location(inside + path) for path in GlobPattern(rest).filter(candidates)]

    def read_text(self, location: str) -> str:
        data = self._tree.read(location[len(self._prefix) :])
        if data is None:
            raise TargetNotFound(location)
        return decode_file_text(data)

    def name(self, location: str) -> str:
        """The path inside the repository."""
        return location[len(self._prefix) :]

    def _join_path(self, base: str, target: str) -> str:
        if target.startswith("/"):
            joined = target.lstrip("/")
        else:
            joined = posixpath.join(posixpath.dirname(base[len(self._prefix) :]), target)
        path = posixpath.normpath(joined) if joined else "."
        if path == ".." or path.startswith("../"):
            raise TargetUnreadable("points outside the repository")
        return path
