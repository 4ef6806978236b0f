"""Guide crossings re-read by the self-consistency score (biplane_guided._recut) and the remembered cuts.

Ground truth: a simulated ductogram (ductree.phantom, the benchmark's recipe for held-out seed 7010) whose
true opacified tree is known, and the cut trees themselves (a remembered tree must be the fresh one).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from biplane_helpers import bench_branches, rebuild, simulated_pair

from ductree.metrics import compare_trees
from ductree.reconstruct.biplane_graph import view_graph
from ductree.reconstruct.biplane_guided import GuidedOptions, _recut, consistency, guided_reading
from ductree.reconstruct.biplane_match import match_views, nearly_tied_cuts, tree_with_cuts


@pytest.fixture(scope="module")
def case_7010():
    """Held-out seed 7010 as the benchmark builds it (right breast)."""
    return simulated_pair(7010, bench_branches(10), "R")


@pytest.fixture(scope="module")
def case_7008():
    """Held-out seed 7008 as the benchmark builds it: its CC guide has three nearly tied crossings, each read
    the other way explains the masks better, and the third best."""
    return simulated_pair(7008, bench_branches(8), "R")


def _matched(sim):
    """Both views' graphs, their trees and the fitted depth map (nipples marked, warnings silenced)."""
    cc, ml = copy.copy(sim.cc.view), copy.copy(sim.lateral.view)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ga, gb = view_graph(cc, nipple_px=cc.nipple_px), view_graph(ml, nipple_px=ml.nipple_px)
        ta, tb, f, _, _ = match_views(ga, gb)
    return ga, gb, ta, tb, f


def test_a_crossing_read_again_by_the_masks_fixes_the_tree(case_7010):
    """The CC guide's straightest cut at a crossing is wrong here; read the other way, the guided reading
    explains the masks better and lands on the true ducts (mean error 0.38 -> 0.13 mm when measured)."""
    old = rebuild(case_7010, "R", guided=GuidedOptions(recut_tries=0))
    new = rebuild(case_7010, "R", guided=GuidedOptions())
    e_old = compare_trees(old, case_7010.truth, min_branch_length_mm=3.0, tol_mm=0.5)
    e_new = compare_trees(new, case_7010.truth, min_branch_length_mm=3.0, tol_mm=0.5)
    assert e_new.recon_to_truth_mean_mm < 0.25
    assert e_new.recon_to_truth_mean_mm < e_old.recon_to_truth_mean_mm - 0.1
    assert e_new.branch_recall >= e_old.branch_recall
    rec = new.graph["biplane"]["reading"]
    assert rec["candidates"][rec["chosen"]].get("recut", 0) >= 1


def test_recut_never_keeps_a_reading_that_explains_the_masks_worse(case_7010):
    """Whatever the re-read crossings give, the reading kept scores no worse than the one it started from,
    and a changed reading says how many cuts it re-read."""
    ga, gb, ta, tb, f = _matched(case_7010)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = GuidedOptions(recut_tries=3)
        for guide, gvg, ovg, other, kind in ((ta, ga, gb, tb, "cc"), (tb, gb, ga, ta, "lateral")):
            r = guided_reading(guide, ovg, other, f, kind, None, opt)
            sc = consistency(r.built, ga, gb, f, opt)
            r2, sc2 = _recut(r, dict(sc), guide, gvg, ovg, other, ga, gb, f, kind, None, opt)
            assert sc2["score"] <= sc["score"]
            assert (r2 is r) == ("recut" not in r2.info)
            if r2 is not r:
                assert sc2 == consistency(r2.built, ga, gb, f, opt)


def test_remembered_cut_trees_are_the_fresh_ones(case_7010):
    """tree_with_cuts gives the view graph's own tree for those cuts, built once."""
    cc = copy.copy(case_7010.cc.view)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ga = view_graph(cc, nipple_px=cc.nipple_px)
        fresh = ga.tree()
        t = tree_with_cuts(ga)
        assert tree_with_cuts(ga) is t
        assert t.n == fresh.n and np.array_equal(t.parent, fresh.parent) and np.allclose(t.ud, fresh.ud)
        alts = [(c["sig"], alt) for c in t.crossings for _, alt in c.get("alternatives", [])]
        assert alts, "the case has ambiguous crossings"
        sig, alt = alts[0]
        t2 = tree_with_cuts(ga, frozenset({sig}), frozenset({alt}))
        f2 = ga.tree(frozenset({sig}), frozenset({alt}))
        assert t2 is not t and t2.n == f2.n and np.array_equal(t2.parent, f2.parent)
        assert all(np.allclose(a, b) for a, b in zip(t2.edge_ud, f2.edge_ud))


def test_several_tries_keep_the_best_single_re_read(case_7008):
    """With recut_tries=3 each of the three most nearly tied cuts is read the other way on its own and the
    best-scoring reading is kept, not the first that beats the cut made."""
    ga, gb, ta, tb, f = _matched(case_7008)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = GuidedOptions(recut_tries=3)
        r = guided_reading(ta, gb, tb, f, "cc", None, opt)
        start = consistency(r.built, ga, gb, f, opt)["score"]
        banned, forced = getattr(ta, "cut_state", (frozenset(), frozenset()))
        singles = []
        for _, sig, alt in nearly_tied_cuts(ta, opt.recut_margin)[:3]:
            t2 = tree_with_cuts(ga, banned | {sig}, forced | {alt})
            singles.append(consistency(guided_reading(t2, gb, tb, f, "cc", None, opt).built, ga, gb, f, opt)["score"])
        better = [s for s in singles if s < start]
        assert len(singles) == 3 and len(better) >= 2 and min(better) < better[0]   # the case tells the rules apart
        r2, sc2 = _recut(r, consistency(r.built, ga, gb, f, opt), ta, ga, gb, tb, ga, gb, f, "cc", None, opt)
        assert sc2["score"] == pytest.approx(min(better), abs=1e-9)
        assert r2.info["recut"] == 1
