"""Fixtures the API tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graphsvc.config import Settings
from graphsvc.service import CatalogService
from graphsvc.store import open_store

DEMO = Path(__file__).resolve().parents[2] / "graphsvc" / "demo" / "catalog" / "catalog-info.yaml"


@pytest.fixture(scope="module")
def demo_service(module_store_settings: Settings) -> Iterator[CatalogService]:
    """The demo catalog, registered into an empty store of the module's engine."""
    service = CatalogService(open_store(module_store_settings), module_store_settings)
    service.register(str(DEMO))
    yield service
    service.close()
