"""The side-by-side benchmark's own rules: how ratios and tables read, what passes, that answers of different
sizes stop the run, and that its pages are the largest the service accepts. No servers."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from bench.run_bench import BenchError
from bench.run_versus_backstage import (
    ALL_FULL_QUERY,
    BACKSTAGE_AGAIN,
    FULL,
    FULL_PAGE,
    NAMES_PAGE,
    NAMES_QUERY,
    QUESTIONS,
    TEAM_QUERY,
    THRESHOLDS,
    Counts,
    Side,
    SizeResult,
    Stat,
    Verdict,
    check_complete,
    check_sizes,
    choices_of,
    entities_query,
    fmt_ms,
    fmt_s,
    process_tree,
    ratio_words,
    table,
    verdicts,
)
from graphsvc.api.cost import request_cost
from graphsvc.api.limits import MAX_BULK_FIRST, MAX_FIRST
from graphsvc.api.schema import schema
from graphsvc.config import Settings


def stat(p50: float, sizes: tuple[int, ...] = (1,)) -> Stat:
    return Stat(p50_ms=p50, p99_ms=p50 * 2, mean_ms=p50, n=len(sizes), sizes=sizes)


def side(name: str, p50: float, ingest_s: float | None = None, rss_mib: float | None = None) -> Side:
    reads = {key: stat(p50) for key in THRESHOLDS if key != "ingest"} | {"direct_dependents": stat(p50)}
    return Side(name, reads=reads, ingest_s=ingest_s, rss_mib=rss_mib)


@pytest.mark.parametrize(
    ("ours", "theirs", "words"),
    [
        (2.9, 70.7, "24x faster"),
        (1.54, 1.34, "1.15x slower"),
        (1.0, 1.05, "even"),
        (1.05, 1.0, "even"),
        (1.0, 1.06, "1.06x faster"),
        (5123.0, 841.0, "6.09x slower"),
        (0.0, 1.0, ""),
        (None, 1.0, ""),
    ],
)
def test_ratios_read_as_times_faster_or_slower_and_even_within_five_percent(
    ours: float | None, theirs: float, words: str
) -> None:
    assert ratio_words(ours, theirs) == words


def test_memory_ratios_read_as_smaller_or_larger() -> None:
    assert ratio_words(180.0, 360.0, "smaller", "larger") == "2.00x smaller"
    assert ratio_words(720.0, 360.0, "smaller", "larger") == "2.00x larger"


@pytest.mark.parametrize(
    ("ms", "text"), [(0.873, "0.87 ms"), (99.5, "99.50 ms"), (841.7, "842 ms"), (70_712.0, "70.7 s"), (None, "")]
)
def test_times_read_in_milliseconds_then_seconds(ms: float | None, text: str) -> None:
    assert fmt_ms(ms) == text


@pytest.mark.parametrize(("seconds", "text"), [(2.0947, "2.09 s"), (9.996, "10.00 s"), (461.6, "461.6 s"), (None, "")])
def test_ingest_times_read_in_seconds(seconds: float | None, text: str) -> None:
    assert fmt_s(seconds) == text


def test_each_threshold_passes_at_its_limit_and_fails_just_past_it() -> None:
    backstage = side("Backstage", 100.0, ingest_s=70.0, rss_mib=360.0)
    at_limit = Side(
        "ours",
        reads={key: stat(100.0 * limit) for key, limit in THRESHOLDS.items() if key != "ingest"},
        ingest_s=70.0 * THRESHOLDS["ingest"],
        rss_mib=359.0,
    )
    assert [(v.key, v.passed) for v in verdicts(backstage, at_limit)] == [(key, True) for key in THRESHOLDS] + [
        ("rss", True)
    ]
    past = Side(
        "ours",
        reads={key: stat(100.0 * limit * 1.01) for key, limit in THRESHOLDS.items() if key != "ingest"},
        ingest_s=70.0 * THRESHOLDS["ingest"] * 1.01,
        rss_mib=360.0,
    )
    assert [(v.key, v.passed) for v in verdicts(backstage, past)] == [(key, False) for key in THRESHOLDS] + [
        ("rss", False)
    ]


@pytest.mark.parametrize(
    ("verdict", "line"),
    [
        (Verdict("this catalog (sqlite)", "by_ref", 0.452, 0.67), "PASS by_ref [this catalog (sqlite)]: "
         "ours/Backstage = 0.452 (at most 0.67)"),
        (Verdict("this catalog (neo4j)", "all_full", 6.09, 1.0), "FAIL all_full [this catalog (neo4j)]: "
         "ours/Backstage = 6.090 (at most 1)"),
        (Verdict("this catalog (sqlite)", "dependencies_depth6", 0.3, 1 / 3), "PASS dependencies_depth6 "
         "[this catalog (sqlite)]: ours/Backstage = 0.300 (at most 0.333)"),
        (Verdict("this catalog (sqlite)", "rss", 1.0, 1.0, strict=True), "FAIL rss [this catalog (sqlite)]: "
         "ours/Backstage = 1.000 (below 1)"),
    ],
)  # fmt: skip
def test_acceptance_lines_give_the_raw_ratio_and_the_bound(verdict: Verdict, line: str) -> None:
    assert verdict.line() == line


def test_a_measure_missing_on_either_side_is_an_error_not_a_verdict() -> None:
    with pytest.raises(BenchError, match="ingest: not measured on ours"):
        verdicts(side("Backstage", 1.0, ingest_s=70.0, rss_mib=360.0), side("ours", 1.0, rss_mib=100.0))
    with pytest.raises(BenchError, match="memory: not measured on ours"):
        verdicts(side("Backstage", 1.0, ingest_s=70.0, rss_mib=360.0), side("ours", 1.0, ingest_s=3.0))


def test_answers_of_the_same_sizes_pass_and_a_different_size_stops_the_run_naming_both() -> None:
    backstage = Side("Backstage", reads={"by_ref": stat(1.0, (3, 4, 5)), "all_full": stat(800.0, (1000,))})
    check_sizes(backstage, Side("ours", reads={"by_ref": stat(2.0, (3, 4, 5)), "all_full": stat(9.0, (1000,))}))
    differing = Side("ours", reads={"by_ref": stat(2.0, (3, 4, 6)), "all_full": stat(9.0, (1000,))})
    with pytest.raises(
        BenchError, match=r"^by_ref: answers differ: timed request 3 answered 5 items on Backstage, 6 on ours$"
    ):
        check_sizes(backstage, differing)
    with pytest.raises(BenchError, match="^all_full: ours has no answers, Backstage answered 1000 items$"):
        check_sizes(backstage, Side("ours", reads={"by_ref": stat(2.0, (3, 4, 5))}))


def test_a_listing_short_of_the_catalog_stops_the_run() -> None:
    check_complete(Side("Backstage", reads={"all_full": stat(800.0, (1000, 1000))}), 1000)
    with pytest.raises(BenchError, match=r"all_full: Backstage listed \[999, 1000\] entities, the catalog has 1000"):
        check_complete(Side("Backstage", reads={"all_full": stat(800.0, (1000, 999))}), 1000)


def test_the_table_has_a_value_and_a_ratio_column_per_side_of_ours() -> None:
    backstage = side("Backstage", 10.0, ingest_s=70.0, rss_mib=360.0)
    graphql = side("this catalog (sqlite)", 5.0, ingest_s=3.5, rss_mib=180.0)
    rest = side("this catalog REST (sqlite)", 10.3)
    assert table(1000, backstage, [graphql, rest]).splitlines() == [
        "| read | Backstage | this catalog (sqlite) |  | this catalog REST (sqlite) |  |",
        "|---|---:|---:|---|---:|---|",
        "| ingest of 1,000 entities, until all are visible | 70.0 s | 3.50 s | 20x faster |  |  |",
        "| by_ref: one component, full | 10.00 ms | 5.00 ms | 2.00x faster | 10.30 ms | even |",
        "| team_components: a team's components, full | 10.00 ms | 5.00 ms | 2.00x faster | 10.30 ms | even |",
        "| service_names: names of every service | 10.00 ms | 5.00 ms | 2.00x faster | 10.30 ms | even |",
        "| relations_with_targets: a component's relations and their targets (REST: 2 requests) | 10.00 ms | "
        "5.00 ms | 2.00x faster | 10.30 ms | even |",
        "| direct_dependents: what depends on a component | 10.00 ms | 5.00 ms | 2.00x faster | 10.30 ms | even |",
        "| dependencies_depth6: dependencies to depth 6 (REST: a request per hop) | 10.00 ms | 5.00 ms | "
        "2.00x faster | 10.30 ms | even |",
        f"| all_full: every entity, full (GraphQL: pages of {FULL_PAGE}) | 10.00 ms | 5.00 ms | 2.00x faster | "
        "10.30 ms | even |",
        "| RSS after the reads | 360 MiB | 180 MiB | 2.00x smaller |  |  |",
    ]


def test_the_report_gives_acceptance_lines_for_the_graphql_column_and_for_either_api_of_each_engine() -> None:
    backstage = side("Backstage", 10.0, ingest_s=70.0, rss_mib=360.0)
    ours = [
        (side("this catalog (sqlite)", 5.0, ingest_s=3.0, rss_mib=180.0), side("this catalog REST (sqlite)", 10.3)),
        (side("this catalog (neo4j)", 20.0, ingest_s=35.0, rss_mib=400.0), side("this catalog REST (neo4j)", 30.0)),
    ]
    ours[1][1].reads["all_full"] = stat(5.0)  # Neo4j's REST listing beats Backstage's, its GraphQL does not
    ours[0][0].details["ingest"] = {"peak_rss_mib": 71.2}
    ours[1][0].details |= {"ingest": {"peak_rss_mib": 150.0}, "neo4j_jvm": {"rss_mib": 1210.4}}
    lines = SizeResult(1000, backstage, ours).text().splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith(("PASS", "FAIL"))] == [
        "PASS by_ref [this catalog (sqlite)]",
        "PASS team_components [this catalog (sqlite)]",
        "PASS service_names [this catalog (sqlite)]",
        "PASS relations_with_targets [this catalog (sqlite)]",
        "PASS all_full [this catalog (sqlite)]",
        "FAIL dependencies_depth6 [this catalog (sqlite)]",
        "PASS ingest [this catalog (sqlite)]",
        "PASS rss [this catalog (sqlite)]",
        "FAIL by_ref [this catalog (neo4j)]",
        "FAIL team_components [this catalog (neo4j)]",
        "FAIL service_names [this catalog (neo4j)]",
        "FAIL relations_with_targets [this catalog (neo4j)]",
        "FAIL all_full [this catalog (neo4j)]",
        "FAIL dependencies_depth6 [this catalog (neo4j)]",
        "FAIL ingest [this catalog (neo4j)]",
        "FAIL rss [this catalog (neo4j)]",
        "PASS by_ref [this catalog, either API (sqlite)]",
        "PASS team_components [this catalog, either API (sqlite)]",
        "PASS service_names [this catalog, either API (sqlite)]",
        "PASS relations_with_targets [this catalog, either API (sqlite)]",
        "PASS all_full [this catalog, either API (sqlite)]",
        "FAIL dependencies_depth6 [this catalog, either API (sqlite)]",
        "PASS ingest [this catalog, either API (sqlite)]",
        "PASS rss [this catalog, either API (sqlite)]",
        "FAIL by_ref [this catalog, either API (neo4j)]",
        "FAIL team_components [this catalog, either API (neo4j)]",
        "FAIL service_names [this catalog, either API (neo4j)]",
        "FAIL relations_with_targets [this catalog, either API (neo4j)]",
        "PASS all_full [this catalog, either API (neo4j)]",
        "FAIL dependencies_depth6 [this catalog, either API (neo4j)]",
        "FAIL ingest [this catalog, either API (neo4j)]",
        "FAIL rss [this catalog, either API (neo4j)]",
    ]
    assert lines[0] == "1,000 entities, p50 of each read"
    assert lines[-3:] == [
        "note [this catalog (sqlite)]: the ingest's peak RSS was 71 MiB",
        "note [this catalog (neo4j)]: the ingest's peak RSS was 150 MiB",
        "note [this catalog (neo4j)]: the Neo4j server's JVM holds 1,210 MiB besides",
    ]


def test_every_side_gets_the_same_seeded_choices() -> None:
    entities = [
        {"kind": "Component", "metadata": {"name": f"c{i}"}, "spec": {"dependsOn": [f"component:default/c{i + 1}"]}}
        for i in range(50)
    ] + [{"kind": "Group", "metadata": {"name": f"team-{i}"}, "spec": {}} for i in range(5)]
    first, second = choices_of(entities, 20), choices_of(entities, 20)
    assert first == second
    assert [len(first[key]) for key in ("components", "teams", "targets", "none")] == [20, 20, 20, 1]
    assert {choice["team"] for choice in first["teams"]} <= {f"team-{i}" for i in range(5)}
    assert all(choice["ref"].startswith("component:default/c") for choice in first["targets"])
    assert choices_of(entities, 20, seed=8) != first


def test_a_catalog_without_dependencies_between_components_is_refused() -> None:
    entities = [
        {"kind": "Component", "metadata": {"name": "c"}, "spec": {}},
        {"kind": "Group", "metadata": {"name": "t"}},
    ]
    with pytest.raises(BenchError, match="dependencies between components"):
        choices_of(entities, 5)


def test_every_entity_in_full_has_its_own_request_counts() -> None:
    counts = Counts(requests=200, warmup=20, full_requests=10, full_warmup=2)
    assert {q.key: counts.of(q) for q in QUESTIONS} == {
        "by_ref": (200, 20),
        "team_components": (200, 20),
        "service_names": (200, 20),
        "relations_with_targets": (200, 20),
        "direct_dependents": (200, 20),
        "dependencies_depth6": (200, 20),
        "all_full": (10, 2),
    }


def cost(query: str) -> int:
    value = request_cost(schema._schema, query, {"after": None, "owner": "group:default/team-1"})
    assert value is not None
    return value


@pytest.mark.parametrize(
    ("query", "make", "page"),
    [
        (ALL_FULL_QUERY, lambda page: entities_query(page, FULL), FULL_PAGE),
        (TEAM_QUERY, lambda page: entities_query(page, FULL, 'kind: "Component", owner: $owner', "$owner: String!"),
         FULL_PAGE),
        (NAMES_QUERY, lambda page: entities_query(page, "name", 'kind: "Component", type: "service"'), NAMES_PAGE),
    ],
)  # fmt: skip
def test_the_pages_are_the_largest_the_default_limits_accept(query: str, make: object, page: int) -> None:
    limit = Settings().query_max_cost
    assert make(page) == query  # type: ignore[operator]
    assert cost(query) <= limit
    assert page in (MAX_FIRST, MAX_BULK_FIRST) or cost(make(page + 1)) > limit  # type: ignore[operator]


def test_the_service_memory_counts_processes_spawned_from_any_thread() -> None:
    """A child belongs to the thread that spawned it while that thread lives: the main thread's list misses it."""
    started: list[subprocess.Popen[bytes]] = []
    spawned, checked = threading.Event(), threading.Event()

    def spawn() -> None:
        started.append(subprocess.Popen(["sleep", "30"]))
        spawned.set()
        checked.wait(30)

    thread = threading.Thread(target=spawn)
    thread.start()
    spawned.wait(30)
    try:
        main_thread_children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
        assert str(started[0].pid) not in main_thread_children
        assert started[0].pid in process_tree(os.getpid())
    finally:
        checked.set()
        thread.join()
        started[0].kill()
        started[0].wait()


