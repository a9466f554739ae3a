"""The traversal module on its own: relation names as hops, strongly connected components, the bounded
enumeration of dependency cycles, and the bound on shortest paths (on a real store, both engines)."""

from __future__ import annotations

import random
from itertools import combinations, permutations

import pytest

from graphsvc.store import GraphStore
from graphsvc.store.traversal import (
    MAX_PATHS,
    Hop,
    UnknownRelationError,
    cyclic_components,
    elementary_cycles,
    graph_of,
    hops,
    strongly_connected,
)
from graphsvc.sync import sync_source
from tests.store.catalog_builder import component, source

DEPENDS, PROVIDES, OWNED = "DEPENDS_ON", "PROVIDES_API", "OWNED_BY"


@pytest.mark.parametrize(
    ("relations", "direction", "expected"),
    [
        (["dependsOn"], "out", [Hop(DEPENDS, "out")]),
        (["dependencyOf"], "out", [Hop(DEPENDS, "in")]),
        (["dependsOn"], "in", [Hop(DEPENDS, "in")]),
        (["dependencyOf"], "in", [Hop(DEPENDS, "out")]),
        (["dependsOn"], "both", [Hop(DEPENDS, "in"), Hop(DEPENDS, "out")]),
        (["dependsOn", "dependencyOf"], "out", [Hop(DEPENDS, "in"), Hop(DEPENDS, "out")]),
        (["ownerOf", "apiProvidedBy"], "out", [Hop(OWNED, "in"), Hop(PROVIDES, "in")]),
        (["providesApi", "providesApi"], "out", [Hop(PROVIDES, "out")]),
    ],
)
def test_a_relation_name_is_a_label_and_a_direction(relations: list[str], direction: str, expected: list[Hop]) -> None:
    assert list(hops(relations, direction)) == expected


@pytest.mark.parametrize(
    ("hop", "relation"),
    [(Hop(DEPENDS, "out"), "dependsOn"), (Hop(DEPENDS, "in"), "dependencyOf"), (Hop(OWNED, "in"), "ownerOf")],
)
def test_a_hop_reads_as_the_relation_of_the_walking_side(hop: Hop, relation: str) -> None:
    assert hop.relation == relation


def test_unknown_relations_and_directions_are_refused_by_name() -> None:
    with pytest.raises(UnknownRelationError, match=r"^unknown relation type 'owns'; known ones: apiConsumedBy, "):
        hops(["dependsOn", "owns"])
    with pytest.raises(UnknownRelationError, match="^relations must name at least one of: "):
        hops([])
    with pytest.raises(ValueError, match="^unknown direction 'up'; expected one of out, in, both$"):
        hops(["dependsOn"], "up")


def ring(names: str) -> list[tuple[str, str]]:
    """Edges a -> b -> ... -> a through the one-letter refs of `names`."""
    return [(a, b) for a, b in zip(names, names[1:] + names[0], strict=True)]


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ([("a", "b"), ("b", "c")], [["a"], ["b"], ["c"]]),
        (ring("abc") + [("c", "d")], [["a", "b", "c"], ["d"]]),
        (ring("ab") + ring("cd") + [("b", "c")], [["a", "b"], ["c", "d"]]),
        ([("a", "a"), ("a", "b")], [["a"], ["b"]]),
        ([(f"n{i:05}", f"n{i + 1:05}") for i in range(20_000)] + [("n20000", "n00000")], None),  # no recursion
    ],
)
def test_strongly_connected_components(edges: list[tuple[str, str]], expected: list[list[str]] | None) -> None:
    components = sorted(strongly_connected(graph_of(edges)))
    if expected is None:
        assert [len(c) for c in components] == [20_001]
    else:
        assert components == expected


def cycles(edges: list[tuple[str, str]], **bounds: object) -> list[str]:
    graph = graph_of(edges)
    return ["".join(cycle) for cycle in elementary_cycles(graph, cyclic_components(graph), **bounds)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("edges", "bounds", "expected"),
    [
        ([("a", "b"), ("b", "c")], {}, []),
        ([("a", "a")], {}, ["a"]),  # a self-dependency is a cycle of one
        (ring("cab"), {}, ["abc"]),  # rotated to start at its smallest ref
        (ring("abc") + ring("ac") + [("b", "b")], {}, ["abc", "ac", "b"]),  # sorted
        (ring("ab") + ring("bc") + ring("ca"), {}, ["ab", "abc", "ac", "acb", "bc"]),
        (ring("abcdefghij"), {}, ["abcdefghij"]),  # ten refs: listed
        (ring("abcdefghijk"), {}, []),  # eleven: too long
        (ring("abcdefghijk") + ring("ak"), {}, ["ak"]),
        (ring("abcd"), {"max_length": 3}, []),
        (ring("ab") + ring("bc") + ring("ca"), {"limit": 2}, ["ab", "abc"]),  # the first ones in order
        (ring("ab") + ring("cd") + ring("ce"), {"through": {"d", "e"}}, ["cd", "ce"]),
        (ring("ab") + ring("bc"), {"through": {"c"}}, ["bc"]),
        (ring("ab"), {"through": set()}, []),
    ],
)
def test_elementary_cycles(edges: list[tuple[str, str]], bounds: dict[str, object], expected: list[str]) -> None:
    assert cycles(edges, **bounds) == expected


