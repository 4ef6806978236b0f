"""Derived attributes against hand-worked trees."""

import numpy as np
import pytest

from ductree.measures import annotate, bifurcations, branches, generation, path_mm, strahler, summary, tips
from ductree.tree import DuctTree


def hand_tree():
    # root 0 -(10 mm)- 1 ; 1 -> 2 (3-4-5 triangle: 5 mm) ; 1 -> 3 -> 4 (two 10 mm segments);
    # 4 -> 5, 4 -> 6 (each 1 mm). Second system: 7 -> 8 (7 mm).
    pos = [[0, 0, 1], [0, 10, 1], [3, 14, 1], [0, 20, 1], [0, 30, 1], [1, 30, 1], [-1, 30, 1],
           [0, 0, -1], [0, 7, -1]]
    rad = [1, .9, .5, .8, .7, .4, .4, 1, .8]
    par = [-1, 0, 1, 1, 3, 4, 4, -1, 7]
    return DuctTree.from_arrays(pos, rad, par, laterality="R")


def by_id(tree, arr):
    return {n: arr[tree.index[n]] for n in tree.node_ids}


def test_generation_order_path():
    t = hand_tree()
    g, o, p = by_id(t, generation(t)), by_id(t, strahler(t)), by_id(t, path_mm(t))
    assert [g[n] for n in range(9)] == [0, 0, 1, 1, 1, 2, 2, 0, 0]
    # Tips are order 1; node 4's two order-1 children make it 2; node 1 has children of order 1 and 2 -> 2.
    assert [o[n] for n in range(9)] == [2, 2, 1, 2, 2, 1, 1, 1, 1]
    assert p[2] == pytest.approx(15) and p[4] == pytest.approx(30) and p[6] == pytest.approx(31)
    assert p[8] == pytest.approx(7)


def test_branches_tips_bifurcations():
    t = hand_tree()
    br = branches(t)
    as_ids = sorted(tuple(b.node_ids(t)) for b in br)
    assert as_ids == [(0, 1), (1, 2), (1, 3, 4), (4, 5), (4, 6), (7, 8)]
    assert sorted(tips(t)) == [2, 5, 6, 8] and sorted(bifurcations(t)) == [1, 4]
    lengths = {tuple(b.node_ids(t)): b.length_mm for b in br}
    assert lengths[(1, 3, 4)] == pytest.approx(20)
    parent_of = {tuple(b.node_ids(t)): tuple(br[b.parent].node_ids(t)) if b.parent >= 0 else None for b in br}
    assert parent_of[(4, 5)] == (1, 3, 4) and parent_of[(0, 1)] is None


def test_summary_and_annotate():
    t = hand_tree()
    s = summary(t)
    assert s["systems"] == 2 and s["branches"] == 6 and s["tips"] == 4 and s["bifurcations"] == 2
    assert s["total_length_mm"] == pytest.approx(10 + 5 + 20 + 1 + 1 + 7)
    assert s["depth_max_mm"] == 30 and s["deepest_path_mm"] == pytest.approx(31)
    assert s["radius_min_mm"] == 0.4 and s["max_generation"] == 2
    assert [p["orifice_clock"] for p in s["per_system"]] == ["12:00", "6:00"]
    annotate(t)
    assert t.nodes[4]["path_mm"] == pytest.approx(30) and t.edges[1, 2]["length"] == pytest.approx(5)


def test_root_junction_branches_start_at_root():
    t = DuctTree.from_arrays([[0, 0, 0], [1, 5, 0], [-1, 5, 0]], [1, .5, .5], [-1, 0, 0])
    assert sorted(tuple(b.node_ids(t)) for b in branches(t)) == [(0, 1), (0, 2)]
    assert np.all(generation(t) == [0, 1, 1])


def test_sample_segments_hand_worked():
    from ductree.measures import sample_segments

    # One 10 mm segment sampled every 4 mm: ceil(10/4) = 3 samples.
    t = DuctTree.from_arrays([[0, 0, 0], [0, 10, 0]], [1, 1], [-1, 0])
    mid, rows, frac, _ = sample_segments(t, 4.0)
    assert np.allclose(mid[:, 1], [10 / 6, 5, 50 / 6]) and rows.tolist() == [1, 1, 1]
    end, _, frac, _ = sample_segments(t, 4.0, end_inclusive=True)
    assert np.allclose(end[:, 1], [10 / 3, 20 / 3, 10]) and np.allclose(frac, [1 / 3, 2 / 3, 1])