def test_the_columns_served_without_the_response_cache_get_acceptance_lines_of_their_own() -> None:
    backstage = side("Backstage", 10.0, ingest_s=70.0, rss_mib=360.0)
    graphql = side("this catalog (sqlite)", 12.0, ingest_s=3.0, rss_mib=180.0)
    cached = side("this catalog REST (sqlite)", 1.0)
    uncached = side("this catalog, no response cache (sqlite)", 12.5, ingest_s=3.0, rss_mib=170.0)
    rest_uncached = side("this catalog REST, no response cache (sqlite)", 11.0)
    graphql.details["ingest"] = {"peak_rss_mib": 71.2}
    lines = SizeResult(1000, backstage, [(graphql, cached, uncached, rest_uncached)]).text().splitlines()
    verdict_lines = [line.split(":")[0] for line in lines if line.startswith(("PASS", "FAIL"))]
    assert len(verdict_lines) == 32
    assert [verdict_lines[i] for i in (0, 8, 16, 24)] == [
        "FAIL by_ref [this catalog (sqlite)]",
        "FAIL by_ref [this catalog, no response cache (sqlite)]",
        "PASS by_ref [this catalog, either API (sqlite)]",
        "FAIL by_ref [this catalog, either API, no response cache (sqlite)]",
    ]
    assert lines[2].startswith(
        "| read | Backstage | this catalog (sqlite) |  | this catalog REST (sqlite) |  | "
        "this catalog, no response cache (sqlite) |  | this catalog REST, no response cache (sqlite) |  |"
    )
    assert lines[-1] == "note [this catalog (sqlite)]: the ingest's peak RSS was 71 MiB"


