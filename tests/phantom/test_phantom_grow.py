"""The phantom generator follows DOMAIN.md §2, is a true forest, and is reproducible."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ductree.errors import InputError
from ductree.frame import clock_difference_h, clock_of_point
from ductree.io import read_tree, write_tree
from ductree.measures import branches, child_count, generation, path_mm, summary
from ductree.phantom import PhantomParams, generate_tree
from phantom_checks import clearance_violations


def _same(a, b):
    return (a.node_ids == b.node_ids and np.array_equal(a.positions, b.positions)
            and np.array_equal(a.radii, b.radii) and np.array_equal(a.parent_index, b.parent_index)
            and np.array_equal(a.system_ids, b.system_ids))


# ----------------------------------------------------------------------------- reproducibility

def test_same_seed_gives_the_identical_tree(small_tree):
    again = generate_tree(seed=0, systems=1, branches=15)
    assert _same(small_tree, again)
    assert [small_tree.nodes[r]["orifice_clock"] for r in small_tree.roots()] == \
        [again.nodes[r]["orifice_clock"] for r in again.roots()]


def test_different_seed_gives_a_different_tree(small_tree):
    other = generate_tree(seed=1, systems=1, branches=15)
    assert not _same(small_tree, other)
    assert small_tree.positions.shape != other.positions.shape or \
        not np.allclose(small_tree.positions, other.positions)


# ----------------------------------------------------------------------------- structure

def test_validates_and_round_trips_through_tree_json(case7_tree, tmp_path):
    case7_tree.validate(require_laterality=True)
    write_tree(case7_tree, tmp_path / "t.json")
    back = read_tree(tmp_path / "t.json")
    assert _same(case7_tree, back)
    assert back.graph["source"] == "phantom" and back.graph["phantom_seed"] == 7


def test_one_root_per_system_and_no_anastomoses(case7_tree):
    assert len(case7_tree.roots()) == 8 == len(case7_tree.systems())
    assert case7_tree.anastomoses() == []
    assert child_count(case7_tree).max() == 2  # bifurcations only


def test_branch_budget_per_system(small_tree, case7_tree):
    # 1 main duct + 2 per split: a budget of 15 is met exactly, 120 leaves 119.
    assert summary(small_tree)["branches"] == 15
    per = summary(case7_tree)["per_system"]
    assert all(p["branches"] <= 120 for p in per)
    assert sum(p["branches"] for p in per) >= 0.9 * 8 * 119


def test_branches_are_sampled_curves(case7_tree):
    br = branches(case7_tree)
    nodes = np.array([len(b.rows) for b in br])
    assert np.median(nodes) >= 4  # a branch is a polyline of several nodes
    par = case7_tree.parent_index
    seglen = np.linalg.norm(case7_tree.positions[par >= 0] - case7_tree.positions[par[par >= 0]], axis=1)
    assert seglen.max() <= 1.0 + 1e-9 and seglen.min() > 0.05
    # curved: some branches deviate from their chord
    bent = 0
    for b in br:
        p = case7_tree.positions[b.rows]
        chord = np.linalg.norm(p[-1] - p[0])
        if b.length_mm > 4 and b.length_mm > chord * 1.005:
            bent += 1
    assert bent > len(br) // 10


# ----------------------------------------------------------------------------- radii (VIC)

def _bifurcations(tree):
    kids = {}
    for i, p in enumerate(tree.parent_index.tolist()):
        if p >= 0:
            kids.setdefault(p, []).append(i)
    return {p: k for p, k in kids.items() if len(k) == 2}


@pytest.mark.parametrize("fixture", ["case7_tree", "full_systems_tree"])
def test_murray_law_at_every_bifurcation(fixture, request):
    tree = request.getfixturevalue(fixture)
    r = tree.radii
    bif = _bifurcations(tree)
    assert len(bif) > 100
    for p, (a, b) in bif.items():
        assert r[p] ** 3 == pytest.approx(r[a] ** 3 + r[b] ** 3, rel=1e-9)


def test_larger_child_keeps_065_to_099_of_the_parent_radius(case7_tree):
    r = case7_tree.radii
    ratios = np.array([max(r[a], r[b]) / r[p] for p, (a, b) in _bifurcations(case7_tree).items()])
    assert ratios.min() >= 0.65 - 1e-12 and ratios.max() <= 0.99 + 1e-12
    assert ratios.max() - ratios.min() > 0.1  # drawn, not constant


def test_radius_limits(case7_tree, full_systems_tree):
    for tree in (case7_tree, full_systems_tree):
        assert tree.radii.min() >= 0.1 - 1e-12  # VIC stop radius
        roots = [tree.index[r] for r in tree.roots()]
        assert all(0.5 * 0.9 <= tree.radii[i] <= 1.2 for i in roots)  # main duct 0.5-1.2 (may be thinned to fit)


def test_sinus_is_a_2_to_4_mm_dilation_behind_the_orifice(case7_tree):
    pm = path_mm(case7_tree)
    widths = []
    for r in case7_tree.roots():
        i = case7_tree.index[r]
        m = (case7_tree.system_ids == case7_tree.system_ids[i]) & (pm <= 12.0)
        widths.append(2 * case7_tree.radii[m].max())
    dilated = [w for w, r in zip(widths, case7_tree.roots()) if w > 2 * case7_tree.radii[case7_tree.index[r]] + 0.2]
    assert len(dilated) >= 2
    assert max(dilated) <= 4.0 + 1e-9


def test_no_sinus_when_switched_off():
    tree = generate_tree(seed=7, systems=3, branches=9, sinus=False)
    for r in tree.roots():
        i = tree.index[r]
        rows = [i]
        while True:
            kids = tree.children(tree.node_ids[rows[-1]])
            if len(kids) != 1:
                break
            rows.append(tree.index[kids[0]])
        assert np.allclose(tree.radii[rows], tree.radii[i])


def test_max_generation_is_respected():
    tree = generate_tree(seed=2, systems=2, branches=200, max_generation=4)
    assert generation(tree).max() == 4
    assert summary(tree)["branches"] <= 2 * (2 ** 5 - 1)


# ----------------------------------------------------------------------------- geometry (DOMAIN §2)

def test_orifices_on_the_nipple_face_at_distinct_clocks(case7_tree):
    roots = case7_tree.roots()
    pos = np.array([case7_tree.nodes[r]["pos"] for r in roots])
    assert np.all(pos[:, 1] == 0.0)
    fn = np.hypot(pos[:, 0], pos[:, 2])
    assert fn.min() >= 0.5 and fn.max() <= 5.0
    clocks = [case7_tree.nodes[r]["orifice_clock"] for r in roots]
    for r, c in zip(roots, clocks):
        assert 0 < c <= 12 and c == pytest.approx(clock_of_point(case7_tree.nodes[r]["pos"]))
    gaps = [clock_difference_h(a, b) for a, b in itertools.combinations(clocks, 2)]
    assert min(gaps) >= 0.45  # distinct even when rounded to the half hour
    # spread around the whole clock: no half of the clock face is empty
    ang = np.sort(np.array(clocks) % 12.0)
    assert np.diff(np.append(ang, ang[0] + 12)).max() < 4.0


@pytest.mark.parametrize("systems", [10, 12])
def test_crowded_nipples_keep_distinct_orifice_clocks(systems):
    tree = generate_tree(seed=1, systems=systems, branches=3)
    clocks = [tree.nodes[r]["orifice_clock"] for r in tree.roots()]
    assert min(clock_difference_h(a, b) for a, b in itertools.combinations(clocks, 2)) >= 0.45
    pos = np.array([tree.nodes[r]["pos"] for r in tree.roots()])
    rad = np.array([tree.radii[tree.index[r]] for r in tree.roots()])
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(systems) * 1e9
    assert np.all(d >= rad[:, None] + rad[None, :] + 0.3)  # orifices do not touch


def test_first_branch_depth(case7_tree, full_systems_tree):
    depths = []
    for tree in (case7_tree, full_systems_tree):
        pm = path_mm(tree)
        cc = child_count(tree)
        for r in tree.roots():
            i = tree.index[r]
            while cc[i] == 1:
                i = tree.index[tree.children(tree.node_ids[i])[0]]
            assert cc[i] == 2
            assert 3.0 - 1e-9 <= pm[i] <= 25.0 + 1e-9  # RA05 8 +- 5.5 mm, clamped
            depths.append(pm[i])
    assert 4.0 <= np.mean(depths) <= 14.0


def test_full_size_systems_reach_60_to_90_mm(full_systems_tree):
    per = summary(full_systems_tree)["per_system"]
    assert [p["branches"] for p in per] == [399, 399, 399]
    for p in per:
        assert 60.0 <= p["depth_max_mm"] <= 90.0 + 1e-9


def test_seed7_case_reaches_60_to_90_mm(case7_tree):
    s = summary(case7_tree)
    assert 60.0 <= s["depth_max_mm"] <= 90.0 + 1e-9
    assert s["depth_min_mm"] == 0.0


def test_inside_the_breast_envelope(case7_tree):
    d = 100.0
    p = case7_tree.positions
    assert p[:, 1].min() >= 0.0 and p[:, 1].max() <= d - 10.0 + 1e-9  # retromammary fat kept
    radius = 0.75 * d + 15.0
    fn2 = p[:, 0] ** 2 + p[:, 2] ** 2
    in_ellipsoid = fn2 / radius ** 2 + ((p[:, 1] - d) / d) ** 2 <= 1.0
    in_nipple = (p[:, 1] <= 10.0) & (fn2 <= 17.0 ** 2)
    assert np.all(in_ellipsoid | in_nipple)


def test_systems_fan_out_radially(case7_tree):
    """Each system's centre of mass lies toward its own orifice's side of the nipple."""
    for r in case7_tree.roots():
        s = case7_tree.nodes[r]["system"]
        c = case7_tree.positions[case7_tree.system_ids == s].mean(axis=0)
        lobe = case7_tree.nodes[r]["lobe_clock"]
        assert clock_difference_h(clock_of_point(c), lobe) < 1.5
        assert clock_difference_h(lobe, case7_tree.nodes[r]["orifice_clock"]) < 1.5


# ----------------------------------------------------------------------------- clearance

@pytest.mark.parametrize("seed,systems,n", [(0, 1, 15), (3, 4, 60), (7, 8, 120)])
def test_no_two_ducts_closer_than_the_clearance(seed, systems, n):
    tree = generate_tree(seed=seed, systems=systems, branches=n)
    bad = clearance_violations(tree, 0.3, factor=PhantomParams().junction_exempt_factor)
    assert bad == []


def test_clearance_check_catches_touching_ducts():
    """The independent check is not vacuous: a tree grown without clearance fails a 0.3 mm check."""
    tree = generate_tree(seed=3, systems=4, branches=60, clearance_mm=0.0)
    assert clearance_violations(tree, 0.0) == []
    assert len(clearance_violations(tree, 0.3)) > 0


def test_larger_clearance_is_kept():
    tree = generate_tree(seed=4, systems=3, branches=40, clearance_mm=1.0)
    assert clearance_violations(tree, 1.0) == []


# ----------------------------------------------------------------------------- options

def test_left_breast_is_the_mirror_image():
    right = generate_tree(seed=9, systems=3, branches=21)
    left = generate_tree(seed=9, systems=3, branches=21, laterality="L")
    assert left.laterality == "L"
    assert np.allclose(left.positions, right.positions * np.array([-1.0, 1.0, 1.0]))
    for a, b in zip(right.roots(), left.roots()):
        assert clock_difference_h(12.0 - right.nodes[a]["orifice_clock"], left.nodes[b]["orifice_clock"]) < 1e-9


def test_breast_depth_scales_the_tree():
    small = summary(generate_tree(seed=3, systems=2, branches=200, breast_depth_mm=60.0))
    assert small["depth_max_mm"] <= 60.0 - 6.0 + 1e-9


@pytest.mark.parametrize("kwargs,key", [
    ({"systems": 0}, "systems"), ({"systems": 21}, "systems"), ({"branches": 0}, "branches"),
    ({"systems": 2.5}, "systems"), ({"breast_depth_mm": 10.0}, "breast_depth_mm"),
    ({"laterality": "X"}, "laterality"), ({"clearance_mm": -1.0}, "clearance_mm"),
    ({"max_generation": -1}, "max_generation"),
])
def test_bad_arguments_raise_input_error(kwargs, key):
    with pytest.raises(InputError) as exc:
        generate_tree(**kwargs)
    assert exc.value.key == key


def test_params_document_every_constant():
    p = PhantomParams()
    assert set(p.sources) == set(p.as_dict())
    assert p.sources["first_branch_mm"] == "RA05" and p.first_branch_mm == (8.0, 5.5)
    assert p.child_radius_fraction == (0.65, 0.99) and p.min_radius_mm == 0.1
    with pytest.raises(InputError):
        p.with_(child_radius_fraction=(0.5, 0.7))
    assert math.isclose(p.with_(step_mm=0.6).step_mm, 0.6)
