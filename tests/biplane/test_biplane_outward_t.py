"""A cycle is not cut at a real fork: a T reading whose ending arm points away from the nipple (outward, as
a child leaves its fork) scores ``t_outward_penalty`` worse. Hand-drawn CC view, truth from the drawing."""

from __future__ import annotations

import warnings

import numpy as np
from biplane_helpers import draw, polyline

from ductree.reconstruct.biplane_graph import ViewOptions, view_graph

P = np.array
FORK = P([0.0, 10.0, 0.0])          # BF mm: the trunk forks here into C2 (straight on) and C1 (outward)
C2_TIP = P([1.0, 32.0, 0.0])
C1_TIP = P([8.0, 26.0, 3.0])
CROSS = P([5.0, 20.0, 5.0])         # duct D, a branch of the trunk at 3 mm, crosses C1 here with a bend


def _cc():
    segs = (polyline([P([0.0, 0.0, 0.0]), FORK], [0.6, 0.55]) + polyline([FORK, C2_TIP], [0.5, 0.4])
            + polyline([FORK, C1_TIP], [0.45, 0.35])
            + polyline([P([0.0, 3.0, 0.0]), P([12.0, 9.0, 5.0]), CROSS, P([8.0, 30.0, 5.0])],
                       [0.5, 0.45, 0.4, 0.35]))
    return draw("cc", segs)


def _path_nodes(t, tip_ud) -> np.ndarray:
    """The (u, d) mm of the nodes from the tip nearest ``tip_ud`` up to the root."""
    leaves = [i for i in range(1, t.n) if not t.children[i]]
    k = min(leaves, key=lambda i: np.linalg.norm(t.ud[i] - tip_ud))
    out = [t.ud[k]]
    while k > 0:
        k = int(t.parent[k])
        out.append(t.ud[k])
    return np.array(out)


def _tree(opt: ViewOptions):
    cc = _cc()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return view_graph(cc, nipple_px=cc.nipple_px, options=opt).tree()


def _through_fork(t, tip) -> bool:
    return bool(np.min(np.linalg.norm(_path_nodes(t, tip[:2]) - FORK[:2], axis=1)) < 0.6)


def test_the_cycle_is_cut_at_the_crossing_and_the_fork_keeps_both_children():
    assert ViewOptions().t_outward_penalty == 0.3       # the measured setting is the default
    t = _tree(ViewOptions())
    # both children reach the root through their fork
    assert _through_fork(t, C2_TIP) and _through_fork(t, C1_TIP)
    # the cut is made where D crosses C1, not at the fork
    (cut,) = t.crossings
    assert np.linalg.norm(np.array(cut["ud"]) - CROSS[:2]) < 1.0, cut
    # no piece of C1 hangs back toward the nipple off the crossing
    leaves = [t.ud[i] for i in range(1, t.n) if not t.children[i]]
    assert all(np.linalg.norm(u - (FORK[:2] + [0.2, 1.6])) > 1.5 for u in leaves)


def test_without_the_penalty_the_fork_is_read_as_a_t():
    # what the penalty replaced: C1's arm read as ending on a trunk that runs straight on into C2
    t = _tree(ViewOptions(t_outward_penalty=0.0))
    (cut,) = t.crossings
    assert cut["kind"] == "T" and np.linalg.norm(np.array(cut["ud"]) - FORK[:2]) < 2.0, cut
    assert not _through_fork(t, C2_TIP)
