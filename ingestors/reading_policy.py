"""What the catalog may read: local roots, URL hosts and git hosts (Backstage's `reading.allow`).

Whoever may register a location chooses what the service reads, and what it reads is stored where anyone who
may query the catalog sees it. A Location target or a `$text` placeholder that could name any file or URL
would hand them the server's files (`/etc/shadow`, `/proc/self/environ`) and its internal network. So every
read asks the policy first, and everything it does not allow is refused with a message naming the rule:

| what is read                                   | allowed when                                                |
|------------------------------------------------|-------------------------------------------------------------|
| a registered local file, directory, repository | its real path (links resolved) is under one of `local_roots`|
| a local file's Location targets, placeholders  | their real paths are under that same root, the location's   |
| anything under /proc, /sys or /dev             | never, whatever the roots say                               |
| an http(s) URL (and each redirect)             | its host is allowed by `url_hosts` (see `host_allowlist`)   |
| a git clone URL                                | https, http, ssh or git, on a host `git_hosts` allows       |

Inside a git repository, targets and placeholders may not leave the repository (`ingestors.git`); a file read
from a URL reaches only allowed URLs. Only regular files are read, at most `max_file_bytes` of them
(`ingestors.local`), and fetches connect only to the addresses checked (`ingestors.fetch`).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from ingestors.fetch import DEFAULT_MAX_BYTES
from ingestors.filesystems import ReadingRefused, shown
from ingestors.host_allowlist import HostAllowlist, IPAddress, host_and_port, literal_address, normalized_host

if TYPE_CHECKING:
    from graphsvc.config import ReadingSettings

__all__ = ["NEVER_READ", "ReadingPolicy", "ReadingRefused"]

NEVER_READ = (Path("/proc"), Path("/sys"), Path("/dev"))
"""Kernel and device files: endless, blocking, or the process's own secrets (`/proc/self/environ`)."""
DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git+ssh": 22, "ssh+git": 22, "git": 9418}
GIT_SCHEMES = ("https", "http", "ssh", "git+ssh", "ssh+git", "git")
_SCP_LIKE = re.compile(r"^[\w.-]+@(?P<host>[\w.-]+):(?!//)")
"""`user@host:path`, as `ingestors.git` recognises it."""


@dataclass(frozen=True)
class ReadingPolicy:
    """The allowlist one read is held to. Build it with `from_settings`; roots are real absolute paths."""

    local_roots: tuple[Path, ...]
    url_hosts: HostAllowlist
    git_hosts: HostAllowlist
    max_file_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_settings(cls, reading: ReadingSettings, base: Path | None = None) -> ReadingPolicy:
        """The policy of the `reading` settings; relative roots are taken from `base` (default: the working
        directory, where the service starts). Raises ValueError for a host entry that is none."""
        base = base if base is not None else Path.cwd()
        return cls(
            tuple(_real(base / Path(root).expanduser()) for root in reading.local_roots),
            HostAllowlist.parse(reading.url_hosts, "reading.url_hosts"),
            HostAllowlist.parse(reading.git_hosts, "reading.git_hosts"),
            reading.max_file_bytes,
        )

    @classmethod
    def default(cls) -> ReadingPolicy:
        """The policy `catalog` runs with as configured here (environment, `CATALOG_CONFIG`, else the defaults:
        the working directory and any public host), for reads that are given none."""
        from graphsvc.config import load_settings  # the one place settings are read

        return cls.from_settings(load_settings().reading)

    def with_root(self, path: str | os.PathLike[str]) -> ReadingPolicy:
        """A copy that also allows reading under `path` (the demo repository the service builds itself)."""
        return replace(self, local_roots=(*self.local_roots, _real(path)))

    def check_local(self, path: str | os.PathLike[str]) -> Path:
        """The allowed root that `path`'s real path is under (the widest, if several are): the root of the
        location `path` is registered as. Raises `ReadingRefused` naming `path` as given."""
        real = _real_path(path)
        containing = [allowed for allowed in self.local_roots if _is_under(real, allowed)]
        if not containing:
            raise ReadingRefused(shown(str(path)), _outside(path, self.local_roots, "the allowed local roots"))
        return min(containing, key=lambda allowed: len(allowed.parts))

    def resolve_local(self, path: str | os.PathLike[str], root: Path) -> str:
        """The real path of `path`, a file named in a location whose root is `root`, which it may not leave.
        Raises `ReadingRefused` naming `path` as given."""
        real = _real_path(path)
        if not _is_under(real, root):
            raise ReadingRefused(shown(str(path)), _outside(path, (root,), "the location's root"))
        return real

    def check_url(self, url: str, *, redirect: bool = False) -> None:
        """Refuse `url` unless it is http(s) on an allowed host: by name, before anything is sent (the
        default fetch checks each address when it connects). ValueError for a URL that is none."""
        parts = urlsplit(url)
        subject = "the redirect to " if redirect else ""
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ReadingRefused(subject + shown(url), "is not an http(s) URL")
        if not parts.hostname:
            raise ReadingRefused(subject + shown(url), "names no host")
        _check_host(self.url_hosts, parts.hostname, parts.port or DEFAULT_PORTS[scheme], subject=subject)

    def check_url_address(self, host: str, port: int, address: IPAddress) -> None:
        """Refuse connecting to `address` for a URL on `host`: a wildcard does not allow a private address."""
        _check_host(self.url_hosts, host, port, address)

    def check_git(self, url: str) -> None:
        """Refuse a clone URL unless it is a local repository under a root (`file://`), or https, http, ssh
        or git on a host `git_hosts` allows and whose addresses it allows (git connects itself: the
        addresses are checked when the check runs). ValueError for a URL that is none."""
        parts = urlsplit(url) if "://" in url else None
        if parts is not None and parts.scheme.lower() == "file" and parts.netloc in ("", "localhost"):
            self.check_local(parts.path)
            return
        host, port = _git_host(url, parts)
        _check_host(self.git_hosts, host, port)
        for address in _addresses(host, port):
            _check_host(self.git_hosts, host, port, address)


