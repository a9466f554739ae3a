"""A plain `GraphStore` read (no snapshot) while a sync commits: one state, or the other, never both.

The random readers of `test_concurrent_readers.py` hit the moment a sync commits only by chance; here the
commit is placed deterministically between the statements of one call: a reader-side hook runs a whole sync
of B (on the service's writer thread) right after the call's first statement returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from graphsvc.service import CatalogService
from graphsvc.store import GraphStore
from tests.suite_settings import suite_settings
from tests.torture.catalogs import catalog_root, install
from tests.torture.readers import classify, entity_answer, owner_page_answer, relations_answer
from tests.torture.references import References
from tests.torture.states import open_dir


class CommitAfterFirstStatement:
    """A backend as one reader sees it: after the first statement it reads, `commit()` runs (once)."""

    def __init__(self, backend: Any, commit: Callable[[], None]) -> None:
        self._backend = backend
        self._commit = commit
        self.statements_read = 0

    def read(self, query: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        rows = self._backend.read(query, parameters)
        self.statements_read += 1
        if self.statements_read == 1:
            self._commit()
        return rows

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        """A snapshot the call opens is hooked the same way: its reads count, the first one commits."""
        outer = self._backend
        with outer.snapshot() as inner:
            self._backend = inner
            try:
                yield self
            finally:
                self._backend = outer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@contextmanager
def store_holding_a(references: References, workdir: Path) -> Iterator[tuple[CatalogService, Path]]:
    root = catalog_root(workdir / "catalog")
    install(references.versions.a, root)
    service = CatalogService(open_dir(workdir / "store"), suite_settings(store_dir=workdir / "store"))
    try:
        service.write_now(lambda: service.register(str(root)))
        yield service, root
    finally:
        service.close()


def read_across_a_commit(
    service: CatalogService, root: Path, references: References, ask: Callable[[GraphStore], Any]
) -> tuple[Any, int]:
    """`ask` a reader view of the store whose first statement is followed by a full sync of B; the answer,
    and how many statements the call read."""

    def sync_b() -> None:
        install(references.versions.b, root)
        service.write_now(lambda: service.refresh(str(root)))  # on the writer thread; this one waits

    hooked = CommitAfterFirstStatement(service.store.backend, sync_b)
    reader = GraphStore._view(hooked)  # the store over a backend: what `GraphStore.snapshot` builds too
    return ask(reader), hooked.statements_read


def test_a_single_statement_read_sees_the_state_before_the_commit(
    references: References, store_expectations: dict, tmp_path: Path
) -> None:
    """The control: `find_entities` is one statement, so a commit after it cannot reach into its answer."""
    probes = references.versions.probes
    with store_holding_a(references, tmp_path) as (service, root):
        answer, statements = read_across_a_commit(
            service, root, references, lambda store: owner_page_answer(store, probes.new_owner)
        )
        assert statements == 1
        assert classify(answer, store_expectations[f"find_entities owner={probes.new_owner}"]) == "A"
        after = entity_answer(service.store, probes.pivot, str(root))
        assert classify(after, store_expectations[f"entity {probes.pivot}"]) == "B"  # the sync did commit


def test_relations_outside_a_snapshot_read_one_state_while_a_sync_commits(
    references: References, store_expectations: dict, tmp_path: Path
) -> None:
    pivot = references.versions.probes.pivot
    with store_holding_a(references, tmp_path) as (service, root):
        answer, statements = read_across_a_commit(
            service, root, references, lambda store: relations_answer(store, pivot)
        )
    expected = store_expectations[f"relations {pivot}"]
    assert statements == 2
    assert classify(answer, expected) in ("A", "B"), (
        f"relations({pivot}) mixes two states: {answer}\n  A: {expected['A']}\n  B: {expected['B']}"
    )
