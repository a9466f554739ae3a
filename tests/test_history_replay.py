"""Replaying a repository's history: one sync per commit, at its commit date, with its SHA and author.

One scripted repository tells a small story (an owner change, a dependency added then removed, a team
re-parented, a component removed then restored, a broken file then its fix, a file renamed), and the
tests read the store's intervals and provenance back with plain Cypher.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from graphsvc.config import Settings
from graphsvc.demo.history import ScriptedRepository
from graphsvc.history_replay import CommitSummary, backfill_history
from graphsvc.service import CatalogService
from graphsvc.store import GraphStore, open_store
from tests.ingestors.catalog_files import entity, location

ALICE = "Alice Archer <alice@example.com>"
BOB = "Bob Baker <bob@example.com>"
CAROL = "Carol Cook <carol@example.com>"

ROOT = location("root", "./org.yaml", "./services/*.yaml")
ORG = "---\n".join(
    [
        entity("Group", "dept-a", type="department", children="[]"),
        entity("Group", "dept-b", type="department", children="[]"),
        entity("Group", "team-x", type="team", parent="dept-a", children="[]"),
        entity("Group", "team-y", type="team", parent="dept-b", children="[]"),
    ]
)
ORG_MOVED = ORG.replace("parent: dept-a", "parent: dept-b")


def component(name: str, owner: str, *, description: str | None = None, depends_on: str | None = None) -> str:
    spec: dict[str, str] = {"type": "service", "lifecycle": "production", "owner": owner}
    if depends_on:
        spec["dependsOn"] = f"[{depends_on}]"
    text = entity("Component", name, **spec)
    return text.replace("metadata:\n", f"metadata:\n  description: {description}\n") if description else text


BROKEN = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments\n   owner: [team-x\n"

STORY: list[tuple[str, str, dict[str, str | None]]] = [
    # (date, author, files written (None: deleted))
    (
        "2026-01-05T10:00:00",
        ALICE,
        {
            "catalog-info.yaml": ROOT,
            "org.yaml": ORG,
            "services/payments.yaml": component("payments", "team-x"),
            "services/web.yaml": component("web", "team-x"),
        },
    ),
    ("2026-02-02T10:00:00", BOB, {"services/payments.yaml": component("payments", "team-y")}),
    ("2026-03-02T10:00:00", CAROL, {"services/web.yaml": component("web", "team-x", depends_on="component:payments")}),
    ("2026-04-06T10:00:00", ALICE, {"org.yaml": ORG_MOVED}),
    ("2026-05-04T10:00:00", BOB, {"services/web.yaml": None}),
    ("2026-06-01T10:00:00", BOB, {"services/web.yaml": component("web", "team-x", depends_on="component:payments")}),
    ("2026-07-06T10:00:00", CAROL, {"services/payments.yaml": BROKEN}),
    ("2026-08-03T10:00:00", ALICE, {"services/payments.yaml": component("payments", "team-y", description="Pays.")}),
    (
        "2026-09-07T10:00:00",
        BOB,
        {
            "services/payments.yaml": None,
            "services/payments-service.yaml": component("payments", "team-y", description="Pays."),
        },
    ),
    ("2026-10-05T10:00:00", CAROL, {"services/web.yaml": component("web", "team-x")}),
]
T = [int(datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp()) * 1_000_000 for when, _, _ in STORY]
(IMPORT, OWNER_CHANGE, DEPENDENCY, REPARENT, REMOVAL, RESTORE, BREAK, FIX, RENAME, UNDEPEND) = range(len(STORY))


@pytest.fixture
def repo(tmp_path: Path) -> tuple[ScriptedRepository, list[str]]:
    repository = ScriptedRepository(tmp_path / "repo")
    shas = [
        repository.commit(files, when=datetime.fromisoformat(when).replace(tzinfo=UTC), author=author, message=when)
        for when, author, files in STORY
    ]
    return repository, shas


@pytest.fixture
def replayed(store: GraphStore, repo: tuple[ScriptedRepository, list[str]]) -> tuple[list[CommitSummary], list[str]]:
    repository, shas = repo
    return backfill_history(store, str(repository.path)), shas


def versions(store: GraphStore, ref: str) -> list[tuple[Any, ...]]:
    rows = sorted((v for v in store.rows("versions") if v["ref"] == ref), key=lambda v: v["valid_from"])
    keys = ("valid_from", "valid_to", "commit_sha", "commit_author", "closed_commit_sha")
    return [tuple(v[k] for k in keys) for v in rows]


def edges(store: GraphStore, label: str, origin: str) -> list[tuple[Any, ...]]:
    rows = [x for x in store.rows("edges") if x["type"] == label and x["origin"] == origin]
    keys = ("src", "dst", "valid_from", "valid_to", "commit_sha", "closed_commit_sha")
    return [tuple(x[k] for k in keys) for x in sorted(rows, key=lambda x: x["valid_from"])]


def entity_column(store: GraphStore, ref: str, column: str) -> list[Any]:
    return [e[column] for e in store.rows("entities") if e["ref"] == ref]


def test_each_commit_is_one_sync_at_its_commit_date(replayed: tuple[list[CommitSummary], list[str]]) -> None:
    summaries, shas = replayed

    assert [s.commit_sha for s in summaries] == shas
    assert [s.started_at for s in summaries] == [s.committed_at for s in summaries] == T
    assert [s.commit_author for s in summaries] == [author for _, author, _ in STORY]
    assert all(not s.notes for s in summaries)


def test_an_owner_change_closes_one_version_and_one_edge_at_the_commit(
    store: GraphStore, replayed: tuple[list[CommitSummary], list[str]]
) -> None:
    _, sha = replayed

    assert versions(store, "component:default/payments") == [
        (T[IMPORT], T[OWNER_CHANGE], sha[IMPORT], ALICE, sha[OWNER_CHANGE]),
        # the broken commit changed nothing; the fix opened a new version; the rename none
        (T[OWNER_CHANGE], T[FIX], sha[OWNER_CHANGE], BOB, sha[FIX]),
        (T[FIX], None, sha[FIX], ALICE, None),
    ]
    assert edges(store, "OWNED_BY", "component:default/payments") == [
        (
            "component:default/payments",
            "group:default/team-x",
            T[IMPORT],
            T[OWNER_CHANGE],
            sha[IMPORT],
            sha[OWNER_CHANGE],
        ),
        ("component:default/payments", "group:default/team-y", T[OWNER_CHANGE], None, sha[OWNER_CHANGE], None),
    ]


def test_a_removed_and_restored_entity_has_a_gap_not_a_second_identity(
    store: GraphStore, replayed: tuple[list[CommitSummary], list[str]]
) -> None:
    summaries, sha = replayed

    assert versions(store, "component:default/web") == [
        (T[IMPORT], T[DEPENDENCY], sha[IMPORT], ALICE, sha[DEPENDENCY]),
        (T[DEPENDENCY], T[REMOVAL], sha[DEPENDENCY], CAROL, sha[REMOVAL]),
        (T[RESTORE], T[UNDEPEND], sha[RESTORE], BOB, sha[UNDEPEND]),
        (T[UNDEPEND], None, sha[UNDEPEND], CAROL, None),
    ]
    assert (summaries[REMOVAL].removed, summaries[RESTORE].added) == (1, 1)
    assert entity_column(store, "component:default/web", "state") == ["present"]


def test_a_dependency_added_then_removed_is_one_interval_per_presence(
    store: GraphStore, replayed: tuple[list[CommitSummary], list[str]]
) -> None:
    _, sha = replayed

    assert edges(store, "DEPENDS_ON", "component:default/web") == [
        (
            "component:default/web",
            "component:default/payments",
            T[DEPENDENCY],
            T[REMOVAL],
            sha[DEPENDENCY],
            sha[REMOVAL],
        ),
        ("component:default/web", "component:default/payments", T[RESTORE], T[UNDEPEND], sha[RESTORE], sha[UNDEPEND]),
    ]


def test_a_reparented_group_moves_its_parent_edge(
    store: GraphStore, replayed: tuple[list[CommitSummary], list[str]]
) -> None:
    _, sha = replayed

    assert edges(store, "PARENT_OF", "group:default/team-x") == [
        ("group:default/dept-a", "group:default/team-x", T[IMPORT], T[REPARENT], sha[IMPORT], sha[REPARENT]),
        ("group:default/dept-b", "group:default/team-x", T[REPARENT], None, sha[REPARENT], None),
    ]


def test_a_broken_commit_records_errors_and_keeps_the_broken_files_entities(
    store: GraphStore, replayed: tuple[list[CommitSummary], list[str]], repo: tuple[ScriptedRepository, list[str]]
) -> None:
    summaries, _ = replayed
    broken = summaries[BREAK]

    (error,) = store.errors(sync_runs=[broken.run_id])
    assert error.location == f"git:{repo[0].path}:services/payments.yaml"
    assert error.line is not None and error.category == "read"
    assert (broken.removed, broken.updated, broken.added) == (0, 0, 0)
    # payments stayed open through the broken commit: its version closes at the fix, not at the break
    assert versions(store, "component:default/payments")[1][:2] == (T[OWNER_CHANGE], T[FIX])
    assert store.errors(sync_runs=[summaries[FIX].run_id]) == []


def test_a_renamed_file_keeps_one_identity_and_moves_its_location(
    store: GraphStore, replayed: tuple[list[CommitSummary], list[str]], repo: tuple[ScriptedRepository, list[str]]
) -> None:
    summaries, _ = replayed

    assert (summaries[RENAME].added, summaries[RENAME].removed, summaries[RENAME].updated) == (0, 0, 0)
    rows = entity_column(store, "component:default/payments", "location")
    assert rows == [f"git:{repo[0].path}:services/payments-service.yaml"]
    assert len(versions(store, "component:default/payments")) == 3


def test_a_second_replay_replays_nothing_and_a_new_commit_exactly_once(
    store: GraphStore, replayed: tuple[list[CommitSummary], list[str]], repo: tuple[ScriptedRepository, list[str]]
) -> None:
    repository, _ = repo
    assert backfill_history(store, str(repository.path)) == []

    newest = repository.commit(
        {"services/api.yaml": entity("Component", "api", type="service", lifecycle="beta", owner="team-y")},
        when=datetime(2026, 11, 2, 10, tzinfo=UTC),
        author=ALICE,
        message="a new file that only the Location's glob reaches",
    )

    (summary,) = backfill_history(store, str(repository.path))
    assert (summary.commit_sha, summary.added) == (newest, 1)
    assert versions(store, "component:default/api") == [(summary.committed_at, None, newest, ALICE, None)]


def test_a_commit_dated_before_the_last_sync_is_recorded_just_after_it(
    store: GraphStore, replayed: tuple[list[CommitSummary], list[str]], repo: tuple[ScriptedRepository, list[str]]
) -> None:
    repository, _ = repo
    repository.commit(
        {"services/web.yaml": component("web", "team-y")},
        when=datetime(2025, 12, 24, tzinfo=UTC),
        author=BOB,
        message="rebased onto main: dated before what the store already holds",
    )

    (summary,) = backfill_history(store, str(repository.path))

    assert summary.started_at == T[-1] + 1
    assert summary.committed_at == int(datetime(2025, 12, 24, tzinfo=UTC).timestamp()) * 1_000_000
    assert summary.notes == [
        "dated 2025-12-24T00:00:00+00:00, not after the previous sync of this source "
        "(2026-10-05T10:00:00+00:00): recorded at 2026-10-05T10:00:00.000001+00:00"
    ]
    assert versions(store, "component:default/web")[-2][1] == T[-1] + 1


def test_commits_in_the_same_second_get_distinct_instants(store: GraphStore, tmp_path: Path) -> None:
    repository = ScriptedRepository(tmp_path / "fast")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    for owner in ("team-x", "team-y", "team-z"):
        repository.commit({"catalog-info.yaml": component("fast", owner)}, when=when, author=ALICE, message=owner)

    summaries = backfill_history(store, str(repository.path))

    base = int(when.timestamp()) * 1_000_000
    assert [s.started_at for s in summaries] == [base, base + 1, base + 2]
    assert [len(s.notes) for s in summaries] == [0, 1, 1]


def test_after_a_force_push_the_store_follows_the_new_history(
    store: GraphStore, replayed: tuple[list[CommitSummary], list[str]], repo: tuple[ScriptedRepository, list[str]]
) -> None:
    repository, sha = repo
    repository.git("reset", "--quiet", "--hard", sha[FIX])
    rewritten = repository.commit(
        {"services/web.yaml": component("web", "team-y")},
        when=datetime(2026, 10, 20, tzinfo=UTC),
        author=CAROL,
        message="rewritten",
    )

    (summary,) = backfill_history(store, str(repository.path))

    assert summary.commit_sha == rewritten
    assert summary.notes[0].startswith(f"history rewritten: the last replayed commit {sha[UNDEPEND][:10]}")
    # the rename is undone by the new history: payments is back at its old path, still one identity
    rows = entity_column(store, "component:default/payments", "location")
    assert rows == [f"git:{repository.path}:services/payments.yaml"]
    assert [row[1] for row in edges(store, "OWNED_BY", "component:default/web")][-1] == "group:default/team-y"


def test_the_service_registers_the_branch_so_a_refresh_continues_from_its_head(
    store_settings: Settings, repo: tuple[ScriptedRepository, list[str]]
) -> None:
    repository, sha = repo
    settings = store_settings
    service = CatalogService(open_store(settings), settings)
    try:
        service.write_now(lambda: service.register(str(repository.path)))  # a plain registration: the work tree
        summaries = service.write_now(lambda: service.backfill_history(str(repository.path)))
        refreshed = service.write_now(lambda: service.refresh(str(repository.path)))
        (registered,) = service.store.registered_locations()
        assert (registered.target, registered.branch) == (str(repository.path), "main")
        assert len(summaries) == len(STORY)
        # the work tree was synced just now: the history is recorded after it, never before
        assert all("not after the previous sync" in summary.notes[-1] for summary in summaries)
        assert service.store.latest_commit(str(repository.path))[0] == sha[-1]
        assert (refreshed.added, refreshed.updated, refreshed.removed) == (0, 0, 0)
    finally:
        service.close()


def test_a_refresh_of_a_replayed_branch_keeps_every_new_commit(
    store_settings: Settings, repo: tuple[ScriptedRepository, list[str]]
) -> None:
    repository, _ = repo
    settings = store_settings
    service = CatalogService(open_store(settings), settings)
    try:
        service.write_now(lambda: service.backfill_history(str(repository.path)))
        for day, owner in ((17, "team-x"), (19, "team-y")):
            repository.commit(
                {"services/payments-service.yaml": component("payments", owner, description="Pays.")},
                when=datetime(2026, 11, day, 10, tzinfo=UTC),
                author=ALICE,
                message=owner,
            )
        refreshed = service.write_now(lambda: service.refresh(str(repository.path)))
        assert refreshed.commit_sha == repository.git("rev-parse", "HEAD").strip()
        t = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1_000_000)
        starts = [row[0] for row in versions(service.store, "component:default/payments")]
        assert [start for start in starts if start >= t] == [
            int(datetime(2026, 11, d, 10, tzinfo=UTC).timestamp() * 1_000_000) for d in (17, 19)
        ]
    finally:
        service.close()


def test_catalog_ingest_history_prints_one_line_per_commit_and_errors_with_their_line(
    tmp_path: Path, repo: tuple[ScriptedRepository, list[str]]
) -> None:
    repository, sha = repo
    command = [sys.executable, "-m", "graphsvc.cli", "ingest", "--history", str(repository.path)]
    environment = {**os.environ, "CATALOG_STORE": str(tmp_path / "store")}

    first = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=True)
    again = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=True)

    lines = first.stdout.splitlines()
    assert lines[0] == f"{sha[IMPORT][:10]} 2026-01-05 10:00Z 7 added, 0 updated, 0 removed, 0 unchanged, 0 errors"
    assert lines[OWNER_CHANGE].startswith(f"{sha[OWNER_CHANGE][:10]} 2026-02-02 10:00Z 0 added, 1 updated")
    assert len(lines) == len(STORY) + 1 and lines[-1].startswith(f"replayed {len(STORY)} commits")
    assert f"error [read] git:{repository.path}:services/payments.yaml:5: YAML syntax error" in first.stderr
    assert again.stdout == f"{repository.path}: no new commits to replay\n"
