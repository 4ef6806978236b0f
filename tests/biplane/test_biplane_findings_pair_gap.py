"""Two rules of the candidate findings, on hand-drawn views and hand-built 3D readings (no reconstruction
code in the ground truth):

- a duct seen ending wide in both views at the same depth is a cut-off even where the kept reading ran on
  past that end along another duct (the end is then not an end of the 3D tree);
- a duct ending wide in one view lies at an end of the tree as that view sees it: a reading that carries it
  on a step on a piece seen in the other view only still has it end there;
- seen in one view, it takes its unknown coordinate from the other view's end at that depth that is about
  as wide (a tapering end there is another duct's), over the reading's own pairing;
- a gap in the column longer than ``LONG_GAP_MM`` is a subtle sign: reported when the other view shows a
  sign at the same depth, not on its own (a short gap is reported from one view)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ductree.reconstruct.biplane_findings import LONG_GAP_MM, _end_in_other_view, find_candidates, view_candidates
from ductree.reconstruct.biplane_graph import view_graph
from ductree.reconstruct.biplane_match import Built, DepthMap
from ductree.tree import DuctTree

from biplane_helpers import chain_reading, draw

END = np.array([-4.0, 22.0, -4.0])      # BF mm: where duct B stops, wide (an occlusion)


def _trees(segs, erase_cc=(), erase_lat=()):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ta = view_graph(draw("cc", segs, erase=erase_cc), nipple_px=None).tree()
        tb = view_graph(draw("lateral", segs, erase=erase_lat), nipple_px=None).tree()
    return ta, tb


def _line_reading(a, b, step: float = 1.0) -> Built:
    """A 3D reading (BF mm) of one straight duct from the nipple through ``a`` to ``b``."""
    pts = [np.zeros(3)]
    for p0, p1 in ((np.zeros(3), np.asarray(a, float)), (np.asarray(a, float), np.asarray(b, float))):
        n = max(int(np.ceil(np.linalg.norm(p1 - p0) / step)), 1)
        pts += [p0 + (p1 - p0) * k / n for k in range(1, n + 1)]
    return chain_reading(pts)


def _find(ta, tb, kept: Built):
    tree = DuctTree.from_arrays(kept.pos, kept.radius, kept.parent, laterality="R")
    return find_candidates(tree, kept, ta, tb, f=DepthMap())


def test_a_duct_ending_wide_in_both_views_is_a_cut_off_though_the_reading_ran_on_past_it():
    # duct A runs on and tapers; duct B stops at END at full width in both views
    segs = [((0.0, 0.0, 0.0), (0.0, 2.0, 0.0), 0.5, 0.5),
            ((0.0, 2.0, 0.0), (6.0, 36.0, 6.0), 0.45, 0.1),
            ((0.0, 2.0, 0.0), tuple(END), 0.45, 0.45)]
    ta, tb = _trees(segs)
    for t in (ta, tb):   # each view shows the wide end where it is drawn
        assert any(c["evidence"] == "wide end" and abs(c["ud"][1] - END[1]) < 1.0 for c in view_candidates(t))
    # the kept reading follows duct B to END and then runs 2 mm on (into duct A's lateral column, say):
    # END is then no end of the 3D tree
    ran_on = _line_reading(END, END + np.array([0.5, 2.0, 0.5]))
    cut = [f for f in _find(ta, tb, ran_on) if f["kind"] == "cutoff"]
    assert len(cut) == 1, cut
    assert cut[0]["views"] == ["cc", "lateral"] and cut[0]["placement"] == "triangulated from both views"
    assert np.linalg.norm(np.array(cut[0]["point_bf"]) - END) < 1.0
    # the reading that stops at END finds it too (the rule it always had)
    stops = _line_reading(0.5 * END, END)
    assert [f["kind"] for f in _find(ta, tb, stops)].count("cutoff") == 1


def _gap_views(gap_mm: float, both: bool):
    """One duct along depth (x = z = 0, radius 0.45 tapering to 0.3 mm) with its column cleared over
    ``gap_mm`` around 20 mm deep in the CC (and in the lateral when ``both``): a capsule of radius 0.6 mm
    clears its length plus 0.6 mm at each end."""
    segs = [((0.0, 0.0, 0.0), (0.0, 36.0, 0.0), 0.45, 0.3)]
    half = gap_mm / 2 - 0.6
    erase = [((0.0, 20.0 - half), (0.0, 20.0 + half), 0.6, 0.6)]
    return _trees(segs, erase_cc=erase, erase_lat=erase if both else ())


@pytest.mark.parametrize("gap_mm, both, reported", [(1.3, False, True), (4.0, False, False), (4.0, True, True)])
def test_a_long_gap_must_be_seen_in_the_other_view_a_short_one_need_not(gap_mm, both, reported):
    ta, tb = _gap_views(gap_mm, both)
    (gap,) = [c for c in view_candidates(ta) if "gap" in c["evidence"]]
    assert gap["size_mm"] == pytest.approx(gap_mm, abs=0.3)
    assert gap["evidence"] == ("long gap" if gap_mm > LONG_GAP_MM else "gap")
    found = [f for f in _find(ta, tb, _line_reading((0.0, 10.0, 0.0), (0.0, 36.0, 0.0)))
             if f["kind"] == "filling_defect"]
    if reported:
        assert len(found) == 1 and abs(found[0]["depth_mm"] - 20.0) < 1.5, found
        assert found[0]["views"] == (["cc", "lateral"] if both else ["cc"])
    else:
        assert found == []


def test_a_tapering_end_at_that_depth_in_the_other_view_is_another_ducts():
    # duct B stops wide at END; in the lateral, duct A passes over that end (hidden there) and duct C ends,
    # tapering (0.08 mm), at the same depth at z = +5: the other view's only end at that depth is C's
    segs = [((0.0, 0.0, 0.0), (0.0, 2.0, 0.0), 0.5, 0.5),
            ((0.0, 2.0, 0.0), tuple(END), 0.45, 0.45),
            ((0.0, 2.0, 0.0), (8.0, 40.0, -8.0), 0.45, 0.3),
            ((0.0, 2.0, 0.0), (2.0, 22.3, 5.0), 0.45, 0.08)]
    ta, tb = _trees(segs)
    assert any(c["evidence"] == "wide end" and abs(c["ud"][1] - END[1]) < 1.0 for c in view_candidates(ta))
    assert not any(c["evidence"] == "wide end" and abs(c["ud"][1] - END[1]) < 1.0 for c in view_candidates(tb))
    # the reading ends duct B at END, seen in both views: the finding stays there, not at C's narrow end
    cut = [f for f in _find(ta, tb, _line_reading(0.5 * END, END)) if f["kind"] == "cutoff"]
    assert len(cut) == 1 and cut[0]["views"] == ["cc"], cut
    assert np.linalg.norm(np.array(cut[0]["point_bf"]) - END) < 1.0, cut[0]["point_bf"]


def _wide_in_cc_narrowing_in_lateral():
    """Duct B stops wide at END in the CC; in the lateral it narrows to 0.28 mm over its last 3 mm (not a
    wide end there, but over half as wide). Duct C ends tapering to 0.08 mm at the same depth at z = +5."""
    trunk = ((0.0, 0.0, 0.0), (0.0, 2.0, 0.0), 0.5, 0.5)
    c_duct = ((0.0, 2.0, 0.0), (2.0, 22.3, 5.0), 0.45, 0.08)
    fork = np.array([0.0, 2.0, 0.0])
    short = END + 3.0 * (fork - END) / np.linalg.norm(fork - END)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ta = view_graph(draw("cc", [trunk, (tuple(fork), tuple(END), 0.45, 0.45), c_duct]), nipple_px=None).tree()
        tb = view_graph(draw("lateral", [trunk, (tuple(fork), tuple(short), 0.45, 0.45),
                                         (tuple(short), tuple(END), 0.45, 0.28), c_duct]), nipple_px=None).tree()
    assert any(c["evidence"] == "wide end" and abs(c["ud"][1] - END[1]) < 1.0 for c in view_candidates(ta))
    assert not any(c["evidence"] == "wide end" for c in view_candidates(tb))
    return ta, tb


def test_a_wide_end_takes_the_other_views_end_as_wide_over_the_readings_pairing():
    # the reading paired B with empty space at z = +3 and ends it there in both views: the finding takes B's
    # lateral end (z = -4), not the reading's z, nor C's end (nearer the reading's guess, but narrow)
    ta, tb = _wide_in_cc_narrowing_in_lateral()
    wrong = END + np.array([0.0, 0.0, 7.0])
    cut = [f for f in _find(ta, tb, _line_reading(0.5 * wrong, wrong)) if f["kind"] == "cutoff"]
    assert len(cut) == 1 and cut[0]["views"] == ["cc"], cut
    assert np.linalg.norm(np.array(cut[0]["point_bf"]) - END) < 0.5, cut[0]["point_bf"]


@pytest.mark.parametrize("tail_mm, reported", [(0.4, True), (3.0, False)])
def test_a_wide_end_is_at_the_end_of_the_tree_as_its_view_sees_it(tail_mm, reported):
    # the reading follows B to END and carries it on along the duct on pieces seen in the lateral only: a
    # step (0.4 mm, two nodes) leaves END the CC's end of the tree; 3 mm is the duct going on, hidden in the CC
    ta, tb = _wide_in_cc_narrowing_in_lateral()
    step = (END - 0.5 * END) / np.linalg.norm(0.5 * END)
    kept = _line_reading(0.5 * END, END + tail_mm * step, step=0.2)
    on = np.linalg.norm(kept.pos - 0.5 * END, axis=1) > np.linalg.norm(0.5 * END) + 0.05   # past END
    assert on.sum() >= 2
    kept.view = ["lateral" if o else v for o, v in zip(on, kept.view)]
    kept.single_view = on.copy()
    cut = [f for f in _find(ta, tb, kept) if f["kind"] == "cutoff"]
    if reported:
        assert len(cut) == 1 and np.linalg.norm(np.array(cut[0]["point_bf"]) - END) < 0.5, cut
    else:
        assert cut == []


def test_of_two_ends_at_that_depth_the_one_that_agrees_best_wins():
    # two lateral ducts end as wide as the CC's wide end (0.45 mm), B at depth 22.0 (z = -4) and C at 22.8
    # (z = +5); the reading's guess z = +1 is nearer C (4 mm against 5), but B ends at the CC end's depth:
    # cost 0 + 5/5 against 0.8 + 4/5 (depth difference per mm, distance from the guess per 5 mm)
    fork = (0.0, 2.0, 0.0)
    segs = [((0.0, 0.0, 0.0), fork, 0.5, 0.5), (fork, tuple(END), 0.45, 0.45),
            (fork, (5.0, 22.8, 5.0), 0.45, 0.45)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tb = view_graph(draw("lateral", segs), nipple_px=None).tree()
    ends = tb.ud[tb.kind == 3]
    assert len(ends) == 2
    p = np.array([END[0], END[1], 1.0])
    _end_in_other_view(p, END[1], "cc", tb, DepthMap(), r_end_mm=0.45)
    assert abs(p[2] - END[2]) < 0.3, p
    # a guess beside C (z = +4) makes C's end the better one
    q = np.array([END[0], END[1], 4.0])
    _end_in_other_view(q, END[1], "cc", tb, DepthMap(), r_end_mm=0.45)
    assert abs(q[2] - 5.0) < 0.3, q
