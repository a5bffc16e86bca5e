"""Connected components of a large, sparse graph inside Beam, for near-duplicate clustering.

``ConnectedComponents`` labels every node of an edge list with the smallest node id (string order)
of its connected component, without ever sending all edges to one worker (unless the graph resists
the rounds below, see the fallback). It is hand-written because no maintained library does this in
Beam, and clustering at scale is part of what this project is for.

Algorithm: alternating large-star and small-star steps (Kiveris, Lattanzi, Mirrokni, Rastogi,
Vassilvitskii, "Connected Components in MapReduce and Beyond", SoCC 2014). Write Γ(u) for the
neighbours of ``u`` and ``m(S)`` for the smallest id in ``S``.

- large-star (one GroupByKey on node id, every edge in both directions): each node ``u`` replaces
  every edge to a *larger* neighbour ``v`` by ``(v, m(Γ(u) ∪ {u}))``;
- small-star (one GroupByKey on the larger end of each edge): each node ``u`` with smaller
  neighbours ``N`` replaces those edges by edges from every node of ``N ∪ {u}`` to ``m(N)``.

Both steps keep the node set and the components, never increase the number of edges, and emit every
edge as ``(larger, smaller)``, so edges stay canonical; duplicates are removed on the receiving side
of each GroupByKey (all copies of an edge arrive under the same key) instead of by an extra shuffle.
Repeated, they turn every component into a *star around its minimum*, which is the answer (the
centre is the label of every leaf) and a fixed point of both steps. Beam batch graphs have no loops,
so ``max_rounds`` rounds are unrolled when the graph is built.

Converged components leave early. During each large-star every node also tells the small-star
GroupByKey whether it is a root (no smaller neighbour; it sends its degree to itself) or a leaf
(exactly one neighbour, which is smaller; it sends its id to that neighbour). A node that receives
its degree and as many leaf ids knows that its component was, at the start of the round, exactly a
star around itself: it emits the labels of the whole component and drop markers that reach every
node of that (unchanged) star at the next step, so it costs nothing in later rounds. Dedup graphs
are mostly pairs and small clusters that settle in the first round or two, so pruning removes most
of the shuffle volume after that (measured in ``benchmarks/results/components.md``).

After the rounds, a convergence check does the same test once more on what is left (two
GroupByKeys, this time routing each edge to its smaller end) and sends every edge of a component
that is *not* a star around its minimum to the fallback: one worker collects only those edges
(combiner: a union-find per bundle, merged) and labels them exactly. For dedup graphs this part is
empty with the default ``max_rounds``; it exists so that the result is exact for every input.

Correctness of the fallback, in short:

1. Large-star and small-star preserve the node set and the partition into components. Every edge
   they emit joins nodes that were connected. Small-star: each removed edge ``(u, s)`` becomes the
   path ``u - m(N) - s``. Large-star: by induction on the node order each node ``u`` stays
   connected to ``p(u) = m(Γ(u) ∪ {u})`` (if ``p(u) = w < u``, ``w`` emitted ``(u, p(w))`` and
   ``w`` is connected to ``p(w)``), and each removed edge ``(u, v)``, ``u < v``, becomes the path
   ``v - p(u) ... u``. So no component splits, merges or loses a node.
2. A node ``m`` is accepted (root, and each of its ``d`` neighbours is a leaf hanging on it) only
   if its component is ``{m}`` plus those leaves: leaves have no other edges and ``m`` has none to
   smaller nodes. So an accepted component is complete, ``m`` is its minimum, and its labels are
   exact. Conversely, if some node of a component is accepted the component is a star, so in a
   component that is not a star no node is accepted.
3. Every edge is routed to exactly one node (its smaller end), so each edge of a component that is
   not a star reaches a node that rejects it, and goes to the fallback. The fallback edges are
   therefore a union of whole components of the current graph, which by (1) are whole components
   of the input with the same node sets; union-find on them gives each node its component minimum.
4. Accepted components and fallback components are disjoint and cover every node that has an edge,
   so each node gets exactly one label. Pruning during the rounds uses the same test (2) on the
   graph at the start of a round; a star around its minimum is a fixed point of both steps, so the
   drop markers meet exactly the edges of that star one step later.

Complexity, for ``E`` distinct edges, ``n`` nodes and ``R`` rounds actually needed: each round is
two shuffles of at most ``2E`` and ``E + n`` records (neither step increases the number of edges),
so O(E·R) records are shuffled in all, fewer as components leave. The paper bounds ``R`` by
O(log² n) and observes about ``log n``. Measured here: a path whose ids are in random order (ids
are hashes) needs about ``log2(n) - 2`` rounds (6-7 for 200 nodes, 9 for 2,000, 11-12 for 20,000;
so 12 rounds finish paths of about 20,000 nodes, and longer ones end in the fallback), and
clusters of near-duplicates, which are dense, fewer. Memory per key is the distinct neighbours of
one node; near the end the minimum of a component is adjacent to all of it, so the ids of the
largest cluster must fit on one worker (10^5 ids: about 10 MB). The fallback holds the nodes of
the unconverged part on one worker and costs O(E' log n) for its ``E'`` edges.

Self-loops ``(u, u)`` add no connectivity; their node still gets a label (itself, unless other
edges connect it), as union-find on the same edges would give.
"""

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

