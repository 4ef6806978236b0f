"""Guided reading (biplane_guided): one view's tree read through the other view's mask.

Hand-made views (3D capsules projected by hand, tests/biplane/biplane_helpers.py); the ground truth is the
construction: every duct's x (CC) and z (lateral) as a function of depth is known exactly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ductree.reconstruct.biplane_graph import view_graph
from ductree.reconstruct.biplane_guided import (GuidedOptions, choose_reading, consistency, guided_reading,
                                                mask_lines, track_in_mask)
from ductree.reconstruct.biplane_match import DepthMap

from biplane_helpers import draw, polyline

R = 0.35


def _views(ducts):
    segs = [s for pts, rad in ducts for s in polyline(pts, rad)]
    cc, lat = draw("cc", segs), draw("lateral", segs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ga = view_graph(cc, nipple_px=cc.nipple_px)
        gb = view_graph(lat, nipple_px=lat.nipple_px)
    return ga, gb


def _x_at(points, depth):
    """x of a 3D polyline (BF mm) at the given depths (the polyline is monotone in depth)."""
    p = np.asarray(points, float)
    return np.interp(depth, p[:, 1], p[:, 0])


# two ducts leave the fork at depth 10: seen from above (CC) they run side by side, 0.6 mm apart at depth 25
# with radius 0.35 (one blob of contrast), then part; seen from the side (lateral) they are 6 mm apart.
# A runs on to depth 35, B ends at depth 30: only that tells which side of the blob is which (the mirror
# reading would explain both masks as well if they were alike)
TRUNK = [(0.0, 0.0, 0.0), (0.0, 10.0, 0.0)]
SIDE_A = [(0.0, 10.0, 0.0), (0.3, 25.0, 3.0), (3.0, 35.0, 4.5)]
SIDE_B = [(0.0, 10.0, 0.0), (-0.3, 25.0, -3.0), (-1.65, 30.0, -3.75)]

# two ducts that cross in the CC at depth ~17.1 (x ~ -0.1), apart in the lateral (z = +3 and -3); A runs
# to depth 28, B ends at depth 23
CROSS_A = [(0.0, 8.0, 0.0), (-2.0, 12.0, 3.0), (4.0, 28.0, 3.0)]
CROSS_B = [(0.0, 8.0, 0.0), (2.0, 12.0, -3.0), (-2.5, 23.0, -3.0)]
TRUNK_X = [(0.0, 0.0, 0.0), (0.0, 8.0, 0.0)]


def _branch_rows(built, sign):
    """Nodes of the branch on one side of the lateral (z > 0: A, z < 0: B), past the fork."""
    z = built.pos[:, 2]
    return np.flatnonzero((np.sign(z) == sign) & (np.abs(z) > 0.5))


def test_side_by_side_ducts_are_split_by_the_clean_view():
    """The CC shows one blob (two ducts side by side); guided by the lateral, each duct takes its own side
    of the blob (x within 0.12 mm of the truth; the blob's centre would be 0.2-0.3 mm off)."""
    ga, gb = _views([(TRUNK, [R, R]), (SIDE_A, [R, R, R]), (SIDE_B, [R, R, R])])
    f = DepthMap()
    rd = guided_reading(gb.tree(), ga, ga.tree(), f, "lateral")
    b = rd.built
    for sign, truth in ((1, SIDE_A), (-1, SIDE_B)):
        rows = _branch_rows(b, sign)
        depth = b.pos[rows, 1]
        merged = rows[(depth >= 18.0) & (depth <= 25.0)]
        assert len(merged) >= 10
        err = np.abs(b.pos[merged, 0] - _x_at(truth, b.pos[merged, 1]))
        assert err.mean() < 0.12, err
        # and they stay on their own duct where the ducts part
        far = rows[(b.pos[rows, 1] >= 27.0) & (b.pos[rows, 1] <= (34.0 if sign > 0 else 29.5))]
        assert np.abs(b.pos[far, 0] - _x_at(truth, b.pos[far, 1])).max() < 0.2
    # near the fork the two are one duct in the CC: flagged as seen in one view there (either may hide behind
    # the other), nowhere else
    flagged = b.single_view
    assert np.all(b.pos[flagged, 1] < 16.0) and np.all(b.sigma[flagged] >= 1.0)


def test_a_crossing_is_passed_straight_through():
    """The CC shows an X at depth 17; guided by the lateral, each duct goes straight through it (duct A
    ends at x = +4 at depth 28, not on B's arm)."""
    ga, gb = _views([(TRUNK_X, [R, R]), (CROSS_A, [R, R, R]), (CROSS_B, [R, R, R])])
    rd = guided_reading(gb.tree(), ga, ga.tree(), DepthMap(), "lateral")
    b = rd.built
    for sign, truth in ((1, CROSS_A), (-1, CROSS_B)):
        rows = _branch_rows(b, sign)
        deep = rows[(b.pos[rows, 1] >= 14.0) & (b.pos[rows, 1] <= (27.5 if sign > 0 else 22.5))]
        assert len(deep) >= 15
        err = np.abs(b.pos[deep, 0] - _x_at(truth, b.pos[deep, 1]))
        assert np.median(err) < 0.1 and err.max() < 0.4, err


def test_reading_is_recorded_and_consistency_prefers_the_right_tree():
    """The chosen reading and every candidate's scores are data; a reading that swaps the two ducts of the
    crossing (x mirrored past the crossing) explains the masks worse than the right one."""
    ga, gb = _views([(TRUNK_X, [R, R]), (CROSS_A, [R, R, R]), (CROSS_B, [R, R, R])])
    ta, tb = ga.tree(), gb.tree()
    f = DepthMap()
    rd = guided_reading(tb, ga, ta, f, "lateral")
    built, rec, others, _ = choose_reading(rd.built, ta, tb, ga, gb, f, opt=GuidedOptions(choose=True))
    assert len(others) == 2 and all(o is not built for o in others)
    assert set(rec["candidates"]) == {"matched", "guided_by_cc", "guided_by_lateral"}
    assert rec["chosen"] in rec["candidates"] and rec["why"]
    good = consistency(rd.built, ga, gb, f)
    import copy

    bad = copy.deepcopy(rd.built)
    past = bad.pos[:, 1] > 17.2
    bad.pos[past, 0] = -bad.pos[past, 0]          # each duct turns at the crossing instead of going through
    worse = consistency(bad, ga, gb, f)
    assert good["out_cc"] < 0.05
    assert worse["score"] > good["score"]


def test_track_in_mask_holds_without_contrast_and_flags_it():
    """Past the end of the contrast the track holds its value and says so (state 0)."""
    ga, _ = _views([(TRUNK, [R, R]), (SIDE_A, [R, R, R]), (SIDE_B, [R, R, R])])
    lines = mask_lines(ga)
    d = np.arange(30.0, 42.0, 0.15)                  # the ducts end at depth 35 (+ radius)
    s = d - d[0]
    u, state, e, cost = track_in_mask(lines, d, np.full(len(d), R), s, _x_at(SIDE_A, 30.0))
    assert state[d < 34.5][1:].all()
    assert not state[d > 36.0].any()
    assert np.abs(u[d < 34.5] - _x_at(SIDE_A, d[d < 34.5])).max() < 0.15
    assert cost > 0


def _y_tree(choose: bool):
    """The trunk with its two side branches, drawn in both views and rebuilt (guided readings on or off)."""
    from ductree.reconstruct.biplane import tree_from_views

    segs = [s for pts, rad in ((TRUNK, [R, R]), (SIDE_A, [R, R, R]), (SIDE_B, [R, R, R])) for s in polyline(pts, rad)]
    cc, lat = draw("cc", segs), draw("lateral", segs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = tree_from_views(cc, lat, laterality="R", nipple_cc=cc.nipple_px, nipple_lateral=lat.nipple_px,
                               guided=GuidedOptions(choose=choose))
    return tree


@pytest.mark.parametrize("choose", [False, True])
def test_tree_from_views_records_the_reading(choose):

    tree = _y_tree(choose)
    rec = tree.graph["biplane"]["reading"]
    assert rec["chosen"] in rec["candidates"]
    assert len(rec["candidates"]) == (3 if choose else 1)
    assert tree.graph["biplane"]["single_view_nodes"] == sum(bool(tree.nodes[n]["single_view"]) for n in tree.nodes)


def test_views_of_different_ducts_stay_refused_or_flagged_with_guided_readings():
    """A CC of one duct system and a lateral of another: with the guided readings tried, still an
    InputError or a low-confidence result (the readings never make it confident)."""
    import copy

    from ductree.errors import InputError
    from ductree.phantom import generate_tree, insert_lesions
    from ductree.phantom.ductogram_sim import simulate_ductogram
    from ductree.reconstruct.biplane import tree_from_views

    sims = []
    for seed, branches in ((21, 14), (8, 16)):
        t = generate_tree(seed=seed, systems=2, branches=branches, laterality="R", breast_depth_mm=70)
        sims.append(simulate_ductogram(t, insert_lesions(t, 1, seed=seed), seed=seed))
    cc, lat = copy.copy(sims[0].cc.view), copy.copy(sims[1].lateral.view)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tree = tree_from_views(cc, lat, laterality="R", nipple_cc=cc.nipple_px, nipple_lateral=lat.nipple_px,
                                   guided=GuidedOptions(choose=True))
        except InputError as exc:
            assert "do not seem to show the same ducts" in str(exc)
            return
    assert tree.graph["biplane"]["confidence"] == "low"
    assert tree.graph["biplane"]["reading"]["chosen"] in tree.graph["biplane"]["reading"]["candidates"]


def test_a_short_duct_end_seen_in_the_other_view_only_is_added():
    """A short wide stub leaves the trunk sideways in x only: the lateral shows it over the trunk (no
    branch of its own), the CC shows it ending 1.3 mm off the trunk. Read along the lateral, the tree must
    still reach the stub's end in the CC (a one-view branch; a cut-off is read at such an end), though its
    unexplained part is shorter than ``hidden_min_mm``."""
    rt, rs = 0.5, 0.45
    trunk = [(0.0, 0.0, 0.0), (0.0, 22.0, 0.0)]
    end = (1.3, 15.6, 0.0)
    stub = [(0.0, 14.6, 0.0), end]
    ga, gb = _views([(trunk, [rt, rt]), (stub, [rs, rs])])
    ta, tb = ga.tree(), gb.tree()
    assert any(not ta.children[n] and abs(ta.ud[n, 0] - end[0]) < 0.4 for n in range(1, ta.n)), "CC shows the stub"
    f = DepthMap()

    def gap(opt):
        b = guided_reading(tb, ga, ta, f, "lateral", opt=opt).built
        leaf = np.ones(len(b.parent), dtype=bool)
        leaf[b.parent[b.parent >= 0]] = False
        return float(np.min(np.linalg.norm(b.cc_ud[leaf] - np.array([end[0], end[1]]), axis=1))), b

    with_tip, b = gap(GuidedOptions())
    without, _ = gap(GuidedOptions(hidden_tip_min_mm=1e9))
    assert with_tip < 0.6
    assert without > 0.9
    near = np.linalg.norm(b.cc_ud - np.array([end[0], end[1]]), axis=1) < 0.6
    assert b.single_view[near].all()


def test_fast_distance_transform_gives_scipys_values():
    """The view's distance to background (biplane_graph._edt, the `edt` package when installed) equals
    scipy's exact Euclidean distance transform value for value, on blobs, thin lines and holes."""
    from scipy import ndimage as ndi

    from ductree.reconstruct.biplane_graph import _edt

    rng = np.random.default_rng(3)
    m = ndi.binary_dilation(rng.random((300, 420)) > 0.995, iterations=9)
    m[40:45, :] = True
    m[100:260, 200:380] = True
    m[150:160, 250:300] = False
    for a in (m, ~m, np.pad(m[:50, :60], 1)):
        assert np.array_equal(_edt(a), ndi.distance_transform_edt(a))


@pytest.mark.parametrize("choose", [False, True])
def test_report_names_the_reading_when_guided_readings_were_tried(choose):
    from ductree.reconstruct.biplane import report_lines

    tree = _y_tree(choose)
    got = [ln for ln in report_lines(tree) if ln.startswith("reading:")]
    if not choose:
        assert got == []
        return
    rec = tree.graph["biplane"]["reading"]
    assert len(got) == 1
    name = {"matched": "matched", "guided_by_cc": "guided by the CC", "guided_by_lateral": "guided by the lateral"}
    assert got[0].startswith(f"reading: {name[rec['chosen']]} (score {rec['candidates'][rec['chosen']]['score']:.2f}")
