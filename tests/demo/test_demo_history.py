"""The demo catalog's git history: built deterministically, ending at the shipped catalog, and replayed
into the store it tells its story (the questions below are the README's time-travel examples)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from graphsvc.config import Settings
from graphsvc.demo import DEMO_CATALOG_DIR, DEMO_STORY, build_demo_repository
from graphsvc.demo.history import FINGERPRINT_FILE, DemoRepositoryError
from graphsvc.history_replay import CommitSummary, backfill_history
from graphsvc.store import GraphStore, open_store
from tests.suite_settings import suite_settings


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def micros(day: str) -> int:
    """An ISO instant (UTC) as stored."""
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()) * 1_000_000


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_repository(tmp_path_factory.mktemp("demo") / "demo-repo")


@pytest.fixture(scope="module")
def replayed(demo_repo: Path, module_store_settings: Settings) -> Iterator[tuple[GraphStore, list[CommitSummary]]]:
    store = open_store(module_store_settings)
    try:
        yield store, backfill_history(store, str(demo_repo))
    finally:
        store.close()


# --- the repository -----------------------------------------------------------------------------------------


def test_the_demo_repository_builds_quickly_and_identically(tmp_path: Path, demo_repo: Path) -> None:
    started = time.perf_counter()
    again = build_demo_repository(tmp_path / "again")
    elapsed = time.perf_counter() - started

    assert elapsed < 5
    assert git(again, "rev-list", "HEAD") == git(demo_repo, "rev-list", "HEAD")
    assert len(git(again, "rev-list", "HEAD").split()) == len(DEMO_STORY)


def test_its_commits_carry_the_story_dates_and_authors_oldest_first(demo_repo: Path) -> None:
    log = git(demo_repo, "log", "--reverse", "--format=%cI|%aI|%an <%ae>|%s").splitlines()

    assert log == [f"{c.when}+00:00|{c.when}+00:00|{c.author}|{c.message}" for c in DEMO_STORY]
    assert DEMO_STORY[0].when.startswith("2026-03-02") and DEMO_STORY[-1].when.startswith("2026-11-16")


def test_its_last_commit_is_exactly_the_shipped_demo_catalog(demo_repo: Path) -> None:
    shipped = sorted(p.relative_to(DEMO_CATALOG_DIR).as_posix() for p in DEMO_CATALOG_DIR.rglob("*.yaml"))

    assert git(demo_repo, "ls-tree", "-r", "--name-only", "HEAD").split() == shipped
    for path in shipped:
        assert git(demo_repo, "show", f"HEAD:{path}") == (DEMO_CATALOG_DIR / path).read_text(encoding="utf-8")
    assert git(demo_repo, "status", "--porcelain") == ""


def test_a_built_repository_is_reused_and_an_outdated_one_rebuilt(tmp_path: Path) -> None:
    path = build_demo_repository(tmp_path / "demo-repo")
    head = git(path, "rev-parse", "HEAD")
    marker = path / ".git" / FINGERPRINT_FILE
    built_at = marker.stat().st_mtime_ns

    assert build_demo_repository(path) == path
    assert marker.stat().st_mtime_ns == built_at

    marker.write_text("built from an older catalog")
    build_demo_repository(path)
    assert git(path, "rev-parse", "HEAD") == head
    assert marker.read_text() != "built from an older catalog"


def test_a_directory_it_did_not_build_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")

    with pytest.raises(DemoRepositoryError, match="not a demo repository built by catalog-graph"):
        build_demo_repository(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


# --- the story, replayed --------------------------------------------------------------------------------------


def as_of(store: GraphStore, ref: str, moment: str, column: str) -> list[object]:
    """`column` of the version of `ref` that was open at `moment` ([] when the entity did not exist then)."""
    t = micros(moment)
    return [v[column] for v in store.rows("versions") if v["ref"] == ref and _valid(v, t)]


def _valid(row: dict[str, Any], t: int) -> bool:
    return row["valid_from"] <= t and (row["valid_to"] is None or row["valid_to"] > t)


def targets_as_of(store: GraphStore, label: str, ref: str, moment: str) -> list[str]:
    """The targets of `ref`'s own `label` edges open at `moment`."""
    t = micros(moment)
    return sorted(x["dst"] for x in store.rows("edges") if x["type"] == label and x["origin"] == ref and _valid(x, t))


def sources_as_of(store: GraphStore, label: str, ref: str, moment: str) -> list[str]:
    """Who pointed a `label` edge at `ref` at `moment` (one row per edge, as declared by `ref` itself)."""
    t = micros(moment)
    edges = store.rows("edges")
    return [x["src"] for x in edges if x["type"] == label and x["dst"] == ref and x["origin"] == ref and _valid(x, t)]


