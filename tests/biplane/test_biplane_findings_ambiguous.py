"""A sign seen in one view lies on whichever duct the reading put under it there: where another reading of
the same views puts a different duct under it, the finding says its placement is ambiguous and gives both
points. Hand-drawn views and hand-built 3D readings (no reconstruction code in the ground truth)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ductree.reconstruct.biplane import report_lines
from ductree.reconstruct.biplane_findings import find_candidates, findings_as_lesion_specs
from ductree.reconstruct.biplane_graph import view_graph
from ductree.reconstruct.biplane_match import Built, DepthMap
from ductree.tree import DuctTree

from biplane_helpers import chain_reading, draw

HOLE_D = 20.0        # depth (mm) of the lucent hole in the CC's column


def _views():
    """Two ducts along depth at x = 0, one at z = +5 and one at z = -5 (radius 0.45 mm): one column in the
    CC, with a closed lucent hole at 20 mm; two clean columns in the lateral."""
    segs = [((0.0, 0.0, 0.0), (0.0, 2.0, 0.0), 0.5, 0.5),
            ((0.0, 2.0, 0.0), (0.0, 35.0, 5.0), 0.45, 0.45), ((0.0, 2.0, 0.0), (0.0, 35.0, -5.0), 0.45, 0.45)]
    hole = [((0.0, HOLE_D - 1.5), (0.0, HOLE_D + 1.5), 0.2, 0.2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ta = view_graph(draw("cc", segs, erase=hole), nipple_px=None).tree()
        tb = view_graph(draw("lateral", segs), nipple_px=None).tree()
    return ta, tb


def _reading(z_of_duct_under_the_hole: float) -> Built:
    """A 3D reading (BF mm) of one duct from the nipple to 35 mm deep, sloping to ``z`` at its end: the duct
    this reading puts under the CC's hole."""
    d = np.linspace(2.0, 35.0, 34)
    z = z_of_duct_under_the_hole * (d - 2.0) / 33.0
    return chain_reading(np.column_stack([np.zeros(len(d) + 1), np.r_[0.0, d], np.r_[0.0, z]]))


def _find(kept: Built, support: list[Built]):
    ta, tb = _views()
    tree = DuctTree.from_arrays(kept.pos, kept.radius, kept.parent, laterality="R")
    found = find_candidates(tree, kept, ta, tb, f=DepthMap(), support=support)
    tree.graph["candidate_findings"] = found
    holes = [f for f in found if f["kind"] == "filling_defect"]
    assert len(holes) == 1, found
    return tree, holes[0]


def test_readings_that_put_different_ducts_under_a_one_view_sign_make_it_ambiguous():
    tree, f = _find(_reading(+5.0), [_reading(-5.0)])
    z_here = 5.0 * (HOLE_D - 2.0) / 33.0                 # the kept duct's z at the hole's depth
    assert f["views"] == ["cc"]
    assert f["point_bf"][2] == pytest.approx(z_here, abs=0.5)
    assert f["placement"].startswith("ambiguous")
    (alt,) = f["alternatives_bf"]
    assert alt[2] == pytest.approx(-z_here, abs=0.5)    # the other reading's duct, at the same depth and x
    assert alt[1] == pytest.approx(f["point_bf"][1]) and alt[0] == pytest.approx(f["point_bf"][0])
    assert f["placement_spread_mm"] == pytest.approx(2 * z_here, abs=1.0)
    # said where a surgeon reads it: the build report and the lesion's stated uncertainty
    assert any("placement ambiguous" in line and "o'clock" in line for line in report_lines(tree))
    (spec,) = [s for s in findings_as_lesion_specs(tree) if s.label == f["label"]]
    assert spec.uncertainty_mm >= 2 * z_here - 1.0 and "placement ambiguous" in spec.note


def test_readings_that_agree_leave_the_placement_on_the_tree():
    _, f = _find(_reading(+5.0), [_reading(+5.0)])
    assert f["placement"] == "on the tree" and f["alternatives_bf"] == [] and f["placement_spread_mm"] == 0.0
    _, f = _find(_reading(+5.0), [])
    assert f["placement"] == "on the tree" and f["alternatives_bf"] == []
