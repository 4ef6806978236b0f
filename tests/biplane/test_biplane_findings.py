"""Branches seen in one view only, one view alone (planar), and candidate findings on hand-drawn views."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from biplane_helpers import draw, polyline

from ductree.errors import DuctreeWarning
from ductree.measures import bifurcations, tips
from ductree.reconstruct.biplane import findings_as_lesion_specs, report_lines, tree_from_views

ROOT = np.array([0.0, 0.0, 0.0])
FORK = np.array([1.0, 10.0, 0.5])
MAIN_END = np.array([3.0, 30.0, 2.0])
SIDE_END = np.array([-5.0, 20.0, 4.0])


def _back(end, start, mm):
    d = (end - start) / np.linalg.norm(end - start)
    return end - mm * d


def main_duct(taper=True):
    end_r = 0.12 if taper else 0.45
    return polyline([ROOT, FORK, _back(MAIN_END, FORK, 2.5), MAIN_END], [0.5, 0.48, 0.45, end_r])


def side_duct():
    return polyline([FORK, _back(SIDE_END, FORK, 2.5), SIDE_END], [0.35, 0.32, 0.11])


def segments(taper=True):
    return main_duct(taper) + side_duct()


def build(cc, lat, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        tree = tree_from_views(cc, lat, laterality="R", nipple_cc=None if cc is None else cc.nipple_px,
                               nipple_lateral=None if lat is None else lat.nipple_px, **kw)
    return tree, [str(x.message) for x in w if issubclass(x.category, DuctreeWarning)]


def test_branch_seen_in_one_view_is_kept_and_flagged():
    # in the lateral the side branch is not there (hidden, or the contrast reached it between the exposures):
    # it is seen in the CC only
    cc = draw("cc", segments())
    lat = draw("lateral", main_duct())
    tree, warns = build(cc, lat)
    single = [n for n in tree.nodes if tree.nodes[n]["single_view"]]
    assert single and all(tree.nodes[n]["view"] == "cc" for n in single)
    # the CC-only branch keeps its x and depth exactly; z is estimated and its uncertainty recorded
    far = max(single, key=lambda n: np.linalg.norm(tree.nodes[n]["pos"][[0, 1]] - FORK[[0, 1]]))
    p = tree.nodes[far]["pos"]
    assert abs(p[0] - SIDE_END[0]) < 0.3 and abs(p[1] - SIDE_END[1]) < 0.4
    # its z is a guess (the lateral shows nothing there): the recorded uncertainty must cover the truth
    sig = tree.nodes[far]["pos_sigma_mm"]
    assert sig >= 1.0 and abs(p[2] - SIDE_END[2]) <= 3.0 * sig
    assert tree.graph["biplane"]["single_view"]["cc"] and not tree.graph["biplane"]["single_view"]["lateral"]
    assert any("seen in the cc only" in line for line in report_lines(tree))
    assert len(bifurcations(tree)) == 1 and len(tips(tree)) == 2


def test_one_view_alone_gives_a_flagged_planar_tree():
    cc = draw("cc", segments())
    tree, warns = build(cc, None)
    assert tree.graph["planar"] is True and any("one view only" in w for w in warns)
    assert all(tree.nodes[n]["single_view"] and tree.nodes[n]["view"] == "cc" for n in tree.nodes)
    pos = tree.positions
    assert np.allclose(pos[:, 2], 0.0)                       # z unknown: the nipple's
    ends = sorted((tree.nodes[t]["pos"] for t in tips(tree)), key=lambda q: q[0])
    assert np.linalg.norm(ends[0][:2] - SIDE_END[:2]) < 0.5 and np.linalg.norm(ends[1][:2] - MAIN_END[:2]) < 0.5
    sig = [tree.nodes[n]["pos_sigma_mm"] for n in tree.nodes]
    assert max(sig) > 5.0


def test_filling_defect_hole_seen_in_both_views():
    segs = segments()
    centre = np.array([2.0, 20.0, 1.25])          # on the main duct, between the fork and the end
    # a lucent hole 3 mm long, 0.5 mm wide in the middle of the 0.9 mm wide contrast column (both views)
    hole_cc = [((centre[0] - 0.07, 18.5), (centre[0] + 0.07, 21.5), 0.22, 0.22)]
    hole_lat = [((centre[2] - 0.07, 18.5), (centre[2] + 0.07, 21.5), 0.22, 0.22)]
    cc = draw("cc", segs, erase=hole_cc)
    lat = draw("lateral", segs, erase=hole_lat)
    tree, _ = build(cc, lat)
    found = tree.graph["candidate_findings"]
    defects = [f for f in found if f["kind"] == "filling_defect"]
    assert len(defects) == 1, found
    f = defects[0]
    assert f["views"] == ["cc", "lateral"] and f["confidence"] == "seen in both views"
    assert np.linalg.norm(np.array(f["point_bf"]) - centre) < 1.5
    assert abs(f["depth_mm"] - 20.0) < 1.5 and f["clock_text"] != "-"
    specs = findings_as_lesion_specs(tree)
    assert [s.origin for s in specs] == ["ductogram"] * len(found)
    assert specs[0].point_bf is not None and specs[0].laterality == "R" and specs[0].label == f["label"]
    # the tree runs through the defect: no gap, no extra branch
    assert len(bifurcations(tree)) == 1


def test_abrupt_cutoff_versus_tapering_end():
    tapered, _ = build(draw("cc", segments(True)), draw("lateral", segments(True)))
    assert not [f for f in tapered.graph["candidate_findings"] if f["kind"] == "cutoff"]
    wide, _ = build(draw("cc", segments(False)), draw("lateral", segments(False)))
    cut = [f for f in wide.graph["candidate_findings"] if f["kind"] == "cutoff"]
    assert len(cut) == 1
    assert np.linalg.norm(np.array(cut[0]["point_bf"]) - MAIN_END) < 1.0
    assert cut[0]["views"] == ["cc", "lateral"]


def test_gap_in_the_contrast_column_is_joined_and_reported():
    segs = segments()
    gap = [((1.75, 18.8), (2.25, 21.2), 0.6, 0.6)]
    gap_lat = [((1.0, 18.8), (1.5, 21.2), 0.6, 0.6)]
    tree, _ = build(draw("cc", segs, erase=gap), draw("lateral", segs, erase=gap_lat))
    q = tree.graph["biplane"]
    assert q["gaps_joined"] == {"cc": 1, "lateral": 1}
    assert len(bifurcations(tree)) == 1 and len(tips(tree)) == 2
    f = [f for f in tree.graph["candidate_findings"] if f["kind"] == "filling_defect"]
    assert len(f) == 1 and abs(f[0]["depth_mm"] - 20.0) < 1.5 and f[0]["views"] == ["cc", "lateral"]
