"""Phantom lesions sit on the ducts and their ground truth is self-consistent."""

from __future__ import annotations

import numpy as np
import pytest

from ductree.errors import InputError
from ductree.frame import clock_of_point, depth_third, fn_mm, quadrant
from ductree.measures import generation
from ductree.phantom import KINDS, generate_tree, insert_lesions
from phantom_checks import point_at_path


@pytest.fixture(scope="module")
def lesions7(case7_tree):
    return insert_lesions(case7_tree, 8, seed=7)


def test_point_is_the_tree_position_at_path_mm(case7_tree, lesions7):
    for les in lesions7:
        p, total = point_at_path(case7_tree, les.node, les.path_mm)
        assert np.allclose(p, les.point, atol=1e-9)
        # the lesion lies in the last segment of that path (node = its distal end)
        parent = case7_tree.parent(les.node)
        _, before = point_at_path(case7_tree, parent, 0.0)
        assert before - 1e-9 <= les.path_mm <= total + 1e-9


def test_clock_depth_fn_agree_with_the_frame(case7_tree, lesions7):
    for les in lesions7:
        assert les.clock == pytest.approx(clock_of_point(les.point), abs=1e-12)
        assert les.depth_mm == les.point[1]
        assert les.fn_mm == pytest.approx(fn_mm(les.point))
        assert les.quadrant == quadrant(les.clock, "R")
        assert les.depth_third == depth_third(les.depth_mm, 100.0)


def test_lesion_facts_match_the_tree(case7_tree, lesions7):
    gen = generation(case7_tree)
    for les in lesions7:
        i = case7_tree.index[les.node]
        assert les.system == case7_tree.nodes[les.node]["system"]
        root = case7_tree.root_of_system(les.system)
        assert les.orifice_clock == case7_tree.nodes[root]["orifice_clock"]
        assert les.generation == gen[i]
        p = case7_tree.index[case7_tree.parent(les.node)]
        lo, hi = sorted((case7_tree.radii[p], case7_tree.radii[i]))
        assert lo - 1e-12 <= les.radius_mm <= hi + 1e-12


def test_spread_over_systems_and_away_from_the_orifice(lesions7):
    assert [les.label for les in lesions7] == [f"L{k}" for k in range(1, 9)]
    assert len({les.system for les in lesions7}) == 8  # one per system before any second
    assert all(les.path_mm >= 3.0 for les in lesions7)
    pts = np.array([les.point for les in lesions7])
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1) + np.eye(len(pts)) * 1e9
    assert d.min() >= 5.0


def test_depths_mostly_10_to_70_with_some_deep(case7_tree):
    les = insert_lesions(case7_tree, 60, seed=3)
    depth = np.array([x.depth_mm for x in les])
    assert np.mean((depth >= 10) & (depth <= 70)) >= 0.7
    assert np.sum(depth > 50) >= 3
    assert depth.min() > 0.0


def test_sizes_kinds_and_reproducibility(case7_tree):
    a = insert_lesions(case7_tree, 6, seed=11, kinds=["dcis", "papilloma"], size_range_mm=(3, 4))
    b = insert_lesions(case7_tree, 6, seed=11, kinds=["dcis", "papilloma"], size_range_mm=(3, 4))
    assert a == b
    assert {x.kind for x in a} <= {"dcis", "papilloma"}
    assert all(3.0 <= x.size_mm <= 4.0 for x in a)
    assert all(x.extent_mm >= x.size_mm for x in a)
    c = insert_lesions(case7_tree, 6, seed=12)
    assert [x.point for x in c] != [x.point for x in a]
    assert all(x.kind in KINDS for x in c)


def test_the_tree_is_not_changed(case7_tree):
    before = case7_tree.positions.copy(), case7_tree.radii.copy(), case7_tree.number_of_nodes()
    insert_lesions(case7_tree, 5, seed=1)
    assert np.array_equal(before[0], case7_tree.positions) and np.array_equal(before[1], case7_tree.radii)
    assert before[2] == case7_tree.number_of_nodes()


def test_left_breast_quadrants():
    tree = generate_tree(seed=2, systems=4, branches=21, laterality="L")
    for les in insert_lesions(tree, 4, seed=2):
        assert les.quadrant == quadrant(les.clock, "L")


def test_zero_lesions_and_bad_input(small_tree):
    assert insert_lesions(small_tree, 0, seed=0) == []
    with pytest.raises(InputError):
        insert_lesions(small_tree, -1, seed=0)
    with pytest.raises(InputError) as exc:
        insert_lesions(small_tree, 1, seed=0, kinds=["tumour"])
    assert "tumour" in str(exc.value)
    with pytest.raises(InputError):
        insert_lesions(small_tree, 1, seed=0, size_range_mm=(5, 2))
