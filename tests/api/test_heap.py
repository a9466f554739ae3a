"""The serving processes freeze their start-up objects (`graphsvc.api.heap`): a full collection then walks
only what was made since, not the schema and modules, and nothing frozen is lost."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from graphsvc.api.heap import freeze_startup_objects
from graphsvc.api.schema import schema


@pytest.fixture
def unfrozen_after() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_start_up_objects_leave_the_collected_generations_and_stay_alive(unfrozen_after: None) -> None:
    collected_before = len(gc.get_objects())
    freeze_startup_objects()
    assert gc.get_freeze_count() >= collected_before * 0.9
    assert len(gc.get_objects()) < collected_before * 0.1
    assert schema.as_str().startswith("type ")  # still alive and whole
    made_since = [[i] for i in range(1000)]  # lists are always tracked (a dict of ints is not)
    assert len(gc.get_objects()) >= len(made_since)  # what is made afterwards is collected as before
