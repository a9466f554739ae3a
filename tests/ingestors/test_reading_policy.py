"""The reading allowlist: what a registered location, its Location targets and its placeholders may read.

Every rule is exercised with real files, links, pipes, sockets and HTTP servers on 127.0.0.1; each refusal
is an exact message that names the rule, never the content of what was refused nor the server's absolute
path of the location's root.
"""

from __future__ import annotations

import http.server
import ipaddress
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from graphsvc.config import ReadingSettings
from ingestors.documents import ReadResult
from ingestors.fetch import FetchError, default_fetch
from ingestors.filesystems import ReadingRefused, SourceUnavailableError
from ingestors.git import redacted
from ingestors.host_allowlist import HostAllowlist, HostEntry, address_class
from ingestors.read import read_source
from ingestors.reading_policy import ReadingPolicy
from tests.ingestors.catalog_files import Git, entity, http_server, messages, names, write

SECRET = "root:x:0:0:the-secret-content"
"""What the files outside the root hold: it must never reach a document or a message."""
SLOW = 10.0
"""Seconds a read may take before the test calls it hung (a pipe nobody writes to would block forever)."""


def finishes(work: Callable[[], Any], seconds: float = SLOW) -> Any:
    """`work()`, run in a thread so that a read that blocks fails the test instead of hanging it."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed back to the test below
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"the read did not finish within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def policy_for(root: Path | None = None, **reading: Any) -> ReadingPolicy:
    roots = [root] if root is not None else []
    return ReadingPolicy.from_settings(ReadingSettings(local_roots=roots, **reading))


# --- Local files: targets and placeholders stay inside their location's root -------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """`root/` (the allowed root) beside `outside/`; links, a pipe and a socket inside the root."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    write(outside, {"secret.txt": SECRET, "catalog-info.yaml": entity("Component", "outsider")})
    write(root, {"inside.txt": "inside content", "sub/deeper.txt": "deeper content"})
    (root / "link-out.txt").symlink_to(outside / "secret.txt")
    (root / "dir-out").symlink_to(outside)
    (root / "link-in.txt").symlink_to(root / "inside.txt")
    os.mkfifo(root / "pipe.txt")
    here = os.getcwd()
    os.chdir(root)  # a relative name: the absolute one may be longer than a socket's name can be
    try:
        socket.socket(socket.AF_UNIX).bind("socket.txt")
    finally:
        os.chdir(here)
    return root


LINKED_OUT = "is a link to a path outside the location's root (reading.local_roots)"
NOT_REGULAR = "not a regular file (a device, a pipe or a socket)"
LOCAL_TARGETS = [
    ("../outside/secret.txt", "not read: {outside}/secret.txt is outside the location's root (reading.local_roots)"),
    ("/etc/passwd", "not read: /etc/passwd is outside the location's root (reading.local_roots)"),
    ("file:///etc/shadow", "not read: /etc/shadow is outside the location's root (reading.local_roots)"),
    (
        "file:../outside/secret.txt",
        "not read: {outside}/secret.txt is outside the location's root (reading.local_roots)",
    ),
    (
        "./sub/../../outside/secret.txt",
        "not read: {outside}/secret.txt is outside the location's root (reading.local_roots)",
    ),
    ("./link-out.txt", f"not read: link-out.txt {LINKED_OUT}"),
    ("./dir-out/secret.txt", f"not read: dir-out/secret.txt {LINKED_OUT}"),
    ("/proc/self/environ", "not read: /proc/self/environ is under /proc, which is never read"),
    ("/dev/zero", "not read: /dev/zero is under /dev, which is never read"),
    ("/sys/kernel/notes", "not read: /sys/kernel/notes is under /sys, which is never read"),
    ("./pipe.txt", f"could not read pipe.txt: {NOT_REGULAR}"),
    ("./socket.txt", f"could not read socket.txt: {NOT_REGULAR}"),
]
LOCAL_IDS = [
    "dot-dot",
    "absolute",
    "file-url",
    "file-relative",
    "dot-dot-deeper",
    "link-to-file",
    "link-to-directory",
    "proc",
    "dev-zero",
    "sys",
    "fifo",
    "socket",
]


