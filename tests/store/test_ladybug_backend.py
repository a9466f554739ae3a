"""LadybugDB specifics that the shared store tests cannot show."""

from __future__ import annotations

from pathlib import Path

from graphsvc.store.backend import Insert
from graphsvc.store.ladybug_backend import LadybugBackend
from graphsvc.store.schema import ENTITY_VERSION


def test_many_small_bulk_writes_do_not_exhaust_the_buffer_pool(tmp_path: Path) -> None:
    """A service that syncs every few minutes writes thousands of small COPY batches. LadybugDB keeps each
    COPY's buffers until the connection that ran it closes, so a long-lived write connection filled a 64 MiB
    pool after a handful of writes (a 256 MiB pool after about 20)."""
    backend = LadybugBackend(tmp_path / "store", buffer_pool_mb=64)
    try:
        backend.write_schema(backend.dialect.schema_statements())
        for batch in range(60):
            rows = [{"id": f"component:default/c{batch}@{i}", "ref": f"component:default/c{batch}"} for i in range(3)]
            backend.write([Insert(ENTITY_VERSION, rows)])
        assert backend.read("MATCH (v:EntityVersion) RETURN count(v)") == [[180]]
    finally:
        backend.close()
