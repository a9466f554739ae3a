"""Fetching catalog files and placeholder content over HTTP(S), only from where the reading policy allows.

Reading is injectable (`Fetch`) so that tests and offline runs can decide what the network does; the policy's
host check runs before any fetch is called (`ingestors.filesystems.CatalogFiles`). The default fetch
(`policy_fetch`) is held to the policy at every step: it checks the URL's host before connecting, resolves
the name itself and checks every address (a wildcard never allows a private one), then connects to the
address it checked, so a DNS answer that changes after the check (rebinding) cannot move the connection; TLS
still verifies the certificate for the name in the URL. It follows at most `MAX_REDIRECTS` redirects, each
checked like the first URL, gives up after a timeout, refuses bodies larger than the policy's
`max_file_bytes`, ignores proxy settings of the environment (a proxy would be the only address checked), and
reads GitHub and GitLab "blob" page URLs (what people copy from the browser, and what Backstage's examples
use) from their raw counterparts, as Backstage's SCM integrations do.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpcore
import httpx

if TYPE_CHECKING:
    from ingestors.reading_policy import ReadingPolicy

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
MAX_REDIRECTS = 5

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


def policy_fetch(policy: ReadingPolicy) -> Fetch:
    """The default fetch, held to `policy` (see the module's docstring)."""

    def fetch(url: str, timeout: float) -> str:
        return default_fetch(url, timeout, policy=policy)

    return fetch


def default_fetch(url: str, timeout: float = DEFAULT_TIMEOUT, *, policy: ReadingPolicy) -> str:
    """GET `url` as UTF-8 text. Raises `FetchError`, or `ReadingRefused` for a host, an address or a
    redirect the policy does not allow."""
    try:
        with httpx.Client(transport=_PinnedTransport(policy), timeout=timeout, trust_env=False) as client:
            response = _get(client, raw_content_url(url), policy)
            try:
                if response.status_code in (404, 410):
                    raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}", not_found=True)
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}")
                body = _read_limited(response, policy.max_file_bytes)
            finally:
                response.close()
    except httpx.TimeoutException:
        raise FetchError(f"timed out after {timeout:g} s") from None
    except httpx.HTTPError as error:
        raise FetchError(str(error) or type(error).__name__) from None
    except (httpx.InvalidURL, ValueError) as error:  # control characters, a bad port or host name (IDNA)
        raise FetchError(f"not a valid URL: {error}") from None
    return decode_text(body, FetchError)


def _get(client: httpx.Client, url: str, policy: ReadingPolicy) -> httpx.Response:
    """The response to GET `url`, after following its redirects, each allowed by the policy first."""
    policy.check_url(url)
    response = client.send(client.build_request("GET", url), stream=True)
    for _ in range(MAX_REDIRECTS):
        following = response.next_request
        if following is None:
            return response
        response.close()
        policy.check_url(str(following.url), redirect=True)
        response = client.send(following, stream=True)
    if response.next_request is not None:
        response.close()
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")
    return response


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport, with a connection pool whose connections go only to checked addresses.

    httpx 0.28 takes no network backend, so the pool it made is replaced by one that has ours; the pool is
    what `HTTPTransport.handle_request` sends through."""

    def __init__(self, policy: ReadingPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=_PinnedBackend(policy)
        )


class _PinnedBackend(httpcore.NetworkBackend):
    """Resolves the host itself, refuses unless the policy allows every address, and connects to those
    addresses (httpcore passes the URL's host name for TLS separately, so certificates are checked as usual)."""

    def __init__(self, policy: ReadingPolicy) -> None:
        self._policy = policy
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _resolve(host, port)
        for address in addresses:
            self._policy.check_url_address(host, port, ipaddress.ip_address(address))
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return self._backend.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as error:
                failure = error
        assert failure is not None  # `_resolve` returns at least one address
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("Unix sockets are never fetched")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _resolve(host: str, port: int) -> list[str]:
    """The addresses of `host`, in the resolver's order, without duplicates; `ConnectError` when none."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:  # a UnicodeError (a label too long) goes on: the name is no host name
        raise httpcore.ConnectError(str(error)) from error
    addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
    if not addresses:
        raise httpcore.ConnectError(f"{host} has no address")
    return addresses


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
