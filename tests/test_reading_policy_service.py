"""The reading allowlist through the service: what issue 9 found against a running catalog, now refused.

`registerLocation("/etc/passwd")` quoted the file in a validation error; placeholders `$text:
../../../../etc/passwd`, `/etc/shadow` and `/proc/self/environ` were stored in `spec`; `/dev/zero` grew the
server without end. Here the service is configured as a deployment would be (`reading.local_roots` one
catalog directory, any public host) and each of those is refused, with nothing of the files stored or quoted.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphsvc.config import ReadingSettings, Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store
from ingestors.filesystems import ReadingRefused

PASSWD = Path("/etc/passwd")
PASSWD_LINES = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    root.mkdir()
    return root


@pytest.fixture
def service(tmp_path: Path, catalog: Path) -> Iterator[CatalogService]:
    settings = Settings(store_dir=tmp_path / "store", reading=ReadingSettings(local_roots=[catalog]))
    service = CatalogService(open_store(settings), settings)
    yield service
    service.close()


def everything_stored(service: CatalogService) -> str:
    """The text of every stored version and error record: what any reader of the catalog could see."""
    return repr(service.store.rows("versions")) + repr(service.store.rows("sync_errors"))


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/etc/passwd", "/etc/passwd is outside the allowed local roots (reading.local_roots)"),
        ("/dev/zero", "/dev/zero is under /dev, which is never read"),
        ("/proc/self/environ", "/proc/{pid}/environ is under /proc, which is never read"),  # the target, resolved
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254:80 is a link-local address, read only when "
         "reading.url_hosts names it (a wildcard never covers it)"),
    ],
)  # fmt: skip
def test_a_registration_outside_the_allowlist_is_refused_and_not_registered(
    service: CatalogService, target: str, message: str
) -> None:
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: outcome.extend(_raised(service, target)), daemon=True)
    worker.start()
    worker.join(10)

    assert not worker.is_alive(), "the registration did not finish within 10 s"
    [refused] = outcome
    assert isinstance(refused, ReadingRefused) and str(refused) == message.format(pid=os.getpid())
    assert service.store.registered_locations() == []


def _raised(service: CatalogService, target: str) -> list[BaseException]:
    try:
        service.register(target)
    except BaseException as error:  # handed to the test's thread
        return [error]
    return []


def test_placeholders_pointing_out_of_the_root_are_error_records_and_nothing_is_stored(
    service: CatalogService, catalog: Path
) -> None:
    targets = ["../../../../../../../../etc/passwd", "/etc/shadow", "/proc/self/environ"]
    documents = [
        f"apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {{name: api-{i}}}\n"
        f"spec: {{type: openapi, lifecycle: production, owner: team, definition: {{$text: '{target}'}}}}\n"
        for i, target in enumerate(targets)
    ]
    (catalog / "catalog-info.yaml").write_text("---\n".join(documents))

    summary = service.register(str(catalog / "catalog-info.yaml"))

    assert [(error["category"], error["message"]) for error in summary.errors] == [
        ("read", "spec.definition: $text ../../../../../../../../etc/passwd: not read: /etc/passwd is outside the "
         "location's root (reading.local_roots)"),
        ("read", "spec.definition: $text /etc/shadow: not read: /etc/shadow is outside the location's root "
         "(reading.local_roots)"),
        ("read", "spec.definition: $text /proc/self/environ: not read: /proc/self/environ is under /proc, which is "
         "never read"),
    ]  # fmt: skip
    definitions = [service.store.entity(f"api:default/api-{i}").spec["definition"] for i in range(3)]
    assert definitions == [{"$text": target} for target in targets]
    assert PASSWD.read_text()[:20] not in everything_stored(service)


def test_a_file_that_is_no_catalog_file_is_not_quoted_and_no_path_names_the_root(
    service: CatalogService, catalog: Path
) -> None:
    """A copy of /etc/passwd, and a file holding a token URL, registered inside the root: each is rejected as
    a document that is no entity, without repeating a character of it; messages never name the root."""
    (catalog / "passwd").write_text(PASSWD_LINES)
    (catalog / "token.txt").write_text("https://ci-bot:ghp_s3cr3tT0ken@git.internal/org/repo\n")

    errors = [*service.register(str(catalog / "passwd")).errors, *service.register(str(catalog / "token.txt")).errors]

    no_entity = "an entity must be a mapping with apiVersion, kind, metadata and spec, got"
    assert [error["message"] for error in errors] == [
        f"{no_entity} a string of 79 characters",  # the two lines, folded into one by YAML
        f"{no_entity} a string of 52 characters",
    ]
    assert "ghp_s3cr3tT0ken" not in everything_stored(service) and "root:x:0:0" not in everything_stored(service)
    assert all(str(catalog) not in error["message"] for error in errors)


def test_the_service_reads_under_its_configured_roots(service: CatalogService, catalog: Path) -> None:
    assert service.reading_policy.local_roots == (catalog.resolve(),)
