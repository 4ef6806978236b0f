"""A lesion seen in both views is reported even where the reading kept followed the wrong duct there:
its CC and lateral sites, triangulated, lie on a duct another reading of the same views placed."""

from __future__ import annotations

import numpy as np

from biplane_helpers import rebuild, simulated_pair


def test_defect_found_where_the_chosen_reading_strays():
    # Benchmark case 1012 (3 systems, 39 branches): the reading kept (guided by the CC) follows another
    # duct of the lateral at the lesion; the truth is the phantom's inserted defect.
    sim = simulated_pair(1012, 39, "R")
    rec = rebuild(sim, "R")
    assert rec.graph["biplane"]["reading"]["chosen"] != "matched"
    (defect,) = sim.defects
    d = [np.linalg.norm(np.array(f["point_bf"]) - np.array(defect["point_bf"]))
         for f in rec.graph["candidate_findings"]]
    assert d and min(d) <= 2.0, d