def with_target(target: str) -> str:
    """An API whose definition is a `$text` of `target`, and a Location whose target is `target`."""
    api = entity(
        "API", "api", type="openapi", lifecycle="production", owner="team", definition=f"{{$text: '{target}'}}"
    )
    return api + "---\n" + entity("Location", "here", target=f"'{target}'")


def read_with_target(root: Path, target: str) -> ReadResult:
    (root / "catalog-info.yaml").write_text(with_target(target))
    return finishes(lambda: read_source(str(root / "catalog-info.yaml"), policy=policy_for(root)))


@pytest.mark.parametrize(("target", "reason"), LOCAL_TARGETS, ids=LOCAL_IDS)
def test_a_placeholder_or_location_target_is_read_only_inside_its_root(tree: Path, target: str, reason: str) -> None:
    result = read_with_target(tree, target)

    expected = reason.format(outside=tree.parent / "outside")
    assert messages(result) == [f"spec.definition: $text {target}: {expected}", f"spec.target: {target}: {expected}"]
    assert result.documents[0].data["spec"]["definition"] == {"$text": target}  # left in place, as any failure
    assert names(result) == ["api", "here"]
    assert SECRET not in repr(result)
    assert all(str(tree) not in message for message in messages(result))


@pytest.mark.parametrize(
    ("target", "content"),
    [
        ("./inside.txt", "inside content"),
        ("./sub/../inside.txt", "inside content"),
        ("{root}/sub/deeper.txt", "deeper content"),
        ("file:./sub/deeper.txt", "deeper content"),
        ("./link-in.txt", "inside content"),
    ],
    ids=["relative", "dot-dot-inside", "absolute-inside", "file-relative", "link-inside"],
)
def test_anything_inside_the_root_is_read(tree: Path, target: str, content: str) -> None:
    (tree / "catalog-info.yaml").write_text(with_target(target.format(root=tree)).split("---\n")[0])

    result = read_source(str(tree / "catalog-info.yaml"), policy=policy_for(tree))

    assert result.errors == []
    assert result.documents[0].data["spec"]["definition"] == content


def test_a_glob_may_not_walk_outside_the_root(tree: Path) -> None:
    (tree / "catalog-info.yaml").write_text(entity("Location", "here", target="../outside/*.yaml"))

    result = read_source(str(tree / "catalog-info.yaml"), policy=policy_for(tree))

    outside = tree.parent / "outside"
    assert messages(result) == [
        f"spec.target: ../outside/*.yaml: {outside} is outside the location's root (reading.local_roots)"
    ]
    assert names(result) == ["here"]


def test_a_directory_walk_reads_no_link_out_of_the_root(tree: Path) -> None:
    """Discovery does not walk linked directories (`dir-out/catalog-info.yaml` is never seen), and a linked
    file that leads out is reported, not read."""
    (tree / "catalog-info.yaml").symlink_to(tree.parent / "outside/catalog-info.yaml")
    write(tree, {"team/catalog-info.yaml": entity("Group", "team")})

    result = read_source(str(tree), policy=policy_for(tree))

    assert names(result) == ["team"]
    assert [(error.location, error.message) for error in result.errors] == [
        (f"file:{tree}/catalog-info.yaml", f"not read: catalog-info.yaml {LINKED_OUT}")
    ]


