"""Two ducts that touch in one projection without crossing: the contact is cut, no duct changes side."""

from __future__ import annotations

import warnings

import numpy as np
from biplane_helpers import draw, polyline

from ductree.measures import bifurcations, tips
from ductree.reconstruct.biplane import tree_from_views
from ductree.reconstruct.biplane_graph import ViewOptions, view_graph

NO_TOUCH = ViewOptions(touch_penalty=None)     # no touch is read: the old readings
ROOT = np.array([0.0, 0.0, 0.0])
FORK = np.array([0.0, 6.0, 0.0])
# sibling ducts bend towards each other in x, touch over 0.5 mm at depth 16-16.5 and part again, each back
# to its own side; in z they stay 8-10 mm apart (the lateral shows two separate ducts)
A = [FORK, np.array([-1.0, 11.0, 3.0]), np.array([-0.35, 16.0, 4.0]), np.array([-0.35, 16.5, 4.5]),
     np.array([-1.5, 22.5, 5.0])]
B = [FORK, np.array([1.0, 11.0, -3.0]), np.array([0.35, 16.0, -4.0]), np.array([0.35, 16.5, -4.5]),
     np.array([1.5, 24.5, -5.0])]


def segments():
    return (polyline([ROOT, FORK], [0.5, 0.45]) + polyline(A, [0.4, 0.4, 0.38, 0.37, 0.35])
            + polyline(B, [0.4, 0.4, 0.38, 0.37, 0.35]))


def _path_to_root(t, row: int) -> np.ndarray:
    pts = []
    while row > 0:
        pts.append(t.edge_ud[row])
        row = int(t.parent[row])
    return np.vstack(pts)


def test_a_touch_is_cut_where_they_touch_and_each_duct_keeps_its_side():
    cc = draw("cc", segments())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = view_graph(cc, nipple_px=cc.nipple_px).tree()
    assert [c["kind"] for c in t.crossings] == ["touch"]
    ends = [i for i in range(1, t.n) if not t.children[i]]
    assert len(ends) == 2
    for i in ends:
        side = np.sign(t.ud[i, 0])
        path = _path_to_root(t, i)
        # between the fork and the tip the duct stays on its own side of the midline (an X would swap them)
        between = path[(path[:, 1] > 8.0) & (path[:, 1] < t.ud[i, 1] - 0.5)]
        assert len(between) > 10
        assert np.all(np.sign(between[:, 0]) == side)
    # the X reading is what it replaces: without touches, or without the touch reading's advantage, the cut
    # is an X
    for opt in (NO_TOUCH, ViewOptions(touch_penalty=0.0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = view_graph(cc, nipple_px=cc.nipple_px, options=opt).tree()
        assert [c["kind"] for c in t0.crossings] == ["X"]


def test_ducts_touching_in_the_cc_rebuild_to_their_own_3d_ends():
    segs = segments()
    cc, ml = draw("cc", segs), draw("lateral", segs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = tree_from_views(cc, ml, laterality="R", nipple_cc=cc.nipple_px, nipple_lateral=ml.nipple_px)
    assert len(bifurcations(tree)) == 1
    ends = [tree.nodes[n]["pos"] for n in tips(tree)]
    assert len(ends) == 2
    for want in (A[-1], B[-1]):
        assert min(np.linalg.norm(e - want) for e in ends) < 0.6
