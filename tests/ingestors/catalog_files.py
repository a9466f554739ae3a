"""Helpers that make real catalog files, git repositories and HTTP servers for the reader tests."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from textwrap import dedent

from ingestors.documents import ReadResult
from ingestors.fetch import FetchError


def write(root: Path, files: dict[str, str]) -> Path:
    """Write `{relative path: text}` under `root` (text is dedented); returns `root`."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def entity(kind: str, name: str, **spec: object) -> str:
    """A minimal entity document as YAML text."""
    lines = ["apiVersion: backstage.io/v1alpha1", f"kind: {kind}", "metadata:", f"  name: {name}"]
    if spec:
        lines.append("spec:")
        lines.extend(f"  {key}: {value}" for key, value in spec.items())
    return "\n".join(lines) + "\n"


def location(name: str, *targets: str, presence: str | None = None) -> str:
    """A Location entity document with `spec.targets`."""
    lines = ["apiVersion: backstage.io/v1alpha1", "kind: Location", "metadata:", f"  name: {name}", "spec:"]
    if presence:
        lines.append(f"  presence: {presence}")
    lines.append("  targets:")
    lines.extend(f"    - {target}" for target in targets)
    return "\n".join(lines) + "\n"


def names(result: ReadResult) -> list[str]:
    """metadata.name of every document, in the order read."""
    return [document.data["metadata"]["name"] for document in result.documents]


def messages(result: ReadResult) -> list[str]:
    return [error.message for error in result.errors]


def offline_fetch(url: str, timeout: float) -> str:
    """What the default fetch does on a machine without network: DNS fails at once."""
    raise FetchError("[Errno -3] Temporary failure in name resolution")


class Git:
    """A real repository made with the git CLI."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self("init", "--quiet", "--initial-branch=main")
        self("config", "user.name", "Catalog Test")
        self("config", "user.email", "catalog-test@example.com")
        self("config", "commit.gpgsign", "false")

    def __call__(self, *args: str) -> str:
        completed = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True, check=True)
        return completed.stdout.strip()

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        """Write the files, commit everything, return the new commit's SHA."""
        write(self.path, files)
        self("add", "--all")
        self("commit", "--quiet", "--message", message)
        return self("rev-parse", "HEAD")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def http_server(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 from a thread; yields the base URL (ending in `/`)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
