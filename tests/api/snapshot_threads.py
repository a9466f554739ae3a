"""Which threads a served query reads its snapshot on: how the API tests see where a query executed."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager

from graphsvc.service import CatalogService
from graphsvc.store import GraphStore


def record_snapshot_threads(service: CatalogService) -> list[str]:
    """The names of the threads that open a read snapshot of `service`'s store from now on, in order (one
    per query that executes in this process)."""
    opened: list[str] = []
    snapshot = service.store.snapshot

    def counted() -> AbstractContextManager[GraphStore]:
        opened.append(threading.current_thread().name)
        return snapshot()

    service.store.snapshot = counted  # type: ignore[method-assign]
    return opened
