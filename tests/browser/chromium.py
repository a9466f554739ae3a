"""Headless Chromium (Debian's package), driven over the DevTools protocol from Python with `websockets`: the
few commands a test of a page needs, every request the page makes recorded, and the network closed.

Closed means: no host name resolves (`--host-resolver-rules`), and every other address that is not loopback goes
through a proxy that is not there (Chromium never proxies loopback), so the only server a page can reach is
one on this machine. The test still checks the requests it recorded: a page that tried to load a file from a
CDN fails even though the load itself could not have succeeded.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

CHROMIUM = Path("/usr/bin/chromium")
CLOSED_NETWORK = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # the rule would catch the address too
    "--proxy-server=http://127.0.0.1:9",  # the discard port: nothing answers there
]
QUIET = [
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
]
"""No updates, sync, first-run pages or other requests of the browser's own."""
WAIT_S = 60.0
"""How long a page may take to show what a test waits for (a deadline, not a measurement)."""


class BrowserError(AssertionError):
    """The browser answered a command with an error, or a page did not get where a test waited for."""


def require_chromium() -> Path:
    """Debian's Chromium; without it the test is skipped, except in CI (CI=true), where it must run."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"the browser tests need Debian's Chromium at {CHROMIUM}: scripts/install --with-linter installs it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class Page:
    """One tab, over its DevTools WebSocket. Events arriving between answers are kept in `events`."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []
        self._last_id = 0
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._last_id += 1
        self.connection.send(json.dumps({"id": self._last_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.connection.recv(timeout=WAIT_S))
            if message.get("id") == self._last_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise awaited)."""
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, what: str) -> Any:
        """The expression's value once it is truthy, polled until `WAIT_S` have passed."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise BrowserError(f"waited {WAIT_S:g} s for {what}; errors in the page: {self.errors()}")

    def open(self, url: str) -> None:
        """Navigate and wait for the load event; a failed navigation is an error naming why."""
        answer = self.call("Page.navigate", url=url)
        if answer.get("errorText"):
            raise BrowserError(f"{url}: {answer['errorText']}")
        self.wait_for("document.readyState === 'complete'", f"{url} to load")

    def forget(self, origin: str) -> None:
        """Clear what the browser keeps for `origin` (local storage, cookies, caches): a first visit again."""
        self.call("Storage.clearDataForOrigin", origin=origin, storageTypes="all")

    def navigation_error(self, url: str) -> str:
        """Why navigating to `url` failed ("" if it did not)."""
        return str(self.call("Page.navigate", url=url).get("errorText", ""))

    def click(self, selector: str, text: str | None = None) -> None:
        """A real mouse click (pressed, released) at the middle of the first element `selector` names (whose
        text is `text`, if given)."""
        x, y = self.wait_for(
            f"""(() => {{ const e = Array.from(document.querySelectorAll({json.dumps(selector)}))
                .find(e => {json.dumps(text)} === null || e.textContent.trim() === {json.dumps(text)});
                if (!e) return null; const r = e.getBoundingClientRect();
                return [r.x + r.width / 2, r.y + r.height / 2]; }})()""",
            f"an element {selector}" + (f" reading {text!r}" if text else ""),
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def requests(self) -> list[str]:
        """The URL of every request the page has made so far."""
        self.evaluate("0")  # the events sent before this answer have arrived
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and the browser's error log entries (CSP violations among them)."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
                found.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))


class Browser:
    def __init__(self, port: int) -> None:
        self.endpoint = f"http://127.0.0.1:{port}"

    @contextmanager
    def page(self, width: int = 1600, height: int = 900) -> Iterator[Page]:
        """A new tab of the given viewport, closed when the block ends."""
        target = httpx.put(f"{self.endpoint}/json/new?about:blank", timeout=WAIT_S).json()
        try:
            with connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=WAIT_S) as connection:
                page = Page(connection)
                page.call(
                    "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
                )
                yield page
        finally:
            httpx.get(f"{self.endpoint}/json/close/{target['id']}", timeout=WAIT_S)


@contextmanager
def chromium(profile: Path) -> Iterator[Browser]:
    """Headless Chromium with a fresh profile in `profile`, its network closed (see the module), stopped when
    the block ends."""
    log = profile.parent / f"{profile.name}.log"
    command = [
        str(require_chromium()),
        "--headless",
        "--no-sandbox",  # the tests run as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        *CLOSED_NETWORK,
        *QUIET,
        "about:blank",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield Browser(_debugging_port(profile, process, log))
    finally:
        process.terminate()
        try:
            process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _debugging_port(profile: Path, process: subprocess.Popen[bytes], log: Path) -> int:
    """The DevTools port Chromium chose, from the file it writes in its profile once it listens."""
    announced = profile / "DevToolsActivePort"
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserError(f"chromium exited {process.returncode}:\n{log.read_text(errors='replace')}")
        if announced.exists() and announced.read_text().strip():
            return int(announced.read_text().splitlines()[0])
        time.sleep(0.05)
    raise BrowserError(f"chromium did not open its DevTools port in {WAIT_S:g} s:\n{log.read_text(errors='replace')}")
