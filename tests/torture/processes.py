"""The real `catalog` command, as a user (or a supervisor killing it) runs it: one subprocess per command."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.suite_settings import SUITE_ENV

REPO = Path(__file__).resolve().parents[2]
CATALOG = [sys.executable, "-m", "graphsvc.cli"]
TIMEOUT_S = 300


def _env(suite_defaults: bool = True) -> dict[str, str]:
    """The test process's environment without its catalog settings; with the suite's open defaults
    (tests/suite_settings.py) unless the test configures a closed service itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CATALOG_", "NEO4J_"))}
    return env | (SUITE_ENV if suite_defaults else {}) | {"PYTHONUNBUFFERED": "1"}


def catalog(
    *args: str, timeout: float = TIMEOUT_S, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `catalog ARGS...` to completion (`env`: variables added to its environment, e.g. the engine's)."""
    return subprocess.run(
        [*CATALOG, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env() | (env or {}),
        timeout=timeout,
        check=False,
    )


def start_catalog(
    *args: str, command: Sequence[str] = CATALOG, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `catalog ARGS...` (or `command ARGS...`) without waiting for it (its output is discarded)."""
    return subprocess.Popen(
        [*command, *args],
        cwd=REPO,
        env=_env() | (env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def ingest(root: Path, store: Path, env: dict[str, str] | None = None) -> float:
    """`catalog ingest ROOT --store STORE` to completion; its wall time in seconds (start to exit)."""
    started = time.perf_counter()
    done = catalog("ingest", str(root), "--store", str(store), env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise AssertionError(f"catalog ingest {root} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return elapsed


def check(store: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`catalog check --store STORE`: exit 0 when every invariant holds, 1 and a listing when one does not."""
    return catalog("check", "--store", str(store), env=env)


def check_here(store: Path) -> subprocess.CompletedProcess[str]:
    """`catalog check --store STORE` run by the CLI's own `main` in this process (no interpreter start-up:
    the crash trials run it twice per kill); the same exit code and output as the subprocess."""
    from graphsvc.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", "--store", str(store)])
    return subprocess.CompletedProcess(
        ["catalog", "check", "--store", str(store)], code, out.getvalue(), err.getvalue()
    )


def kill(process: subprocess.Popen[bytes]) -> bool:
    """`kill -9` the process; False when it had already exited (and so finished its work)."""
    if process.poll() is not None:
        return False
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=TIMEOUT_S)
    return process.returncode == -signal.SIGKILL


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def serve(
    store: Path,
    log: Path,
    startup_timeout: float = 60.0,
    env: dict[str, str] | None = None,
    options: Sequence[str] = (),
    suite_defaults: bool = True,
) -> Iterator[Server]:
    """A real `catalog serve [OPTIONS] --store STORE` on 127.0.0.1 and a free port, up once /health answers;
    stopped with SIGINT (uvicorn's graceful shutdown, which closes the store) when the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CATALOG, "serve", *options, "--store", str(store), "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=_env(suite_defaults) | (env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"catalog serve exited {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"catalog serve did not answer /health in {startup_timeout} s:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(url, process, log)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 30.0) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
