"""Position uncertainty of a ductogram rebuild: the spread between readings (biplane_guided.readings_spread)
and what it does to pos_sigma_mm, the uncertain summary and the confidence (biplane.tree_from_views).

Hand-worked geometry for the spread; a seeded simulated ductogram (ground truth from the phantom) for the
claim that the nodes marked uncertain are the ones placed worse.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

from ductree.reconstruct.biplane import report_lines, tree_from_views
from ductree.reconstruct.biplane_guided import readings_spread
from ductree.reconstruct.biplane_match import Built
from ductree.reconstruct.biplane_options import BiplaneOptions

from biplane_helpers import bench_branches, rebuild, simulated_pair


def _line(points) -> Built:
    """A chain of rows through ``points`` (BF mm), each the parent of the next."""
    p = np.asarray(points, dtype=float)
    n = len(p)
    nan = np.full((n, 2), np.nan)
    return Built(pos=p, radius=np.full(n, 0.3), parent=np.arange(-1, n - 1), single_view=np.zeros(n, bool),
                 view=["both"] * n, sigma=np.zeros(n), cc_ud=nan, lat_ud=nan, pair_of=np.full(n, -1),
                 depth_residual=np.full(n, np.nan))


def _duct(x: float, y0: float = 0.0, y1: float = 10.0, step: float = 0.5) -> Built:
    y = np.arange(y0, y1 + 1e-9, step)
    return _line(np.column_stack([np.full(len(y), x), y, np.zeros(len(y))]))


def test_spread_is_the_distance_to_the_farthest_other_reading():
    kept = _duct(0.0)
    assert np.allclose(readings_spread(kept, [_duct(2.0)]), 2.0)
    assert np.allclose(readings_spread(kept, [_duct(1.0), _duct(-3.0)]), 3.0)
    assert np.allclose(readings_spread(kept, [_duct(0.0)]), 0.0)
    assert np.allclose(readings_spread(kept, []), 0.0)


def test_spread_measures_to_the_other_centreline_not_its_nodes():
    # the other reading has nodes 4 mm apart along the same duct, 1 mm to the side: 1 mm everywhere
    kept = _duct(0.0, y1=8.0, step=0.5)
    other = _duct(1.0, y1=8.0, step=4.0)
    assert np.allclose(readings_spread(kept, [other]), 1.0, atol=0.01)


def test_spread_beyond_the_end_of_the_other_reading():
    # the other reading stops at depth 5: a kept node at depth y > 5 is sqrt((y - 5)^2 + 2^2) away
    kept = _duct(0.0)
    other = _duct(2.0, y1=5.0)
    y = kept.pos[:, 1]
    want = np.where(y <= 5.0, 2.0, np.hypot(y - 5.0, 2.0))
    assert np.allclose(readings_spread(kept, [other]), want, atol=1e-9)


@pytest.fixture(scope="module")
def rebuilt():
    """Seed 1012 (right breast, 3 systems, 38 branches): both views read cleanly as points, but the
    readings disagree over which duct goes where in part of the tree."""
    sim = simulated_pair(1012, 38, "R")
    return rebuild(sim, "R"), sim


def _truth_distance(t, sim) -> np.ndarray:
    from scipy.spatial import cKDTree

    tp, par = sim.truth.positions, sim.truth.parent_index
    kids = np.flatnonzero(par >= 0)
    s = np.linspace(0.0, 1.0, 41)
    dense = tp[par[kids]][:, None, :] + s[None, :, None] * (tp[kids] - tp[par[kids]])[:, None, :]
    return cKDTree(dense.reshape(-1, 3)).query(t.positions)[0]


def test_every_node_carries_its_spread_and_a_sigma_that_covers_it(rebuilt):
    t, _ = rebuilt
    opt = BiplaneOptions()
    for n in t.node_ids:
        d = t.nodes[n]
        assert d["readings_spread_mm"] >= 0.0
        assert d["pos_sigma_mm"] >= opt.sigma_floor_mm - 1e-4
        assert d["pos_sigma_mm"] >= opt.spread_sigma * d["readings_spread_mm"] - 1e-3
    assert max(t.nodes[n]["readings_spread_mm"] for n in t.node_ids) > 1.0


def test_uncertain_nodes_are_the_ones_placed_worse(rebuilt):
    # a calibration claim, so checked over four benchmark cases pooled (seed 1012 of the fixture and its
    # neighbours; one case alone swings: 1012 gives 1.9x to 2.6x as the readings change)
    cases = [rebuilt]
    for seed, lat in ((1010, "R"), (1011, "L"), (1013, "L")):
        sim = simulated_pair(seed, bench_branches(seed - 1000), lat)
        cases.append((rebuild(sim, lat), sim))
    errs, sigmas = [], []
    for k, (tree, truth) in enumerate(cases):
        err = _truth_distance(tree, truth)
        sigma = np.array([tree.nodes[n]["pos_sigma_mm"] for n in tree.node_ids])
        assert 0 < np.sum(sigma >= 1.0) < len(sigma), k
        errs.append(err)
        sigmas.append(sigma)
    err, sigma = np.concatenate(errs), np.concatenate(sigmas)
    unsure = sigma >= 1.0
    assert err[unsure].mean() > 2.0 * err[~unsure].mean()
    # the sigma is a 1 SD: most nodes lie within 2 sigma of the true centreline
    assert np.mean(err <= 2.0 * sigma) >= 0.7


def test_uncertain_summary_adds_up_the_uncertain_length(rebuilt):
    t, _ = rebuilt
    un = t.graph["biplane"]["uncertain"]
    total = unsure = 0.0
    for a, b in t.edges:
        length = float(np.linalg.norm(t.nodes[b]["pos"] - t.nodes[a]["pos"]))
        total += length
        if t.nodes[b]["pos_sigma_mm"] >= un["sigma_mm"]:
            unsure += length
    assert un["length_mm"] == pytest.approx(unsure, abs=0.01)
    assert un["fraction"] == pytest.approx(unsure / total, abs=1e-3)
    line = next(x for x in report_lines(t) if x.startswith("uncertain:"))
    assert f"{100 * un['fraction']:.0f}% of the tree" in line


def test_an_uncertain_tree_is_low_confidence_and_says_why(rebuilt):
    _, sim = rebuilt
    cc, ml = copy.copy(sim.cc.view), copy.copy(sim.lateral.view)
    kw = dict(laterality="R", nipple_cc=cc.nipple_px, nipple_lateral=ml.nipple_px)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        strict = tree_from_views(cc, ml, options=BiplaneOptions(max_uncertain_fraction=0.0), **kw)
    q = strict.graph["biplane"]
    assert q["confidence"] == "low"
    assert any("of the tree is uncertain" in r for r in q["reasons"])
    assert any("of the tree is uncertain" in str(w.message) for w in caught)
    lenient = rebuild(sim, "R", options=BiplaneOptions(max_uncertain_fraction=1.0, loose_uncertain_fraction=1.0))
    assert not any("of the tree is uncertain" in r for r in lenient.graph["biplane"]["reasons"])


def test_a_loose_reading_lowers_the_uncertain_bar():
    """Hand-worked: 32% uncertain is under the 35% bar, but over the 30% one that holds where the reading
    kept scores over 0.14 (explains the masks loosely); 28% is under both."""
    from ductree.reconstruct.biplane import _uncertain_reason

    opt = BiplaneOptions()
    assert opt.loose_uncertain_fraction < opt.max_uncertain_fraction
    assert _uncertain_reason(0.32, 0.10, opt) == ""              # a tight fit: the 35% bar
    loose = _uncertain_reason(0.32, 0.20, opt)
    assert loose.startswith("32% of the tree is uncertain") and "explains the masks loosely (score 0.20" in loose
    assert _uncertain_reason(0.28, 0.20, opt) == ""
    plain = _uncertain_reason(0.40, 0.05, opt)                   # over the 35% bar whatever the fit
    assert plain.startswith("40% of the tree is uncertain") and "loosely" not in plain
    assert "loosely" not in _uncertain_reason(0.40, 0.30, opt)   # the first bar says enough
