"""Where catalog files live: one small interface over a directory, a git tree and the web.

Location targets and `$text`-style placeholders both need the same three things — turn "a path written
in a file" into the location of another file, expand a glob, read text — and they must behave the same
whether a catalog is read from a checkout on disk or from git objects. `Filesystem` is that interface
(implemented in `local.py` and `git.py`); `CatalogFiles` adds the web on top, since any file may point
at an `https://` URL, and a file read from a URL resolves its relative paths against that URL.

Locations are strings: `file:/abs/path`, `git:<repo>:<path>` and `url:https://...`. Messages name them
the way a user of the catalog should see them (`CatalogFiles.name`): a file by its path inside its location's
root (never the server's absolute path of that root), a URL as written.

Every read goes through the reading policy (`ingestors.reading_policy`): what it refuses raises
`TargetRefused`, which becomes an error record of the file that asked, like any other unreadable target.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urljoin

from ingestors.fetch import DEFAULT_TIMEOUT, Fetch, FetchError

if TYPE_CHECKING:
    from ingestors.reading_policy import ReadingPolicy

DEFAULT_DISCOVERY_GLOB = "**/catalog-info.yaml"
URL_PREFIX = "url:"
MAX_SHOWN_CHARACTERS = 200
"""How much of a path or URL written in a file an error message repeats."""


class SourceUnavailableError(Exception):
    """A source could not be read at all (no such path, unreachable repository, unknown branch).

    Raised rather than returned as an empty result: a sync must not mistake "could not look" for
    "nothing is there" and close every entity the source used to have.
    """


class ReadingRefused(SourceUnavailableError):
    """The reading policy does not allow this read; the message names the rule (`reading.local_roots`, ...).

    A `SourceUnavailableError`, so that a registration the policy refuses is refused as a whole."""

    def __init__(self, subject: str, rule: str) -> None:
        super().__init__(f"{subject} {rule}")
        self.subject = subject
        self.rule = rule

    def about(self, subject: str) -> ReadingRefused:
        """The same refusal, naming what was refused differently (a path relative to its root)."""
        return ReadingRefused(subject, self.rule)


class TargetNotFound(Exception):
    """Nothing exists at the location (a missing file, an HTTP 404)."""

    def __init__(self, location: str, reason: str = "") -> None:
        super().__init__(f"{location} does not exist" + (f" ({reason})" if reason else ""))
        self.reason = reason


class TargetUnreadable(Exception):
    """The location may exist but could not be read (network, permissions, outside the source, not text)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TargetRefused(TargetUnreadable):
    """The reading policy refuses the location: an error record for a Location target or a placeholder."""

    def __init__(self, refusal: ReadingRefused) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


class Filesystem(Protocol):
    """A tree of files addressed by location strings with one common prefix."""

    def owns(self, location: str) -> bool:
        """Whether `location` belongs to this filesystem."""
        ...

    def join(self, base: str, target: str) -> str:
        """The location of `target`, a path written in the file at `base` (relative to that file's
        directory unless absolute). Raises `TargetUnreadable` if it points outside the source."""
        ...

    def glob(self, base: str, pattern: str) -> list[str]:
        """Locations of the files matching `pattern`, relative to `base` like `join`; sorted."""
        ...

    def read_text(self, location: str) -> str:
        """The file's text; raises `TargetNotFound` or `TargetUnreadable` (`TargetRefused` included)."""
        ...

    def name(self, location: str) -> str:
        """`location` as messages show it: its path inside the filesystem's root."""
        ...


def is_url(target: str) -> bool:
    return target.startswith(("https://", "http://"))


def has_glob_magic(target: str) -> bool:
    return any(character in target for character in "*?[")


