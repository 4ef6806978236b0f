"""A contrast column split in two thin streams around a filling defect (hand-drawn views), and which
one-view signs are reported on their own."""

from __future__ import annotations

import warnings

import numpy as np
from biplane_helpers import draw, polyline

from ductree.reconstruct.biplane import tree_from_views
from ductree.reconstruct.biplane_findings import _split_columns, view_candidates
from ductree.reconstruct.biplane_graph import view_tree
from ductree.reconstruct.biplane_options import BiplaneOptions

PX = 0.025
SHAPE = (300, 1300)
NIPPLE = (150.0, 40.0)
R_DUCT = 0.6
LESION_D = 15.0            # the lesion's centre: 15 mm deep on the duct's axis (u = 0 in both views)


def _duct(taper_end: bool = True):
    """A straight 1.2 mm duct along the depth axis, 30 mm long, tapering over its last 3 mm."""
    return polyline([np.zeros(3), np.array([0.0, 27.0, 0.0]), np.array([0.0, 30.0, 0.0])],
                    [R_DUCT, R_DUCT, 0.2 if taper_end else R_DUCT])


def _split(side: float = 1.0):
    """A 4 mm lesion filling most of the lumen (radius 0.38 of 0.6 mm): the contrast flows past it in two
    0.22 mm rims; one rim is cut from the column at the lesion's distal end (a lucency open to one side),
    so the mask has no closed hole: the column splits in two streams, one of them a thin prong."""
    return [((0.0, LESION_D - 2.0), (0.0, LESION_D + 2.0), 0.38, 0.38),
            ((side * 0.3, LESION_D + 2.0), (side * 0.75, LESION_D + 2.0), 0.12, 0.12)]


def _view(kind, erase=()):
    return draw(kind, _duct(), px=PX, shape=SHAPE, nipple=NIPPLE, erase=erase)


def _candidates(view):
    t = view_tree(view, nipple_px=view.nipple_px)
    return t, view_candidates(t)


def test_column_split_around_a_lesion_is_found_at_the_lesion():
    t, cands = _candidates(_view("cc", _split()))
    assert not any(h["defect"] for h in t.holes)          # not a closed hole: a split
    split = [c for c in cands if c["evidence"] == "split column"]
    assert len(split) == 1, cands
    assert abs(split[0]["ud"][1] - LESION_D) < 0.6 and abs(split[0]["ud"][0]) < 0.3, split
    assert 2.5 <= split[0]["size_mm"] <= 5.5               # the lesion is 4 mm (+ rounded ends) long


def test_split_on_the_other_wall_and_in_the_lateral_is_found_too():
    for kind, side in (("cc", -1.0), ("lateral", 1.0), ("lateral", -1.0)):
        _, cands = _candidates(_view(kind, _split(side)))
        split = [c for c in cands if c["evidence"] == "split column"]
        assert len(split) == 1 and abs(split[0]["ud"][1] - LESION_D) < 0.6, (kind, side, cands)


def test_a_tapering_duct_is_not_a_split_column():
    t, cands = _candidates(_view("cc"))
    assert not [c for c in cands if c["evidence"] == "split column"], cands
    # a duct narrowing fast to a thin terminal branch, nothing beside it
    segs = polyline([np.zeros(3), np.array([0.0, 15.0, 0.0]), np.array([0.0, 16.0, 0.0]),
                     np.array([0.0, 25.0, 0.0])], [0.6, 0.6, 0.15, 0.12])
    t = view_tree(draw("cc", segs, px=PX, shape=SHAPE, nipple=NIPPLE), nipple_px=NIPPLE)
    assert not _split_columns(t, BiplaneOptions())


def test_a_thin_duct_beside_a_thick_one_is_not_a_split_column():
    """A thick duct runs 1 mm beside a duct that narrows to a thin branch: the contrast beside the thin
    stretch is a whole duct (as thick as a duct), not a second thin rim."""
    thin = polyline([np.zeros(3), np.array([0.0, 12.0, 0.0]), np.array([0.0, 13.0, 0.0]),
                     np.array([0.0, 24.0, 0.0])], [0.6, 0.6, 0.12, 0.12])
    thick = polyline([np.array([0.0, 3.0, 0.0]), np.array([1.0, 11.0, 0.0]), np.array([1.0, 26.0, 0.0])],
                     [0.5, 0.5, 0.5])
    t = view_tree(draw("cc", thin + thick, px=PX, shape=SHAPE, nipple=NIPPLE), nipple_px=NIPPLE)
    assert not _split_columns(t, BiplaneOptions())