def _git_host(url: str, parts: SplitResult | None) -> tuple[str, int]:
    """The host and port git connects to for a clone URL (`parts`: the URL split, unless it is scp-like)."""
    if parts is None:
        match = _SCP_LIKE.match(url)
        if match is None:
            raise ReadingRefused(shown(url), "is not a git clone URL")
        return match["host"], DEFAULT_PORTS["ssh"]
    scheme = parts.scheme.lower()
    if scheme not in GIT_SCHEMES or not parts.hostname:
        raise ReadingRefused(shown(f"{scheme}://"), f"is not a transport read here ({', '.join(GIT_SCHEMES)})")
    return parts.hostname, parts.port or DEFAULT_PORTS[scheme]


def _check_host(
    allowlist: HostAllowlist, host: str, port: int, address: IPAddress | None = None, *, subject: str = ""
) -> None:
    refusal = allowlist.refusal(host, port, address)
    if refusal is not None:
        raise ReadingRefused(subject + shown(host_and_port(normalized_host(host), port)), refusal)


def _addresses(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to; none when it does not resolve (the clone then fails by itself)."""
    literal = literal_address(normalized_host(host))
    if literal is not None:
        return [literal]
    try:
        answers = socket.getaddrinfo(normalized_host(host), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # ValueError: a NUL in the name
        return []
    return [address for answer in answers if (address := literal_address(str(answer[4][0]))) is not None]


def _real_path(path: str | os.PathLike[str]) -> str:
    """`path` with every link resolved; `ReadingRefused` under /proc, /sys or /dev, or with a NUL."""
    try:
        real = os.path.realpath(path)
    except ValueError:  # a NUL in the path
        raise ReadingRefused(shown(str(path)), "is not a path (it holds a NUL character)") from None
    for never in NEVER_READ:
        if _is_under(real, never):
            raise ReadingRefused(shown(str(path)), f"is under {never}, which is never read")
    return real


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(path))


def _is_under(path: str, directory: Path) -> bool:
    """Whether `path` (absolute, normalized) is `directory` or inside it; plain text, as this runs per file."""
    prefix = str(directory)
    return path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/")


def _outside(path: str | os.PathLike[str], roots: tuple[Path, ...], where: str) -> str:
    """The rule a path outside `roots` breaks; a link inside that leads out is told apart."""
    lexical = os.path.abspath(path)
    if any(_is_under(lexical, allowed) for allowed in roots):
        return f"is a link to a path outside {where} (reading.local_roots)"
    return f"is outside {where} (reading.local_roots)"