# --- Registered local targets: under an allowed root, regular files only ------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/etc/passwd", "/etc/passwd is outside the allowed local roots (reading.local_roots)"),
        ("file:///etc/passwd", "/etc/passwd is outside the allowed local roots (reading.local_roots)"),
        ("/dev/zero", "/dev/zero is under /dev, which is never read"),
        ("/proc/self/environ", "/proc/self/environ is under /proc, which is never read"),
        (
            "{root}/link-out.txt",
            "{root}/link-out.txt is a link to a path outside the allowed local roots (reading.local_roots)",
        ),
        ("{root}/dir-out", "{root}/dir-out is a link to a path outside the allowed local roots (reading.local_roots)"),
        (
            "{root}/../outside/secret.txt",
            "{root}/../outside/secret.txt is outside the allowed local roots (reading.local_roots)",
        ),
    ],
    ids=["passwd", "file-url", "dev-zero", "proc", "link-to-file", "link-to-directory", "dot-dot"],
)
def test_a_registered_target_outside_the_roots_is_refused_naming_the_rule(
    tree: Path, target: str, message: str
) -> None:
    with pytest.raises(ReadingRefused) as refused:
        finishes(lambda: read_source(target.format(root=tree), policy=policy_for(tree)))

    assert str(refused.value) == message.format(root=tree)
    assert isinstance(refused.value, SourceUnavailableError)  # what the API answers as BAD_USER_INPUT


@pytest.mark.parametrize("name", ["pipe.txt", "socket.txt"])
def test_a_registered_pipe_or_socket_is_refused_at_once(tree: Path, name: str) -> None:
    with pytest.raises(SourceUnavailableError) as refused:
        finishes(lambda: read_source(str(tree / name), policy=policy_for(tree)))

    assert str(refused.value) == f"could not read {name}: {NOT_REGULAR}"


def test_a_root_is_a_real_path_and_one_more_can_be_allowed(tmp_path: Path) -> None:
    write(
        tmp_path, {"real/catalog-info.yaml": entity("Component", "a"), "demo/catalog-info.yaml": entity("Group", "b")}
    )
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    policy = ReadingPolicy.from_settings(ReadingSettings(local_roots=[Path("alias")]), base=tmp_path)

    assert policy.local_roots == (tmp_path / "real",)
    assert names(read_source(str(tmp_path / "real/catalog-info.yaml"), policy=policy)) == ["a"]
    with pytest.raises(ReadingRefused):
        read_source(str(tmp_path / "demo"), policy=policy)
    assert names(read_source(str(tmp_path / "demo"), policy=policy.with_root(tmp_path / "demo"))) == ["b"]


def test_a_file_over_the_size_limit_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    write(tmp_path, {"catalog-info.yaml": entity("API", "api", definition="{$text: ./big.txt}")})
    (tmp_path / "big.txt").write_text("x" * 2000)

    result = read_source(str(tmp_path), policy=policy_for(tmp_path, max_file_bytes=1000))

    too_big = "larger than 1,000 bytes, the most a catalog file may hold"
    assert messages(result) == [f"spec.definition: $text ./big.txt: could not read big.txt: {too_big}"]


# --- Hosts: the allowlist, and addresses a wildcard never covers ---------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("224.0.0.251", "a multicast address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd00:ec2::254", "a private address"),
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        ("100.64.0.1", "a shared (carrier NAT) address"),
        ("240.0.0.1", "a reserved address"),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_classes(address: str, kind: str | None) -> None:
    assert address_class(ipaddress.ip_address(address)) == kind