def test_every_cycle_of_a_complete_graph_once() -> None:
    """Five refs each depending on all others: sum over k of C(5, k) (k - 1)! cycles of k >= 2 refs = 84."""
    names = "abcde"
    found = cycles([(a, b) for a in names for b in names if a != b])
    assert len(found) == len(set(found)) == 84
    assert found[:3] == ["ab", "abc", "abcd"] and found == sorted(found)
    assert all(cycle[0] == min(cycle) for cycle in found)


def test_shortest_paths_are_bounded_and_the_first_in_order(store: GraphStore) -> None:
    """start -> a1..a5 -> b1..b5 -> c1..c5 -> end: 125 shortest paths, of which the first MAX_PATHS."""
    layers = [[f"{layer}{i}" for i in range(1, 6)] for layer in "abc"]
    nexts = [*layers, ["end"]]
    docs = [component("start", dependsOn=[f"component:{n}" for n in layers[0]]), component("end")]
    for layer, following in zip(layers, nexts[1:], strict=True):
        docs += [component(name, dependsOn=[f"component:{n}" for n in following]) for name in layer]
    sync_source(store, source(("catalog-info.yaml", docs)), source="s")
    steps = hops(["dependsOn"])
    found = store.shortest_paths("component:default/start", "component:default/end", steps, 6)
    assert len(found) == MAX_PATHS == 100
    names = [tuple(ref.removeprefix("component:default/") for ref in path.refs) for path in found]
    assert names[0] == ("start", "a1", "b1", "c1", "end") and names[-1] == ("start", "a4", "b5", "c5", "end")
    assert names == sorted(names) and len(set(names)) == MAX_PATHS
    assert {path.relations for path in found} == {("dependsOn",) * 4}
    assert store.shortest_paths("component:default/start", "component:default/end", steps, 3) == []


def simple_cycles(edges: set[tuple[str, str]], nodes: list[str], max_length: int) -> list[tuple[str, ...]]:
    """Every elementary cycle by brute force: each ordering of each set of refs, smallest first."""
    found = []
    for size in range(1, min(len(nodes), max_length) + 1):
        for members in combinations(sorted(nodes), size):
            for rest in permutations(members[1:]):
                cycle = (members[0], *rest)
                if all((cycle[i], cycle[(i + 1) % size]) in edges for i in range(size)):
                    found.append(cycle)
    return sorted(found)


def test_elementary_cycles_are_those_of_brute_force_on_random_graphs() -> None:
    rng = random.Random(3)
    for _ in range(500):
        nodes = [f"n{i}" for i in range(rng.randint(1, 6))]
        edges = {(rng.choice(nodes), rng.choice(nodes)) for _ in range(rng.randint(0, 3 * len(nodes)))}
        max_length = rng.randint(1, 6)
        through = set(rng.sample(nodes, rng.randint(0, len(nodes)))) if rng.random() < 0.5 else None
        expected = [c for c in simple_cycles(edges, nodes, max_length) if through is None or set(c) & through]
        graph = graph_of(edges)
        got = elementary_cycles(graph, cyclic_components(graph), through, max_length=max_length, limit=1000)
        assert got == expected, (sorted(edges), max_length, through)


def brute_shortest_paths(
    adjacent: dict[str, set[tuple[str, str]]], source: str, target: str, max_depth: int
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The shortest paths by brute force: every simple path of at most `max_depth` hops, the shortest kept."""
    found: list[tuple[tuple[str, ...], tuple[str, ...]]] = []

    def extend(refs: list[str], relations: list[str]) -> None:
        if refs[-1] == target:
            found.append((tuple(refs), tuple(relations)))
        elif len(relations) < max_depth:
            for other, relation in adjacent.get(refs[-1], ()):
                if other not in refs:
                    extend([*refs, other], [*relations, relation])

    extend([source], [])
    shortest = min((len(relations) for _, relations in found), default=0)
    return sorted(path for path in found if len(path[1]) == shortest)


def test_shortest_paths_are_those_of_brute_force_on_a_random_catalog(store: GraphStore) -> None:
    """Searched from both ends, on a real store: the same paths as every path tried."""
    rng = random.Random(5)
    names = [f"c{i}" for i in range(8)]
    docs = [
        component(
            name, owner=rng.choice(["team-a", "team-b"]), dependsOn=[f"component:{n}" for n in rng.sample(names, 2)]
        )
        for name in names
    ]
    sync_source(store, source(("catalog-info.yaml", docs)), source="s")
    edges = {label: store.edges_of(label) for label in (DEPENDS, OWNED)}
    refs = [f"component:default/{name}" for name in names]
    for relations, direction in [
        (["dependsOn"], "out"),
        (["dependsOn"], "both"),
        (["dependencyOf", "ownedBy", "ownerOf"], "out"),
    ]:
        steps = hops(relations, direction)
        adjacent: dict[str, set[tuple[str, str]]] = {}
        for hop in steps:
            for a, b in edges[hop.label]:
                near, far = (a, b) if hop.direction == "out" else (b, a)
                adjacent.setdefault(near, set()).add((far, hop.relation))
        for source_ref, target_ref in permutations(refs, 2):
            expected = brute_shortest_paths(adjacent, source_ref, target_ref, 4)
            found = store.shortest_paths(source_ref, target_ref, steps, 4)
            assert [(p.refs, p.relations) for p in found] == expected, (relations, direction, source_ref, target_ref)
