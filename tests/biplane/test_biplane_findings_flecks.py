"""Flecks of contrast beside a duct (hand-drawn views): a subtle sign, reported when both views show it
at the same depth."""

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
DEPTH = 20.0               # where the flecks lie (mm)


def _duct():
    return polyline([np.zeros(3), np.array([0.0, 27.0, 0.0]), np.array([0.0, 30.0, 0.0])], [0.4, 0.4, 0.15])


def _fleck(u, d, r=0.05):
    """A tiny blob of contrast (a 0.1 mm dot) at (u, d) in the view, drawn as a 3D capsule there."""
    return (np.array([u, d, u]), np.array([u, d + 0.01, u]), r, r)


def _view(kind, flecks=()):
    return draw(kind, _duct() + [_fleck(u, d) for u, d in flecks], px=PX, shape=SHAPE, nipple=NIPPLE)


def test_flecks_beside_a_duct_are_one_site_and_far_specks_are_not():
    flecks = [(0.75, DEPTH - 0.3), (0.8, DEPTH + 0.4), (-0.6, DEPTH + 0.1), (4.0, 10.0)]   # the last: 3.6 mm off
    view = _view("cc", flecks)
    t = view_tree(view, nipple_px=view.nipple_px)
    found = _flecks(t, BiplaneOptions())
    assert len(found) == 1, found
    assert abs(found[0]["ud"][1] - DEPTH) < 0.4 and abs(found[0]["ud"][0]) < 0.5
    assert found[0]["detail"].startswith("3 fleck")


def test_flecks_in_both_views_at_one_depth_are_a_finding_in_one_view_alone_not():
    def build(cc, lat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tree_from_views(cc, lat, laterality="R", nipple_cc=NIPPLE, nipple_lateral=NIPPLE)

    both = build(_view("cc", [(0.7, DEPTH), (0.75, DEPTH + 0.5)]), _view("lateral", [(-0.7, DEPTH + 0.2)]))
    found = both.graph["candidate_findings"]
    assert len(found) == 1 and found[0]["views"] == ["cc", "lateral"], found
    assert abs(found[0]["point_bf"][1] - DEPTH) < 0.5
    one = build(_view("cc", [(0.7, DEPTH), (0.75, DEPTH + 0.5)]), _view("lateral"))
    assert one.graph["candidate_findings"] == []