@pytest.mark.parametrize(
    ("question", "ask", "answer"),
    [
        (
            "who owned checkout-service on 2026-04-01?",
            lambda s: as_of(s, "component:default/checkout-service", "2026-04-01", "owner"),
            ["group:default/payments-core"],
        ),
        (
            "who owned checkout-service on 2026-05-01?",
            lambda s: as_of(s, "component:default/checkout-service", "2026-05-01", "owner"),
            ["group:default/checkout-team"],
        ),
        (
            "what did checkout-service depend on on 2026-08-01?",
            lambda s: targets_as_of(s, "DEPENDS_ON", "component:default/checkout-service", "2026-08-01"),
            [
                "component:default/fraud-scoring-service",
                "component:default/kotlin-service-chassis",
                "resource:default/checkout-sessions-cache",
            ],
        ),
        (
            "what does checkout-service depend on now (2026-11-20)?",
            lambda s: targets_as_of(s, "DEPENDS_ON", "component:default/checkout-service", "2026-11-20"),
            ["component:default/kotlin-service-chassis", "resource:default/checkout-sessions-cache"],
        ),
        (
            "which department was loyalty-team part of on 2026-06-01?",
            lambda s: sources_as_of(s, "PARENT_OF", "group:default/loyalty-team", "2026-06-01"),
            ["group:default/payments"],
        ),
        (
            "which department was loyalty-team part of on 2026-07-01?",
            lambda s: sources_as_of(s, "PARENT_OF", "group:default/loyalty-team", "2026-07-01"),
            ["group:default/customer-experience"],
        ),
        (
            "did legacy-pnr-sync exist on 2026-07-15?",
            lambda s: as_of(s, "component:default/legacy-pnr-sync", "2026-07-15", "lifecycle"),
            [],
        ),
        (
            "did legacy-pnr-sync exist on 2026-08-01?",
            lambda s: as_of(s, "component:default/legacy-pnr-sync", "2026-08-01", "lifecycle"),
            ["deprecated"],
        ),
        (
            "what was legacy-booking-monolith's lifecycle on 2026-11-01?",
            lambda s: as_of(s, "component:default/legacy-booking-monolith", "2026-11-01", "lifecycle"),
            ["production"],
        ),
        (
            "what was legacy-booking-monolith's lifecycle on 2026-11-17?",
            lambda s: as_of(s, "component:default/legacy-booking-monolith", "2026-11-17", "lifecycle"),
            ["deprecated"],
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and value.endswith("?") else "",
)
def test_time_travel_questions(
    replayed: tuple[GraphStore, list[CommitSummary]],
    question: str,
    ask: Callable[[GraphStore], list[object]],
    answer: list[object],
) -> None:
    store, _ = replayed
    assert ask(store) == answer, question


def test_every_commit_is_replayed_at_its_date_and_the_present_is_the_demo_catalog(
    replayed: tuple[GraphStore, list[CommitSummary]], demo_repo: Path
) -> None:
    store, summaries = replayed

    assert [s.commit_sha for s in summaries] == git(demo_repo, "rev-list", "--reverse", "HEAD").split()
    assert [s.started_at for s in summaries] == [micros(c.when) for c in DEMO_STORY]
    present = sum(1 for e in store.rows("entities") if e["state"] == "present")
    assert present == summaries[0].added == 334


def test_the_broken_commit_is_an_error_at_its_line_and_loses_nothing(
    replayed: tuple[GraphStore, list[CommitSummary]], demo_repo: Path
) -> None:
    store, summaries = replayed
    broken = next(s for s in summaries if s.errors)

    (error,) = store.errors(sync_runs=[broken.run_id])
    assert (error.location, error.line) == (f"git:{demo_repo}:systems/loyalty.yaml", 29)
    assert broken.commit_author == "Julia Nowak <julia.nowak@skylark-travel.example>"
    assert (broken.added, broken.updated, broken.removed) == (0, 0, 0)
    assert as_of(store, "component:default/loyalty-service", "2026-08-17T18:00:00", "owner") == [
        "group:default/loyalty-team"
    ]
    assert len(as_of(store, "component:default/loyalty-service", "2026-08-18T12:00:00", "owner")) == 1


def test_the_moved_file_keeps_its_entities_and_their_history(
    replayed: tuple[GraphStore, list[CommitSummary]], demo_repo: Path
) -> None:
    store, _ = replayed

    ref = "component:default/api-gateway"
    (location,) = [e["location"] for e in store.rows("entities") if e["ref"] == ref]
    rows = [(location, v["valid_from"], v["valid_to"]) for v in store.rows("versions") if v["ref"] == ref]
    assert rows == [(f"git:{demo_repo}:systems/edge.yaml", micros(DEMO_STORY[0].when), None)]


def test_serve_demo_replays_the_history_once_and_a_restart_replays_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from graphsvc.cli import _load_demo
    from graphsvc.service import CatalogService

    settings = suite_settings(store_dir=tmp_path / "store")
    service = CatalogService(open_store(settings), settings)
    try:
        _load_demo(service)
        _load_demo(service)
        (location,) = service.store.registered_locations()
    finally:
        service.close()

    assert (location.target, location.branch) == (str(tmp_path / "store" / "demo-repo"), "main")
    said = capsys.readouterr().err.splitlines()
    assert said[0].endswith(f"({len(DEMO_STORY)} commits replayed)")
    assert said[1].endswith("(0 commits replayed)")
