"""Shared fixtures: a fresh store on each backend.

Neo4j runs in a throwaway container (testcontainers) wherever a Docker engine answers; elsewhere the Neo4j
variant of every store test is skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphsvc.config import Settings
from graphsvc.store import GraphStore, open_store

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures" / "backstage-examples"


def _docker_reason() -> str | None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as error:  # any failure to reach an engine means: no Docker here
        return f"Neo4j tests need a Docker engine (testcontainers): {type(error).__name__}: {error}"[:300]
    return None


@pytest.fixture(scope="session")
def neo4j_settings() -> Iterator[Settings]:
    if os.environ.get("NEO4J_URI"):  # a running server, e.g. `eval "$(scripts/neo4j start)"`
        yield Settings(
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
        yield Settings(
            backend="neo4j",
            neo4j_uri=container.get_connection_url(),
            neo4j_user="neo4j",
            neo4j_password=container.password,
        )


def _wipe_neo4j(settings: Settings) -> None:
    """An empty database for the next test: everything of the last one goes, its schema meta row too, so the
    store is opened afresh."""
    from graphsvc.store.neo4j_backend import Neo4jBackend

    backend = Neo4jBackend(settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password, settings.neo4j_database)
    try:
        backend.write([("MATCH (n) DETACH DELETE n", {})])
    finally:
        backend.close()


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    if request.param == "sqlite":
        settings = Settings(store_dir=tmp_path / "store")
    else:
        settings = request.getfixturevalue("neo4j_settings")
        _wipe_neo4j(settings)
    graph = open_store(settings)
    yield graph
    graph.close()
