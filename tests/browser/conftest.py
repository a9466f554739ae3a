"""A real `catalog serve` for the GraphiQL tests: the demo catalog, open to anonymous reads as the suite runs
it, and a small catalog served closed (credentials needed), with a read token; and one headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from graphsvc.auth.tokens import ApiTokens
from graphsvc.store import open_store
from tests.browser.chromium import Browser, chromium
from tests.suite_settings import suite_settings
from tests.torture.processes import Server, ingest, serve

SMALL_CATALOG = [
    {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": "web-team"},
        "spec": {"type": "team", "children": []},
    },
    {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "storefront"},
        "spec": {"type": "website", "lifecycle": "production", "owner": "web-team"},
    },
]


@dataclass
class ClosedServer:
    server: Server
    token: str


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("graphiql-demo")
    with serve(base / "store", base / "serve.log", options=["--demo"]) as server:
        yield server


@pytest.fixture(scope="session")
def closed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClosedServer]:
    """The small catalog, served with the service's own defaults: no anonymous access at all."""
    base = tmp_path_factory.mktemp("graphiql-closed")
    (base / "catalog-info.yaml").write_text(yaml.safe_dump_all(SMALL_CATALOG))
    ingest(base / "catalog-info.yaml", base / "store")
    store = open_store(suite_settings(store_dir=base / "store"))
    try:
        token = ApiTokens(lambda: store).create("browser", ["read"], "cli:test").token
    finally:
        store.close()
    with serve(base / "store", base / "serve.log", suite_defaults=False) as server:
        yield ClosedServer(server, token)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with chromium(tmp_path_factory.mktemp("chromium") / "profile") as running:
        yield running
