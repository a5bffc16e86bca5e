"""ConnectedComponents: labels equal union-find on every graph, converged or not; counters."""

import itertools
import random
from collections import defaultdict, deque
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.typehints.decorators import TypeCheckError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beam_cqia.transforms.components import (
    NAMESPACE,
    ConnectedComponents,
    MinDisjointSets,
    _FinishFn,
    component_labels,
)
from tests.conftest import counters, new_pipeline


def _bfs_labels(edges):
    """An independent oracle for the oracle: breadth-first search from each unseen node."""
    adjacent = defaultdict(set)
    for u, v in edges:
        adjacent[u].add(v)
        adjacent[v].add(u)
    labels = {}
    for start in adjacent:
        if start in labels:
            continue
        seen, queue = {start}, deque([start])
        while queue:
            for w in adjacent[queue.popleft()] - seen:
                seen.add(w)
                queue.append(w)
        smallest = min(seen)
        labels.update(dict.fromkeys(seen, smallest))
    return labels


def _run(edges, max_rounds=12):
    """Runs one ConnectedComponents, asserts its labels equal union-find's; returns the counters."""
    p = new_pipeline()
    labels = p | beam.Create(edges) | ConnectedComponents(max_rounds)
    assert_that(labels, equal_to(list(component_labels(edges).items())))
    result = p.run()
    result.wait_until_finish()
    return counters(result, NAMESPACE)


def _shuffled_chain(n, seed):
    ids = [f"n{i:05d}" for i in range(n)]
    random.Random(seed).shuffle(ids)
    edges = list(itertools.pairwise(ids))
    random.Random(seed + 1).shuffle(edges)
    return edges


# ---------------------------------------------------------------- union-find (no Beam)


def test_union_find_labels_each_node_with_its_component_minimum():
    edges = [("d", "c"), ("b", "c"), ("x", "y"), ("z", "y"), ("q", "q"), ("b", "d")]
    assert component_labels(edges) == {
        "b": "b",
        "c": "b",
        "d": "b",
        "x": "x",
        "y": "x",
        "z": "x",
        "q": "q",
    }
    assert component_labels([]) == {}
    # string order, not numeric order
    assert component_labels([("10", "9"), ("9", "100")]) == {"10": "10", "9": "10", "100": "10"}


def test_partial_forests_merge_in_the_finishing_combiner():
    left, right = MinDisjointSets(), MinDisjointSets()
    left.union("m", "k")
    right.union("k", "c")
    right.union("z", "y")
    left.merge(right)
    assert left.labels() == {"m": "c", "k": "c", "c": "c", "z": "y", "y": "y"}
    fn = _FinishFn()
    parts = []
    for chunk in ([("a", "b"), 0, ("c", "d")], [("b", "c"), 1, 0], []):
        acc = fn.create_accumulator()
        for item in chunk:
            acc = fn.add_input(acc, item)
        parts.append(acc)
    rounds, edges, labels = fn.extract_output(fn.merge_accumulators(parts))
    assert (rounds, edges) == (2, 3)
    assert labels == dict.fromkeys("abcd", "a")


@settings(max_examples=300, derandomize=True)
@given(st.lists(st.tuples(st.text("abcdefghij", max_size=2), st.text("abcdefghij", max_size=2))))
def test_union_find_agrees_with_breadth_first_search(edges):
    assert component_labels(edges) == _bfs_labels(edges)


# ---------------------------------------------------------------- hand-written graphs


# (edges, {node: label}) written out by hand, not computed
SMALL_GRAPHS = {
    "single-edge": ([("b", "a")], {"a": "a", "b": "a"}),
    "triangle": ([("a", "b"), ("b", "c"), ("c", "a")], dict.fromkeys("abc", "a")),
    "two-components": (
        [("q", "p"), ("r", "q"), ("s", "p"), ("c", "d"), ("e", "d")],
        {**dict.fromkeys("pqrs", "p"), **dict.fromkeys("cde", "c")},
    ),
    # duplicates in both directions are one edge
    "duplicates": ([("b", "a"), ("a", "b"), ("b", "a"), ("c", "b")], dict.fromkeys("abc", "a")),
    # a self-loop only declares its node; beside a real edge it adds nothing
    "self-loops": (
        [("x", "x"), ("y", "y"), ("z", "y"), ("x", "x")],
        {"x": "x", "y": "y", "z": "y"},
    ),
    # ids are compared as strings ("10" < "9"); the empty string is an id like any other
    "string-order": (
        [("9", "10"), ("10", "100"), ("", "z")],
        {"9": "10", "10": "10", "100": "10", "": "", "z": ""},
    ),
    # a star around a node that is not its minimum, and a path, need rounds
    "off-centre-star": ([("m", leaf) for leaf in "zaybx"], dict.fromkeys("mzaybx", "a")),
    "path": ([("d", "b"), ("b", "e"), ("e", "a"), ("a", "c")], dict.fromkeys("abcde", "a")),
}


