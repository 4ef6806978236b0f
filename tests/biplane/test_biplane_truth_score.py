"""A phantom's truth scored against its own simulated masks (``biplane_match.built_from_tree`` with
``biplane_guided.consistency``); ground truth from the phantom.

The benchmark asks whether the truth itself would win the last pick against the reading kept (if it would,
no reading near the truth was made). That question only means something if the score, given the true tree
and the simulator's depth map, finds nothing unexplained, and if it notices a wrong depth map.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ductree.reconstruct.biplane_graph import view_graph
from ductree.reconstruct.biplane_guided import consistency
from ductree.reconstruct.biplane_match import DepthMap, built_from_tree

from biplane_helpers import bench_branches, simulated_pair


@pytest.mark.parametrize("k, lat", [(0, "R"), (1, "L")])
def test_truth_explains_its_own_masks_and_a_wrong_map_does_not(k, lat):
    sim = simulated_pair(1000 + k, bench_branches(k), lat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ga = view_graph(sim.cc.view, nipple_px=sim.cc.view.nipple_px)
        gb = view_graph(sim.lateral.view, nipple_px=sim.lateral.view.nipple_px)
    b = built_from_tree(sim.truth)
    assert len(b.pos) == sim.truth.number_of_nodes() and not b.single_view.any()
    true_map = DepthMap(*sim.lateral_to_cc_depth())
    sc = consistency(b, ga, gb, true_map)
    # every skeleton stretch of both masks lies on the projected truth, and the projected nodes on contrast (but
    # for a few: those in the inserted filling defect, and tips at the soft edges; skeleton spurs off the truth)
    for key in ("miss_cc", "miss_lateral", "out_cc", "out_lateral"):
        assert sc[key] <= 0.05, (key, sc)
    # the same tree seen through a map 4 mm off: its projections leave the ducts of one view
    off = DepthMap(true_map.a, true_map.b + 4.0, true_map.knee_mm)
    bad = consistency(b, ga, gb, off)
    assert bad["score"] > sc["score"] + 0.2, (bad, sc)
    assert np.isclose(sc["single"], 0.0)
