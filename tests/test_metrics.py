"""ductree.metrics against hand-worked trees (figures worked out by hand, not read off the code)."""

import math

import numpy as np
import pytest

from ductree.errors import InputError
from ductree.metrics import TreeScore, compare_trees
from ductree.tree import DuctTree


def y_tree(shift=(0.0, 0.0, 0.0), radius_scale=1.0, drop_right=False, nipple=None):
    # trunk 0 -> 1 along +y (10 mm), two daughters 1 -> 2, 1 -> 3 of length hypot(3, 10)
    pos = np.array([[0, 0, 0], [0, 10, 0], [3, 20, 0], [-3, 20, 0]], float) + shift
    rad = np.array([1.0, 0.8, 0.5, 0.5]) * radius_scale
    par = [-1, 0, 1, 1]
    if drop_right:
        pos, rad, par = pos[:3], rad[:3], par[:3]
    t = DuctTree.from_arrays(pos, rad, par, laterality="R")
    if nipple is not None:
        t.graph["nipple_lps"] = list(nipple)
    return t


def test_identical_trees_score_perfectly():
    t = y_tree()
    s = compare_trees(t, t)
    assert isinstance(s, TreeScore)
    assert s.recon_to_truth_mean_mm == pytest.approx(0, abs=1e-9)
    assert s.truth_to_recon_p95_mm == pytest.approx(0, abs=1e-9)
    assert (s.tip_recall, s.tip_precision, s.branch_recall, s.branch_precision) == (1, 1, 1, 1)
    assert s.tips_truth == 2 and s.tips_matched == 2
    assert s.radius_error_median == pytest.approx(0, abs=1e-12)
    assert s.bifurcations_truth == 1 and s.bifurcations_within_tol == 1
    assert s.bifurcation_error_max_mm == pytest.approx(0, abs=1e-12)
    assert s.systems_truth == s.systems_recon == 1 and s.roots_matched and s.loops_recon == 0


def test_shift_along_z_is_the_distance_everywhere():
    # every segment lies in the z = 0 plane, so a shift along z is perpendicular to all of them
    s = compare_trees(y_tree(shift=(0, 0, 0.15)), y_tree())
    for v in (s.recon_to_truth_mean_mm, s.recon_to_truth_p95_mm, s.truth_to_recon_mean_mm):
        assert v == pytest.approx(0.15, abs=1e-9)
    assert s.bifurcation_error_median_mm == pytest.approx(0.15)
    assert s.tip_error_median_mm == pytest.approx(0.15)


def test_radius_scaled_by_ten_percent():
    s = compare_trees(y_tree(radius_scale=1.1), y_tree())
    assert s.radius_error_median == pytest.approx(0.1, abs=1e-9)
    assert s.radius_bias_median == pytest.approx(0.1, abs=1e-9)
    assert set(s.radius_error_by_generation) == {0, 1}
    s = compare_trees(y_tree(radius_scale=0.8), y_tree())
    assert s.radius_bias_median == pytest.approx(-0.2, abs=1e-9)


def test_missing_branch_lowers_recall_not_precision():
    s = compare_trees(y_tree(drop_right=True), y_tree())
    assert s.tip_recall == 0.5 and s.tip_precision == 1.0
    # truth has 3 branches (trunk + 2 daughters); the reconstruction covers the trunk and one daughter
    assert s.branch_recall == pytest.approx(2 / 3) and s.branch_precision == 1.0
    # truth -> recon: the missing daughter's far end is hypot(6, 0) = 6 mm from the kept one
    assert s.truth_to_recon_p95_mm > 3.0
    assert s.recon_to_truth_mean_mm == pytest.approx(0, abs=1e-9)
    assert s.bifurcations_within_tol == 0.0


def test_extra_branch_lowers_precision_not_recall():
    s = compare_trees(y_tree(), y_tree(drop_right=True))
    assert s.tip_recall == 1.0 and s.tip_precision == 0.5
    assert s.branch_precision == pytest.approx(2 / 3)


