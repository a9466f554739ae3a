"""GraphQL clients of a real `catalog serve` query while `refresh` mutations sync the catalog.

The store holds A; the server runs on 127.0.0.1 (a free port); one client swaps the catalog directory's
files between B and A and sends `refresh`, while the other clients send queries whose fields must agree
with each other within one response (an entity's description, owner, relations, dependents; an owner's
page of components with its `totalCount` and the group's `ownedEntities`; the component count with the
owner facets and the added, removed and invalid entities). Each response must be exactly A's or B's (as the
clean reference stores answer it) and carry no GraphQL errors; after the server stops, `catalog check`
passes and the present is the last version synced.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.torture.concurrency import readers_over_http
from tests.torture.engines import Engine
from tests.torture.references import References

CLIENTS = int(os.environ.get("TORTURE_HTTP_CLIENTS", 6))
SYNCS = int(os.environ.get("TORTURE_SYNCS", 6))


def test_graphql_responses_during_refreshes_each_show_one_committed_state(
    references: References,
    graphql_expectations: dict,
    tmp_path: Path,
    torture_seed: int,
    torture_report: Callable[[str], None],
    torture_engine: Engine,
) -> None:
    run = readers_over_http(
        references, graphql_expectations, tmp_path, readers=CLIENTS, syncs=SYNCS, engine=torture_engine
    )
    torture_report(run.line())
    assert not run.problems, f"TORTURE_SEED={torture_seed}\n{run.report()}"
