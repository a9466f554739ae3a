"""The engine a torture scenario runs on: SQLite (a store directory per scenario, copied freely) or Neo4j (the
one database of the test run, emptied before each scenario, named to every `catalog` command by the
environment, as an operator names it)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from graphsvc.config import Settings
from graphsvc.store import GraphStore, open_store
from tests.suite_settings import suite_settings


@dataclass(frozen=True)
class Engine:
    name: str
    neo4j: Settings | None = None
    """The Neo4j server's settings, for the Neo4j engine."""

    @property
    def shared(self) -> bool:
        """Whether every store of this engine is one database (so a store is rebuilt, never copied)."""
        return self.neo4j is not None

    def env(self) -> dict[str, str]:
        """What a `catalog` subprocess needs in its environment to use this engine."""
        if self.neo4j is None:
            return {}
        return {
            "CATALOG_BACKEND": "neo4j",
            "NEO4J_URI": self.neo4j.neo4j_uri,
            "NEO4J_USER": self.neo4j.neo4j_user,
            "NEO4J_PASSWORD": self.neo4j.neo4j_password,
            "NEO4J_DATABASE": self.neo4j.neo4j_database,
        }

    def settings(self, store_dir: Path) -> Settings:
        if self.neo4j is None:
            return suite_settings(store_dir=store_dir)
        return self.neo4j.model_copy(update={"store_dir": store_dir})

    def open(self, store_dir: Path) -> GraphStore:
        """Open the store as any process would (which marks runs left `running` by a dead one interrupted)."""
        return open_store(self.settings(store_dir))

    def empty(self, store_dir: Path) -> None:
        """No store at all: the directory removed, or the database emptied."""
        if self.neo4j is None:
            shutil.rmtree(store_dir, ignore_errors=True)
            return
        from tests.conftest import wipe_neo4j

        wipe_neo4j(self.neo4j)


SQLITE = Engine("sqlite")