WILDCARD = "read only when reading.url_hosts names it (a wildcard never covers it)"
HOST_RULES = [
    # entries, host, port, resolved address, refusal (None: allowed)
    (["*"], "example.com", 443, None, None),
    (["*"], "example.com", 443, "93.184.215.14", None),
    (["*.example.com"], "api.example.com", 443, None, None),
    (["*.example.com"], "example.com", 443, None, "is not an allowed host (reading.url_hosts)"),
    (["example.com"], "evil.com", 443, None, "is not an allowed host (reading.url_hosts)"),
    (["example.com:8443"], "example.com", 443, None, "is not an allowed host (reading.url_hosts)"),
    (["example.com:8443"], "EXAMPLE.com.", 8443, None, None),
    (["*"], "127.0.0.1", 80, None, f"is a loopback address, {WILDCARD}"),
    (["*"], "127.1", 80, None, f"is a loopback address, {WILDCARD}"),
    (["*"], "2130706433", 80, None, f"is a loopback address, {WILDCARD}"),
    (["*"], "localhost", 80, None, f"is a loopback name, {WILDCARD}"),
    (["*"], "app.localhost", 80, None, f"is a loopback name, {WILDCARD}"),
    (["*"], "169.254.169.254", 80, None, f"is a link-local address, {WILDCARD}"),
    (["*"], "::1", 80, None, f"is a loopback address, {WILDCARD}"),
    (["*"], "intranet.corp", 80, "10.0.0.7", f"resolves to 10.0.0.7, a private address, {WILDCARD}"),
    (["*.corp"], "intranet.corp", 80, "10.0.0.7", f"resolves to 10.0.0.7, a private address, {WILDCARD}"),
    (["intranet.corp"], "intranet.corp", 80, "10.0.0.7", None),
    (["10.0.0.7:80"], "intranet.corp", 80, "10.0.0.7", None),
    (["127.0.0.1:8080"], "127.0.0.1", 8080, None, None),
    (["127.0.0.1:8080"], "127.0.0.1", 8081, None, f"is a loopback address, {WILDCARD}"),
    (["localhost:8080"], "localhost", 8080, "127.0.0.1", None),
    (["[::1]:8080"], "::1", 8080, None, None),
    (["::1"], "[::1]", 9, None, None),
    ([], "example.com", 443, None, "is not an allowed host (reading.url_hosts)"),
]


@pytest.mark.parametrize(("entries", "host", "port", "address", "refusal"), HOST_RULES)
def test_host_rules(entries: list[str], host: str, port: int, address: str | None, refusal: str | None) -> None:
    allowlist = HostAllowlist.parse(entries, "reading.url_hosts")
    resolved = ipaddress.ip_address(address) if address else None

    assert allowlist.refusal(host, port, resolved) == refusal


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("*", HostEntry("*")),
        ("*.Example.com", HostEntry("*.example.com")),
        ("example.com", HostEntry("example.com")),
        ("example.com:8443", HostEntry("example.com", 8443)),
        ("127.0.0.1:8080", HostEntry("127.0.0.1", 8080)),
        ("[::1]:8080", HostEntry("::1", 8080)),
        ("fd00::1", HostEntry("fd00::1")),
    ],
)
def test_host_entries(entry: str, parsed: HostEntry) -> None:
    assert HostEntry.parse(entry) == parsed


@pytest.mark.parametrize("entry", ["", "exa*mple.com", "*example.com", "host:port", "[::1", "[::1]x"])
def test_a_host_entry_that_is_none_is_a_configuration_error(entry: str) -> None:
    with pytest.raises(ValueError, match=r"^reading\.url_hosts: .* is not a host, host:port, \*\.domain or \*$"):
        ReadingPolicy.from_settings(ReadingSettings(url_hosts=[entry]))


# --- URLs: fetched only from allowed hosts, every address and redirect checked ------------------------------