def _build(cc, lat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tree_from_views(cc, lat, laterality="R", nipple_cc=cc.nipple_px, nipple_lateral=lat.nipple_px)


def test_split_seen_in_both_views_is_one_finding_at_the_lesion():
    tree = _build(_view("cc", _split()), _view("lateral", _split(-1.0)))
    found = tree.graph["candidate_findings"]
    assert len(found) == 1, found
    f = found[0]
    assert f["views"] == ["cc", "lateral"] and f["kind"] == "filling_defect"
    assert np.linalg.norm(np.array(f["point_bf"]) - np.array([0.0, LESION_D, 0.0])) < 1.0, f


def test_a_subtle_sign_in_one_view_alone_is_not_reported_but_a_hole_is():
    """A split seen in the CC only (the lateral shows an intact column) is not confirmed: no finding.
    A closed hole in the CC only is unambiguous: one finding, one view."""
    tree = _build(_view("cc", _split()), _view("lateral"))
    assert tree.graph["candidate_findings"] == []
    hole = [((0.0, LESION_D - 1.0), (0.0, LESION_D + 1.0), 0.3, 0.3)]
    tree = _build(_view("cc", hole), _view("lateral"))
    found = tree.graph["candidate_findings"]
    assert len(found) == 1 and found[0]["views"] == ["cc"], found
    assert abs(found[0]["point_bf"][1] - LESION_D) < 0.6 and abs(found[0]["point_bf"][0]) < 0.3, found


def test_a_hairline_lucency_in_one_view_is_not_reported_a_hole_is():
    """A 0.12 mm wide, 1.7 mm long lucency near one wall of a 1.2 mm column (under a sixth of its width: as
    often the crotch between two ducts overlapping at a fork) is a subtle sign: not reported from the CC
    alone. The same lucency 0.16 mm wide (over a sixth) is a hole and is."""
    sliver = [((0.3, LESION_D - 0.8), (0.3, LESION_D + 0.8), 0.06, 0.06)]
    t, cands = _candidates(_view("cc", sliver))
    assert [c["evidence"] for c in cands if c["evidence"] in ("hole", "sliver")] == ["sliver"], cands
    tree = _build(_view("cc", sliver), _view("lateral"))
    assert tree.graph["candidate_findings"] == []
    hole = [((0.3, LESION_D - 0.8), (0.3, LESION_D + 0.8), 0.08, 0.08)]
    tree = _build(_view("cc", hole), _view("lateral"))
    found = tree.graph["candidate_findings"]
    assert len(found) == 1 and abs(found[0]["point_bf"][1] - LESION_D) < 0.5, found


def test_ducts_over_each_other_in_a_view_are_told_from_a_fork():
    """Two ducts crossing in the CC projection 3 mm apart along the beam (z) lie over each other there;
    a parent and its child at a fork do not."""
    from types import SimpleNamespace

    from ductree.reconstruct.biplane_findings import _ducts_overlap

    # rows: 0 root; 1-2 a duct along depth at z = 0; 3 a duct from row 1 running across x at z = 3
    pos = np.array([[0.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 20.0, 0.0], [-5.0, 15.0, 3.0], [5.0, 15.0, 3.0]])
    parent = np.array([-1, 0, 1, 1, 3])
    b = SimpleNamespace(pos=pos, parent=parent, radius=np.full(5, 0.4))
    cc = pos[:, [0, 1]]
    assert _ducts_overlap(b, cc, np.array([0.0, 15.0]), beam=2)
    assert not _ducts_overlap(b, cc, np.array([0.0, 12.0]), beam=2)       # one duct only
    fork = SimpleNamespace(pos=pos * np.array([1.0, 1.0, 0.0]), parent=parent, radius=np.full(5, 0.4))
    assert not _ducts_overlap(fork, cc, np.array([0.0, 15.0]), beam=2)   # same z: joined, not over each other


def _end_tree(link_mm: float):
    """A 2D tree (u, d mm) of a 1 mm duct 10 mm long whose end splits into one thin prong and, through a
    ``link_mm`` stretch of the duct, two more: three 1.5 mm prongs side by side around a mass."""
    from types import SimpleNamespace

    def edge(d0, d1, u0, u1, r):
        d = np.linspace(d0, d1, 12)
        return np.column_stack([np.linspace(u0, u1, 12), d]), np.full(12, r)

    duct = edge(0.0, 10.0, 0.0, 0.0, 0.5)
    link = edge(10.0, 10.0 + link_mm, 0.0, -0.3, 0.5)
    e = 10.0 + link_mm
    prongs = [edge(10.0, 11.5, 0.0, 0.5, 0.06), edge(e, e + 1.5, -0.3, -0.1, 0.06),
              edge(e, e + 1.5, -0.3, -0.6, 0.06)]
    edges = [(np.zeros((1, 2)), np.zeros(1)), duct, prongs[0], link, prongs[1], prongs[2]]
    children = [[1], [2, 3], [], [4, 5], [], []]
    return SimpleNamespace(n=6, children=children, kind=np.array([1, 2, 3, 2, 3, 3]),
                           edge_ud=[p for p, _ in edges], edge_r=[r for _, r in edges],
                           ud=np.array([p[-1] for p, _ in edges]), r=np.array([0.5, 0.5, 0.06, 0.5, 0.06, 0.06]))


def test_three_prongs_split_twice_close_together_are_one_split_end():
    from ductree.reconstruct.biplane_findings import _split_ends

    (found,) = _split_ends(_end_tree(0.3), BiplaneOptions())
    assert found["evidence"] == "split end" and 10.0 < found["ud"][1] < 12.0
    assert "split in three thin prongs" in found["detail"]
    # with the second fork 2 mm on, the duct's own end is a prong and a branch: only that branch, ending
    # in two prongs, is a split end (past its 2 mm)
    later = _split_ends(_end_tree(2.0), BiplaneOptions())
    assert len(later) == 1 and later[0]["ud"][1] > 12.0 and "split in two thin prongs" in later[0]["detail"]