def test_small_graphs_get_the_labels_written_out_by_hand():
    # One pipeline for all of them (a pipeline with 12 rounds costs about a second here): their
    # disjoint union, each graph's ids prefixed with its name, which keeps their order.
    edges, expected = [], []
    for name, (graph, labels) in SMALL_GRAPHS.items():
        edges += [(f"{name}/{u}", f"{name}/{v}") for u, v in graph]
        expected += [(f"{name}/{node}", f"{name}/{label}") for node, label in labels.items()]
        assert component_labels(graph) == labels
    p = new_pipeline()
    assert_that(p | beam.Create(edges) | ConnectedComponents(), equal_to(expected))
    result = p.run()
    result.wait_until_finish()
    assert counters(result, NAMESPACE)["unconverged_edges"] == 0


@pytest.mark.parametrize(
    ("name", "rounds"),
    [("single-edge", 0), ("self-loops", 0), ("triangle", 1), ("off-centre-star", 1), ("path", 2)],
)
def test_rounds_counts_the_rounds_that_had_work_to_do(name, rounds):
    edges, _ = SMALL_GRAPHS[name]
    assert _run(edges, max_rounds=4) == {"rounds": rounds, "unconverged_edges": 0}


def test_empty_input_gives_no_labels():
    assert _run([]) == {"rounds": 0, "unconverged_edges": 0}


def test_star_of_1000_leaves_is_already_converged():
    edges = [(f"leaf{i:04d}", "hub") for i in range(1000)]  # "hub" < "leaf..."
    assert _run(edges) == {"rounds": 0, "unconverged_edges": 0}


def test_complete_graph_of_40_nodes():
    ids = [f"k{i:02d}" for i in range(40)]
    random.Random(3).shuffle(ids)
    edges = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    assert _run(edges) == {"rounds": 1, "unconverged_edges": 0}


# ---------------------------------------------------------------- convergence and the fallback


def test_chain_of_200_converges_within_the_default_rounds():
    # ids in random order, like hashes: about log2(n) - 2 rounds
    assert _run(_shuffled_chain(200, seed=11)) == {"rounds": 6, "unconverged_edges": 0}


def test_chain_of_2000_with_two_rounds_is_finished_by_the_fallback():
    # The chain cannot become a star in two rounds; its 1999 edges (a connected graph on 2000 nodes
    # never has fewer) go to the fallback, and the 300 pairs beside it, which converge, do not.
    pairs = [(f"p{i:03d}b", f"p{i:03d}a") for i in range(300)]
    edges = _shuffled_chain(2000, seed=5) + pairs
    assert _run(edges, max_rounds=2) == {"rounds": 2, "unconverged_edges": 1999}


def test_chain_of_2000_with_the_default_rounds():
    assert _run(_shuffled_chain(2000, seed=5)) == {"rounds": 9, "unconverged_edges": 0}


def test_zero_rounds_sends_everything_to_the_fallback():
    edges = [("a", "b"), ("c", "b"), ("d", "e"), ("f", "f")]
    # the pair d-e is already a star: the check labels it; the rest goes to union-find
    assert _run(edges, max_rounds=0) == {"rounds": 0, "unconverged_edges": 2}


# ---------------------------------------------------------------- random graphs


_NODE = st.text("abcdefghijklmnop", min_size=1, max_size=2)


@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    edges=st.lists(st.tuples(_NODE, _NODE), max_size=150),
    max_rounds=st.sampled_from([0, 1, 2, 3, 12]),
)
def test_random_graphs_equal_union_find(edges, max_rounds):
    # One pipeline per example (about 0.3 s plus 50 ms per round here), hence few examples; the
    # oracle is breadth-first search, independent of the union-find the fallback uses.
    p = new_pipeline()
    labels = p | beam.Create(edges) | ConnectedComponents(max_rounds)
    assert_that(labels, equal_to(list(_bfs_labels(edges).items())))
    p.run().wait_until_finish()


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_max_rounds_is_checked_when_the_graph_is_built(bad):
    with pytest.raises(ValueError, match="max_rounds must be an integer >= 0"):
        ConnectedComponents(bad)


def test_non_string_ids_are_refused_when_the_graph_is_built_or_when_it_runs():
    p = new_pipeline()
    with pytest.raises(TypeCheckError, match="ConnectedComponents"):
        _ = p | beam.Create([("a", "b"), (1, 2)]) | ConnectedComponents()
    p = new_pipeline()
    untyped = p | beam.Create([("a", "b"), (1, 2)]).with_output_types(Any)
    _ = untyped | ConnectedComponents()
    with pytest.raises(Exception, match=r"node ids must be str, got edge \(1, 2\)"):
        p.run().wait_until_finish()