class _Connections:
    """Every TCP connection this process starts (an audit hook: nothing is mocked)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.connect" and isinstance(args[1], tuple):
            self.seen.append(args[1][:2])

    @contextmanager
    def recorded(self) -> Iterator[list[tuple[str, int]]]:
        start = len(self.seen)
        made: list[tuple[str, int]] = []
        yield made
        made.extend(self.seen[start:])


CONNECTIONS = _Connections()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """An HTTP server on 127.0.0.1 serving `tmp_path/site`: (base URL, port)."""
    write(tmp_path / "site", {"catalog-info.yaml": entity("Component", "served")})
    with http_server(tmp_path / "site") as base_url:
        yield base_url, int(base_url.rstrip("/").rsplit(":", 1)[1])


@pytest.mark.parametrize(
    ("url_hosts", "host", "refusal"),
    [
        (["*"], "127.0.0.1", f"127.0.0.1:{{port}} is a loopback address, {WILDCARD}"),
        (["127.0.0.1:1"], "127.0.0.1", f"127.0.0.1:{{port}} is a loopback address, {WILDCARD}"),
        (["127.0.0.1:{port}"], "127.0.0.1", None),
        (["127.0.0.1"], "127.0.0.1", None),
        (["*"], "localhost", f"localhost:{{port}} is a loopback name, {WILDCARD}"),
        (["localhost:{port}"], "localhost", None),
        (["github.com"], "127.0.0.1", f"127.0.0.1:{{port}} is a loopback address, {WILDCARD}"),
    ],
)
def test_a_url_is_fetched_only_from_an_allowed_host(
    served: tuple[str, int], url_hosts: list[str], host: str, refusal: str | None
) -> None:
    _, port = served
    policy = policy_for(url_hosts=[entry.format(port=port) for entry in url_hosts])
    url = f"http://{host}:{port}/catalog-info.yaml"

    if refusal is None:
        assert names(read_source(url, policy=policy)) == ["served"]
        return
    with CONNECTIONS.recorded() as made, pytest.raises(ReadingRefused) as refused:
        read_source(url, policy=policy)
    assert str(refused.value) == refusal.format(port=port)
    assert made == []


def test_a_name_that_resolves_to_a_private_address_is_refused_when_connecting(served: tuple[str, int]) -> None:
    """The machine's own name is no loopback name, yet resolves to one here: the address is what counts."""
    _, port = served
    name = socket.gethostname()
    addresses = {answer[4][0] for answer in socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)}
    if any(address_class(ipaddress.ip_address(address)) is None for address in addresses):
        pytest.skip(f"{name} resolves to a public address here")
    url = f"http://{name}:{port}/catalog-info.yaml"

    with CONNECTIONS.recorded() as made, pytest.raises(ReadingRefused) as refused:
        default_fetch(url, 5, policy=policy_for(url_hosts=["*"]))
    allowed = default_fetch(url, 5, policy=policy_for(url_hosts=[f"{name}:{port}"]))

    assert str(refused.value).startswith(f"{name}:{port} resolves to 127.")
    assert str(refused.value).endswith(f", a loopback address, {WILDCARD}")
    assert made == []
    assert allowed == entity("Component", "served")


def test_the_cloud_metadata_address_is_refused_without_connecting() -> None:
    with CONNECTIONS.recorded() as made, pytest.raises(ReadingRefused) as refused:
        finishes(
            lambda: default_fetch("http://169.254.169.254/latest/meta-data/", 5, policy=policy_for(url_hosts=["*"]))
        )

    assert str(refused.value) == f"169.254.169.254:80 is a link-local address, {WILDCARD}"
    assert made == []


class _Redirecting(http.server.BaseHTTPRequestHandler):
    """`/to?<url>` answers 302 to `<url>`; `/loop` redirects to itself; anything else is a catalog file."""

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path in ("/to", "/loop"):
            self.send_response(302)
            self.send_header("Location", query if path == "/to" else "/loop")
            self.end_headers()
            return
        body = entity("Component", "redirected").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(
    ("to", "outcome"),
    [
        ("/catalog.yaml", None),
        (
            "http://169.254.169.254/latest/meta-data/",
            f"the redirect to 169.254.169.254:80 is a link-local address, {WILDCARD}",
        ),
        ("http://localhost:{port}/catalog.yaml", f"the redirect to localhost:{{port}} is a loopback name, {WILDCARD}"),
        (
            "http://other.example/catalog.yaml",
            "the redirect to other.example:80 is not an allowed host (reading.url_hosts)",
        ),
        (
            "file:///etc/passwd",
            "the redirect to file://127.0.0.1/etc/passwd is not an http(s) URL",
        ),  # httpx adds the host
    ],
    ids=["same-host", "metadata", "other-name", "other-host", "file"],
)
def test_each_redirect_is_checked_like_the_first_url(redirecting: int, to: str, outcome: str | None) -> None:
    port = redirecting
    policy = policy_for(url_hosts=[f"127.0.0.1:{port}"])
    url = f"http://127.0.0.1:{port}/to?{to.format(port=port)}"

    if outcome is None:
        assert default_fetch(url, 5, policy=policy) == entity("Component", "redirected")
        return
    with CONNECTIONS.recorded() as made, pytest.raises(ReadingRefused) as refused:
        default_fetch(url, 5, policy=policy)
    assert str(refused.value) == outcome.format(port=port)
    assert made == [("127.0.0.1", port)]  # the first request only


