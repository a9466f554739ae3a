"""`catalog refresh / unregister / errors / locations / --version`, `ingest --strict` and the warning for a
directory that matches nothing: the same text (and with `--json` the same JSON), whether the command opens the
store or goes through a running service (`--url`); a progress line on a terminal only; and bad input is one
line in the service's log, not a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.torture.processes import CATALOG, REPO, Server, _env, catalog, serve

GOOD = {
    "apiVersion": "backstage.io/v1alpha1",
    "kind": "Component",
    "metadata": {"name": "checkout"},
    "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
}
BAD = GOOD | {"metadata": {"name": "bad name!"}}
NAME_ERROR = (
    "metadata.name: 'bad name!' is not valid; expected a string that is sequences of [a-zA-Z0-9] separated by any "
    "of [-_.], at most 63 characters in total"
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "catalog-info.yaml").write_text(yaml.safe_dump_all([GOOD, BAD]))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "other.yaml").write_text(yaml.safe_dump(GOOD))
    return tmp_path


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("cli-service")
    with serve(base / "store", base / "serve.log") as running:
        yield running


def run(*args: str) -> tuple[int, str, str]:
    done = catalog(*args)
    return done.returncode, done.stdout, done.stderr


def test_version() -> None:
    assert run("--version") == (0, "catalog 0.1.0\n", "")


@pytest.mark.parametrize("through", ["store", "service"])
def test_the_location_commands_say_the_same_locally_and_through_a_service(
    workdir: Path, through: str, request: pytest.FixtureRequest
) -> None:
    where = (
        ["--url", request.getfixturevalue("server").url] if through == "service" else ["--store", str(workdir / "s")]
    )
    target = str(workdir / "catalog")
    error_line = f"error [validation] file:{target}/catalog-info.yaml:10: {NAME_ERROR}\n"

    assert run("ingest", target, *where) == (
        0,
        f"synced {target}: 1 added, 0 updated, 0 removed, 0 unchanged, 1 errors\n",
        error_line,
    )
    assert run("ingest", target, "--strict", *where)[0] == 1
    assert run("refresh", target, *where) == (
        0,
        f"synced {target}: 0 added, 0 updated, 0 removed, 1 unchanged, 1 errors\n",
        error_line,
    )
    assert run("refresh", target, "--strict", *where)[0] == 1
    assert run("errors", *where) == (0, error_line, "")
    code, listed, _ = run("locations", *where)
    assert code == 0 and listed.startswith(f"{target} (added 20") and listed.count("\n") == 1
    assert run("unregister", target, *where) == (
        0,
        f"synced {target}: 0 added, 0 updated, 1 removed, 0 unchanged, 0 errors\n",
        "",
    )
    assert run("locations", *where) == (0, "", "")
    assert run("refresh", str(workdir / "nowhere"), *where) == (
        2,
        "",
        f"catalog: no registered location '{workdir / 'nowhere'}'; registerLocation it first\n",
    )


def test_a_directory_that_matches_no_file_is_a_warning_naming_the_glob(workdir: Path) -> None:
    code, out, err = run("ingest", str(workdir / "empty"), "--store", str(workdir / "s"))
    assert code == 0
    assert err == (
        f"catalog: warning: no file under {workdir / 'empty'} matches **/catalog-info.yaml: nothing was ingested "
        "(--glob PATTERN reads other files)\n"
    )
    code, out, err = run("ingest", str(workdir / "empty"), "--glob", "*.yaml", "--store", str(workdir / "s"))
    assert (code, err) == (0, "") and "1 added" in out


def test_bad_input_is_one_line_in_the_service_log_not_a_traceback(server: Server, workdir: Path) -> None:
    assert run("refresh", str(workdir / "nowhere"), "--url", server.url)[0] == 2
    log = server.log.read_text()
    assert "Traceback" not in log and "no registered location" not in log  # one INFO line, below serve's WARNING


@pytest.mark.parametrize("through", ["store", "service"])
def test_json_answers_are_the_services_fields_locally_and_through_a_service(
    workdir: Path, through: str, request: pytest.FixtureRequest
) -> None:
    where = (
        ["--url", request.getfixturevalue("server").url] if through == "service" else ["--store", str(workdir / "s")]
    )
    target = str(workdir / "catalog")
    error = {
        "category": "validation",
        "location": f"file:{target}/catalog-info.yaml",
        "line": 10,
        "entityRef": "component:default/bad name!",
        "message": NAME_ERROR,
    }

    code, out, err = run("ingest", target, "--json", *where)
    answer = json.loads(out)
    assert (code, err) == (0, "")
    assert answer["syncRun"].pop("id")
    assert answer == {
        "syncRun": {
            "status": "completed_with_errors",
            "added": 1,
            "updated": 0,
            "removed": 0,
            "unchanged": 0,
            "errorCount": 1,
        },
        "errors": [error],
    }
    assert json.loads(run("errors", "--json", *where)[1]) == [error]
    [location] = json.loads(run("locations", "--json", *where)[1])
    assert (location["target"], location["branch"], location["glob"]) == (target, None, None)
    code, out, _ = run("unregister", target, "--json", *where)
    assert json.loads(out)["syncRun"]["removed"] == 1


def test_ingest_on_a_terminal_shows_reading_validating_and_writing(workdir: Path) -> None:
    """On a terminal one line shows each phase as it goes; the same ingest into a pipe shows none of it
    (the other tests: stderr holds only errors and warnings)."""
    catalog_dir = workdir / "many"
    catalog_dir.mkdir()
    for n in range(30):
        component = GOOD | {"metadata": {"name": f"c{n}"}}
        (catalog_dir / f"c{n}.yaml").write_text(yaml.safe_dump(component))
    controller, terminal = os.openpty()
    try:
        done = subprocess.run(
            [*CATALOG, "ingest", str(catalog_dir), "--glob", "*.yaml", "--store", str(workdir / "s")],
            stdout=subprocess.PIPE,
            stderr=terminal,
            cwd=REPO,
            env=_env() | {"COLUMNS": "120", "LINES": "24"},
            timeout=300,
            check=False,
        )
        os.close(terminal)
        shown = _read_all(controller)
    finally:
        os.close(controller)
    assert (
        done.returncode == 0
        and done.stdout == f"synced {catalog_dir}: 30 added, 0 updated, 0 removed, 0 unchanged, 0 errors\n".encode()
    )
    assert "reading: 100%" in shown and "30/30 [" in shown and "30 documents" in shown
    assert "validating:" in shown and "writing: 100%" in shown
    assert "files/s" in shown and "entities/s" in shown  # each phase its own rate


def _read_all(controller: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal's other end is closed: everything has been read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")
