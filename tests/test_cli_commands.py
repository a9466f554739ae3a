"""`catalog refresh / unregister / errors / locations / --version`, `ingest --strict` and the warning for a
directory that matches nothing: the same text, whether the command opens the store or goes through a
running service (`--url`); and bad input is one line in the service's log, not a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.torture.processes import Server, catalog, serve

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
