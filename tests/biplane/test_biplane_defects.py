"""Filling defects and cut-offs in one view (hand-drawn), and the simulator's occlusion ends."""

from __future__ import annotations

import numpy as np
from biplane_helpers import bench_branches, draw, polyline, simulated_pair

from ductree.reconstruct.biplane import view_candidates
from ductree.reconstruct.biplane_graph import view_tree

ROOT = np.array([0.0, 0.0, 0.0])
FORK = np.array([0.5, 20.0, 0.0])
END = np.array([1.0, 32.0, 0.0])


def _kinds(view):
    t = view_tree(view, nipple_px=view.nipple_px)
    return t, view_candidates(t)


def _stub(end_radius):
    """A main duct that tapers normally, and a 1.8 mm side stub just past a fork."""
    stub_end = FORK + np.array([1.2, 1.35, 0.0])
    main = polyline([ROOT, FORK, END - np.array([0.0, 2.5, 0.0]), END], [0.5, 0.48, 0.45, 0.15])
    stub = polyline([FORK, stub_end], [0.42, end_radius])
    return main + stub, stub_end


def test_short_stub_ending_wide_is_a_cutoff_and_a_tapering_one_is_not():
    segs, stub_end = _stub(0.42)
    t, cands = _kinds(draw("cc", segs))
    wide = [c for c in cands if c["evidence"] == "wide end"]
    assert len(wide) == 1, cands
    assert np.linalg.norm(np.array(wide[0]["ud"]) - stub_end[[0, 1]]) < 0.8
    segs, _ = _stub(0.12)
    _, cands = _kinds(draw("cc", segs))
    assert not [c for c in cands if c["evidence"] == "wide end"], cands


def test_narrow_lucency_against_one_wall_of_a_wide_duct_is_a_defect():
    """A 0.3 mm wide, 1.2 mm long lucency in a 1.6 mm wide duct, off its axis (a lesion pressing on one
    wall leaves a thin rim of contrast there): narrower than a quarter of the duct, still a defect."""
    segs = polyline([ROOT, np.array([0.0, 30.0, 0.0])], [0.8, 0.8])
    hole = [((0.35, 14.4), (0.35, 15.6), 0.15, 0.15)]
    t, cands = _kinds(draw("cc", segs, erase=hole))
    assert len(t.holes) == 1 and t.holes[0]["width_mm"] < 0.25 * t.holes[0]["duct_width_mm"], t.holes
    assert t.holes[0]["defect"], t.holes
    holes = [c for c in cands if c["evidence"] == "hole"]
    assert len(holes) == 1 and abs(holes[0]["ud"][1] - 15.0) < 0.5


def test_sliver_between_two_ducts_side_by_side_is_not_a_defect():
    """Two 1 mm wide ducts that touch at both ends and run 0.3 mm apart between: the lucency between them
    is walled by whole ducts, not by a thin wall of one duct."""
    a = polyline([ROOT, np.array([0.0, 10.0, 0.0]), np.array([-0.65, 12.0, 0.0]), np.array([-0.65, 18.0, 0.0]),
                  np.array([0.0, 20.0, 0.0]), np.array([0.0, 30.0, 0.0])], [0.5] * 6)
    b = polyline([np.array([0.0, 10.0, 0.0]), np.array([0.65, 12.0, 0.0]), np.array([0.65, 18.0, 0.0]),
                  np.array([0.0, 20.0, 0.0])], [0.5] * 4)
    t, cands = _kinds(draw("cc", a + b))
    assert t.holes and not any(h["defect"] for h in t.holes), t.holes
    assert not [c for c in cands if c["evidence"] == "hole"]


def test_simulated_occlusion_ends_wide():
    """An occluded duct stops wide (the contrast column is cut), never tapering like a normal terminal duct,
    also when the cut falls on an existing node of the phantom (the bench case seed 1019)."""
    sim = simulated_pair(1019, bench_branches(19), "L")
    cut = [d for d in sim.defects if d["kind"] == "cutoff"]
    assert len(cut) == 1
    t = sim.truth
    k = int(np.argmin(np.linalg.norm(t.positions - np.array(cut[0]["point_bf"]), axis=1)))
    assert np.linalg.norm(t.positions[k] - np.array(cut[0]["point_bf"])) < 0.1
    assert not t.children(t.node_ids[k])
    assert t.radii[k] >= 0.95 * cut[0]["radius_mm"]


def test_long_lucency_lying_across_the_image_axes_is_a_defect():
    """A 0.7 mm wide, 6 mm long lucency along a 1.8 mm duct that runs diagonally in the image: its bounding
    box is wider than any defect, the lucency itself is not."""
    end = np.array([10.0, 25.0, 0.0])
    segs = polyline([ROOT, end], [0.9, 0.9])
    a, b = 0.32 * end, 0.56 * end
    hole = [((a[0], a[1]), (b[0], b[1]), 0.35, 0.35)]
    t, cands = _kinds(draw("cc", segs, erase=hole))
    assert len(t.holes) == 1 and t.holes[0]["defect"], t.holes
    holes = [c for c in cands if c["evidence"] == "hole"]
    mid = 0.5 * (a + b)
    assert len(holes) == 1 and np.linalg.norm(np.array(holes[0]["ud"]) - mid[[0, 1]]) < 0.5
