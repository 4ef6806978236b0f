"""The depth map is chosen by how well its reading explains both masks (``tree_from_views`` reads the views
with the fitted map and the runner-up maps, ``map_tries``); ground truth from the simulator's own map."""

from __future__ import annotations

import numpy as np
import pytest

from ductree.metrics import compare_trees
from ductree.reconstruct.biplane_graph import view_graph
from ductree.reconstruct.biplane_match import DepthMap, match_views
from ductree.reconstruct.biplane_options import BiplaneOptions

from biplane_helpers import rebuild, simulated_pair


def _map_of(tree) -> DepthMap:
    dm = tree.graph["biplane"]["depth_map"]
    return DepthMap(dm["scale"], dm["offset_mm"], dm["knee_mm"])


def _map_error_mm(f: DepthMap, sim) -> float:
    """Largest depth difference (mm) from the simulator's map over the tree's depths beyond the nipple ramps.

    Each view's depth of a true depth ``y`` is ``s y + o`` there (``SimView.depth``), so the lateral depth
    ``d`` is ``s_cc / s_lat (d - o_lat) + o_cc`` in the CC."""
    y = np.linspace(10.0, float(sim.truth.positions[:, 1].max()), 60)
    d_cc, d_lat = sim.cc.depth(y), sim.lateral.depth(y)
    return float(np.abs(f(d_lat) - d_cc).max())


@pytest.fixture(scope="module")
def hard_case():
    # seed 4003 (38 branches, left breast) of the benchmark recipe: the map fitted to fork and end depths is
    # 2.3 mm off the simulator's and pairs the wrong ducts (mean error 0.56 mm when measured, against 0.20 mm
    # with a runner-up map, which is right). Seed 7005, used before, now fits the right map (a T cut ending
    # outward costs more), but its reading with it follows the wrong ducts in one subtree and a wrong map
    # is kept (0.6 mm).
    sim = simulated_pair(4003, 38, "L")
    return sim, rebuild(sim, "L", options=BiplaneOptions(map_tries=1)), rebuild(sim, "L")


def test_one_map_records_the_fitted_map_only(hard_case):
    sim, one, _ = hard_case
    choice = one.graph["biplane"]["depth_map_choice"]
    assert len(choice) == 1 and choice[0]["fitted"] and choice[0]["kept"]
    assert choice[0]["scale"] == pytest.approx(_map_of(one).a, abs=1e-4)


def test_the_map_whose_reading_explains_the_masks_best_is_kept(hard_case):
    sim, one, chosen = hard_case
    choice = chosen.graph["biplane"]["depth_map_choice"]
    assert len(choice) == BiplaneOptions().map_tries
    assert [c["fitted"] for c in choice] == [True] + [False] * (len(choice) - 1)
    kept = [c for c in choice if c["kept"]]
    assert len(kept) == 1
    fitted, best = choice[0], kept[0]
    # the kept map scores lowest; a runner-up must beat the fitted map by the margin
    assert best["score"] == min(c["score"] for c in choice)
    if not best["fitted"]:
        assert best["score"] < fitted["score"] - BiplaneOptions().map_switch_margin
    assert _map_of(chosen).a == pytest.approx(best["scale"], abs=1e-4)


def test_a_wrong_fitted_map_is_overruled(hard_case):
    sim, one, chosen = hard_case
    assert not chosen.graph["biplane"]["depth_map_choice"][0]["kept"]
    # the map kept is the simulator's within 0.15 mm of depth; the fitted one was not
    assert _map_error_mm(_map_of(one), sim) > 0.2
    assert _map_error_mm(_map_of(chosen), sim) < 0.15
    err_one = compare_trees(one, sim.truth, min_branch_length_mm=3.0, tol_mm=0.5).recon_to_truth_mean_mm
    err = compare_trees(chosen, sim.truth, min_branch_length_mm=3.0, tol_mm=0.5).recon_to_truth_mean_mm
    assert err_one > err + 0.3 and err < 0.4, (err_one, err)


def test_match_views_uses_a_given_map_as_it_is(hard_case):
    sim = hard_case[0]
    ga = view_graph(sim.cc.view, nipple_px=sim.cc.view.nipple_px)
    gb = view_graph(sim.lateral.view, nipple_px=sim.lateral.view.nipple_px)
    given = DepthMap(1.02, -1.5, 6.0)
    tried: list = []
    _, _, f, m, _ = match_views(ga, gb, depth_map=given, tried=tried)
    assert f is given and tried == [] and m.pairs
    _, _, f2, _, _ = match_views(ga, gb, tried=tried)
    # without a map one is fitted, and every distinct candidate matched is offered with its cost
    assert f2 is not given and len(tried) >= 2
    assert all(isinstance(c, float) and isinstance(g, DepthMap) for c, g in tried)
    assert not any(abs(g.a - h.a) < 1e-3 and abs(g.b - h.b) < 0.05 and g.knee_mm == h.knee_mm
                   for i, (_, g) in enumerate(tried) for _, h in tried[:i])
