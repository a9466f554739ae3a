"""The torture suite's shared data: two catalog versions and their reference stores, built once a session.

Sizes are CI sizes (the whole directory runs in a few minutes on 2 cores); `bench/run_torture.py` runs the
same checks with larger counts. Every random choice derives from `TORTURE_SEED` (default below), which a
failing test prints: `TORTURE_SEED=<n> pytest tests/torture` repeats its draws.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import ENGINES
from tests.torture.engines import SQLITE, Engine
from tests.torture.readers import (
    expected_graphql_answers,
    expected_store_answers,
    graphql_probes,
    store_probes,
)
from tests.torture.references import DEFAULT_SEED, References, build_references, reference_stores

SEED = int(os.environ.get("TORTURE_SEED", DEFAULT_SEED))
ENTITIES = int(os.environ.get("TORTURE_ENTITIES", 1500))
_REPORT = pytest.StashKey[list[str]]()


@pytest.fixture(params=ENGINES)
def torture_engine(request: pytest.FixtureRequest) -> Engine:
    """Each scenario on each engine: SQLite, and the test run's Neo4j server."""
    if request.param == "sqlite":
        return SQLITE
    return Engine("neo4j", request.getfixturevalue("neo4j_settings"))


@pytest.fixture(scope="session")
def torture_seed() -> int:
    return SEED


@pytest.fixture(scope="session")
def references(tmp_path_factory: pytest.TempPathFactory) -> References:
    return build_references(tmp_path_factory.mktemp("torture-references"), ENTITIES, SEED)


@pytest.fixture(scope="session")
def store_expectations(references: References) -> dict:
    """Each store probe's answer on the clean A and B stores (probe -> "A"/"B" -> answer)."""
    with reference_stores(references) as stores:
        return expected_store_answers(store_probes(references.versions.probes), stores, str(references.root))


@pytest.fixture(scope="session")
def graphql_expectations(references: References) -> dict:
    """Each GraphQL probe's response data on the clean A and B stores."""
    with reference_stores(references) as stores:
        return expected_graphql_answers(graphql_probes(references.versions.probes), stores)


@pytest.fixture
def torture_report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Add a line to the torture section printed at the end of the run (and to the test's own output)."""
    lines = request.config.stash.setdefault(_REPORT, [])

    def report(line: str) -> None:
        lines.append(f"{request.node.name}: {line}")
        print(line)

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(_REPORT, [])
    if lines:
        terminalreporter.section(f"torture (TORTURE_SEED={SEED}, {ENTITIES} entities)")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.sections.append(
            ("torture seed", f"TORTURE_SEED={SEED} TORTURE_ENTITIES={ENTITIES} (set them to repeat these draws)")
        )