def test_short_branches_are_not_required():
    # a side twig of length 0.5 mm with radius 0.4 mm: shorter than twice its radius
    pos = [[0, 0, 0], [0, 10, 0], [0, 20, 0], [0.5, 10, 0]]
    truth = DuctTree.from_arrays(pos, [1, 1, 1, 0.4], [-1, 0, 1, 1])
    recon = DuctTree.from_arrays(pos[:3], [1, 1, 1], [-1, 0, 1])
    s = compare_trees(recon, truth)
    assert s.tips_truth == 1 and s.tip_recall == 1.0 and s.branch_recall == 1.0
    # with the rule off, the twig counts and is missed
    s = compare_trees(recon, truth, length_radius_factor=0.0)
    assert s.tips_truth == 2 and s.tip_recall == 0.5
    # an absolute floor longer than the trunk's branches removes them too
    s = compare_trees(recon, truth, min_branch_length_mm=50)
    assert s.tip_recall is None and s.branch_recall is None


def test_tip_tolerance_is_radius_plus_slack():
    truth = DuctTree.from_arrays([[0, 0, 0], [0, 10, 0]], [0.5, 0.5], [-1, 0])
    short = DuctTree.from_arrays([[0, 0, 0], [0, 9.4, 0]], [0.5, 0.5], [-1, 0])  # 0.6 mm short
    assert compare_trees(short, truth, tol_mm=0.2).tip_recall == 1.0      # 0.6 <= 0.2 + 0.5
    assert compare_trees(short, truth, tol_mm=0.05).tip_recall == 0.0     # 0.6 > 0.05 + 0.5


def test_branch_matched_along_most_of_its_length():
    # truth: straight 10 mm duct of radius 0.2; recon: the first 4 mm on it, then veering away
    truth = DuctTree.from_arrays([[0, 0, 0], [0, 10, 0]], [0.2, 0.2], [-1, 0])
    recon = DuctTree.from_arrays([[0, 0, 0], [0, 4, 0], [5, 10, 0]], [0.2, 0.2, 0.2], [-1, 0, 1])
    s = compare_trees(recon, truth, tol_mm=0.1)
    assert s.branch_recall == 0.0       # only ~40 % of the truth branch is covered
    recon2 = DuctTree.from_arrays([[0, 0, 0], [0, 7, 0], [5, 10, 0]], [0.2, 0.2, 0.2], [-1, 0, 1])
    assert compare_trees(recon2, truth, tol_mm=0.1).branch_recall == 1.0   # ~70 % covered


def test_topology_systems_roots_loops():
    a = y_tree()
    pos = np.vstack([a.positions, [[20, 0, 0], [20, 10, 0]]])
    two = DuctTree.from_arrays(pos, np.r_[a.radii, 0.6, 0.6], [-1, 0, 1, 1, -1, 4], laterality="R")
    s = compare_trees(a, two)
    assert s.systems_truth == 2 and s.systems_recon == 1 and not s.roots_matched
    assert math.isinf(s.root_error_mm[1]) and s.root_error_mm[0] == 0
    loop = two.copy()
    loop.add_edge(2, 5, anastomosis=True)
    s = compare_trees(loop, two)
    assert s.loops_recon == 1 and s.loops_truth == 0 and s.roots_matched


def test_lps_comparison_when_both_carry_the_nipple():
    truth = y_tree(nipple=(10, 20, 30))
    # same anatomy, but the reconstruction put its nipple 1 mm off: BF positions differ by 1 mm
    recon = y_tree(shift=(-1, 0, 0), nipple=(11, 20, 30))
    assert compare_trees(recon, truth).recon_to_truth_mean_mm == pytest.approx(0, abs=1e-9)
    assert compare_trees(recon, truth, frame="BF").bifurcation_error_median_mm == pytest.approx(1.0)


def test_as_dict_is_plain_and_complete():
    d = compare_trees(y_tree(), y_tree()).as_dict()
    import json

    json.dumps(d)
    assert {"tip_recall", "branch_precision", "radius_error_by_generation", "settings"} <= set(d)


def test_bad_arguments():
    t = y_tree()
    with pytest.raises(InputError):
        compare_trees(DuctTree(), t)
    with pytest.raises(InputError, match="frame"):
        compare_trees(t, t, frame="RAS")
    with pytest.raises(InputError, match="tol_mm"):
        compare_trees(t, t, tol_mm=-1)