NAMESPACE = "beam_cqia.ConnectedComponents"

_EDGES = "edges"
_LABELS = "labels"
_ACTIVE = "active"
_LARGE_LABELS, _SMALL_LABELS = "large_labels", "small_labels"

# Values grouped under a node id, told apart by type (bare values rather than tagged tuples: these
# steps shuffle every edge of the graph in every round):
#   before a large-star or the check: str = a neighbour; None = drop, the component is labelled.
#   before a small-star or the settle step: str = an edge endpoint (the smaller end after a
#   large-star, the larger end after the check); int = the key is a root with this many
#   neighbours; (leaf,) = a neighbour of the key whose only edge is to the key.
_DROP = None


class MinDisjointSets:
    """Union-find whose representative of each set is its smallest member (string order).

    Path halving without union by rank: O(log n) amortized per operation, and the representative is
    the label we want without a second pass.
    """

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._parent)

    def find(self, x: str) -> str:
        """The smallest member of ``x``'s set; adds ``x`` as a singleton if it is new."""
        parent = self._parent
        p = parent.setdefault(x, x)
        while p != x:
            grand = parent[p]
            parent[x] = grand
            x, p = grand, parent[grand]
        return x

    def union(self, a: str, b: str) -> None:
        """Joins the sets of ``a`` and ``b``."""
        ra, rb = self.find(a), self.find(b)
        if ra < rb:
            self._parent[rb] = ra
        elif rb < ra:
            self._parent[ra] = rb

    def merge(self, other: "MinDisjointSets") -> None:
        """Adds every set of ``other`` (each member is in its parent's set)."""
        for x, p in other.parents():
            self.union(x, p)

    def parents(self) -> Iterator[tuple[str, str]]:
        """(member, parent) pairs: the forest as stored, not yet the labels."""
        return iter(self._parent.items())

    def labels(self) -> dict[str, str]:
        """{member: smallest member of its set} for every member."""
        return {x: self.find(x) for x in self._parent}


