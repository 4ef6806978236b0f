"""A lesion seen in both views is reported even where the reading kept followed the wrong duct there:
its CC and lateral sites, triangulated, lie on a duct another reading of the same views placed."""

from __future__ import annotations

import warnings

import numpy as np

from ductree.phantom import generate_tree, insert_lesions
from ductree.phantom.ductogram_sim import simulate_ductogram
from ductree.reconstruct.biplane import tree_from_views


def test_defect_found_where_the_chosen_reading_strays():
    # Benchmark case 1012 (3 systems, 39 branches): the reading kept (guided by the CC) follows another
    # duct of the lateral at the lesion; the truth is the phantom's inserted defect.
    tree = generate_tree(seed=1012, systems=3, branches=39, laterality="R", breast_depth_mm=80)
    sim = simulate_ductogram(tree, insert_lesions(tree, 1, seed=1012), seed=1012)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = tree_from_views(sim.cc.view, sim.lateral.view, laterality="R", nipple_cc=sim.cc.view.nipple_px,
                              nipple_lateral=sim.lateral.view.nipple_px)
    assert rec.graph["biplane"]["reading"]["chosen"] != "matched"
    (defect,) = sim.defects
    d = [np.linalg.norm(np.array(f["point_bf"]) - np.array(defect["point_bf"]))
         for f in rec.graph["candidate_findings"]]
    assert d and min(d) <= 2.0, d
