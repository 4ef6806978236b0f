"""Hand-worked geometry: a Y seen in both views triangulates to its known 3D points; depth maps; crossings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from biplane_helpers import draw, polyline

from ductree.measures import bifurcations, tips
from ductree.reconstruct.biplane import tree_from_views
from ductree.reconstruct.biplane_graph import view_graph
from ductree.reconstruct.biplane_match import fit_and_match

ROOT = np.array([0.0, 0.0, 0.0])
FORK = np.array([2.0, 10.0, 1.0])
TIP1 = np.array([7.0, 22.0, 5.0])
TIP2 = np.array([-4.0, 19.0, -3.0])


def y_segments():
    return polyline([ROOT, FORK, TIP1], [0.5, 0.45, 0.4]) + polyline([FORK, TIP2], [0.4, 0.35])


def build(cc, lat, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tree_from_views(cc, lat, laterality=kw.pop("laterality", "R"), nipple_cc=cc.nipple_px,
                               nipple_lateral=lat.nipple_px, **kw)


@pytest.mark.parametrize("lat", ["R", "L"])
def test_y_triangulates_to_its_3d_points(lat):
    segs = y_segments()
    cc, ml = draw("cc", segs, lat=lat), draw("lateral", segs, lat=lat)
    tree = build(cc, ml, laterality=lat)
    assert tree.laterality == lat and tree.number_of_nodes() > 20
    forks = bifurcations(tree)
    assert len(forks) == 1
    # x from the CC, z from the lateral, y the common depth: the fork within a radius of (2, 10, 1)
    assert np.linalg.norm(tree.nodes[forks[0]]["pos"] - FORK) < 0.45
    ends = sorted((tree.nodes[t]["pos"] for t in tips(tree)), key=lambda p: p[0])
    assert len(ends) == 2
    assert np.linalg.norm(ends[0] - TIP2) < 0.5 and np.linalg.norm(ends[1] - TIP1) < 0.5
    root = tree.nodes[tree.roots()[0]]["pos"]
    assert np.linalg.norm(root - ROOT) < 0.5
    # every node lies on the Y (within a pixel or two), both views agree, nothing flagged one-view
    pts = tree.positions

    def dist_to(a, b):
        ab = b - a
        t = np.clip((pts - a) @ ab / (ab @ ab), 0, 1)
        return np.linalg.norm(pts - (a + t[:, None] * ab), axis=1)

    d = np.minimum.reduce([dist_to(ROOT, FORK), dist_to(FORK, TIP1), dist_to(FORK, TIP2)])
    assert np.percentile(d, 95) < 0.15
    assert not any(tree.nodes[n]["single_view"] for n in tree.nodes)
    # radius from the two widths: 0.5 mm near the root, 0.35-0.4 on the thinner branch
    near_root = [n for n in tree.nodes if 2 < tree.nodes[n]["pos"][1] < 7]
    assert abs(np.median([tree.nodes[n]["radius"] for n in near_root]) - 0.48) < 0.06
    assert tree.graph["biplane"]["confidence"] == "high"


def test_depth_scale_and_offset_are_recovered():
    """The lateral is compressed differently: depth 1.04 y + 2 mm behind an 8 mm nipple ramp.

    A main duct with side branches at 6, 12, 18 and 26 mm (the one at its end, 34 mm, is a bend, not a
    fork); some leave at a small angle in the lateral, so their skeleton forks lie too deep there.
    """
    pts = [ROOT, [0.5, 6.0, 0.2], [1.0, 12.0, 0.5], [1.5, 18.0, 1.0], [2.0, 26.0, 1.5], [2.5, 34.0, 2.0]]
    segs = polyline(pts, [0.5, 0.5, 0.45, 0.42, 0.4, 0.38])
    for k, (p, side) in enumerate(zip(pts[1:], (1, -1, 1, -1, 1))):
        tip = np.asarray(p, float) + np.array([4.0 * side, 5.0, -2.0 * side + 1.0])
        segs += polyline([p, tip], [0.3, 0.25])

    def lat_depth(y):
        return 1.04 * y + 2.0 * min(1.0, y / 8.0)

    cc, ml = draw("cc", segs), draw("lateral", segs, depth=lat_depth)
    ga, gb = view_graph(cc, nipple_px=cc.nipple_px), view_graph(ml, nipple_px=ml.nipple_px)
    f, m = fit_and_match(ga.tree(), gb.tree())
    # d_cc = (y) and d_lat = 1.04 y + 2 beyond the ramp: d_cc = (d_lat - 2) / 1.04
    assert abs(f.a - 1 / 1.04) < 0.01
    assert abs(f.b - (-2.0 / 1.04)) < 0.3
    assert m.matched_junctions == 4
    tree = build(cc, ml)
    # the common depth is the mean of the two views' depths: y_tree = (y + 1.04 y + 2) / 2 beyond the ramp
    fork_depths = sorted(tree.nodes[n]["pos"][1] for n in bifurcations(tree))
    want = [(y + lat_depth(y)) / 2 for y in (6.0, 12.0, 18.0, 26.0)]
    assert np.allclose(fork_depths, want, atol=0.4)


def test_crossing_in_the_cc_is_not_a_fork():
    """Two ducts cross in the CC (their x swap at depth ~16 mm) but stay 3-8 mm apart in z in the lateral.

    The ducts end at different depths (24 and 29 mm), as real ducts do: a mirror-symmetric pair would be
    ambiguous for any two-view method (nothing in depth tells the two apart).
    """
    fork = np.array([0.0, 6.0, 0.0])
    a_end = np.array([-6.0, 24.0, 4.0])      # goes to the patient's right in x, up in z
    b_end = np.array([6.0, 29.0, -4.0])      # goes left in x, down in z
    a_mid = np.array([3.0, 12.0, 2.0])       # first to the left ...
    b_mid = np.array([-3.0, 12.5, -2.0])     # ... and to the right: they cross in x between 12 and 24 mm
    segs = polyline([ROOT, fork], [0.5, 0.45])
    segs += polyline([fork, a_mid, a_end], [0.4, 0.38, 0.35]) + polyline([fork, b_mid, b_end], [0.4, 0.38, 0.35])
    cc, ml = draw("cc", segs), draw("lateral", segs)
    tree = build(cc, ml)
    assert len(bifurcations(tree)) == 1
    ends = [tree.nodes[t]["pos"] for t in tips(tree)]
    assert len(ends) == 2
    for want in (a_end, b_end):
        assert min(np.linalg.norm(e - want) for e in ends) < 0.6
    assert tree.graph["biplane"]["crossings"]["cc"] >= 1
    # the reconstruction passes through the crossing without jumping between the ducts
    assert tree.graph["biplane"]["matched_fraction"]["cc"] > 0.95


def test_duct_ending_on_another_in_one_view():
    """In the CC duct b ends on top of duct a (a T-contact, a cycle in the skeleton); in the lateral they
    are 6 mm apart. The contact is cut (b ends there), not the fork, and both ducts keep their 3D ends."""
    fork = np.array([0.0, 6.0, 0.0])
    a_end = np.array([4.0, 26.0, 3.0])
    b_mid, b_end = np.array([-3.0, 14.0, -2.0]), np.array([2.8, 20.0, -4.0])
    segs = polyline([ROOT, fork], [0.5, 0.45]) + polyline([fork, a_end], [0.42, 0.38])
    segs += polyline([fork, b_mid, b_end], [0.35, 0.33, 0.3])
    cc, ml = draw("cc", segs), draw("lateral", segs)
    alone = view_graph(cc, nipple_px=cc.nipple_px).tree()
    assert [c["kind"] for c in alone.crossings] == ["T"]
    tree = build(cc, ml)
    assert len(bifurcations(tree)) == 1
    ends = [tree.nodes[t]["pos"] for t in tips(tree)]
    assert len(ends) == 2
    assert min(np.linalg.norm(e - a_end) for e in ends) < 0.6
    assert min(np.linalg.norm(e - b_end) for e in ends) < 0.8
