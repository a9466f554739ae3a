"""A catalog that changes in steps, for the API's tests of present and past answers: each step's files are
written into one directory and synced at the step's instant; and GraphQL executed on a service in process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from graphsvc.api.context import Context
from graphsvc.api.schema import schema
from graphsvc.service import CatalogService
from graphsvc.sync import sync_source
from graphsvc.timestamps import from_datetime
from ingestors.read import read_source

Files = Callable[[int], dict[str, list[dict[str, Any]]]]
"""A step's files (1-based step): file name -> its documents."""


def sync_steps(service: CatalogService, root: Path, files: Files, instants: Sequence[datetime]) -> list[dict[str, int]]:
    """Write and sync each step's files in `root`, step n at `instants[n - 1]`; the counts of each sync."""
    counts = []
    for step, at in enumerate(instants, start=1):
        for name, documents in files(step).items():
            (root / name).write_text(yaml.safe_dump_all(documents, sort_keys=False))
        result = read_source(str(root), glob="*.yaml")
        counts.append(sync_source(service.store, result, source=str(root), at=from_datetime(at)).counts)
    return counts


def execute(service: CatalogService, query: str, **variables: Any) -> Any:
    """One GraphQL operation on the service's store, in process (its whole ExecutionResult)."""
    return asyncio.run(schema.execute(query, variable_values=variables, context_value=Context(service=service)))
