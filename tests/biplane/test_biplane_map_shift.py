"""The kept guided reading is read again with the depth map's offset moved a little
(``biplane_guided.reread_shifted``, ``BiplaneOptions.map_shifts_mm``); ground truth from the phantom.

Seed 7005 (36 branches, left breast) read guided by its lateral view with the map a = 0.9525, b = 4.44 mm
(knee 3 mm), within 0.12 mm of the simulator's beyond 10 mm depth: two sibling branches of the lateral
tree take each other's duct in the CC and their subtrees follow the wrong ducts (0.85 mm mean error).
The map moved by -0.1 mm reads them right; its reading explains the masks better, and that is the one
kept.
"""

from __future__ import annotations

import warnings

import pytest

from ductree.metrics import compare_trees
from ductree.reconstruct.biplane import _to_tree, report_lines
from ductree.reconstruct.biplane_graph import view_graph
from ductree.reconstruct.biplane_guided import consistency, guided_reading, reread_shifted
from ductree.reconstruct.biplane_match import DepthMap, match_views
from ductree.reconstruct.biplane_options import BiplaneOptions

from biplane_helpers import rebuild, simulated_pair


@pytest.fixture(scope="module")
def near_tie():
    sim = simulated_pair(7005, 36, "L")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ga = view_graph(sim.cc.view, nipple_px=sim.cc.view.nipple_px)
        gb = view_graph(sim.lateral.view, nipple_px=sim.lateral.view.nipple_px)
        ta, tb, f, _, _ = match_views(ga, gb, depth_map=DepthMap(0.9525, 4.44, 3.0))
        reading = guided_reading(tb, ga, ta, f, "lateral")
    return sim, ga, gb, ta, tb, f, reading, consistency(reading.built, ga, gb, f)["score"]


def _error_mm(built, sim) -> float:
    return compare_trees(_to_tree(built, "L"), sim.truth, min_branch_length_mm=3.0, tol_mm=0.5).recon_to_truth_mean_mm


def test_a_shifted_map_that_reads_the_masks_better_is_kept(near_tie):
    sim, ga, gb, ta, tb, f, reading, score = near_tie
    margin = BiplaneOptions().map_switch_margin
    kept, kept_score, kept_f, tried = reread_shifted(reading, score, ga, gb, ta, tb, f, (-0.1, 0.1), margin)
    assert kept is not reading and kept_score < score - margin
    # the masks were right: the kept reading lies nearer the phantom by far
    before, after = _error_mm(reading.built, sim), _error_mm(kept.built, sim)
    assert before > 0.6 and after < before - 0.4, (before, after)
    # the map kept is the one moved, scale and knee untouched; the record names every shift tried
    assert kept_f.a == f.a and kept_f.knee_mm == f.knee_mm
    assert [t["shift_mm"] for t in tried] == [-0.1, 0.1]
    assert sum(t["kept"] for t in tried) == 1
    best = min(tried, key=lambda t: t["score"])
    assert best["kept"] and kept_f.b == pytest.approx(f.b + best["shift_mm"])
    assert best["score"] == pytest.approx(kept_score)


def test_no_shift_or_no_better_shift_keeps_the_reading(near_tie):
    sim, ga, gb, ta, tb, f, reading, score = near_tie
    assert reread_shifted(reading, score, ga, gb, ta, tb, f, (), 0.01)[0] is reading
    # +0.1 mm alone reads worse than the reading it started from: nothing changes
    kept, kept_score, kept_f, tried = reread_shifted(reading, score, ga, gb, ta, tb, f, (0.1,), 0.01)
    assert tried[0]["score"] > score - 0.01
    assert kept is reading and kept_score == score and kept_f is f and not tried[0]["kept"]


def test_the_rebuild_records_the_shifts_tried():
    sim = simulated_pair(7005, 36, "L")
    tree = rebuild(sim, "L")
    rd = tree.graph["biplane"]["reading"]
    assert rd["chosen"] != "matched"
    shifts = rd["map_shifts"]
    assert [s["shift_mm"] for s in shifts] == list(BiplaneOptions().map_shifts_mm)
    kept = [s for s in shifts if s["kept"]]
    dm = tree.graph["biplane"]["depth_map"]
    line = next(x for x in report_lines(tree) if x.startswith("reading:"))
    if kept:
        assert dm["shifted_mm"] == pytest.approx(kept[0]["shift_mm"])
        assert f"moved {kept[0]['shift_mm']:+.2f} mm" in line
    else:
        assert "shifted_mm" not in dm and "moved" not in line
    # without shifts nothing is recorded
    plain = rebuild(sim, "L", options=BiplaneOptions(map_shifts_mm=()))
    assert "map_shifts" not in plain.graph["biplane"]["reading"]
