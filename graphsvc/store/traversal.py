"""Walks over the relation graph: breadth-first walks, shortest paths and dependency cycles.

Edges are stored once, under the label of their forward relation type (`schema.EDGE_LABELS`); a reverse
Backstage type (`dependencyOf`, `apiProvidedBy`, ...) is the same edge read the other way. So every relation
name is a `Hop`: a label and a direction. The walks here go level by level, one `GraphStore.neighbours`
statement per level and hop, so what a walk costs follows the entities it reaches (as `_breadth_first` does);
shortest paths are searched from both ends, so they read far less than a walk from one end would.

The walks follow edges wherever they lead, through refs no entity has at the instant too (a dangling
relation target, a removed entity): those stay in paths, and callers decide what to answer for them.
Everything here is engine-neutral; the only statement of its own is `edges_of` (every edge of one label).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING

from graphsvc.model import REVERSE_RELATION
from graphsvc.store.errors import UnknownRelationError
from graphsvc.store.schema import EDGE_LABELS, FORWARD_TYPES, RELATION_TYPE_EDGES

if TYPE_CHECKING:
    from graphsvc.store.cypher import EntityFilter
    from graphsvc.store.graph_store import GraphStore

RELATION_TYPES = tuple(sorted(REVERSE_RELATION))
"""The 14 Backstage relation types a walk may follow."""
DIRECTIONS = ("out", "in", "both")
MAX_PATHS = 100
"""`shortest_paths` answers at most this many paths (the first in order): their number can grow
exponentially with their length."""
MAX_CYCLES = 1000
"""`dependency_cycles` answers at most this many cycles (the first in order)."""
MAX_CYCLE_LENGTH = 10
"""Longer dependency cycles are not listed: enumerating them all is exponential in their length."""
_PAGE = 1000
"""Entities read per statement when the refs matching a filter are read (the store's largest page)."""


@dataclass(frozen=True, order=True)
class Hop:
    """One way to leave an entity: along edges of `label`, in `direction` ("out" or "in")."""

    label: str
    direction: str

    def reversed(self) -> Hop:
        """The same edges, walked the other way."""
        return Hop(self.label, "in" if self.direction == "out" else "out")

    @property
    def relation(self) -> str:
        """The Backstage relation type of this hop as read from the walking side."""
        forward = FORWARD_TYPES[self.label]
        return forward if self.direction == "out" else REVERSE_RELATION[forward]


def hops(relations: Sequence[str], direction: str = "out") -> tuple[Hop, ...]:
    """The hops that follow `relations` (Backstage type names) in `direction`: "out" as named, "in" each read
    the other way (the impact set), "both" either way. Raises `UnknownRelationError` naming what is unknown."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; expected one of {', '.join(DIRECTIONS)}")
    if not relations:
        raise UnknownRelationError(f"relations must name at least one of: {', '.join(RELATION_TYPES)}")
    unknown = sorted({r for r in relations if r not in REVERSE_RELATION})
    if unknown:
        raise UnknownRelationError(
            f"unknown relation type{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"known ones: {', '.join(RELATION_TYPES)}"
        )
    found: set[Hop] = set()
    for relation in relations:
        named = Hop(*RELATION_TYPE_EDGES[relation])
        if direction in ("out", "both"):
            found.add(named)
        if direction in ("in", "both"):
            found.add(named.reversed())
    return tuple(sorted(found))


EVERY_HOP = hops(RELATION_TYPES)
"""Every edge, either way: what `shortest_paths` follows when no relations are given."""


@dataclass(frozen=True)
class Reached:
    """A ref a walk reached: at its shortest distance, by the first shortest path in ref order."""

    ref: str
    distance: int
    path: tuple[str, ...]
    """The refs from the start to this one, both included."""


@dataclass(frozen=True)
class Path:
    """A path between two refs: its refs, start first, and the relation type of each hop."""

    refs: tuple[str, ...]
    relations: tuple[str, ...]


Links = dict[str, list[tuple[str, str]]]
"""ref -> [(ref one hop away, relation type of that hop)]."""


def _expand(store: GraphStore, frontier: list[str], steps: Sequence[Hop], as_of: int | None) -> Links:
    """What is one hop from each ref of `frontier`: one statement per hop, for the whole frontier."""
    links: Links = {ref: [] for ref in frontier}
    for hop in steps:
        for ref, others in store.neighbours(frontier, hop.label, hop.direction, as_of).items():
            links[ref] += [(other, hop.relation) for other in others]
    return links


def walk(store: GraphStore, start: str, steps: Sequence[Hop], depth: int, as_of: int | None = None) -> list[Reached]:
    """Every ref within 1..`depth` hops of `start`, each once at its shortest distance, nearest first then by
    ref; its path is the smallest of its shortest paths (compared ref by ref)."""
    paths = {start: (start,)}
    reached: list[Reached] = []
    frontier = [start]
    for distance in range(1, depth + 1):
        if not frontier:
            break
        found: dict[str, tuple[str, ...]] = {}
        for ref, links in _expand(store, frontier, steps, as_of).items():
            for other, _ in links:
                if other not in paths:
                    candidate = (*paths[ref], other)
                    found[other] = min(found.get(other, candidate), candidate)
        frontier = sorted(found)
        paths.update(found)
        reached += [Reached(ref, distance, found[ref]) for ref in frontier]
    return reached


def shortest_paths(
    store: GraphStore,
    source: str,
    target: str,
    steps: Sequence[Hop],
    max_depth: int,
    as_of: int | None = None,
    limit: int = MAX_PATHS,
) -> list[Path]:
    """The shortest paths from `source` to `target` of at most `max_depth` hops (none if longer), at most
    `limit` of them, ordered by their refs then by their relations. Two hops between the same refs by two
    relation types are two paths.

    Breadth-first from both ends, a level at a time from the end whose frontier is smaller, until they meet:
    each end reads about the square root of what a walk from one end to the other would. When the frontier
    of one end first meets what the other has reached, every shortest path passes through a ref of that
    meeting (an earlier meeting would have been a shorter path), so the paths are the ones to it from
    `source` joined to the ones from it to `target`."""
    ahead, behind = _Search(source, steps), _Search(target, [hop.reversed() for hop in steps], backward=True)
    while ahead.frontier and behind.frontier and ahead.depth + behind.depth < max_depth:
        side, other = (ahead, behind) if len(ahead.frontier) <= len(behind.frontier) else (behind, ahead)
        side.advance(store, as_of)
        meeting = [ref for ref in side.frontier if ref in other.nearer]
        if meeting:
            return list(_enumerate_paths(_onward(ahead, behind, meeting), source, target, limit))
    return []


@dataclass
class _Search:
    """One end of a breadth-first search from both ends."""

    start: str
    steps: Sequence[Hop]
    backward: bool = False
    """From the target: along each hop reversed, naming each hop as read from the source's side."""

    def __post_init__(self) -> None:
        self.nearer: dict[str, list[tuple[str, str]]] = {self.start: []}
        """ref -> the (ref one level nearer `start`, relation of the hop between them) it was reached from."""
        self.frontier = [self.start]
        self.depth = 0

    def advance(self, store: GraphStore, as_of: int | None) -> None:
        """Reach the next level."""
        level: dict[str, list[tuple[str, str]]] = {}
        for ref, links in _expand(store, self.frontier, self.steps, as_of).items():
            for other, relation in links:
                if other not in self.nearer:
                    level.setdefault(other, []).append((ref, REVERSE_RELATION[relation] if self.backward else relation))
        self.nearer.update(level)
        self.frontier = sorted(level)
        self.depth += 1


Onward = dict[str, dict[str, set[str]]]
"""ref -> the next ref on a shortest path to the target -> the relation types of that hop."""


def _onward(ahead: _Search, behind: _Search, meeting: list[str]) -> Onward:
    """The hops of the shortest paths: from `source` to the meeting refs, and from them to `target`."""
    onward: Onward = {}
    pending, seen = list(meeting), set(meeting)
    while pending:  # back from the meeting to the source: each ref is reached from the nearer one
        ref = pending.pop()
        for nearer, relation in ahead.nearer[ref]:
            onward.setdefault(nearer, {}).setdefault(ref, set()).add(relation)
            if nearer not in seen:
                seen.add(nearer)
                pending.append(nearer)
    pending, seen = list(meeting), set(meeting)
    while pending:  # on from the meeting to the target: each ref leads to the one nearer the target
        ref = pending.pop()
        for nearer, relation in behind.nearer[ref]:
            onward.setdefault(ref, {}).setdefault(nearer, set()).add(relation)
            if nearer not in seen:
                seen.add(nearer)
                pending.append(nearer)
    return onward


def _enumerate_paths(onward: Onward, source: str, target: str, limit: int) -> Iterator[Path]:
    """The paths of `onward` from `source` to `target`, in order, at most `limit`: depth-first over the refs
    in ref order, then each ref sequence with its relation types in order."""
    count = 0
    for refs in _ref_sequences(onward, source, target):
        hop_types = [sorted(onward[a][b]) for a, b in zip(refs, refs[1:], strict=False)]
        for relations in product(*hop_types):
            yield Path(refs, relations)
            count += 1
            if count == limit:
                return


def _ref_sequences(onward: Onward, ref: str, target: str) -> Iterator[tuple[str, ...]]:
    """Every ref sequence from `ref` to `target` in `onward`, in order (each step leads one level nearer)."""
    if ref == target:
        yield (ref,)
        return
    for nearer in sorted(onward.get(ref, {})):
        for rest in _ref_sequences(onward, nearer, target):
            yield (ref, *rest)


Graph = dict[str, list[str]]
"""ref -> the refs it has an edge to, sorted."""


def graph_of(edges: Iterable[tuple[str, str]]) -> Graph:
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    return {ref: sorted(targets) for ref, targets in graph.items()}


def strongly_connected(graph: Graph) -> list[list[str]]:
    """The strongly connected components of `graph` (Tarjan's algorithm, iterative: no recursion limit on
    long chains), each sorted, in no particular order. Linear in the edges."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            ref, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[ref])
                if low[ref] == index[ref]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == ref:
                            break
                    components.append(sorted(component))
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(graph[target])))
            elif target in on_stack:
                low[ref] = min(low[ref], index[target])
    return components


def cyclic_components(graph: Graph) -> dict[str, list[str]]:
    """ref -> its strongly connected component, for the refs that lie on a cycle (a component of several,
    or one ref with an edge to itself)."""
    return {
        ref: component
        for component in strongly_connected(graph)
        for ref in component
        if len(component) > 1 or component[0] in graph[component[0]]
    }


def elementary_cycles(
    graph: Graph,
    cyclic: dict[str, list[str]],
    through: set[str] | None = None,
    max_length: int = MAX_CYCLE_LENGTH,
    limit: int = MAX_CYCLES,
) -> list[tuple[str, ...]]:
    """The elementary cycles of `graph` of at most `max_length` refs (a self-loop is one of one), each
    starting at its smallest ref, in order, at most `limit`; with `through`, only those that pass through at
    least one of its refs. `cyclic`: `cyclic_components(graph)`; cycles are looked for only inside them, and
    a search goes only where the way back to its start is short enough."""
    cycles: list[tuple[str, ...]] = []
    for start in sorted(cyclic):
        members = [ref for ref in cyclic[start] if ref >= start]  # the cycles whose smallest ref is `start`
        if through is not None and through.isdisjoint(members):
            continue
        for cycle in _cycles_from(graph, start, set(members), max_length):
            if through is None or not through.isdisjoint(cycle):
                cycles.append(cycle)
                if len(cycles) == limit:
                    return cycles
    return cycles


def dependency_cycles(
    store: GraphStore, where: EntityFilter | None = None, as_of: int | None = None
) -> list[tuple[str, ...]]:
    """The cycles among dependsOn edges (see `elementary_cycles`); with a filter, those through at least one
    entity that matches it. One statement reads the edges; the filter is read only when there are cycles."""
    graph = graph_of(store.edges_of(EDGE_LABELS["dependsOn"], as_of))
    cyclic = cyclic_components(graph)
    through = None
    if where is not None and where.active():
        through = _matching(store, where, as_of) if cyclic else set()
    return elementary_cycles(graph, cyclic, through)


def _matching(store: GraphStore, where: EntityFilter, as_of: int | None) -> set[str]:
    """The refs of every entity matching `where`, a page at a time."""
    refs: set[str] = set()
    after = None
    while True:
        page = store.find_entities(where, first=_PAGE, after=after, as_of=as_of)
        refs.update(record.ref for record in page)
        if len(page) < _PAGE:
            return refs
        after = page[-1].ref


def _cycles_from(graph: Graph, start: str, members: set[str], max_length: int) -> Iterator[tuple[str, ...]]:
    """The cycles through `start` within `members`, in order: depth-first in ref order, where a ref closes
    its cycle (back to `start`) before it is extended, as a sequence sorts before its extensions."""
    back = _distances_to(graph, start, members, max_length)
    path = [start]

    def extend(ref: str) -> Iterator[tuple[str, ...]]:
        if start in graph[ref]:
            yield tuple(path)
        for target in graph[ref]:
            if target in back and target != start and target not in path and len(path) + back[target] <= max_length:
                path.append(target)
                yield from extend(target)
                path.pop()

    yield from extend(start)


def _distances_to(graph: Graph, start: str, members: set[str], max_length: int) -> dict[str, int]:
    """Hops from each ref of `members` to `start` inside `members` (those within `max_length`)."""
    into: dict[str, list[str]] = {}
    for ref in members:
        for target in graph[ref]:
            if target in members:
                into.setdefault(target, []).append(ref)
    distance = {start: 0}
    frontier = [start]
    for hop in range(1, max_length):
        nearer = (ref for target in frontier for ref in into.get(target, ()) if ref not in distance)
        frontier = list(dict.fromkeys(nearer))
        distance.update(dict.fromkeys(frontier, hop))
        if not frontier:
            break
    return distance