def test_redirects_stop_after_five(redirecting: int) -> None:
    with pytest.raises(FetchError, match="^more than 5 redirects$"):
        default_fetch(
            f"http://127.0.0.1:{redirecting}/loop", 5, policy=policy_for(url_hosts=[f"127.0.0.1:{redirecting}"])
        )


def test_the_host_check_comes_before_an_injected_fetch(tmp_path: Path) -> None:
    asked: list[str] = []

    def fetch(url: str, timeout: float) -> str:
        asked.append(url)
        return "fetched"

    write(
        tmp_path,
        {
            "catalog-info.yaml": entity("API", "metadata", definition="{$text: 'http://169.254.169.254/latest/'}")
            + "---\n"
            + entity("API", "public", definition="{$text: 'https://example.com/spec.yaml'}")
        },
    )

    result = read_source(str(tmp_path), fetch=fetch, policy=policy_for(tmp_path, url_hosts=["*"]))

    assert asked == ["https://example.com/spec.yaml"]
    assert messages(result) == [
        f"spec.definition: $text http://169.254.169.254/latest/: not read: 169.254.169.254:80 is a link-local "
        f"address, {WILDCARD}"
    ]


def test_a_url_placeholder_of_a_local_file_reaches_only_allowed_hosts(tmp_path: Path, served: tuple[str, int]) -> None:
    base_url, port = served
    write(tmp_path, {"catalog-info.yaml": entity("API", "api", definition=f"{{$text: '{base_url}catalog-info.yaml'}}")})

    result = read_source(str(tmp_path / "catalog-info.yaml"), policy=policy_for(tmp_path, url_hosts=["*"]))

    assert messages(result) == [
        f"spec.definition: $text {base_url}catalog-info.yaml: not read: 127.0.0.1:{port} is a loopback address, "
        f"{WILDCARD}"
    ]


# --- Git: clone URLs on allowed hosts, local repositories under a root -------------------------------------


GIT_WILDCARD = "read only when reading.git_hosts names it (a wildcard never covers it)"


@pytest.mark.parametrize(
    ("url", "git_hosts", "refusal"),
    [
        ("https://github.com/org/repo.git", ["github.com"], None),
        ("git@github.com:org/repo.git", ["github.com"], None),
        ("ssh://git@github.com:22/org/repo.git", ["github.com:22"], None),
        (
            "https://gitlab.com/org/repo.git",
            ["github.com"],
            "gitlab.com:443 is not an allowed host (reading.git_hosts)",
        ),
        (
            "https://user:token@gitlab.com/r.git",
            ["github.com"],
            "gitlab.com:443 is not an allowed host (reading.git_hosts)",
        ),
        ("ssh://git@127.0.0.1/repo.git", ["*"], f"127.0.0.1:22 is a loopback address, {GIT_WILDCARD}"),
        ("git@localhost:repo.git", ["*"], f"localhost:22 is a loopback name, {GIT_WILDCARD}"),
        ("git://10.0.0.5/repo.git", ["*"], f"10.0.0.5:9418 is a private address, {GIT_WILDCARD}"),
        ("ext::sh -c touch% /tmp/pwned", ["*"], "ext::sh -c touch% /tmp/pwned is not a git clone URL"),
        ("fd::17", ["*"], "fd::17 is not a git clone URL"),
        (
            "foo::https://github.com/r.git",
            ["*"],
            "foo:// is not a transport read here (https, http, ssh, git+ssh, ssh+git, git)",
        ),
        ("file:///etc/repo.git", ["*"], "/etc/repo.git is outside the allowed local roots (reading.local_roots)"),
    ],
)
def test_git_clone_urls(url: str, git_hosts: list[str], refusal: str | None) -> None:
    policy = policy_for(git_hosts=git_hosts)

    if refusal is None:
        policy.check_git(url)
        return
    with pytest.raises(ReadingRefused) as refused:
        policy.check_git(url)
    assert str(refused.value) == refusal


