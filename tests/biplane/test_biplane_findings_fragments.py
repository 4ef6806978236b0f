"""A lesion filling a branch's lumen near its origin leaves the contrast beyond it as a piece of its own:
a candidate filling defect between the piece and the column. Hand-drawn views (capsules projected by hand)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ductree.reconstruct.biplane import tree_from_views
from ductree.reconstruct.biplane_findings import view_candidates
from ductree.reconstruct.biplane_graph import view_graph

from biplane_helpers import draw, polyline

LESION = np.array([1.6, 20.0, 1.6])      # BF mm: in the branch, 2.3 mm from the duct's axis


def _segments():
    """A duct along depth (radius 0.6 mm, tapering at its end) and a branch leaving it at 20 mm deep
    toward +x and +z (radius 0.4 mm, 6 mm long, tapering)."""
    duct = polyline([(0.0, 0.0, 0.0), (0.0, 36.0, 0.0), (0.0, 40.0, 0.0)], [0.6, 0.6, 0.15])
    branch = polyline([(0.0, 20.0, 0.0), (3.6, 20.0, 3.6), (4.3, 20.0, 4.3)], [0.4, 0.4, 0.1])
    return duct + branch


def _erase(kind):
    """The lesion: the branch's lumen cleared over 1.4 mm around ``LESION`` (u = x on the CC, z on the
    lateral), so the branch's far part is a piece cut off from the column."""
    u = LESION[0] if kind == "cc" else LESION[2]
    return [((u - 0.7, LESION[1]), (u + 0.7, LESION[1]), 0.45, 0.45)]


def _view(kind, lesion=True):
    return draw(kind, _segments(), erase=_erase(kind) if lesion else ())


def _fragments(view):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = view_graph(view, nipple_px=None).tree()
    return t, [c for c in view_candidates(t) if c["evidence"] == "fragment"]


def test_a_piece_cut_off_beyond_a_lesion_is_a_candidate_between_it_and_the_column():
    t, (c,) = _fragments(_view("cc"))
    assert len(t.fragments) == 1
    u, d = c["ud"]
    assert d == pytest.approx(LESION[1], abs=0.5)
    assert 0.6 < u < 3.0                     # between the duct's wall and the piece, where the lesion is
    assert c["kind"] == "filling_defect"


def test_no_piece_no_fragment_sign():
    t, found = _fragments(_view("cc", lesion=False))
    assert t.fragments == [] and found == []


def test_pieces_in_both_views_at_one_depth_are_one_finding_at_the_lesion():
    cc, lat = _view("cc"), _view("lateral")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = tree_from_views(cc, lat, laterality="R", nipple_cc=cc.nipple_px, nipple_lateral=lat.nipple_px)
    found = [f for f in tree.graph["candidate_findings"] if any("fragment" in e for e in f["evidence"])]
    assert len(found) == 1, tree.graph["candidate_findings"]
    f = found[0]
    assert f["views"] == ["cc", "lateral"] and f["kind"] == "filling_defect"
    assert np.linalg.norm(np.array(f["point_bf"]) - LESION) < 1.5, f