def test_backstage_asked_again_after_ours_is_a_column_and_a_second_set_of_read_verdicts() -> None:
    """The drift check: Backstage's second measure shows as a column (its ratio to the first is the drift),
    and each engine's either-API reads are judged against it too; the ingest and memory are not measured
    again, so they are not judged again."""
    backstage = side("Backstage", 10.0, ingest_s=70.0, rss_mib=360.0)
    again = side(BACKSTAGE_AGAIN, 6.0, rss_mib=350.0)
    graphql = side("this catalog (sqlite)", 4.0, ingest_s=3.0, rss_mib=180.0)
    rest = side("this catalog REST (sqlite)", 4.5)
    lines = SizeResult(1000, backstage, [(graphql, rest)], again).text().splitlines()
    assert lines[2] == (
        f"| read | Backstage | this catalog (sqlite) |  | this catalog REST (sqlite) |  | {BACKSTAGE_AGAIN} |  |"
    )
    by_ref = next(line for line in lines if line.startswith("| by_ref"))
    assert by_ref.endswith("| 6.00 ms | 1.67x faster |")
    against_again = [line for line in lines if f"against {BACKSTAGE_AGAIN}" in line]
    assert [line.split(" [")[0] for line in against_again] == [
        "PASS by_ref",  # 4.0 / 6.0 = 0.667
        "PASS team_components",
        "FAIL service_names",  # 0.667 > 0.5
        "FAIL relations_with_targets",
        "PASS all_full",
        "FAIL dependencies_depth6",
    ]
    assert against_again[0] == (
        f"PASS by_ref [this catalog, either API (sqlite), against {BACKSTAGE_AGAIN}]: "
        "ours/Backstage = 0.667 (at most 0.67)"
    )
