"""GraphiQL's files, served by the service itself: the page names only them, each is answered with its
content type and cached for good under its version, with no credentials even on a closed service; any other
name, an old version or a path that climbs out of the folder is a 404 that serves no file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from graphsvc.api.app import create_app
from graphsvc.api.graphiql.assets import ASSETS_PATH, CACHE_FOREVER, FILES, HERE
from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store

CONTENT_TYPES = {
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
    "graphiql.min.js": "text/javascript; charset=utf-8",
    "plugin-explorer.umd.js": "text/javascript; charset=utf-8",
    "mount.js": "text/javascript; charset=utf-8",
    "graphiql.min.css": "text/css; charset=utf-8",
    "plugin-explorer.css": "text/css; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}
PAGE = {"accept": "text/html"}


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app of a closed service (the defaults: no anonymous access)."""
    settings = Settings(store_dir=tmp_path_factory.mktemp("graphiql-assets") / "store")
    service = CatalogService(open_store(settings), settings)
    with TestClient(create_app(service)) as client:
        yield client
    service.close()


def page_links(http: TestClient) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', http.get("/graphql", headers=PAGE).text)


def assets_url(http: TestClient) -> str:
    """Where the page says its files are: /graphql/assets/<version>."""
    return page_links(http)[1].rsplit("/", 1)[0]


def test_the_page_loads_nothing_but_the_services_own_files(http: TestClient) -> None:
    links = page_links(http)
    base = assets_url(http)
    assert re.fullmatch(re.escape(ASSETS_PATH) + "[0-9a-f]{16}", base)
    assert links == [
        "data:,",  # the icon: none, so the browser asks for no /favicon.ico
        f"{base}/graphiql.min.css",
        f"{base}/plugin-explorer.css",
        f"{base}/page.css",
        f"{base}/react.production.min.js",
        f"{base}/react-dom.production.min.js",
        f"{base}/graphiql.min.js",
        f"{base}/plugin-explorer.umd.js",
        f"{base}/mount.js",
    ]
    assert sorted(link.rsplit("/", 1)[1] for link in links[1:]) == sorted(FILES)


def test_the_page_forbids_scripts_and_requests_from_elsewhere_and_is_not_cached(http: TestClient) -> None:
    response = http.get("/graphql", headers=PAGE)
    assert response.status_code == 200
    policy = dict(directive.split(" ", 1) for directive in response.headers["content-security-policy"].split("; "))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert response.headers["cache-control"] == "no-cache"
    assert "<script>" not in response.text  # no inline script: each names its file


@pytest.mark.parametrize(("name", "content_type"), CONTENT_TYPES.items())
def test_each_file_is_served_with_its_type_cached_for_good_without_credentials(
    http: TestClient, name: str, content_type: str
) -> None:
    response = http.get(f"{assets_url(http)}/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == CACHE_FOREVER
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (HERE / FILES[name][0]).read_bytes()


def test_the_table_of_types_covers_every_file(http: TestClient) -> None:
    assert set(CONTENT_TYPES) == set(FILES)


@pytest.mark.parametrize(
    "name",
    [
        "nope.js",
        "page.html",  # in the package, not an asset
        "assets.py",
        "package.json",
        "LICENSES.txt",
        "%2e%2e",  # "..", as the server decodes it (a client sends a bare ".." resolved already)
        "..%5Cassets.py",
        "MOUNT.JS",
        "mount.js%00.png",
    ],
)
def test_a_name_that_is_not_an_asset_is_a_404_naming_those_that_are(http: TestClient, name: str) -> None:
    response = http.get(f"{assets_url(http)}/{name}")
    assert response.status_code == 404
    message = response.json()["errors"][0]["message"]
    assert message.startswith("no GraphiQL asset named ")
    assert message.endswith(", ".join(sorted(FILES)))


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2Fapi%2Fapp.py",
        "%2e%2e/%2e%2e/app.py",
        "..%2Fassets.py",
        "vendor%2Freact.production.min.js",
        "vendor/package.json",
        "%2Fetc%2Fpasswd",
    ],
)
def test_a_path_that_climbs_or_descends_serves_no_file(http: TestClient, path: str) -> None:
    response = http.get(f"{assets_url(http)}/{path}")
    assert response.status_code == 404
    assert b"import" not in response.content and b"root:" not in response.content and b"react" not in response.content


def test_another_version_is_a_404_naming_this_one(http: TestClient) -> None:
    current = assets_url(http)
    response = http.get(f"{ASSETS_PATH}0123456789abcdef/mount.js")
    assert response.status_code == 404
    assert response.json()["errors"][0]["message"] == (
        f"no GraphiQL assets of version '0123456789abcdef': this service's are under {current}/"
    )


def test_the_version_is_a_digest_of_the_files(tmp_path: Path) -> None:
    from graphsvc.api.graphiql.assets import GraphiQLAssets

    for relative, _ in FILES.values():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes((HERE / relative).read_bytes())
    copied = GraphiQLAssets(tmp_path)
    (tmp_path / "mount.js").write_bytes(b"// changed\n" + (HERE / "mount.js").read_bytes())

    assert copied.version == GraphiQLAssets().version
    assert GraphiQLAssets(tmp_path).version != copied.version
