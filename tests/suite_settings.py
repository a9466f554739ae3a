"""The settings the suite runs under: what a trusted developer's machine would allow.

The service's defaults are closed (no anonymous access, local reading under the working directory only).
Most tests are about something else, so they run with every scope open to anonymous requests and reading
allowed under the directories tests write to (`/tmp`, the repository, the shared fixtures). The tests of
authentication and of the reading allowlist configure their own, closed settings and say so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from graphsvc.config import SCOPES, Settings

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED = REPOSITORY.parent / "shared"
SUITE_ROOTS = [Path("/tmp"), REPOSITORY, SHARED.resolve()]
SUITE_ENV = {
    "CATALOG_ANONYMOUS": ",".join(SCOPES),
    "CATALOG_LOCAL_ROOTS": ",".join(str(root) for root in SUITE_ROOTS),
    "CATALOG_VERIFY_EXECUTION": "1",  # every query the suite sends is executed both ways and compared
}
"""Set for the whole test session (`tests/conftest.py`), so `catalog` subprocesses run under them too."""


def suite_settings(**values: Any) -> Settings:
    """`Settings(**values)`, with the suite's open defaults for what `values` does not set."""
    values.setdefault("auth", {"anonymous": list(SCOPES)})
    values.setdefault("reading", {"local_roots": SUITE_ROOTS})
    return Settings(**values)


def closed_env() -> dict[str, str]:
    """The process environment without the suite's open defaults: for a `catalog` that runs as configured."""
    return {k: v for k, v in os.environ.items() if k not in SUITE_ENV}