def component_labels(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Labels every node of an edge list with the smallest node id of its connected component.

    The reference (single-machine) answer for ``ConnectedComponents``; self-loops only add a node.

    Args:
        edges: pairs of node ids.

    Returns:
        {node: label} for every node that appears in an edge.
    """
    sets = MinDisjointSets()
    for u, v in edges:
        sets.union(u, v)
    return sets.labels()


def _both_directions(edge: tuple[str, str]) -> Iterator[tuple[str, str]]:
    u, v = edge
    if not (isinstance(u, str) and isinstance(v, str)):
        # ids of other types would be mistaken for the control values above
        raise TypeError(f"ConnectedComponents: node ids must be str, got edge {edge!r}")
    yield u, v
    if u != v:
        yield v, u


def _neighbours(node: str, values: Iterable[str | None]) -> set[str] | None:
    """The distinct neighbours of ``node``, or None if its component was dropped."""
    neighbours = set(values)
    if _DROP in neighbours:
        return None
    neighbours.discard(node)  # self-loops
    return neighbours


def _announce(node: str, neighbours: set[str], smallest: str) -> tuple[str, Any] | None:
    """The root or leaf message of a node, keyed for the next GroupByKey (None if neither)."""
    if smallest > node:
        return node, len(neighbours)
    if len(neighbours) == 1:
        return smallest, (node,)
    return None


class _LargeStarFn(beam.DoFn):
    """Large-star at one node, plus its root/leaf message and an "active round" marker."""

    def __init__(self, round_index: int):
        self._round = round_index

    def start_bundle(self) -> None:
        self._reported = False

    def process(self, element: tuple[str, Iterable[str | None]]) -> Iterator[Any]:
        node, values = element
        neighbours = _neighbours(node, values)
        if neighbours is None:
            return
        if not neighbours:
            yield beam.pvalue.TaggedOutput(_LABELS, (node, node))
            return
        smallest = min(neighbours)
        message = _announce(node, neighbours, smallest)
        if message is not None:
            yield message
        elif not self._reported:
            # A node with a smaller neighbour and another edge: the graph is not yet a set of
            # stars, so this round does work. One marker per bundle is enough.
            self._reported = True
            yield beam.pvalue.TaggedOutput(_ACTIVE, self._round)
        centre = min(smallest, node)
        for v in neighbours:
            if v > node:
                yield v, centre


def _read_messages(node: str, values: Iterable[Any]) -> tuple[bool, list[str], list[str]]:
    """Sorts the values grouped under a small-star or settle key.

    Returns:
        (whether ``node``'s component is a star around it, edge endpoints, leaf ids).
    """
    endpoints: list[str] = []
    leaves: list[str] = []
    degree = -1
    for value in values:
        if isinstance(value, str):
            endpoints.append(value)
        elif isinstance(value, int):
            degree = value
        else:
            leaves.append(value[0])
    return len(leaves) == degree, endpoints, leaves


def _star_labels(centre: str, leaves: list[str]) -> Iterator[Any]:
    yield beam.pvalue.TaggedOutput(_LABELS, (centre, centre))
    for leaf in leaves:
        yield beam.pvalue.TaggedOutput(_LABELS, (leaf, centre))


class _SmallStarFn(beam.DoFn):
    """Small-star at one node, or the labels of its component if that was a star around it."""

    def process(self, element: tuple[str, Iterable[Any]]) -> Iterator[Any]:
        node, values = element
        star, smaller, leaves = _read_messages(node, values)
        if star:
            # A root gets no smaller neighbours; the star's edges reach the next step unchanged.
            yield from _star_labels(node, leaves)
            yield node, _DROP
            for leaf in leaves:
                yield leaf, _DROP
            return
        if not smaller:
            return
        centre = min(smaller)
        for v in {*smaller, node}:
            if v != centre:
                yield v, centre
                yield centre, v


class _CheckFn(beam.DoFn):
    """First half of the convergence check: root/leaf messages, each edge to its smaller end."""

    def process(self, element: tuple[str, Iterable[str | None]]) -> Iterator[Any]:
        node, values = element
        neighbours = _neighbours(node, values)
        if neighbours is None:
            return
        if not neighbours:
            yield beam.pvalue.TaggedOutput(_LABELS, (node, node))
            return
        message = _announce(node, neighbours, min(neighbours))
        if message is not None:
            yield message
        for v in neighbours:
            if v > node:
                yield node, v


class _SettleFn(beam.DoFn):
    """Second half: labels a star around its minimum, else sends its edges to the fallback."""

    def process(self, element: tuple[str, Iterable[Any]]) -> Iterator[Any]:
        node, values = element
        star, larger, leaves = _read_messages(node, values)
        if star:
            yield from _star_labels(node, leaves)
        else:
            for v in larger:
                yield v, node


class _FinishFn(beam.CombineFn):
    """What ends on one worker: union-find over the unconverged edges (tuples), and the set of
    rounds that had work to do (ints)."""

    def create_accumulator(self) -> tuple[set[int], int, MinDisjointSets]:
        return set(), 0, MinDisjointSets()

    def add_input(
        self, accumulator: tuple[set[int], int, MinDisjointSets], item: Any
    ) -> tuple[set[int], int, MinDisjointSets]:
        rounds, edges, sets = accumulator
        if isinstance(item, int):
            rounds.add(item)
            return accumulator
        sets.union(*item)
        return rounds, edges + 1, sets

    def merge_accumulators(
        self, accumulators: Iterable[tuple[set[int], int, MinDisjointSets]]
    ) -> tuple[set[int], int, MinDisjointSets]:
        rest = iter(accumulators)
        rounds, edges, merged = next(rest)
        for more_rounds, more_edges, sets in rest:  # only the first accumulator may be changed
            rounds |= more_rounds
            edges += more_edges
            merged.merge(sets)
        return rounds, edges, merged

    def extract_output(
        self, accumulator: tuple[set[int], int, MinDisjointSets]
    ) -> tuple[int, int, dict[str, str]]:
        rounds, edges, sets = accumulator
        return len(rounds), edges, sets.labels()


class _ReportFn(beam.DoFn):
    """Counts rounds and unconverged edges once, and emits the fallback's labels."""

    def __init__(self) -> None:
        self._rounds = Metrics.counter(NAMESPACE, "rounds")
        self._unconverged = Metrics.counter(NAMESPACE, "unconverged_edges")

    def process(self, result: tuple[int, int, dict[str, str]]) -> Iterator[tuple[str, str]]:
        rounds, edges, labels = result
        self._rounds.inc(rounds)
        self._unconverged.inc(edges)
        yield from labels.items()


class _StarRound(beam.PTransform):
    """One large-star and one small-star step.

    Outputs: the next round's adjacency (``edges``), the labels of isolated nodes
    (``large_labels``) and of pruned stars (``small_labels``), and round markers (``active``).
    """

    def __init__(self, index: int):
        super().__init__()
        self._index = index

    def expand(self, adjacency: beam.PCollection) -> Any:
        large = (
            adjacency
            | "GroupByNode" >> beam.GroupByKey()
            | "LargeStar"
            >> beam.ParDo(_LargeStarFn(self._index)).with_outputs(_LABELS, _ACTIVE, main=_EDGES)
        )
        small = (
            large[_EDGES]
            | "GroupByLargerEnd" >> beam.GroupByKey()
            | "SmallStar" >> beam.ParDo(_SmallStarFn()).with_outputs(_LABELS, main=_EDGES)
        )
        return {
            _EDGES: small[_EDGES],
            _LARGE_LABELS: large[_LABELS],
            _SMALL_LABELS: small[_LABELS],
            _ACTIVE: large[_ACTIVE],
        }


@beam.typehints.with_input_types(tuple[str, str])
@beam.typehints.with_output_types(tuple[str, str])
class ConnectedComponents(beam.PTransform):
    """Labels each node of an undirected graph with the smallest node id of its component.

    Input: edges ``(u, v)`` of str node ids, in any direction, duplicates allowed; a self-loop
    ``(u, u)`` only declares its node. Output: ``(node, label)`` once for every node of an edge,
    where ``label`` is the smallest id (string order) of the node's connected component; equal to
    ``component_labels`` on the same edges. See the module docstring for the algorithm, its cost
    and why the result is exact.

    Counters (namespace ``beam_cqia.ConnectedComponents``): ``rounds``, the star rounds that had
    work to do (the graph was not yet a set of stars; at most ``max_rounds``); and
    ``unconverged_edges``, the edges left for the single-worker fallback after the last round (0
    for typical dedup graphs; more means ``max_rounds`` is too small for this graph).

    Args:
        max_rounds: large-star/small-star rounds unrolled into the graph (two GroupByKeys each);
            0 sends everything to the fallback. 12 finish a path of about 20,000 nodes whose ids
            are in random order; clusters of near-duplicates need fewer.
    """

    def __init__(self, max_rounds: int = 12):
        super().__init__()
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 0:
            raise ValueError(f"max_rounds must be an integer >= 0, got {max_rounds!r}")
        self._max_rounds = max_rounds

    def expand(self, edges: beam.PCollection) -> beam.PCollection:
        adjacency = edges | "BothDirections" >> beam.FlatMap(_both_directions)
        labels: list[beam.PCollection] = []
        active: list[beam.PCollection] = []
        for index in range(self._max_rounds):
            step = adjacency | f"Round{index + 1}" >> _StarRound(index)
            adjacency = step[_EDGES]
            labels += [step[_LARGE_LABELS], step[_SMALL_LABELS]]
            active.append(step[_ACTIVE])
        check = (
            adjacency
            | "CheckGroupByNode" >> beam.GroupByKey()
            | "Check" >> beam.ParDo(_CheckFn()).with_outputs(_LABELS, main=_EDGES)
        )
        settled = (
            check[_EDGES]
            | "CheckGroupBySmallerEnd" >> beam.GroupByKey()
            | "Settle" >> beam.ParDo(_SettleFn()).with_outputs(_LABELS, main=_EDGES)
        )
        fallback = (
            [*active, settled[_EDGES]]
            | "LeftOver" >> beam.Flatten()
            | "Finish" >> beam.CombineGlobally(_FinishFn())
            | "Report" >> beam.ParDo(_ReportFn())
        )
        return [*labels, check[_LABELS], settled[_LABELS], fallback] | "AllLabels" >> beam.Flatten()