class CatalogFiles:
    """The files one read can reach: its own filesystem (if any) plus the URLs the reading policy allows.

    The policy's host check comes before `fetch` is called, whatever fetch it is; the default fetch also
    checks each address it connects to and each redirect (`ingestors.fetch.policy_fetch`)."""

    def __init__(
        self, filesystem: Filesystem | None, fetch: Fetch, policy: ReadingPolicy, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._filesystem = filesystem
        self._fetch = fetch
        self._policy = policy
        self._timeout = timeout

    def join(self, base: str, target: str) -> str:
        """The location `target` names when written in the file at `base`."""
        target = _strip_prefix(target)
        _check_target(target)
        if is_url(target):
            return URL_PREFIX + target
        if base.startswith(URL_PREFIX):
            try:
                return URL_PREFIX + urljoin(base[len(URL_PREFIX) :], target)
            except ValueError as error:  # e.g. an unclosed `[` of an IPv6 address
                raise TargetUnreadable(f"not a valid URL: {error}") from None
        return self._own_filesystem(base).join(base, target)

    def is_glob(self, base: str, target: str) -> bool:
        """Whether `expand` treats `target` as a pattern (URLs never are: `?` starts a query)."""
        target = _strip_prefix(target)
        return has_glob_magic(target) and not is_url(target) and not base.startswith(URL_PREFIX)

    def expand(self, base: str, target: str) -> list[str]:
        """Like `join`, but a glob becomes the files it matches."""
        if not self.is_glob(base, target):
            return [self.join(base, target)]
        target = _strip_prefix(target)
        _check_target(target)
        return self._own_filesystem(base).glob(base, target)

    def read_text(self, location: str) -> str:
        if location.startswith(URL_PREFIX):
            return self._fetch_text(location[len(URL_PREFIX) :])
        return self._own_filesystem(location).read_text(location)

    def _fetch_text(self, url: str) -> str:
        try:
            self._policy.check_url(url)
        except ReadingRefused as refusal:
            raise TargetRefused(refusal) from None
        except ValueError as error:  # e.g. an unclosed `[` of an IPv6 address, a port out of range
            raise TargetUnreadable(f"not a valid URL: {error}") from None
        try:
            return self._fetch(url, self._timeout)
        except ReadingRefused as refusal:  # the default fetch: a redirect or an address the policy refuses
            raise TargetRefused(refusal) from None
        except FetchError as error:
            if error.not_found:
                raise TargetNotFound(URL_PREFIX + url, error.reason) from None
            raise TargetUnreadable(error.reason) from None
        except (OSError, ValueError) as error:  # an injected fetch built on urllib or sockets
            raise TargetUnreadable(str(error)) from None

    def name(self, location: str) -> str:
        """How a message names `location`: a URL as it is, a file by its path inside its root; fit to show."""
        if location.startswith(URL_PREFIX):
            return shown(location[len(URL_PREFIX) :])
        if self._filesystem is not None and self._filesystem.owns(location):
            return shown(self._filesystem.name(location))
        return shown(location)

    def describe_failure(self, location: str, error: TargetNotFound | TargetUnreadable) -> str:
        """The end of an error message about reading `location`, worded for files and for URLs."""
        if isinstance(error, TargetRefused):
            return f"not read: {error.reason}"
        if location.startswith(URL_PREFIX):
            if isinstance(error, TargetNotFound):
                return f"does not exist ({error.reason})" if error.reason else "does not exist"
            return f"could not fetch: {error.reason}"
        if isinstance(error, TargetNotFound):
            return f"{self.name(location)} does not exist"
        return f"could not read {self.name(location)}: {error.reason}"

    def _own_filesystem(self, location: str) -> Filesystem:
        if self._filesystem is None or not self._filesystem.owns(location):
            raise TargetUnreadable(f"{location} is not part of this source")
        return self._filesystem


def _check_target(target: str) -> None:
    if "\0" in target:  # os functions raise ValueError for it, URLs cannot hold it
        raise TargetUnreadable("a path or URL cannot hold a NUL character")


def _strip_prefix(target: str) -> str:
    """Targets may be written as location references (`url:https://...`, `file:./x.yaml`)."""
    for prefix in (URL_PREFIX, "file:"):
        if target.startswith(prefix):
            return target[len(prefix) :]
    return target


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNDECODED = re.compile("[\ud800-\udfff]")
"""A lone surrogate: a byte that was not UTF-8, as `surrogateescape` decoding represents it."""


def shown(text: str, limit: int = MAX_SHOWN_CHARACTERS) -> str:
    """`text` (a path or URL from a file) fit for a message: control characters and bytes that are not
    UTF-8 written as escapes, and cut short when it is absurdly long."""
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text)} characters)"
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def is_undecodable(text: str) -> bool:
    """Whether `text` holds bytes that were not UTF-8 (a path listed from disk or git, a file's content)."""
    return _UNDECODED.search(text) is not None