def test_a_refused_repository_is_not_cloned(tmp_path: Path) -> None:
    cache = tmp_path / "cache"

    with pytest.raises(ReadingRefused, match=r"^gitlab\.example:443 is not an allowed host \(reading\.git_hosts\)$"):
        read_source("https://gitlab.example/org/repo.git", cache_dir=cache, policy=policy_for(git_hosts=["github.com"]))
    assert not cache.exists()


def test_a_local_repository_outside_the_roots_is_refused(tmp_path: Path) -> None:
    repo = Git(tmp_path / "repo")
    repo.commit({"catalog-info.yaml": entity("Component", "a")})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    with pytest.raises(ReadingRefused) as refused:
        read_source(str(repo.path), branch="main", policy=policy_for(elsewhere))
    assert str(refused.value) == f"{repo.path} is outside the allowed local roots (reading.local_roots)"
    assert names(read_source(str(repo.path), branch="main", policy=policy_for(tmp_path))) == ["a"]


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        (
            "fatal: could not create work tree dir '{cache}/repo-0123.git.x.tmp': Permission denied",
            "fatal: could not create work tree dir '<git cache>/repo-0123.git.x.tmp': Permission denied",
        ),
        (
            "fatal: unable to access 'https://user:ghp_token@host/r.git/'",
            "fatal: unable to access 'https://host/r.git/'",
        ),
        ("fatal: unable to access 'https://ghp_token@host/r.git/'", "fatal: unable to access 'https://host/r.git/'"),
        ("ssh://git:hunter2@host/r.git: refused", "ssh://git@host/r.git: refused"),
        ('Load key "{home}/.ssh/id_ed25519": bad permissions', 'Load key "~/.ssh/id_ed25519": bad permissions'),
    ],
)
def test_what_git_says_is_shown_without_server_paths_or_credentials(tmp_path: Path, said: str, shown: str) -> None:
    home = str(Path.home())
    assert redacted(said.format(cache=tmp_path, home=home), tmp_path) == shown


# --- Messages never quote what was refused -------------------------------------------------------------------


def test_a_file_that_is_no_catalog_file_is_not_quoted_when_it_cannot_be_parsed(tmp_path: Path) -> None:
    """A placeholder may pull in any file inside the root; when it does not parse, the message says why, in
    the parser's words, and never repeats the file's text (here a token in a URL)."""
    (tmp_path / ".env").write_text("TOKEN_URL=https://user:s3cret@internal/x\nbroken: [yes\n")
    api = entity("API", "a", definition="{$yaml: ./.env}") + "---\n" + entity("API", "b", definition="{$json: ./.env}")
    write(tmp_path, {"catalog-info.yaml": api})

    result = read_source(str(tmp_path / "catalog-info.yaml"), policy=policy_for(tmp_path))

    assert messages(result) == [
        "spec.definition: $yaml ./.env: not valid YAML: YAML syntax error at line 2, column 7: mapping values are "
        "not allowed in this context",
        "spec.definition: $json ./.env: not valid JSON: Expecting value: line 1 column 1 (char 0)",
    ]
