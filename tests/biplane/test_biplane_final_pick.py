"""The last pick among every reading scored on the way (``biplane_guided.final_score`` / ``keep_best_scored``,
``biplane._keep_best_scored``); ground truth from the phantom and hand-made scores.

The steps of the reconstruction (maps, guides, crossing re-cuts, map shifts, fork moves) each keep a reading
by how well it explains both masks and read the next ones from it. At the end, every reading scored is
looked at again with two more terms: the share of its forks and tips that the views do not confirm, and its
3D length over the views' skeleton length (a wrong correspondence zigzags in the coordinate one view cannot
see and adds guessed one-view branches; both lengthen the tree). Seed 1012 (the benchmark's 13th case, right
breast) is read 1.5 mm off by the steps; a reading scored on the way is 0.9 mm off and kept at the end.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from ductree.metrics import compare_trees
from ductree.reconstruct.biplane import report_lines
from ductree.reconstruct.biplane_graph import view_graph
from ductree.reconstruct.biplane_guided import (GuidedOptions, ScoredReading, consistency, final_score,
                                                keep_best_scored, scored_readings)
from ductree.reconstruct.biplane_match import build_3d, match_views

from biplane_helpers import bench_branches, rebuild, simulated_pair


def _tree_length_mm(pos: np.ndarray, parent: np.ndarray) -> float:
    kids = np.flatnonzero(parent >= 0)
    return float(sum(np.linalg.norm(pos[k] - pos[parent[k]]) for k in kids))


@pytest.fixture(scope="module")
def matched_1000():
    sim = simulated_pair(1000, bench_branches(0), "R")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ga = view_graph(sim.cc.view, nipple_px=sim.cc.view.nipple_px)
        gb = view_graph(sim.lateral.view, nipple_px=sim.lateral.view.nipple_px)
        ta, tb, f, m, _ = match_views(ga, gb)
    return ga, gb, f, build_3d(ta, tb, f, m)


def test_a_zigzag_in_the_unseen_coordinate_lengthens_the_tree(matched_1000):
    ga, gb, f, b = matched_1000
    plain = consistency(b, ga, gb, f)
    zig = b.pos.copy()
    zig[1::2, 2] += 1.0                      # every other row 1 mm up: z, which only the lateral shows
    bent = consistency(replace(b, pos=zig), ga, gb, f)
    ratio = _tree_length_mm(zig, b.parent) / _tree_length_mm(b.pos, b.parent)
    assert ratio > 1.1
    # the same views, so the same skeleton length below: the term grows as the 3D length does
    assert bent["length"] == pytest.approx(plain["length"] * ratio, rel=2e-3)
    assert 0.8 < plain["length"] < 2.0      # a tree that explains both views is about as long as they are
    assert final_score(bent) > final_score(plain)


def test_the_last_pick_keeps_the_lowest_final_score():
    def scored(name: str, score: float, features: float, length: float) -> ScoredReading:
        return ScoredReading(built=name, f=None, scores={"score": score, "features": features, "length": length},
                             label=name)

    kept = scored("kept", 0.20, 0.5, 1.30)
    confirmed = scored("confirmed", 0.20, 0.9, 1.30)       # same masks score, more forks and tips confirmed
    long = scored("long", 0.10, 0.9, 1.60)                  # explains the masks better, 0.3 x skeleton longer
    opt = GuidedOptions(final_feature_weight=0.3, final_length_weight=0.6)
    # by hand: kept 0.20 + 0.15 + 0.78 = 1.13; confirmed 0.20 + 0.03 + 0.78 = 1.01; long 0.10 + 0.03 + 0.96 = 1.09
    pick, mine = keep_best_scored("kept", [kept, confirmed, long], opt)
    assert pick is confirmed and mine == pytest.approx(1.13)
    assert keep_best_scored("kept", [kept, long], opt)[0] is long
    assert keep_best_scored("kept", [kept, scored("worse", 0.30, 0.5, 1.3)], opt)[0] is None
    assert keep_best_scored("kept", [kept, confirmed], replace(opt, final_pick=False)) == (None, pytest.approx(1.13))
    assert keep_best_scored("kept", [], opt) == (None, None)


def test_every_reading_scored_inside_the_block_is_remembered(matched_1000):
    ga, gb, f, b = matched_1000
    with scored_readings() as ledger:
        ledger.stage = "stage A"
        consistency(b, ga, gb, f, label="first")
        ledger.stage = ""
        consistency(b, ga, gb, f, label="second")
    consistency(b, ga, gb, f, label="outside")
    assert [r.label for r in ledger] == ["first, stage A", "second"]
    assert all(r.built is b and r.f is f for r in ledger)


def test_the_rebuild_of_1012_keeps_a_better_reading_at_the_end_and_says_so():
    sim = simulated_pair(1012, bench_branches(12), "R")
    tree = rebuild(sim, "R")
    pick = tree.graph["biplane"]["reading"]["final_pick"]
    assert pick["switched"] and pick["score"] < pick["kept_score"] and pick["readings"] >= 9
    line = next(x for x in report_lines(tree) if x.startswith("reading:"))
    assert f"of the {pick['readings']} readings scored, kept at the end" in line
    stepwise = rebuild(sim, "R", guided=GuidedOptions(final_pick=False))
    assert not stepwise.graph["biplane"]["reading"]["final_pick"]["switched"]
    err = [compare_trees(t, sim.truth, min_branch_length_mm=3.0, tol_mm=0.5).recon_to_truth_mean_mm
           for t in (stepwise, tree)]
    assert err[1] < err[0] - 0.4, err
    # the reading the steps kept is one the masks nearly allowed: it widens the uncertainty where it differs
    assert max(d.get("readings_spread_mm", 0.0) for _, d in tree.nodes(data=True)) > 1.0