def decode_file_text(data: bytes) -> str:
    """A catalog file's text, from its bytes on disk or in git.

    Bytes that are not UTF-8 are kept as lone surrogates (`surrogateescape`), so that the YAML reader can
    reject the documents holding them and still read the others; a byte-order mark is kept too (the YAML
    reader drops it; offsets stay those of the file). A file that is no text at all raises
    `TargetUnreadable`: UTF-16, or not UTF-8 and holding NUL bytes (an image, an archive).
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise TargetUnreadable("UTF-16 text; catalog files must be UTF-8") from None
        if b"\0" in data:
            raise TargetUnreadable(f"binary file (not valid UTF-8 at byte {problem.start}, and NUL bytes)") from None
        return data.decode("utf-8", "surrogateescape")


def checked_text(text: str) -> str:
    """File content to insert or parse whole (placeholders): text with no byte that is not UTF-8 and no NUL,
    without its byte-order mark. Raises `TargetUnreadable`."""
    found = _UNDECODED.search(text)
    if found:
        prefix = re.sub("[\udc80-\udcff]", "?", text[: found.start()])  # one byte each
        raise TargetUnreadable(f"not valid UTF-8 at byte {len(prefix.encode('utf-8', 'surrogatepass'))}")
    if "\0" in text:
        raise TargetUnreadable("binary file (NUL bytes)")
    return text.removeprefix("\ufeff")


def split_glob(target: str) -> tuple[str, str]:
    """`../apis/**/*.yaml` -> (`../apis`, `**/*.yaml`): the literal directory part and the pattern."""
    parts = target.split("/")
    first_magic = next(i for i, part in enumerate(parts) if has_glob_magic(part))
    return "/".join(parts[:first_magic]), "/".join(parts[first_magic:])


class GlobPattern:
    """A `/`-separated glob: `*` and `?` within a name, `[...]` classes, `**` for any number of directories.

    As in Backstage's file globs (node-glob), wildcards never match names starting with a dot, so
    `**/catalog-info.yaml` does not descend into `.git` or `.github`; a pattern that spells out a dot
    (`.github/catalog-info.yaml`) still matches. Matching is a small automaton run one path segment at a
    time, so a directory walk can skip every directory that cannot lead to a match.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._segments = [segment for segment in pattern.split("/") if segment not in ("", ".")]
        self._end = len(self._segments)
        self._matchers = [_segment_matcher(segment) for segment in self._segments]
        self.start = self._closure({0})

    def step(self, states: frozenset[int], name: str) -> frozenset[int]:
        """The states after reading one more path segment `name`; empty when no match is possible."""
        following: set[int] = set()
        for state in states:
            if state == self._end:
                continue
            matcher = self._matchers[state]
            if matcher is None:
                if not name.startswith("."):
                    following.add(state)
            elif matcher(name):
                following.add(state + 1)
        return self._closure(following)

    def accepts(self, states: frozenset[int]) -> bool:
        return self._end in states

    def matches(self, path: str) -> bool:
        states = self.start
        for name in path.split("/"):
            states = self.step(states, name)
            if not states:
                return False
        return self.accepts(states)

    def filter(self, paths: Iterable[str]) -> list[str]:
        """The matching paths of a flat listing, sorted; each directory's states are computed once."""
        directory_states: dict[str, frozenset[int]] = {"": self.start}
        matched = []
        for path in paths:
            directory, _, name = path.rpartition("/")
            states = self._directory_states(directory, directory_states)
            if states and self.accepts(self.step(states, name)):
                matched.append(path)
        return sorted(matched)

    def _directory_states(self, directory: str, known: dict[str, frozenset[int]]) -> frozenset[int]:
        states = known.get(directory)
        if states is None:
            parent, _, name = directory.rpartition("/")
            parent_states = self._directory_states(parent, known)
            states = self.step(parent_states, name) if parent_states else parent_states
            known[directory] = states
        return states

    def _closure(self, states: Iterable[int]) -> frozenset[int]:
        """`**` may also match no directory at all."""
        result = set(states)
        pending = list(result)
        while pending:
            state = pending.pop()
            if state < self._end and self._matchers[state] is None and state + 1 not in result:
                result.add(state + 1)
                pending.append(state + 1)
        return frozenset(result)


@lru_cache(maxsize=256)
def _segment_matcher(segment: str) -> Callable[[str], bool] | None:
    """A predicate for one pattern segment; None stands for `**`."""
    if segment == "**":
        return None
    if not has_glob_magic(segment):
        return segment.__eq__
    regex = re.compile(fnmatch.translate(segment))
    if segment.startswith("."):
        return lambda name: regex.match(name) is not None
    return lambda name: not name.startswith(".") and regex.match(name) is not None
