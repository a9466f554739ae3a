"""Shared fixtures: a fresh store on each engine, SQLite and Neo4j, for every behavioural test.

Neo4j is the server `scripts/test` starts (`scripts/neo4j start`, NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD in the
environment); without one, a throwaway container (testcontainers) wherever a Docker engine answers; with
neither, the Neo4j variant of every test is skipped with the reason. There is one Neo4j database, so each
test gets it emptied; a module that builds one store for all its tests (`module_store_settings`) holds the
database until its last test, and a test that would empty it meanwhile fails loudly instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphsvc.config import Settings
from graphsvc.store import GraphStore, open_store
from tests.suite_settings import SUITE_ENV, suite_settings

os.environ.update(SUITE_ENV)  # the suite's open defaults, for `catalog` subprocesses too (tests/suite_settings.py)
SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures" / "backstage-examples"
ENGINES = ["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)]
"""The parameters of every fixture that yields a store: each test that takes one runs on both engines."""


def _docker_reason() -> str | None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as error:  # any failure to reach an engine means: no Docker here
        return (
            "Neo4j tests need a Neo4j server: scripts/test starts one where java and mvn are installed "
            f"(scripts/neo4j start), or a Docker engine for testcontainers: {type(error).__name__}: {error}"
        )[:400]
    return None


@pytest.fixture(scope="session")
def neo4j_settings() -> Iterator[Settings]:
    if os.environ.get("NEO4J_URI"):  # a running server, e.g. `eval "$(scripts/neo4j start)"`
        yield suite_settings(
            backend="neo4j",
            neo4j_uri=os.environ["NEO4J_URI"],
            neo4j_user=os.environ.get("NEO4J_USER", "neo4j"),
            neo4j_password=os.environ.get("NEO4J_PASSWORD", ""),
        )
        return
    reason = _docker_reason()
    if reason:
        pytest.skip(reason)
    from testcontainers.neo4j import Neo4jContainer

    with Neo4jContainer("neo4j:5") as container:
        yield suite_settings(
            backend="neo4j",
            neo4j_uri=container.get_connection_url(),
            neo4j_user="neo4j",
            neo4j_password=container.password,
        )


_holder: list[str] = []
"""The module whose store occupies the Neo4j database now, if one does."""


def wipe_neo4j(settings: Settings) -> None:
    """An empty database for the next test: everything of the last one goes, its schema meta row too, so the
    store is opened afresh. Constraints and indexes stay: creating them again is idempotent."""
    from graphsvc.store.neo4j_backend import Neo4jBackend

    if _holder:
        raise RuntimeError(
            f"the Neo4j database holds the store of {_holder[0]} (module_store_settings) until its "
            "last test: a test of that module that needs an empty store must not run in between"
        )
    backend = Neo4jBackend(settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password, settings.neo4j_database)
    try:
        with backend._driver.session(database=settings.neo4j_database) as session:
            while session.run("MATCH (n) WITH n LIMIT 20000 DETACH DELETE n RETURN count(*)").single()[0]:
                pass  # in slices, so a large test store does not need one huge transaction
    finally:
        backend.close()


def fresh_store_settings(engine: str, request: pytest.FixtureRequest, directory: Path, **overrides: object) -> Settings:
    """Settings of an empty store on `engine`: a new directory for SQLite, the emptied database for Neo4j."""
    if engine == "sqlite":
        return suite_settings(store_dir=directory / "store", **overrides)  # type: ignore[arg-type]
    settings = request.getfixturevalue("neo4j_settings")
    wipe_neo4j(settings)
    return settings.model_copy(update={"store_dir": directory / "store", **overrides})


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_settings(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of an empty store, on each engine."""
    return fresh_store_settings(engine, request, tmp_path)


@pytest.fixture(scope="module", params=ENGINES)
def module_store_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings of an empty store for all tests of a module, on each engine."""
    settings = fresh_store_settings(str(request.param), request, tmp_path_factory.mktemp("store"))
    if request.param == "neo4j":
        _holder.append(request.module.__name__)
    try:
        yield settings
    finally:
        if request.param == "neo4j":
            _holder.clear()


@pytest.fixture
def store(store_settings: Settings) -> Iterator[GraphStore]:
    graph = open_store(store_settings)
    yield graph
    graph.close()
