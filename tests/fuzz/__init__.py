"""Property-based fuzzing (hypothesis) of the readers, the sync, the store and the GraphQL API.

- `test_catalog_files.py` generates catalog directories (random entities, hostile Location targets, valid
  files mutated byte by byte, histories of edits) and checks that nothing escapes the service, that every
  bad document yields one error record naming its file, that exactly the valid entities are stored (and the
  last good versions kept), and that `GraphStore.check()` is clean after every sync.
- `test_graphql_requests.py` generates POST /graphql bodies (schema-aware and random queries, hostile
  variables, malformed JSON) and checks for HTTP 200 or 400, a JSON body, error messages without tracebacks
  or internal paths, and that the server still answers a known query.

Budgets are small so the directory runs in about a minute on a 2-core CI machine. `FUZZ_SCALE=10` runs ten
times as many examples; with `CI` set, examples are derandomized (the same every run); hypothesis's example
database is off (nothing is written to the work tree). Each test prints one `[fuzz]` line with its case
counts (visible with `pytest -s`) and records them as the junit property `fuzz_cases`; with `FUZZ_REPORT=path`
the lines are also appended to that file as JSON.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings

CI = bool(os.environ.get("CI"))
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))

_QUIET_HEALTH_CHECKS = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
    HealthCheck.function_scoped_fixture,
]


NEO4J_SHARE = 0.25
"""The share of a fuzz test's examples that also run on Neo4j: the same generators and checks, fewer draws
(each example is several round trips to the server: a sync, a check of the store, a request)."""


def examples_on(engine: str, count: int) -> int:
    """How many of a test's `count` examples run on `engine` ("sqlite" or "neo4j")."""
    return count if engine == "sqlite" else max(1, int(count * NEO4J_SHARE))


def fuzz_settings(max_examples: int, **overrides: Any) -> settings:
    """Bounded, reproducible settings: no deadline (a sync's first call warms caches), derandomized on CI,
    no example database."""
    return settings(
        max_examples=max(1, int(max_examples * SCALE)),
        deadline=None,
        derandomize=CI,
        database=None,
        print_blob=True,
        suppress_health_check=_QUIET_HEALTH_CHECKS,
        **overrides,
    )


class Cases:
    """Counts what one fuzz test ran: executions (generated, explicit and shrinking replays) by category."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()

    def add(self, *categories: str) -> None:
        """One case ran (in the given categories)."""
        self.counts["cases"] += 1
        self.tag(*categories)

    def tag(self, *categories: str) -> None:
        """Count categories of the current case without counting another case."""
        for category in categories:
            self.counts[category] += 1

    def report(self, record_property: Callable[[str, object], None] | None = None) -> str:
        elapsed = time.monotonic() - self.started
        details = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()) if k != "cases")
        line = f"[fuzz] {self.name}: {self.counts['cases']} cases in {elapsed:.1f} s ({details})"
        print(line)
        if record_property is not None:
            record_property("fuzz_cases", dict(self.counts))
            record_property("fuzz_seconds", round(elapsed, 2))
        target = os.environ.get("FUZZ_REPORT")
        if target:
            with open(target, "a", encoding="utf-8") as out:
                out.write(json.dumps({"test": self.name, "seconds": round(elapsed, 2), **self.counts}) + "\n")
        return line
