"""Flecks of contrast seen in both views are placed on the duct they lie beside (hand-drawn views)."""

from __future__ import annotations

import warnings

import numpy as np
from biplane_helpers import draw, polyline

from ductree.reconstruct.biplane import tree_from_views
from ductree.reconstruct.biplane_findings import _flecks
from ductree.reconstruct.biplane_graph import view_tree
from ductree.reconstruct.biplane_options import BiplaneOptions

PX = 0.025
SHAPE = (300, 1300)
NIPPLE = (150.0, 40.0)
DEPTH = 20.0               # where the flecks lie (mm); the duct runs along the depth axis at x = z = 0


def _view(kind, flecks=()):
    duct = polyline([np.zeros(3), np.array([0.0, 27.0, 0.0]), np.array([0.0, 30.0, 0.0])], [0.4, 0.4, 0.15])
    dots = [(np.array([u, d, u]), np.array([u, d + 0.01, u]), 0.05, 0.05) for u, d in flecks]
    return draw(kind, duct + dots, px=PX, shape=SHAPE, nipple=NIPPLE)


def test_a_fleck_site_keeps_its_own_place_and_names_its_duct_point():
    view = _view("cc", [(1.0, DEPTH)])          # 1 mm beside the duct's axis (0.6 mm beyond its wall)
    found = _flecks(view_tree(view, nipple_px=view.nipple_px), BiplaneOptions())
    assert len(found) == 1, found
    assert abs(found[0]["ud"][0] - 1.0) < 0.1 and abs(found[0]["ud"][1] - DEPTH) < 0.1
    assert abs(found[0]["duct_ud"][0]) < 0.1 and abs(found[0]["duct_ud"][1] - DEPTH) < 0.2


def test_flecks_in_both_views_are_placed_on_the_duct_not_beside_it():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = tree_from_views(_view("cc", [(1.0, DEPTH)]), _view("lateral", [(-1.0, DEPTH + 0.2)]),
                               laterality="R", nipple_cc=NIPPLE, nipple_lateral=NIPPLE)
    found = tree.graph["candidate_findings"]
    assert len(found) == 1 and found[0]["views"] == ["cc", "lateral"], found
    x, y, z = found[0]["point_bf"]
    assert abs(y - DEPTH) < 0.5 and abs(x) < 0.15 and abs(z) < 0.15, found   # beside it would be 1 mm off
