"""Fetching catalog files and placeholder content over HTTP(S).

Reading is injectable (`Fetch`) so that tests and offline runs can decide what the network does. The
default follows redirects, gives up after a timeout, refuses oversized bodies, and reads GitHub and GitLab
"blob" page URLs (what people copy from the browser, and what Backstage's examples use) from their raw
counterparts, as Backstage's SCM integrations do.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 32 * 1024 * 1024

Fetch = Callable[[str, float], str]
"""`fetch(url, timeout_seconds) -> text`; raises `FetchError` when the content cannot be had."""


class FetchError(Exception):
    """The URL could not be read. `not_found` separates "there is nothing there" from "could not ask"."""

    def __init__(self, reason: str, *, not_found: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_found = not_found


_RAW_URL_RULES = [
    (
        re.compile(r"^https://github\.com/([^/]+)/([^/]+)/(?:blob|raw)/(.+)$"),
        r"https://raw.githubusercontent.com/\1/\2/\3",
    ),
    (re.compile(r"^(https://gitlab\.com/.+?)/-/blob/(.+)$"), r"\1/-/raw/\2"),
]


def raw_content_url(url: str) -> str:
    """The URL that serves a file's bytes, for web-page URLs of files on GitHub and GitLab."""
    for pattern, replacement in _RAW_URL_RULES:
        if pattern.match(url):
            return pattern.sub(replacement, url)
    return url


def default_fetch(url: str, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """GET `url` as UTF-8 text."""
    try:
        with httpx.stream("GET", raw_content_url(url), timeout=timeout, follow_redirects=True) as response:
            if response.status_code in (404, 410):
                raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}", not_found=True)
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}")
            body = _read_limited(response, max_bytes)
    except httpx.TimeoutException:
        raise FetchError(f"timed out after {timeout:g} s") from None
    except httpx.HTTPError as error:
        raise FetchError(str(error) or type(error).__name__) from None
    except (httpx.InvalidURL, ValueError) as error:  # control characters, a bad port or host name (IDNA)
        raise FetchError(f"not a valid URL: {error}") from None
    return decode_text(body, FetchError)


def _read_limited(response: httpx.Response, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"the response is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_text(data: bytes, error: Callable[[str], Exception]) -> str:
    """Catalog files are UTF-8 (a byte-order mark is allowed and dropped)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise error(f"not UTF-8 text (byte {problem.start})") from None
